package schema

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	capnp "capnproto.org/go/capnp/v3"
)

// rootPointerKinds returns the kinds (0 struct, 1 list, 2 far, 6 double-far,
// 3 other) of the root pointer and of the root struct's pointers in msg's
// first segment, or nil if the root itself is not near.
func rootPointerKinds(msg []byte) []int {
	nseg := int(le.Uint32(msg)) + 1
	seg := msg[(nseg/2+1)*8:]
	root := le.Uint64(seg)
	kinds := []int{int(root & 3)}
	if root&3 != 0 {
		return append(kinds, int(root&7))
	}
	start := 8 + 8*int(int32(uint32(root))>>2)
	ptrs := start + 8*int(uint16(root>>32))
	for i := 0; i < int(uint16(root>>48)); i++ {
		p := le.Uint64(seg[ptrs+8*i:])
		k := int(p & 3)
		if k == 2 {
			k = int(p & 7)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

func hasKind(kinds []int, k int) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// farify rewrites a single-segment message so that the root pointer and
// every non-null pointer of the root struct become far pointers to landing
// pads appended to the same segment. The message stays single-segment, so
// the fast path meets the far pointer and must hand over to the fallback.
func farify(msg []byte) []byte {
	seg := bytes.Clone(msg[8:])
	moveToPad := func(at int) {
		p := le.Uint64(seg[at:])
		if p == 0 {
			return
		}
		target := at + 8 + 8*int(int32(uint32(p))>>2)
		pad := len(seg)
		seg = append(seg, make([]byte, 8)...)
		le.PutUint64(seg[pad:], p&^0xfffffffc|uint64(uint32(int32((target-pad-8)/8))<<2))
		le.PutUint64(seg[at:], uint64(pad)|2) // far, segment 0, word pad/8
	}
	root := le.Uint64(seg)
	start := 8 + 8*int(int32(uint32(root))>>2)
	ptrs := start + 8*int(uint16(root>>32))
	for i := 0; i < int(uint16(root>>48)); i++ {
		moveToPad(ptrs + 8*i)
	}
	moveToPad(0)
	out := make([]byte, 8, 8+len(seg))
	le.PutUint32(out[4:], uint32(len(seg)/8))
	return append(out, seg...)
}

// doubleFarify rewrites a single-segment message into two segments: the
// original one, whose root struct pointers become double-far pointers, and a
// second one holding their two-word landing pads, which point back into the
// first segment.
func doubleFarify(msg []byte) []byte {
	seg := bytes.Clone(msg[8:])
	var pads []byte
	root := le.Uint64(seg)
	start := 8 + 8*int(int32(uint32(root))>>2)
	ptrs := start + 8*int(uint16(root>>32))
	for i := 0; i < int(uint16(root>>48)); i++ {
		at := ptrs + 8*i
		p := le.Uint64(seg[at:])
		if p == 0 {
			continue
		}
		target := at + 8 + 8*int(int32(uint32(p))>>2)
		pad := len(pads)
		pads = le.AppendUint64(pads, uint64(target)|2) // far to segment 0, word target/8
		pads = le.AppendUint64(pads, p&^0xfffffffc)    // tag: the pointer with offset 0
		le.PutUint64(seg[at:], uint64(pad)|6|1<<32)    // double-far into segment 1
	}
	out := make([]byte, 16, 16+len(seg)+len(pads))
	le.PutUint32(out[0:], 1)
	le.PutUint32(out[4:], uint32(len(seg)/8))
	le.PutUint32(out[8:], uint32(len(pads)/8))
	out = append(out, seg...)
	return append(out, pads...)
}

// doubleFarArena returns a read-only capnp-go arena whose segments are sized
// so that every object of a typical request lands in its own segment, and
// no segment has room for a landing pad next to its object: capnp-go then
// writes double-far pointers.
func doubleFarArena(paramsBytes int) capnp.Arena {
	// In allocation order (capnp-go allocates first fit): root pointer, root
	// struct, its landing pad, library, method, their pads, params, its
	// pad, then input, output and limits, each followed by its pad.
	sizes := []int{8, 72, 16, 8, 8, 16, 16, paramsBytes, 16, 24, 16, 24, 16, 32, 16}
	segs := make([][]byte, len(sizes))
	for i, n := range sizes {
		segs[i] = make([]byte, 0, n)
	}
	return capnp.MultiSegment(segs)
}

func TestMultiSegmentFallback(t *testing.T) {
	base := requestCases()[1].r // "typical"
	bigParams := base
	bigParams.Params = bytes.Repeat([]byte("p"), 3000)
	paramsWords := textWords(len(bigParams.Params)) * 8
	lim := DecodeLimits{MaxMessageBytes: 4 << 20}

	type variant struct {
		name     string
		build    func(t *testing.T, r *Request) []byte
		segments int // 0: more than one
		kind     int // pointer kind that must appear among the root's pointers
	}
	variants := []variant{
		{"capnp-go MultiSegment(nil)", func(t *testing.T, r *Request) []byte {
			return genRequest(t, capnp.MultiSegment(nil), r, false)
		}, 0, 2},
		{"capnp-go exact segments", func(t *testing.T, r *Request) []byte {
			return genRequest(t, doubleFarArena(paramsWords), r, false)
		}, 0, 6},
		{"far pointers in one segment", func(t *testing.T, r *Request) []byte {
			return farify(AppendRequest(nil, r))
		}, 1, 2},
		{"double-far pointers", func(t *testing.T, r *Request) []byte {
			return doubleFarify(AppendRequest(nil, r))
		}, 2, 6},
		{"512 segments", func(t *testing.T, r *Request) []byte {
			// The double-far message, plus 510 empty segments: the most
			// segments we accept.
			m := doubleFarify(AppendRequest(nil, r))
			b := le.AppendUint32(nil, 511)
			b = append(b, m[4:12]...)
			b = append(b, make([]byte, 4*510+4)...)
			return append(b, m[16:]...)
		}, 512, 6},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := bigParams
			msg := v.build(t, &r)
			nseg := int(le.Uint32(msg)) + 1
			if (v.segments == 0 && nseg < 2) || (v.segments > 0 && nseg != v.segments) {
				t.Fatalf("built %d segments, want %d (0: several)", nseg, v.segments)
			}
			if k := rootPointerKinds(msg); !hasKind(k, v.kind) && !(v.kind == 2 && k[0] == 2) {
				t.Fatalf("root pointer kinds %v lack kind %d: the test does not exercise what it claims", k, v.kind)
			}
			if got := readGenRequest(t, msg); !requestsEqual(&got, &r) {
				t.Fatalf("capnp-go itself reads %s", short(got))
			}
			var got Request
			must(t, DecodeRequest(msg, lim, &got))
			if !requestsEqual(&got, &r) {
				t.Fatalf("DecodeRequest read %s\nwant %s", short(got), short(r))
			}
			if nseg == 1 {
				if err := decodeRequestFast(msg, lim.resolve(), &got); err != errFar {
					t.Fatalf("fast path on far pointers: %v, want errFar", err)
				}
			}
		})
	}

	// Results through the fallback.
	for _, tc := range resultCases() {
		for name, msg := range map[string][]byte{
			"MultiSegment(nil)": genResult(t, capnp.MultiSegment(nil), &tc.r),
			"farify":            farify(AppendResult(nil, &tc.r)),
			"doubleFarify":      doubleFarify(AppendResult(nil, &tc.r)),
		} {
			t.Run("result/"+tc.name+"/"+name, func(t *testing.T) {
				var got Result
				must(t, DecodeResult(msg, lim, &got))
				if !resultsEqual(&got, &tc.r) {
					t.Fatalf("DecodeResult read %s\nwant %s", short(got), short(tc.r))
				}
			})
		}
	}
}

// TestFastAndFallbackAgree runs both decoders on the same single-segment
// messages, valid and malformed, with various limits: they must accept the
// same ones with the same values and refuse the same ones with the same
// sentinel.
func TestFastAndFallbackAgree(t *testing.T) {
	var msgs [][]byte
	for _, tc := range requestCases() {
		msgs = append(msgs, AppendRequest(nil, &tc.r))
	}
	for _, tc := range malformedRequests() {
		msgs = append(msgs, tc.msg)
	}
	limits := []DecodeLimits{
		{MaxMessageBytes: 4 << 20},
		{TraverseWords: 1}, {TraverseWords: 9}, {TraverseWords: 17}, {TraverseWords: 18}, {TraverseWords: 20},
		{MaxDepth: 1}, {MaxDepth: 2},
	}
	compared := 0
	defer func() {
		if compared < len(msgs) {
			t.Errorf("only %d comparisons made", compared)
		}
	}()
	for i, msg := range msgs {
		for _, lim := range limits {
			lim := lim.resolve()
			if _, err := checkFraming(msg, lim.MaxMessageBytes); err != nil {
				continue // neither decoder sees these
			}
			var fast, slow Request
			ferr := decodeRequestFast(msg, lim, &fast)
			if ferr == errFar {
				continue
			}
			serr := decodeRequestCapnp(msg, lim, &slow)
			compared++
			switch {
			case (ferr == nil) != (serr == nil):
				t.Errorf("msg %d, limits %+v: fast path: %v; fallback: %v", i, lim, ferr, serr)
			case ferr == nil && !requestsEqual(&fast, &slow):
				t.Errorf("msg %d, limits %+v: fast path read %s, fallback %s", i, lim, short(fast), short(slow))
			case ferr != nil && errors.Is(ferr, ErrLimit) != errors.Is(serr, ErrLimit):
				t.Errorf("msg %d, limits %+v: fast path: %v; fallback: %v (different sentinels)", i, lim, ferr, serr)
			}
		}
	}
}

// TestDecodeLimits: the traversal limit counts what capnp-go counts (struct
// sections, text bytes including the NUL), and the depth limit is
// capnp-go's, on both paths.
func TestDecodeLimits(t *testing.T) {
	// Root 9 words + texts "abc","def" (4 bytes each) + input 2 + output 2 +
	// limits 4 words = 72 + 8 + 64 = 144 bytes = 18 words.
	r := Request{Library: []byte("abc"), Method: []byte("def"), Limits: JobLimits{MaxFuel: 1}}
	empty := Request{JobID: 5}
	fast := AppendRequest(nil, &r)
	rootOnly := make([]byte, 24)
	le.PutUint32(rootOnly[4:], 2)
	le.PutUint64(rootOnly[8:], 1<<32) // struct of one data word: jobId 5
	le.PutUint64(rootOnly[16:], 5)
	tests := []struct {
		name string
		msg  []byte
		lim  DecodeLimits
		want error
	}{
		{"traverse exact", fast, DecodeLimits{TraverseWords: 20}, nil},
		{"traverse one short", fast, DecodeLimits{TraverseWords: 19}, ErrLimit},
		{"traverse root only", fast, DecodeLimits{TraverseWords: 9}, ErrLimit},
		{"depth 2", fast, DecodeLimits{MaxDepth: 2}, nil},
		{"depth 1", fast, DecodeLimits{MaxDepth: 1}, ErrLimit},
		{"depth 1, pointers set", AppendRequest(nil, &empty), DecodeLimits{MaxDepth: 1}, ErrLimit}, // refs and limits are always written
		{"depth 1, root only", rootOnly, DecodeLimits{MaxDepth: 1}, nil},
		{"size exact", fast, DecodeLimits{MaxMessageBytes: len(fast)}, nil},
		{"size one short", fast, DecodeLimits{MaxMessageBytes: len(fast) - 1}, ErrLimit},
	}
	for _, tc := range tests {
		for name, msg := range map[string][]byte{"fast": tc.msg, "far": farify(tc.msg), "doubleFar": doubleFarify(tc.msg)} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				lim := tc.lim
				if name != "fast" && lim.MaxMessageBytes != 0 {
					t.Skip("far variants are longer")
				}
				var got Request
				err := DecodeRequest(msg, lim, &got)
				if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if err == nil && !requestsEqual(&got, &r) && !requestsEqual(&got, &empty) {
					t.Fatalf("got %s", short(got))
				}
			})
		}
	}
}

// TestFallbackLimitErrors: capnp-go's limit errors are recognized (by their
// text) as ErrLimit. A capnp-go upgrade that rewords them fails here.
func TestFallbackLimitErrors(t *testing.T) {
	r := Request{Library: []byte("abc"), Method: []byte("def")}
	msg := doubleFarify(AppendRequest(nil, &r))
	var got Request
	for _, lim := range []DecodeLimits{{TraverseWords: 10}, {MaxDepth: 1}} {
		err := decodeRequestCapnp(msg, lim.resolve(), &got)
		if !errors.Is(err, ErrLimit) {
			t.Errorf("limits %+v: fallback error %v, want ErrLimit", lim, err)
		}
	}
}

// buildSized encodes r with capnp-go's untyped API, with the given struct
// sizes instead of the schema's: fields that do not fit are left out (an
// older writer), extra space and pointers are filled with junk (a newer
// writer). extra, when set, is a text written to every pointer beyond ours.
func buildSized(t *testing.T, root, ref, limits capnp.ObjectSize, r *Request, extra string) []byte {
	t.Helper()
	msg, seg, err := capnp.NewMessage(capnp.SingleSegment(nil))
	must(t, err)
	st, err := capnp.NewRootStruct(seg, root)
	must(t, err)
	fill := func(s capnp.Struct, from capnp.DataOffset) {
		for off := from; off+8 <= capnp.DataOffset(s.Size().DataSize); off += 8 {
			s.SetUint64(off, 0xdeadbeefcafef00d)
		}
	}
	u64 := func(s capnp.Struct, off capnp.DataOffset, v uint64) {
		if off+8 <= capnp.DataOffset(s.Size().DataSize) {
			s.SetUint64(off, v)
		}
	}
	fill(st, 24)
	u64(st, 0, r.JobID)
	u64(st, 8, uint64(r.DeadlineUnixNs))
	u64(st, 16, uint64(r.SubmitUnixNs))
	for i, txt := range [][]byte{r.Library, r.Method, r.Params} {
		if i < int(root.PointerCount) {
			must(t, st.SetText(uint16(i), string(txt)))
		}
	}
	for i, rf := range []Ref{r.Input, r.Output} {
		if 3+i < int(root.PointerCount) {
			s, err := capnp.NewStruct(seg, ref)
			must(t, err)
			fill(s, 24)
			u64(s, 0, rf.Offset)
			u64(s, 8, rf.Length)
			u64(s, 16, rf.Handle)
			must(t, st.SetPtr(uint16(3+i), s.ToPtr()))
		}
	}
	if 5 < int(root.PointerCount) {
		s, err := capnp.NewStruct(seg, limits)
		must(t, err)
		fill(s, 32)
		u64(s, 0, r.Limits.MaxFuel)
		u64(s, 8, r.Limits.TimeoutNs)
		u64(s, 16, r.Limits.MaxOutputBytes)
		if 28 <= limits.DataSize {
			s.SetUint32(24, r.Limits.MaxMemoryPages)
		}
		must(t, st.SetPtr(5, s.ToPtr()))
	}
	for i := uint16(requestPtrs); i < root.PointerCount; i++ {
		must(t, st.SetText(i, extra))
	}
	b, err := msg.Marshal()
	must(t, err)
	return b
}

// TestSchemaEvolution: structs smaller than ours (an older writer) read
// missing fields as zero; larger ones (a newer writer) have their extra
// fields ignored. Both paths, and capnp-go, agree.
func TestSchemaEvolution(t *testing.T) {
	r := requestCases()[1].r // typical
	sz := func(words, ptrs int) capnp.ObjectSize {
		return capnp.ObjectSize{DataSize: capnp.Size(8 * words), PointerCount: uint16(ptrs)}
	}
	tests := []struct {
		name              string
		root, ref, limits capnp.ObjectSize
		want              Request
	}{
		{"same", sz(3, 6), sz(2, 0), sz(4, 0), r},
		{"newer writer", sz(5, 8), sz(3, 1), sz(6, 2), r},
		{"root with jobId only", sz(1, 0), sz(2, 0), sz(4, 0), Request{JobID: r.JobID}},
		{"root without pointers", sz(3, 0), sz(2, 0), sz(4, 0), Request{JobID: r.JobID, DeadlineUnixNs: r.DeadlineUnixNs, SubmitUnixNs: r.SubmitUnixNs}},
		{"root with texts only", sz(3, 3), sz(2, 0), sz(4, 0), Request{JobID: r.JobID, DeadlineUnixNs: r.DeadlineUnixNs, SubmitUnixNs: r.SubmitUnixNs, Library: r.Library, Method: r.Method, Params: r.Params}},
		{"empty root", sz(0, 0), sz(2, 0), sz(4, 0), Request{}},
		{"short refs and limits", sz(3, 6), sz(1, 0), sz(3, 0), func() Request {
			w := r
			w.Input.Length, w.Output.Length, w.Limits.MaxMemoryPages = 0, 0, 0
			return w
		}()},
	}
	for _, tc := range tests {
		msg := buildSized(t, tc.root, tc.ref, tc.limits, &r, "from the future")
		if got := readGenRequest(t, msg); !requestsEqual(&got, &tc.want) {
			t.Fatalf("%s: test message is wrong: capnp-go reads it as %s", tc.name, short(got))
		}
		for name, msg := range map[string][]byte{"fast": msg, "far": farify(msg), "doubleFar": doubleFarify(msg)} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				var got Request
				must(t, DecodeRequest(msg, DefaultDecodeLimits(), &got))
				if !requestsEqual(&got, &tc.want) {
					t.Fatalf("got %s\nwant %s", short(got), short(tc.want))
				}
			})
		}
	}
}

type malformedCase struct {
	name string
	msg  []byte
	want error // ErrMalformed or ErrLimit
}

// malformedRequests returns hostile variations of a valid request.
func malformedRequests() []malformedCase {
	r := Request{JobID: 1, Library: []byte("lib"), Method: []byte("m"), Params: []byte("{}")}
	valid := AppendRequest(nil, &r)
	// Word indexes (in the segment) of the root's pointers.
	const lib, method, params, input, output, limits = 4, 5, 6, 7, 8, 9
	seg := func(m []byte) []byte { return m[8:] }
	with := func(word int, v uint64) []byte {
		m := bytes.Clone(valid)
		le.PutUint64(seg(m)[8*word:], v)
		return m
	}
	// ptrAt keeps a pointer's kind and size and retargets it to word target.
	ptrTo := func(word, target int, kindAndSize uint64) []byte {
		return with(word, kindAndSize|uint64(uint32(int32(target-word-1))<<2))
	}
	segWords := len(valid)/8 - 1
	header := func(words ...uint32) []byte {
		var b []byte
		b = le.AppendUint32(b, uint32(len(words)-1))
		for _, w := range words {
			b = le.AppendUint32(b, w)
		}
		if len(b)%8 != 0 {
			b = le.AppendUint32(b, 0)
		}
		return b
	}
	textKind := uint64(1 | 2<<32 | 4<<35) // byte list of 4
	return []malformedCase{
		{"empty", nil, ErrMalformed},
		{"short header", valid[:7], ErrMalformed},
		{"header only", valid[:8], ErrMalformed},
		{"truncated by a word", valid[:len(valid)-8], ErrMalformed},
		{"truncated by a byte", valid[:len(valid)-1], ErrMalformed},
		{"trailing bytes", append(bytes.Clone(valid), 0, 0, 0, 0, 0, 0, 0, 0), ErrMalformed},
		{"segment table claims 2 segments", append(header(uint32(segWords), 1), valid[8:]...), ErrMalformed},
		{"segment count 2^32", append([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0}, valid[8:]...), ErrMalformed},
		{"segment count 513", append(header(make([]uint32, 513)...), 0), ErrMalformed},
		{"512 segments, null root", append(header(append([]uint32{1}, make([]uint32, 511)...)...), make([]byte, 8)...), ErrMalformed},
		{"segment size 2^32-1 words", append(header(0xffffffff), valid[8:]...), ErrMalformed},
		{"first segment empty", header(0), ErrMalformed},
		{"first segment empty, second has data", append(header(0, 1), make([]byte, 8)...), ErrMalformed},
		{"null root", append(header(1), make([]byte, 8)...), ErrMalformed},
		{"root is a list", with(0, 1|2<<32|8<<35), ErrMalformed},
		{"root is a capability", with(0, 3), ErrMalformed},
		{"root is an unknown other pointer", with(0, 3|1<<2), ErrMalformed},
		{"root past the end", ptrTo(0, segWords, 3<<32|6<<48), ErrMalformed},
		{"root before the start", ptrTo(0, -1, 3<<32|6<<48), ErrMalformed},
		{"root offset 2^29-1", with(0, uint64(0x1fffffff)<<2|3<<32|6<<48), ErrMalformed},
		{"root larger than segment", with(0, 0xffff<<32|0xffff<<48), ErrMalformed},
		{"library past the end", ptrTo(lib, segWords, textKind), ErrMalformed},
		{"library runs past the end", ptrTo(lib, segWords-1, 1|2<<32|16<<35), ErrMalformed},
		{"library before the start", ptrTo(lib, -1, textKind), ErrMalformed},
		{"library is a struct", ptrTo(lib, 10, 1<<32), ErrMalformed},
		{"library is a list of uint16", ptrTo(lib, 10, 1|3<<32|2<<35), ErrMalformed},
		{"library is a list of pointers", ptrTo(lib, 10, 1|6<<32|1<<35), ErrMalformed},
		{"library is a void list", ptrTo(lib, 10, 1|0<<32|1000<<35), ErrMalformed},
		{"library is a bit list", ptrTo(lib, 10, 1|1<<32|64<<35), ErrMalformed},
		{"library is a composite list", func() []byte {
			m := ptrTo(lib, 10, 1|7<<32|1<<35)
			le.PutUint64(seg(m)[8*10:], 0) // tag: no elements
			return m
		}(), ErrMalformed},
		{"library is a composite list with a bad tag", func() []byte {
			m := ptrTo(lib, 10, 1|7<<32|1<<35)
			le.PutUint64(seg(m)[8*10:], 1)
			return m
		}(), ErrMalformed},
		{"library is a composite list out of bounds", func() []byte {
			m := ptrTo(lib, 10, 1|7<<32|1<<35)
			le.PutUint64(seg(m)[8*10:], 1<<2|1<<32) // 1 element of 1 word, only the tag fits
			return m
		}(), ErrMalformed},
		{"library is a composite list of 2^29 elements", func() []byte {
			m := ptrTo(lib, 10, 1|7<<32|1<<35)
			le.PutUint64(seg(m)[8*10:], 0x1fffffff<<2) // empty structs: in bounds, but counted
			return m
		}(), ErrLimit},
		{"library without NUL", ptrTo(lib, 10, 1|2<<32|3<<35), ErrMalformed},
		{"library empty byte list", ptrTo(lib, 10, 1|2<<32), ErrMalformed},
		{"library is a capability", with(lib, 3|5<<32), ErrMalformed},
		{"method is an unknown other pointer", with(method, 3|4), ErrMalformed},
		{"params past the end", ptrTo(params, segWords+100, textKind), ErrMalformed},
		{"input is a list", ptrTo(input, 10, 1|5<<32|2<<35), ErrMalformed},
		{"input is a capability", with(input, 3), ErrMalformed},
		{"output past the end", ptrTo(output, segWords-1, 2<<32), ErrMalformed},
		{"limits larger than segment", ptrTo(limits, 10, 0xffff<<32), ErrMalformed},
		{"void list of 2^29-1 as text", ptrTo(lib, 10, 1|0<<32|(1<<29-1)<<35), ErrLimit},
		{"too large", make([]byte, defaultMaxMessageBytes+8), ErrLimit},
	}
}

func TestMalformedRequests(t *testing.T) {
	for _, tc := range malformedRequests() {
		for name, msg := range map[string][]byte{"as is": tc.msg} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				var r Request
				err := DecodeRequest(msg, DefaultDecodeLimits(), &r)
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("err = %v (%T), want a *DecodeError", err, err)
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if errors.Is(err, ErrMalformed) == errors.Is(err, ErrLimit) {
					t.Fatalf("err = %v matches both or neither sentinel", err)
				}
			})
		}
	}
}

func TestMalformedResults(t *testing.T) {
	valid := AppendResult(nil, &Result{JobID: 1, ErrorMessage: []byte("boom")})
	msgs := map[string][]byte{
		"truncated":           valid[:len(valid)-8],
		"message without NUL": bytes.Clone(valid),
		"output is a list":    bytes.Clone(valid),
	}
	// output is the root's first pointer (segment word 7), errorMessage its
	// second (word 8); the message pointed at word 11 is "boom" without a NUL.
	le.PutUint64(msgs["message without NUL"][8+8*8:], 1|2<<32|4<<35|2<<2)
	copy(msgs["message without NUL"][8+8*11:], "boom")
	le.PutUint64(msgs["output is a list"][8+8*7:], 1|5<<32|2<<35|1<<2)
	for name, msg := range msgs {
		t.Run(name, func(t *testing.T) {
			var r Result
			if err := DecodeResult(msg, DefaultDecodeLimits(), &r); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func ExampleDecodeRequest() {
	msg := AppendRequest(nil, &Request{JobID: 7, Library: []byte("echo"), Method: []byte("run"), Params: []byte("{}")})
	// The node copies the message out of shared memory first; the decoded
	// texts alias that private copy.
	private := bytes.Clone(msg)
	var r Request
	if err := DecodeRequest(private, DefaultDecodeLimits(), &r); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("job %d: %s.%s(%s)\n", r.JobID, r.Library, r.Method, r.Params)
	// Output: job 7: echo.run({})
}
