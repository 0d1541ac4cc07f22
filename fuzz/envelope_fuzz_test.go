package fuzz

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	capnp "capnproto.org/go/capnp/v3"

	"github.com/inos-node/node/internal/jsonparams"
	"github.com/inos-node/node/schema"
)

// FuzzDecodeRequest feeds arbitrary bytes, under arbitrary traversal and
// depth limits, to schema.DecodeRequest and checks it against the generated
// capnp-go reader (the reference) on the same bytes and limits:
//
//   - it never panics, and its errors are *DecodeErrors matching exactly
//     one of ErrMalformed and ErrLimit;
//   - what it accepts, capnp-go accepts with identical fields;
//   - what capnp-go accepts and it refuses must be one of the deliberate
//     differences listed in the schema package documentation;
//   - what it accepts survives AppendRequest and a second decode unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range requestSeeds(f) {
		f.Add(s.msg, s.traverseWords, s.depth)
	}
	f.Fuzz(func(t *testing.T, msg []byte, traverseWords uint32, depth uint8) {
		got, ok := checkDecodeRequest(t, msg, schema.DecodeLimits{TraverseWords: uint64(traverseWords), MaxDepth: uint(depth)})

		// Random limits rarely land where an accounting difference would
		// show, so also probe the exact traversal limit capnp-go needs
		// (found by bisection), one word less, and depths 1 and 2.
		if need, found := capnpGoTraverseNeed(msg); found {
			for _, w := range []uint64{need, need - 1} {
				if w > 0 {
					checkDecodeRequest(t, msg, schema.DecodeLimits{TraverseWords: w})
				}
			}
		}
		checkDecodeRequest(t, msg, schema.DecodeLimits{MaxDepth: 1})
		checkDecodeRequest(t, msg, schema.DecodeLimits{MaxDepth: 2})
		if !ok {
			return
		}

		enc := schema.AppendRequest(nil, &got)
		if len(enc) != schema.RequestSize(&got) {
			t.Fatalf("AppendRequest wrote %d bytes, RequestSize says %d", len(enc), schema.RequestSize(&got))
		}
		var again schema.Request
		if err := schema.DecodeRequest(enc, schema.DecodeLimits{MaxMessageBytes: len(enc)}, &again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if !requestsEqual(&got, &again) {
			t.Fatalf("round trip changed the request:\nfirst  %s\nsecond %s", short(got), short(again))
		}
	})
}

// checkDecodeRequest decodes msg under lim with schema.DecodeRequest and
// with capnp-go, and fails t unless they agree as FuzzDecodeRequest
// describes. It returns our result.
func checkDecodeRequest(t *testing.T, msg []byte, lim schema.DecodeLimits) (schema.Request, bool) {
	t.Helper()
	var got schema.Request
	err := schema.DecodeRequest(msg, lim, &got)
	if err != nil {
		var de *schema.DecodeError
		if !errors.As(err, &de) || errors.Is(err, schema.ErrMalformed) == errors.Is(err, schema.ErrLimit) {
			t.Fatalf("limits %+v: error %v (%T) is not a *DecodeError matching exactly one sentinel", lim, err, err)
		}
	}
	ref, refErr := capnpGoRead(msg, lim)
	switch {
	case err == nil && refErr != nil:
		t.Fatalf("limits %+v: DecodeRequest accepted a message capnp-go refuses (%v): %s", lim, refErr, short(got))
	case err == nil && !requestsEqual(&got, &ref):
		t.Fatalf("limits %+v: DecodeRequest and capnp-go disagree:\nours     %s\ncapnp-go %s", lim, short(got), short(ref))
	case err != nil && refErr == nil:
		if why := documentedDifference(msg, lim); why == "" {
			t.Fatalf("limits %+v: DecodeRequest refused (%v) a message capnp-go reads as %s, for no documented reason", lim, err, short(ref))
		}
	}
	return got, err == nil
}

// capnpGoTraverseNeed returns the smallest traversal limit, in words, under
// which capnp-go reads msg, if it reads it under the default limits.
func capnpGoTraverseNeed(msg []byte) (words uint64, ok bool) {
	hi := resolved(schema.DecodeLimits{}).TraverseWords
	if _, err := capnpGoRead(msg, schema.DecodeLimits{TraverseWords: hi}); err != nil {
		return 0, false
	}
	lo := uint64(0) // capnp-go fails at lo (0 is taken as "fails": it means the default)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if _, err := capnpGoRead(msg, schema.DecodeLimits{TraverseWords: mid}); err != nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, true
}

// resolved fills in the defaults the way schema does for zero fields.
func resolved(lim schema.DecodeLimits) schema.DecodeLimits {
	d := schema.DefaultDecodeLimits()
	if lim.MaxMessageBytes <= 0 {
		lim.MaxMessageBytes = d.MaxMessageBytes
	}
	if lim.TraverseWords == 0 {
		lim.TraverseWords = d.TraverseWords
	}
	if lim.MaxDepth == 0 {
		lim.MaxDepth = d.MaxDepth
	}
	return lim
}

// capnpGoRead reads msg with the generated code alone, each getter called
// once, under the same limits.
func capnpGoRead(msg []byte, lim schema.DecodeLimits) (r schema.Request, err error) {
	lim = resolved(lim)
	m, err := capnp.Unmarshal(msg)
	if err != nil {
		return r, err
	}
	m.TraverseLimit = lim.TraverseWords * 8
	m.DepthLimit = lim.MaxDepth
	jr, err := schema.ReadRootJobRequest(m)
	if err != nil {
		return r, err
	}
	r.JobID = jr.JobId()
	r.DeadlineUnixNs = jr.DeadlineUnixNs()
	r.SubmitUnixNs = jr.SubmitUnixNs()
	if r.Library, err = jr.LibraryBytes(); err != nil {
		return r, err
	}
	if r.Method, err = jr.MethodBytes(); err != nil {
		return r, err
	}
	if r.Params, err = jr.ParamsBytes(); err != nil {
		return r, err
	}
	in, err := jr.Input()
	if err != nil {
		return r, err
	}
	out, err := jr.Output()
	if err != nil {
		return r, err
	}
	l, err := jr.Limits()
	if err != nil {
		return r, err
	}
	r.Input = schema.Ref{Offset: in.Offset(), Length: in.Length(), Handle: in.Handle()}
	r.Output = schema.Ref{Offset: out.Offset(), Length: out.Length(), Handle: out.Handle()}
	r.Limits = schema.JobLimits{MaxFuel: l.MaxFuel(), TimeoutNs: l.TimeoutNs(), MaxOutputBytes: l.MaxOutputBytes(), MaxMemoryPages: l.MaxMemoryPages()}
	return r, nil
}

// documentedDifference returns which of the deliberate differences from
// capnp-go listed in the schema package documentation msg has, or "".
func documentedDifference(msg []byte, lim schema.DecodeLimits) string {
	lim = resolved(lim)
	if len(msg) > lim.MaxMessageBytes {
		return "over MaxMessageBytes"
	}
	if len(msg) >= 8 {
		n := uint64(binary.LittleEndian.Uint32(msg)) + 1
		if n > 512 {
			return "more than 512 segments"
		}
		total := (n/2 + 1) * 8
		for i := uint64(0); i < n && 4+4*i+4 <= uint64(len(msg)); i++ {
			total += uint64(binary.LittleEndian.Uint32(msg[4+4*i:])) * 8
		}
		if total < uint64(len(msg)) {
			return "trailing bytes"
		}
	}
	m, err := capnp.Unmarshal(msg)
	if err != nil {
		return ""
	}
	m.TraverseLimit = math.MaxUint64
	root, err := m.Root()
	switch {
	case err != nil:
		return ""
	case !root.IsValid():
		return "null root"
	case root.Interface().IsValid():
		return "capability pointer"
	case !root.Struct().IsValid():
		return "root is a list"
	}
	st := root.Struct()
	for i := uint16(0); i < 6; i++ {
		p, err := st.Ptr(i)
		if err != nil || !p.IsValid() {
			continue
		}
		if p.Interface().IsValid() {
			return "capability pointer"
		}
		if i < 3 { // texts
			b := p.Data()
			if b == nil {
				return "text pointer is not a byte list"
			}
			if len(b) == 0 || b[len(b)-1] != 0 {
				return "text without NUL"
			}
		} else if !p.Struct().IsValid() {
			return "struct field is a list"
		}
	}
	return ""
}

func requestsEqual(a, b *schema.Request) bool {
	return a.JobID == b.JobID &&
		bytes.Equal(a.Library, b.Library) && bytes.Equal(a.Method, b.Method) && bytes.Equal(a.Params, b.Params) &&
		a.Input == b.Input && a.Output == b.Output && a.Limits == b.Limits &&
		a.DeadlineUnixNs == b.DeadlineUnixNs && a.SubmitUnixNs == b.SubmitUnixNs
}

func short(r schema.Request) string {
	q := func(b []byte) string {
		if len(b) > 60 {
			return fmt.Sprintf("%q… (%d bytes)", b[:60], len(b))
		}
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("{JobID:%d Library:%s Method:%s Params:%s Input:%+v Output:%+v Limits:%+v Deadline:%d Submit:%d}",
		r.JobID, q(r.Library), q(r.Method), q(r.Params), r.Input, r.Output, r.Limits, r.DeadlineUnixNs, r.SubmitUnixNs)
}

// FuzzParams checks jsonparams.Validate against a reference built from
// encoding/json: it accepts exactly the texts that encoding/json finds valid,
// that are valid UTF-8 and a JSON object, nested within the depth limit,
// with no "__proto__" or "constructor" key (as json.Decoder unescapes it).
func FuzzParams(f *testing.F) {
	for _, s := range paramsSeeds() {
		f.Add(s.in, s.maxDepth)
	}
	f.Fuzz(func(t *testing.T, in []byte, maxDepth uint8) {
		lim := jsonparams.Limits{MaxDepth: int(maxDepth)}
		err := jsonparams.Validate(in, lim)
		if err != nil {
			var e *jsonparams.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not a *jsonparams.Error", err, err)
			}
			n := 0
			for _, s := range []error{jsonparams.ErrTooLarge, jsonparams.ErrNotObject, jsonparams.ErrSyntax, jsonparams.ErrForbiddenKey, jsonparams.ErrTooDeep} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 || e.Offset < 0 || e.Offset > int64(len(in)) {
				t.Fatalf("error %v: matches %d sentinels, offset %d of %d bytes", err, n, e.Offset, len(in))
			}
		}
		if err == nil {
			if !json.Valid(in) {
				t.Fatalf("Validate accepted %q, which encoding/json refuses", in)
			}
			if rest := bytes.TrimLeft(in, " \t\r\n"); len(rest) == 0 || rest[0] != '{' {
				t.Fatalf("Validate accepted %q, which is not an object", in)
			}
		}
		depth := int(maxDepth)
		if depth == 0 {
			depth = 64
		}
		if want, why := referenceParams(in, depth); (err == nil) != want {
			t.Fatalf("Validate(%q, depth %d) = %v, but the reference says %v (%s)", in, depth, err, want, why)
		}
	})
}

// referenceParams decides acceptability with encoding/json.
func referenceParams(in []byte, maxDepth int) (ok bool, why string) {
	if !json.Valid(in) {
		return false, "encoding/json: invalid"
	}
	if !utf8.Valid(in) {
		return false, "invalid UTF-8"
	}
	if t := bytes.TrimLeft(in, " \t\r\n"); t[0] != '{' {
		return false, "not an object"
	}
	type frame struct{ object, wantKey bool }
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber() // valid JSON numbers such as 1E700 overflow float64
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true, "acceptable"
		}
		if err != nil {
			return false, "json.Decoder: " + err.Error()
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			if k := tok.(string); k == "__proto__" || k == "constructor" {
				return false, "forbidden key " + k
			}
			stack[n-1].wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: true})
			if len(stack) > maxDepth {
				return false, "too deep"
			}
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

type requestSeed struct {
	name          string
	msg           []byte
	traverseWords uint32
	depth         uint8
}

// requestSeeds are the seed corpus of FuzzDecodeRequest, also committed
// under testdata/fuzz/FuzzDecodeRequest (see TestWriteEnvelopeSeeds).
func requestSeeds(tb testing.TB) []requestSeed {
	le := binary.LittleEndian
	typical := schema.Request{
		JobID: 42, Library: []byte("echo"), Method: []byte("run"), Params: []byte(`{"a":1}`),
		Input: schema.Ref{Offset: 4096, Length: 100}, Output: schema.Ref{Offset: 8192, Length: 4096},
		Limits:         schema.JobLimits{MaxFuel: 1e6, TimeoutNs: 5e9, MaxOutputBytes: 65536, MaxMemoryPages: 16},
		DeadlineUnixNs: 1_700_000_000_000_000_000, SubmitUnixNs: 1_699_999_999_000_000_000,
	}
	valid := schema.AppendRequest(nil, &typical)
	big := typical
	big.Params = []byte(`{"blob":"` + strings.Repeat("0123456789", 150) + `"}`)
	with := func(word int, v uint64) []byte {
		m := bytes.Clone(valid)
		le.PutUint64(m[8+8*word:], v)
		return m
	}
	// A chain of 100 structs hanging off limits, each pointing to the next:
	// deep nesting the decoder must not follow.
	chain := bytes.Clone(valid[:8+8*10])
	le.PutUint64(chain[8+8*9:], 0|0<<32|1<<48) // limits -> struct with one pointer, right after
	for i := 0; i < 100; i++ {
		chain = le.AppendUint64(chain, 0|0<<32|1<<48) // next struct, offset 0
	}
	chain = le.AppendUint64(chain, 0)
	le.PutUint32(chain[4:], uint32(len(chain)-8)/8)

	header := func(n int) []byte {
		b := le.AppendUint32(nil, uint32(n-1))
		for i := 0; i < n; i++ {
			b = le.AppendUint32(b, 0)
		}
		if len(b)%8 != 0 {
			b = le.AppendUint32(b, 0)
		}
		return b
	}
	seeds := []requestSeed{
		{name: "valid", msg: valid},
		{name: "valid-empty", msg: schema.AppendRequest(nil, &schema.Request{})},
		// One-byte texts: traversal is counted in bytes, not words.
		{name: "valid-short-texts", msg: schema.AppendRequest(nil, &schema.Request{Library: []byte("a"), Method: []byte("b"), Params: []byte("{}")})},
		{name: "valid-capnp-go", msg: buildCapnpGo(tb, capnp.SingleSegment(nil), &typical)},
		{name: "valid-multisegment-far", msg: buildCapnpGo(tb, capnp.MultiSegment(nil), &big)},
		{name: "valid-depth-2", msg: valid, depth: 2},
		{name: "depth-1", msg: valid, depth: 1},
		{name: "traverse-exact", msg: valid, traverseWords: 20},
		{name: "traverse-short", msg: valid, traverseWords: 19},
		{name: "result-not-request", msg: schema.AppendResult(nil, &schema.Result{JobID: 1, ErrorMessage: []byte("boom")})},
		{name: "truncated-header", msg: valid[:4]},
		{name: "truncated-word", msg: valid[:len(valid)-8]},
		{name: "truncated-byte", msg: valid[:len(valid)-1]},
		{name: "trailing-bytes", msg: append(bytes.Clone(valid), make([]byte, 8)...)},
		{name: "segment-count-huge", msg: append([]byte{0xff, 0xff, 0xff, 0xff}, valid[4:]...)},
		{name: "segment-count-513", msg: append(header(513), valid[8:]...)},
		{name: "segment-size-lies", msg: append([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0x1f}, valid[8:]...)},
		{name: "null-root", msg: with(0, 0)},
		{name: "root-list", msg: with(0, 1|2<<32|8<<35)},
		{name: "root-capability", msg: with(0, 3)},
		{name: "root-out-of-bounds", msg: with(0, 0x1fff<<2|3<<32|6<<48)},
		{name: "library-no-nul", msg: with(4, 1|2<<32|3<<35|5<<2)},
		{name: "library-struct", msg: with(4, 5<<2|1<<32)},
		{name: "library-u16-list", msg: with(4, 1|3<<32|2<<35|5<<2)},
		{name: "library-out-of-bounds", msg: with(4, 1|2<<32|1000<<35|5<<2)},
		{name: "input-list", msg: with(7, 1|5<<32|2<<35)},
		// input points back at the root struct (offset -8 words from word 8).
		{name: "input-aliases-root", msg: with(7, uint64(1<<30-7)<<2|3<<32|6<<48)},
		{name: "params-capability", msg: with(6, 3|7<<32)},
		{name: "void-list-amplification", msg: with(4, 1|0<<32|(1<<29-1)<<35)},
		{name: "deep-chain", msg: chain},
	}
	return seeds
}

func buildCapnpGo(tb testing.TB, arena capnp.Arena, r *schema.Request) []byte {
	msg, seg, err := capnp.NewMessage(arena)
	if err != nil {
		tb.Fatal(err)
	}
	jr, err := schema.NewRootJobRequest(seg)
	if err != nil {
		tb.Fatal(err)
	}
	jr.SetJobId(r.JobID)
	jr.SetDeadlineUnixNs(r.DeadlineUnixNs)
	jr.SetSubmitUnixNs(r.SubmitUnixNs)
	for _, err := range []error{jr.SetLibrary(string(r.Library)), jr.SetMethod(string(r.Method)), jr.SetParams(string(r.Params))} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	in, err := jr.NewInput()
	if err != nil {
		tb.Fatal(err)
	}
	in.SetOffset(r.Input.Offset)
	in.SetLength(r.Input.Length)
	l, err := jr.NewLimits()
	if err != nil {
		tb.Fatal(err)
	}
	l.SetMaxFuel(r.Limits.MaxFuel)
	l.SetMaxMemoryPages(r.Limits.MaxMemoryPages)
	b, err := msg.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

type paramsSeed struct {
	name     string
	in       []byte
	maxDepth uint8
}

func paramsSeeds() []paramsSeed {
	deep := func(n int) []byte { return []byte(strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)) }
	seeds := []paramsSeed{
		{"empty-object", []byte(`{}`), 0},
		{"typical", []byte(`{"width":128,"height":128,"format":"webp","quality":0.8,"tags":["a","b"],"x":null,"y":true,"z":false}`), 0},
		{"numbers", []byte(`{"a":[0,-0,1,-1,12.5,1e5,1E+5,1e-5,-0.0e0]}`), 0},
		{"escapes", []byte(`{"a\"b":"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00\ud800"}`), 0},
		{"utf8", []byte(`{"héllo":"wörld 😀"}`), 0},
		{"deep-64", deep(64), 0},
		{"deep-65", deep(65), 0},
		{"deep-arrays", []byte(`{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`), 0},
		{"deep-custom", deep(4), 3},
		{"deep-200", deep(200), 200},
		{"proto", []byte(`{"a":1,"__proto__":{}}`), 0},
		{"proto-escaped", []byte(`{"\u005f_proto__":1}`), 0},
		{"constructor-nested", []byte(`{"a":[{"b":{"constructor":null}}]}`), 0},
		{"constructor-escaped", []byte(`{"c\u006Fnstructor":1}`), 0},
		{"forbidden-as-values", []byte(`{"a":"__proto__","b":["constructor"]}`), 0},
		{"empty", []byte(``), 0},
		{"spaces", []byte(" \t\r\n"), 0},
		{"array", []byte(`[1,2]`), 0},
		{"trailing", []byte(`{}x`), 0},
		{"unterminated", []byte(`{"a":"xyz`), 0},
		{"trailing-comma", []byte(`{"a":1,}`), 0},
		{"leading-zero", []byte(`{"a":01}`), 0},
		{"bad-escape", []byte(`{"a":"\x"}`), 0},
		{"control-char", []byte("{\"a\":\"\x01\"}"), 0},
		{"invalid-utf8", []byte("{\"a\":\"\xff\"}"), 0},
		{"surrogate-utf8", []byte("{\"a\":\"\xed\xa0\x80\"}"), 0},
		{"mismatched", []byte(`{"a":[1}`), 0},
	}
	return seeds
}

// TestWriteEnvelopeSeeds rewrites the committed seed corpora from the seeds
// above. Run it after changing them: INOS_WRITE_SEEDS=1 go test ./fuzz -run
// TestWriteEnvelopeSeeds. Regression inputs the fuzzer found are kept under
// their own names and are not touched.
func TestWriteEnvelopeSeeds(t *testing.T) {
	if os.Getenv("INOS_WRITE_SEEDS") == "" {
		t.Skip("set INOS_WRITE_SEEDS=1 to rewrite testdata/fuzz/{FuzzDecodeRequest,FuzzParams}/seed-*")
	}
	write := func(target, name string, values ...string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n" + strings.Join(values, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range requestSeeds(t) {
		write("FuzzDecodeRequest", s.name, fmt.Sprintf("[]byte(%q)", s.msg), fmt.Sprintf("uint32(%d)", s.traverseWords), fmt.Sprintf("byte(%q)", s.depth))
	}
	for _, s := range paramsSeeds() {
		write("FuzzParams", s.name, fmt.Sprintf("[]byte(%q)", s.in), fmt.Sprintf("byte(%q)", s.maxDepth))
	}
}
