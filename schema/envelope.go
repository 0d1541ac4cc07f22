package schema

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// Ref is a byte range of the shared region, relative to the region's start,
// and the arena handle of the block holding it (the BufferRef struct of
// job.capnp).
type Ref struct {
	Offset, Length uint64
	Handle         uint64
}

// JobLimits are the per-job limits a producer asks for (the Limits struct of
// job.capnp). Zero means "the library's default".
//
// It is not called Limits because the generated capnp-go accessor type of
// that name lives in this package too.
type JobLimits struct {
	MaxFuel, TimeoutNs, MaxOutputBytes uint64
	MaxMemoryPages                     uint32
}

// Request is a decoded JobRequest.
//
// Library, Method and Params are views into the buffer they were decoded
// from (Text without its NUL terminator), so that decoding does not copy or
// allocate. They stay valid only as long as that buffer is not modified; see
// the package documentation for why the node decodes a private copy.
type Request struct {
	JobID                   uint64
	Library, Method, Params []byte
	Input, Output           Ref
	Limits                  JobLimits
	DeadlineUnixNs          int64
	SubmitUnixNs            int64
}

// Result is a decoded JobResult. ErrorMessage is a view into the decoded
// buffer, like the texts of Request.
type Result struct {
	JobID        uint64
	Status       Status
	Output       Ref
	ErrorKind    ErrorKind
	ErrorMessage []byte
	QueueNs      uint64
	ExecNs       uint64
	FuelUsed     uint64
	OutputNeeded uint64
}

// Status and ErrorKind are the enums generated from job.capnp (their String
// methods give the schema names, and "" for values this schema version does
// not know). The constants below are the same values under Go-style names.
const (
	StatusOK    = Status_ok
	StatusError = Status_error
)

// Values of ErrorKind, mirroring job.capnp.
const (
	ErrorNone              = ErrorKind_none
	ErrorInvalidEnvelope   = ErrorKind_invalidEnvelope
	ErrorInvalidParams     = ErrorKind_invalidParams
	ErrorUnknownLibrary    = ErrorKind_unknownLibrary
	ErrorUnknownMethod     = ErrorKind_unknownMethod
	ErrorInvalidReference  = ErrorKind_invalidReference
	ErrorInputTooLarge     = ErrorKind_inputTooLarge
	ErrorOutputTooLarge    = ErrorKind_outputTooLarge
	ErrorDeadlineExceeded  = ErrorKind_deadlineExceeded
	ErrorLibraryFailed     = ErrorKind_libraryFailed
	ErrorInternal          = ErrorKind_internal
	ErrorResourceExhausted = ErrorKind_resourceExhausted
	ErrorInvalidInput      = ErrorKind_invalidInput
	ErrorUnavailable       = ErrorKind_libraryUnavailable
)

// Struct sizes of job.capnp, in 64-bit words. They must match the
// ObjectSize values in job.capnp.go; TestStructSizesMatchGenerated checks.
const (
	requestDataWords = 3 // jobId, deadlineUnixNs, submitUnixNs
	requestPtrs      = 6 // library, method, params, input, output, limits
	resultDataWords  = 6 // jobId, status+errorKind, queueNs, execNs, fuelUsed, outputNeeded
	resultPtrs       = 2 // output, errorMessage
	refWords         = 3
	limitsWords      = 4

	// headerBytes is the stream framing of a single-segment message: the
	// segment count minus one and the segment's size in words.
	headerBytes = 8

	// requestFixedWords is everything of an encoded request except its
	// texts: root pointer, root struct, input, output and limits.
	requestFixedWords = 1 + requestDataWords + requestPtrs + 2*refWords + limitsWords
	resultFixedWords  = 1 + resultDataWords + resultPtrs + refWords

	// maxTextLen is the longest Text a list pointer can describe: its
	// element count has 29 bits and includes the NUL terminator.
	maxTextLen = 1<<29 - 2
)

// textWords is the number of words a Text of n bytes occupies: the bytes,
// the NUL terminator, and padding to a word. An empty Text is encoded as a
// null pointer and occupies nothing, as capnp-go's SetText does.
func textWords(n int) int {
	if n == 0 {
		return 0
	}
	return (n + 1 + 7) / 8
}

// RequestSize returns the exact number of bytes AppendRequest appends for r,
// so that a producer can check that a shared-memory slot is large enough
// before encoding into it.
func RequestSize(r *Request) int {
	w := requestFixedWords + textWords(len(r.Library)) + textWords(len(r.Method)) + textWords(len(r.Params))
	return headerBytes + 8*w
}

// ResultSize returns the exact number of bytes AppendResult appends for r.
func ResultSize(r *Result) int {
	return headerBytes + 8*(resultFixedWords+textWords(len(r.ErrorMessage)))
}

// appendFrame appends a zeroed single-segment message of n bytes to dst,
// writes its segment table, and returns dst and the segment. Zeroing
// matters: padding and null pointers must read as zero.
func appendFrame(dst []byte, n int) ([]byte, []byte) {
	dst = slices.Grow(dst, n)
	start := len(dst)
	dst = dst[:start+n]
	b := dst[start:]
	clear(b)
	binary.LittleEndian.PutUint32(b[4:], uint32(n-headerBytes)/8)
	return dst, b[headerBytes:]
}

// AppendRequest appends r to dst as one framed, single-segment, unpacked
// Cap'n Proto JobRequest message and returns the extended slice. It does not
// allocate when cap(dst)-len(dst) >= RequestSize(r).
//
// The layout is the one described in the package documentation; any Cap'n
// Proto reader of job.capnp (capnp-go, the capnp tool) reads it.
//
// It panics if a text is longer than 2^29-2 bytes, which Cap'n Proto cannot
// represent; the node's own limits are far below that.
func AppendRequest(dst []byte, r *Request) []byte {
	checkText("library", len(r.Library))
	checkText("method", len(r.Method))
	checkText("params", len(r.Params))
	dst, s := appendFrame(dst, RequestSize(r))
	le := binary.LittleEndian

	putStructPtr(s, 0, 1, requestDataWords, requestPtrs)
	le.PutUint64(s[8:], r.JobID)
	le.PutUint64(s[16:], uint64(r.DeadlineUnixNs))
	le.PutUint64(s[24:], uint64(r.SubmitUnixNs))

	const ptr0 = 1 + requestDataWords // word index of the first pointer
	next := ptr0 + requestPtrs        // next free word
	next = putText(s, ptr0+0, next, r.Library)
	next = putText(s, ptr0+1, next, r.Method)
	next = putText(s, ptr0+2, next, r.Params)
	next = putRef(s, ptr0+3, next, r.Input)
	next = putRef(s, ptr0+4, next, r.Output)

	putStructPtr(s, ptr0+5, next, limitsWords, 0)
	o := next * 8
	le.PutUint64(s[o:], r.Limits.MaxFuel)
	le.PutUint64(s[o+8:], r.Limits.TimeoutNs)
	le.PutUint64(s[o+16:], r.Limits.MaxOutputBytes)
	le.PutUint32(s[o+24:], r.Limits.MaxMemoryPages)
	return dst
}

// AppendResult appends r to dst as one framed, single-segment, unpacked Cap'n
// Proto JobResult message and returns the extended slice. It does not
// allocate when cap(dst)-len(dst) >= ResultSize(r). The error message comes
// last so that a writer short of space can shorten it without moving
// anything else.
//
// It panics if ErrorMessage is longer than 2^29-2 bytes.
func AppendResult(dst []byte, r *Result) []byte {
	checkText("errorMessage", len(r.ErrorMessage))
	dst, s := appendFrame(dst, ResultSize(r))
	le := binary.LittleEndian

	putStructPtr(s, 0, 1, resultDataWords, resultPtrs)
	le.PutUint64(s[8:], r.JobID)
	le.PutUint16(s[16:], uint16(r.Status))
	le.PutUint16(s[18:], uint16(r.ErrorKind))
	le.PutUint64(s[24:], r.QueueNs)
	le.PutUint64(s[32:], r.ExecNs)
	le.PutUint64(s[40:], r.FuelUsed)
	le.PutUint64(s[48:], r.OutputNeeded)

	const ptr0 = 1 + resultDataWords
	next := ptr0 + resultPtrs
	next = putRef(s, ptr0+0, next, r.Output)
	putText(s, ptr0+1, next, r.ErrorMessage)
	return dst
}

func checkText(field string, n int) {
	if n > maxTextLen {
		panic("schema: " + field + " is " + strconv.Itoa(n) + " bytes, longer than Cap'n Proto Text allows")
	}
}

// putStructPtr writes, at word at of segment s, a near struct pointer to the
// struct starting at word target.
func putStructPtr(s []byte, at, target, dataWords, ptrs int) {
	off := uint64(uint32(int32(target-at-1)) << 2) // kind 0 = struct
	binary.LittleEndian.PutUint64(s[at*8:], off|uint64(dataWords)<<32|uint64(ptrs)<<48)
}

// putText writes t at word next (unless it is empty, which stays a null
// pointer), points word at to it, and returns the next free word.
func putText(s []byte, at, next int, t []byte) int {
	if len(t) == 0 {
		return next
	}
	off := uint64(uint32(int32(next-at-1)) << 2)
	// kind 1 = list, element size 2 = byte, count includes the NUL.
	binary.LittleEndian.PutUint64(s[at*8:], off|1|2<<32|uint64(len(t)+1)<<35)
	copy(s[next*8:], t)
	return next + textWords(len(t))
}

// putRef writes a BufferRef struct at word next, points word at to it, and
// returns the next free word.
func putRef(s []byte, at, next int, r Ref) int {
	putStructPtr(s, at, next, refWords, 0)
	binary.LittleEndian.PutUint64(s[next*8:], r.Offset)
	binary.LittleEndian.PutUint64(s[next*8+8:], r.Length)
	binary.LittleEndian.PutUint64(s[next*8+16:], r.Handle)
	return next + refWords
}
