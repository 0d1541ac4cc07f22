package schema

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"
)

// Errors a decode can match with errors.Is. Every decode error is a
// *DecodeError wrapping exactly one of them.
var (
	// ErrMalformed: the bytes are not a well-formed message of the expected
	// type under the rules in the package documentation.
	ErrMalformed = errors.New("schema: malformed message")
	// ErrLimit: the message may be well formed but is over a DecodeLimits
	// bound (size, traversal or depth).
	ErrLimit = errors.New("schema: message over decode limit")
)

// DecodeError describes why a message was refused.
type DecodeError struct {
	// Reason says what is wrong, for logs and for the error message sent
	// back to the producer.
	Reason string
	// Offset is the byte offset in the message of the word at fault, or -1
	// when it is not known (errors from the capnp-go fallback).
	Offset int
	// Err is ErrMalformed or ErrLimit.
	Err error
}

func (e *DecodeError) Error() string {
	s := e.Err.Error() + ": " + e.Reason
	if e.Offset >= 0 {
		s += " (at byte " + strconv.Itoa(e.Offset) + ")"
	}
	return s
}

// Unwrap returns ErrMalformed or ErrLimit.
func (e *DecodeError) Unwrap() error { return e.Err }

// errFar tells the fast path's caller that the message uses a far pointer
// and must be decoded by the capnp-go fallback. It never reaches users.
var errFar = errors.New("schema: far pointer")

func malformed(reason string, off int) error {
	return &DecodeError{Reason: reason, Offset: off, Err: ErrMalformed}
}

func overLimit(reason string, off int) error {
	return &DecodeError{Reason: reason, Offset: off, Err: ErrLimit}
}

// DecodeLimits bound what decoding a hostile message may cost. A zero field
// means the default of DefaultDecodeLimits.
type DecodeLimits struct {
	// MaxMessageBytes is the largest framed message accepted, segment
	// table included.
	MaxMessageBytes int
	// TraverseWords bounds the total size of the objects the decoder visits
	// (Cap'n Proto's traversal limit), counted the way capnp-go counts it,
	// in bytes against a budget of TraverseWords*8: each struct's data and
	// pointer sections, each text's bytes including its NUL. It defeats
	// amplification by many pointers to the same bytes.
	TraverseWords uint64
	// MaxDepth bounds pointer nesting, as capnp-go's Message.DepthLimit:
	// the root struct is at depth 1, its texts and sub-structs at depth 2.
	MaxDepth uint
}

const (
	defaultMaxMessageBytes = 1<<20 + 64<<10 // 1 MiB of params plus room for the rest
	defaultTraverseWords   = 4 * defaultMaxMessageBytes / 8
	defaultMaxDepth        = 8

	// maxSegments is the most segments a message may have. Like capnp's
	// C++ reader and capnp-go's stream decoder we refuse more, so that a
	// tiny message cannot make the fallback allocate a huge segment table.
	maxSegments = 512

	// maxSegmentBytes is the largest segment Cap'n Proto can address.
	maxSegmentBytes = 1<<32 - 8
)

// DefaultDecodeLimits returns the node's limits: messages up to 1 MiB + 64
// KiB (params are at most 1 MiB), a traversal limit of four times that, and
// depth 8 (a JobRequest needs 2).
func DefaultDecodeLimits() DecodeLimits {
	return DecodeLimits{
		MaxMessageBytes: defaultMaxMessageBytes,
		TraverseWords:   defaultTraverseWords,
		MaxDepth:        defaultMaxDepth,
	}
}

func (l DecodeLimits) resolve() DecodeLimits {
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = defaultMaxMessageBytes
	}
	if l.TraverseWords == 0 {
		l.TraverseWords = defaultTraverseWords
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// traverseBytes is the traversal limit in bytes, the unit capnp-go counts in.
func (l DecodeLimits) traverseBytes() uint64 {
	if l.TraverseWords > math.MaxUint64/8 {
		return math.MaxUint64
	}
	return l.TraverseWords * 8
}

// DecodeRequest decodes the framed JobRequest message msg into *r.
//
// msg must be exactly one message: trailing bytes are refused. The texts of
// *r alias msg. On error *r is zeroed and the error is a *DecodeError.
// Single-segment messages with near pointers (what AppendRequest and
// capnp-go write for small messages) are decoded without allocating; any
// other legal message is decoded through the generated capnp-go reader,
// with the same result.
func DecodeRequest(msg []byte, lim DecodeLimits, r *Request) error {
	err := decodeRequest(msg, lim.resolve(), r)
	if err != nil {
		*r = Request{}
	}
	return err
}

func decodeRequest(msg []byte, lim DecodeLimits, r *Request) error {
	nseg, err := checkFraming(msg, lim.MaxMessageBytes)
	if err != nil {
		return err
	}
	if nseg == 1 {
		if err := decodeRequestFast(msg, lim, r); err != errFar {
			return err
		}
	}
	return decodeRequestCapnp(msg, lim, r)
}

// DecodeResult decodes the framed JobResult message msg into *r, under the
// same rules as DecodeRequest.
func DecodeResult(msg []byte, lim DecodeLimits, r *Result) error {
	err := decodeResult(msg, lim.resolve(), r)
	if err != nil {
		*r = Result{}
	}
	return err
}

func decodeResult(msg []byte, lim DecodeLimits, r *Result) error {
	nseg, err := checkFraming(msg, lim.MaxMessageBytes)
	if err != nil {
		return err
	}
	if nseg == 1 {
		if err := decodeResultFast(msg, lim, r); err != errFar {
			return err
		}
	}
	return decodeResultCapnp(msg, lim, r)
}

// checkFraming validates the segment table of msg and returns the number of
// segments. The rules are those of capnp-go's Unmarshal plus ours: at most
// maxSegments segments, at most maxBytes bytes, no trailing bytes, and a
// first segment holding at least the root pointer.
func checkFraming(msg []byte, maxBytes int) (nseg int, err error) {
	if len(msg) > maxBytes {
		return 0, overLimit("message is "+strconv.Itoa(len(msg))+" bytes, limit "+strconv.Itoa(maxBytes), 0)
	}
	if len(msg) < 8 {
		return 0, malformed("message shorter than its segment table", 0)
	}
	le := binary.LittleEndian
	n := uint64(le.Uint32(msg)) + 1
	if n > maxSegments {
		return 0, malformed("segment table claims "+strconv.FormatUint(n, 10)+" segments, more than 512", 0)
	}
	hdr := int((n/2 + 1) * 8)
	if len(msg) < hdr {
		return 0, malformed("message shorter than its segment table", 0)
	}
	total := uint64(hdr)
	for i := 0; i < int(n); i++ {
		sz := uint64(le.Uint32(msg[4+4*i:])) * 8
		if sz > maxSegmentBytes {
			return 0, malformed("segment "+strconv.Itoa(i)+" larger than Cap'n Proto allows", 4+4*i)
		}
		total += sz
		if i == 0 && sz == 0 {
			return 0, malformed("first segment has no root pointer", 4)
		}
	}
	switch {
	case total > uint64(len(msg)):
		return 0, malformed("segment table claims "+strconv.FormatUint(total, 10)+" bytes, message has "+strconv.Itoa(len(msg)), 0)
	case total < uint64(len(msg)):
		return 0, malformed(strconv.FormatUint(uint64(len(msg))-total, 10)+" trailing bytes after the message", int(total))
	}
	return int(n), nil
}

// Pointer kinds (the low two bits), from the Cap'n Proto encoding spec.
const (
	kindStruct = 0
	kindList   = 1
	kindFar    = 2
	kindOther  = 3
)

// List element types, from the Cap'n Proto encoding spec.
const (
	listVoid = iota
	listBit
	listByte
	listTwo
	listFour
	listEight
	listPointer
	listComposite
)

// fastReader reads a single-segment message that uses near pointers only.
// It performs exactly the checks and traversal accounting of capnp-go's
// reader (Segment.readPtr), then our stricter kind checks, so that it
// accepts and refuses the same messages as the fallback.
//
// Values are passed around as a few integers rather than structs of
// slices: that keeps them in registers, which matters at this scale.
type fastReader struct {
	seg    []byte
	base   int    // offset of seg in the message, for error offsets
	budget uint64 // traversal bytes left
}

// view is a decoded struct: its data section is seg[at:at+size], its
// pointer section follows.
type view struct {
	at, size, ptrs int
	depth          uint // depth limit left for the pointers inside, as capnp-go
}

// Fields beyond the data section read as zero, so that a message from an
// older schema (a smaller struct) decodes with defaults.
func (r *fastReader) u64(v view, off int) uint64 {
	if off+8 > v.size {
		return 0
	}
	return binary.LittleEndian.Uint64(r.seg[v.at+off:])
}

func (r *fastReader) u32(v view, off int) uint32 {
	if off+4 > v.size {
		return 0
	}
	return binary.LittleEndian.Uint32(r.seg[v.at+off:])
}

func (r *fastReader) u16(v view, off int) uint16 {
	if off+2 > v.size {
		return 0
	}
	return binary.LittleEndian.Uint16(r.seg[v.at+off:])
}

// load validates the pointer at byte offset at of the segment and returns it
// with the byte offset of its target (a list's tag word for composite
// lists). depth is the depth limit of the struct holding the pointer
// (capnp-go's semantics: a non-null pointer needs depth >= 1). It returns
// errFar for far pointers.
func (r *fastReader) load(at int, depth uint, field string) (raw uint64, target int, err error) {
	raw = binary.LittleEndian.Uint64(r.seg[at:])
	if raw == 0 {
		return 0, 0, nil
	}
	kind := raw & 3
	if kind == kindFar {
		return 0, 0, errFar
	}
	if depth == 0 {
		return 0, 0, overLimit(field+": nesting deeper than the depth limit", r.base+at)
	}
	if kind == kindOther {
		if uint32(raw)>>2 != 0 {
			return 0, 0, malformed(field+": unknown pointer type", r.base+at)
		}
		return 0, 0, malformed(field+": capability pointer (this schema has no interfaces)", r.base+at)
	}
	t := int64(at+8) + int64(int32(uint32(raw))>>2)*8
	segLen := int64(len(r.seg))
	if t < 0 || t > maxSegmentBytes {
		return 0, 0, malformed(field+": pointer offset out of range", r.base+at)
	}
	var size, read uint64 // bytes occupied, bytes counted against the traversal limit
	if kind == kindStruct {
		size = uint64(uint16(raw>>32))*8 + uint64(uint16(raw>>48))*8
		read = size
	} else {
		n := raw >> 35
		switch (raw >> 32) & 7 {
		case listComposite:
			size = (n + 1) * 8 // tag word + content words
			if t+int64(size) > segLen {
				return 0, 0, malformed(field+": list out of bounds", r.base+at)
			}
			tag := binary.LittleEndian.Uint64(r.seg[t:])
			if tag&3 != kindStruct {
				return 0, 0, malformed(field+": composite list tag is not a struct", r.base+at)
			}
			cnt := int64(int32(uint32(tag)) >> 2)
			elem := uint64(uint16(tag>>32))*8 + uint64(uint16(tag>>48))*8
			if cnt < 0 || elem*uint64(cnt) > maxSegmentBytes || t+8+int64(elem*uint64(cnt)) > segLen {
				return 0, 0, malformed(field+": composite list out of bounds", r.base+at)
			}
			if elem == 0 {
				elem = 8 // capnp-go counts empty elements as a word each
			}
			read = min(elem*uint64(cnt), maxSegmentBytes)
		case listBit:
			size = (n + 7) / 8
			read = min(8*n, maxSegmentBytes) // capnp-go counts a word per bit
		case listByte:
			size, read = n, n
		default:
			e := uint64(0)
			switch (raw >> 32) & 7 {
			case listTwo:
				e = 2
			case listFour:
				e = 4
			case listEight, listPointer:
				e = 8
			}
			size = e * n
			if e == 0 {
				e = 8 // capnp-go counts void elements as a word each
			}
			read = min(e*n, maxSegmentBytes)
		}
	}
	if t+int64(size) > segLen {
		return 0, 0, malformed(field+": pointer out of bounds", r.base+at)
	}
	if read > r.budget {
		r.budget = 0
		return 0, 0, overLimit(field+": over the traversal limit", r.base+at)
	}
	r.budget -= read
	return raw, int(t), nil
}

// structView makes the view of the struct that the validated struct
// pointer raw leads to.
func structView(raw uint64, target int, depth uint) view {
	return view{at: target, size: int(uint16(raw>>32)) * 8, ptrs: int(uint16(raw >> 48)), depth: depth}
}

// root returns the root struct.
func (r *fastReader) root(depth uint) (view, error) {
	raw, t, err := r.load(0, depth, "root")
	switch {
	case err != nil:
		return view{}, err
	case raw == 0:
		return view{}, malformed("null root pointer", r.base)
	case raw&3 != kindStruct:
		return view{}, malformed("root pointer is a list, not a struct", r.base)
	}
	return structView(raw, t, depth-1), nil
}

// child returns the struct that pointer i of v leads to; a null pointer, or
// one beyond v's pointer section, gives the zero view (all fields zero).
func (r *fastReader) child(v view, i int, field string) (view, error) {
	if i >= v.ptrs {
		return view{}, nil
	}
	at := v.at + v.size + 8*i
	raw, t, err := r.load(at, v.depth, field)
	switch {
	case err != nil || raw == 0:
		return view{}, err
	case raw&3 != kindStruct:
		return view{}, malformed(field+": list pointer where a struct was expected", r.base+at)
	}
	return structView(raw, t, v.depth-1), nil
}

// text returns the Text that pointer i of v leads to, without its NUL; a
// null pointer gives nil.
func (r *fastReader) text(v view, i int, field string) ([]byte, error) {
	if i >= v.ptrs {
		return nil, nil
	}
	at := v.at + v.size + 8*i
	raw, t, err := r.load(at, v.depth, field)
	switch {
	case err != nil || raw == 0:
		return nil, err
	case raw&3 != kindList || (raw>>32)&7 != listByte:
		return nil, malformed(field+": text pointer is not a byte list", r.base+at)
	}
	n := int(raw >> 35)
	if n == 0 || r.seg[t+n-1] != 0 {
		return nil, malformed(field+": text is not NUL-terminated", r.base+at)
	}
	end := t + n - 1
	return r.seg[t:end:end], nil
}

func newFastReader(msg []byte, lim DecodeLimits) fastReader {
	return fastReader{seg: msg[headerBytes:], base: headerBytes, budget: lim.traverseBytes()}
}

func (r *fastReader) ref(v view, i int, field string) (Ref, error) {
	c, err := r.child(v, i, field)
	return Ref{Offset: r.u64(c, 0), Length: r.u64(c, 8), Handle: r.u64(c, 16)}, err
}

// decodeRequestFast decodes a single-segment request. It returns errFar
// when the message uses a far pointer and must be decoded by capnp-go.
func decodeRequestFast(msg []byte, lim DecodeLimits, r *Request) (err error) {
	fr := newFastReader(msg, lim)
	v, err := fr.root(lim.MaxDepth)
	if err != nil {
		return err
	}
	r.JobID = fr.u64(v, 0)
	r.DeadlineUnixNs = int64(fr.u64(v, 8))
	r.SubmitUnixNs = int64(fr.u64(v, 16))
	if r.Library, err = fr.text(v, 0, "library"); err != nil {
		return err
	}
	if r.Method, err = fr.text(v, 1, "method"); err != nil {
		return err
	}
	if r.Params, err = fr.text(v, 2, "params"); err != nil {
		return err
	}
	if r.Input, err = fr.ref(v, 3, "input"); err != nil {
		return err
	}
	if r.Output, err = fr.ref(v, 4, "output"); err != nil {
		return err
	}
	l, err := fr.child(v, 5, "limits")
	if err != nil {
		return err
	}
	r.Limits = JobLimits{
		MaxFuel:        fr.u64(l, 0),
		TimeoutNs:      fr.u64(l, 8),
		MaxOutputBytes: fr.u64(l, 16),
		MaxMemoryPages: fr.u32(l, 24),
	}
	return nil
}

// decodeResultFast is decodeRequestFast for results.
func decodeResultFast(msg []byte, lim DecodeLimits, r *Result) (err error) {
	fr := newFastReader(msg, lim)
	v, err := fr.root(lim.MaxDepth)
	if err != nil {
		return err
	}
	r.JobID = fr.u64(v, 0)
	r.Status = Status(fr.u16(v, 8))
	r.ErrorKind = ErrorKind(fr.u16(v, 10))
	r.QueueNs = fr.u64(v, 16)
	r.ExecNs = fr.u64(v, 24)
	r.FuelUsed = fr.u64(v, 32)
	r.OutputNeeded = fr.u64(v, 40)
	if r.Output, err = fr.ref(v, 0, "output"); err != nil {
		return err
	}
	r.ErrorMessage, err = fr.text(v, 1, "errorMessage")
	return err
}
