package schema

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	capnp "capnproto.org/go/capnp/v3"
)

var le = binary.LittleEndian

type requestCase struct {
	name string
	r    Request
}

func requestCases() []requestCase {
	text := func(n int) []byte { return bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n] }
	return []requestCase{
		{"zero", Request{}},
		{"typical", Request{
			JobID: 42, Library: []byte("echo"), Method: []byte("run"), Params: []byte(`{"a":1}`),
			Input: Ref{Offset: 4096, Length: 100}, Output: Ref{Offset: 8192, Length: 4096},
			Limits:         JobLimits{MaxFuel: 1e6, TimeoutNs: 5e9, MaxOutputBytes: 65536, MaxMemoryPages: 16},
			DeadlineUnixNs: 1_700_000_000_000_000_000, SubmitUnixNs: 1_699_999_999_000_000_000,
		}},
		{"empty texts, set refs", Request{JobID: 1, Input: Ref{Offset: 1, Length: 2}, Output: Ref{Offset: 3, Length: 4}, Limits: JobLimits{MaxMemoryPages: 1}}},
		{"only params", Request{Params: []byte("{}")}},
		// A Text of n bytes takes n+1 bytes: 7 fills a word exactly, 8 spills.
		{"text 1", Request{Library: text(1), Method: text(1), Params: text(1)}},
		{"text 7", Request{Library: text(7), Method: text(7), Params: text(7)}},
		{"text 8", Request{Library: text(8), Method: text(8), Params: text(8)}},
		{"text 9", Request{Library: text(9), Method: text(9), Params: text(9)}},
		{"long texts", Request{Library: text(255), Method: text(1000), Params: text(100_000)}},
		{"params 1 MiB", Request{Library: []byte("l"), Method: []byte("m"), Params: text(1 << 20)}},
		{"binary texts", Request{Library: []byte("a\x00b"), Method: []byte{0xff, 0xfe}, Params: []byte("\x00")}},
		{"max values", Request{
			JobID: math.MaxUint64, Library: []byte("x"),
			Input: Ref{Offset: math.MaxUint64, Length: math.MaxUint64}, Output: Ref{Offset: math.MaxUint64, Length: math.MaxUint64},
			Limits:         JobLimits{math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint32},
			DeadlineUnixNs: math.MaxInt64, SubmitUnixNs: math.MinInt64,
		}},
		{"negative times", Request{DeadlineUnixNs: -1, SubmitUnixNs: math.MinInt64}},
	}
}

type resultCase struct {
	name string
	r    Result
}

func resultCases() []resultCase {
	return []resultCase{
		{"zero", Result{}},
		{"ok", Result{JobID: 42, Status: StatusOK, Output: Ref{Offset: 8192, Length: 17}, QueueNs: 1500, ExecNs: 250_000, FuelUsed: 99}},
		{"error", Result{JobID: 43, Status: StatusError, ErrorKind: ErrorInvalidParams,
			ErrorMessage: []byte(`params: forbidden key "__proto__" at offset 17`)}},
		{"message 7", Result{ErrorMessage: []byte("1234567")}},
		{"message 8", Result{ErrorMessage: []byte("12345678")}},
		{"long message", Result{Status: StatusError, ErrorKind: ErrorLibraryFailed, ErrorMessage: bytes.Repeat([]byte("e"), 70_000)}},
		{"unknown enums", Result{Status: 7, ErrorKind: 999}},
		{"max values", Result{
			JobID: math.MaxUint64, Status: math.MaxUint16, Output: Ref{Offset: math.MaxUint64, Length: math.MaxUint64},
			ErrorKind: math.MaxUint16, QueueNs: math.MaxUint64, ExecNs: math.MaxUint64, FuelUsed: math.MaxUint64, OutputNeeded: math.MaxUint64 - 1,
		}},
	}
}

func requestsEqual(a, b *Request) bool {
	return a.JobID == b.JobID &&
		bytes.Equal(a.Library, b.Library) && bytes.Equal(a.Method, b.Method) && bytes.Equal(a.Params, b.Params) &&
		a.Input == b.Input && a.Output == b.Output && a.Limits == b.Limits &&
		a.DeadlineUnixNs == b.DeadlineUnixNs && a.SubmitUnixNs == b.SubmitUnixNs
}

func resultsEqual(a, b *Result) bool {
	return a.JobID == b.JobID && a.Status == b.Status && a.Output == b.Output &&
		a.ErrorKind == b.ErrorKind && bytes.Equal(a.ErrorMessage, b.ErrorMessage) &&
		a.QueueNs == b.QueueNs && a.ExecNs == b.ExecNs && a.FuelUsed == b.FuelUsed && a.OutputNeeded == b.OutputNeeded
}

// short formats r for failure messages without dumping megabytes of text.
func short(v any) string {
	s := fmt.Sprintf("%+v", v)
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

// genRequest encodes r with the generated capnp-go builder in arena. With
// nullStructs, zero Refs and Limits are left as null pointers (as the capnp
// tool does for unset fields).
func genRequest(t testing.TB, arena capnp.Arena, r *Request, nullStructs bool) []byte {
	t.Helper()
	msg, seg, err := capnp.NewMessage(arena)
	if err != nil {
		t.Fatal(err)
	}
	jr, err := NewRootJobRequest(seg)
	if err != nil {
		t.Fatal(err)
	}
	jr.SetJobId(r.JobID)
	jr.SetDeadlineUnixNs(r.DeadlineUnixNs)
	jr.SetSubmitUnixNs(r.SubmitUnixNs)
	must(t, jr.SetLibrary(string(r.Library)))
	must(t, jr.SetMethod(string(r.Method)))
	must(t, jr.SetParams(string(r.Params)))
	setRef := func(r Ref, newRef func() (BufferRef, error)) {
		if nullStructs && r == (Ref{}) {
			return
		}
		b, err := newRef()
		must(t, err)
		b.SetOffset(r.Offset)
		b.SetLength(r.Length)
		b.SetHandle(r.Handle)
	}
	setRef(r.Input, jr.NewInput)
	setRef(r.Output, jr.NewOutput)
	if !nullStructs || r.Limits != (JobLimits{}) {
		l, err := jr.NewLimits()
		must(t, err)
		l.SetMaxFuel(r.Limits.MaxFuel)
		l.SetTimeoutNs(r.Limits.TimeoutNs)
		l.SetMaxOutputBytes(r.Limits.MaxOutputBytes)
		l.SetMaxMemoryPages(r.Limits.MaxMemoryPages)
	}
	b, err := msg.Marshal()
	must(t, err)
	return b
}

func genResult(t testing.TB, arena capnp.Arena, r *Result) []byte {
	t.Helper()
	msg, seg, err := capnp.NewMessage(arena)
	must(t, err)
	jr, err := NewRootJobResult(seg)
	must(t, err)
	jr.SetJobId(r.JobID)
	jr.SetStatus(r.Status)
	jr.SetErrorKind(r.ErrorKind)
	jr.SetQueueNs(r.QueueNs)
	jr.SetExecNs(r.ExecNs)
	jr.SetFuelUsed(r.FuelUsed)
	jr.SetOutputNeeded(r.OutputNeeded)
	out, err := jr.NewOutput()
	must(t, err)
	out.SetOffset(r.Output.Offset)
	out.SetLength(r.Output.Length)
	out.SetHandle(r.Output.Handle)
	must(t, jr.SetErrorMessage(string(r.ErrorMessage)))
	b, err := msg.Marshal()
	must(t, err)
	return b
}

// readGenRequest decodes b with the generated capnp-go reader alone.
func readGenRequest(t testing.TB, b []byte) Request {
	t.Helper()
	msg, err := capnp.Unmarshal(b)
	must(t, err)
	msg.TraverseLimit = math.MaxUint64
	jr, err := ReadRootJobRequest(msg)
	must(t, err)
	var r Request
	r.JobID = jr.JobId()
	r.Library, err = jr.LibraryBytes()
	must(t, err)
	r.Method, err = jr.MethodBytes()
	must(t, err)
	r.Params, err = jr.ParamsBytes()
	must(t, err)
	in, err := jr.Input()
	must(t, err)
	out, err := jr.Output()
	must(t, err)
	l, err := jr.Limits()
	must(t, err)
	r.Input = Ref{Offset: in.Offset(), Length: in.Length(), Handle: in.Handle()}
	r.Output = Ref{Offset: out.Offset(), Length: out.Length(), Handle: out.Handle()}
	r.Limits = JobLimits{l.MaxFuel(), l.TimeoutNs(), l.MaxOutputBytes(), l.MaxMemoryPages()}
	r.DeadlineUnixNs = jr.DeadlineUnixNs()
	r.SubmitUnixNs = jr.SubmitUnixNs()
	return r
}

func readGenResult(t testing.TB, b []byte) Result {
	t.Helper()
	msg, err := capnp.Unmarshal(b)
	must(t, err)
	jr, err := ReadRootJobResult(msg)
	must(t, err)
	out, err := jr.Output()
	must(t, err)
	m, err := jr.ErrorMessageBytes()
	must(t, err)
	return Result{
		JobID: jr.JobId(), Status: jr.Status(), Output: Ref{Offset: out.Offset(), Length: out.Length(), Handle: out.Handle()},
		ErrorKind: jr.ErrorKind(), ErrorMessage: m,
		QueueNs: jr.QueueNs(), ExecNs: jr.ExecNs(), FuelUsed: jr.FuelUsed(), OutputNeeded: jr.OutputNeeded(),
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStructSizesMatchGenerated(t *testing.T) {
	_, seg, err := capnp.NewMessage(capnp.SingleSegment(nil))
	must(t, err)
	check := func(name string, got capnp.ObjectSize, words, ptrs int) {
		if int(got.DataSize) != 8*words || int(got.PointerCount) != ptrs {
			t.Errorf("%s: generated size %+v, codec assumes %d data words and %d pointers", name, got, words, ptrs)
		}
	}
	jr, err := NewJobRequest(seg)
	must(t, err)
	check("JobRequest", capnp.Struct(jr).Size(), requestDataWords, requestPtrs)
	res, err := NewJobResult(seg)
	must(t, err)
	check("JobResult", capnp.Struct(res).Size(), resultDataWords, resultPtrs)
	br, err := NewBufferRef(seg)
	must(t, err)
	check("BufferRef", capnp.Struct(br).Size(), refWords, 0)
	l, err := NewLimits(seg)
	must(t, err)
	check("Limits", capnp.Struct(l).Size(), limitsWords, 0)
}

func TestErrorKindNames(t *testing.T) {
	for k, want := range map[ErrorKind]string{
		ErrorNone: "none", ErrorInvalidEnvelope: "invalidEnvelope", ErrorInvalidParams: "invalidParams",
		ErrorUnknownLibrary: "unknownLibrary", ErrorUnknownMethod: "unknownMethod",
		ErrorInvalidReference: "invalidReference", ErrorInputTooLarge: "inputTooLarge",
		ErrorOutputTooLarge: "outputTooLarge", ErrorDeadlineExceeded: "deadlineExceeded",
		ErrorLibraryFailed: "libraryFailed", ErrorInternal: "internal", ErrorResourceExhausted: "resourceExhausted",
		ErrorInvalidInput: "invalidInput", ErrorUnavailable: "libraryUnavailable",
	} {
		if k.String() != want {
			t.Errorf("ErrorKind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
	if StatusOK.String() != "ok" || StatusError.String() != "error" {
		t.Errorf("Status names: %q %q", StatusOK, StatusError)
	}
}

// TestAppendRequestGeneratedDecode: what we write, capnp-go reads.
func TestAppendRequestGeneratedDecode(t *testing.T) {
	for _, tc := range requestCases() {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			b := AppendRequest(bytes.Clone(prefix), &tc.r)
			if !bytes.HasPrefix(b, prefix) {
				t.Fatal("AppendRequest clobbered dst")
			}
			msg := b[len(prefix):]
			if len(msg) != RequestSize(&tc.r) {
				t.Fatalf("wrote %d bytes, RequestSize says %d", len(msg), RequestSize(&tc.r))
			}
			if got := readGenRequest(t, msg); !requestsEqual(&got, &tc.r) {
				t.Fatalf("capnp-go read %s\nwant %s", short(got), short(tc.r))
			}
			var got Request
			must(t, DecodeRequest(msg, DecodeLimits{MaxMessageBytes: 2 << 20}, &got))
			if !requestsEqual(&got, &tc.r) {
				t.Fatalf("DecodeRequest read %s\nwant %s", short(got), short(tc.r))
			}
		})
	}
}

// TestGeneratedRequestFastDecode: what capnp-go writes, the fast path reads.
func TestGeneratedRequestFastDecode(t *testing.T) {
	lim := DecodeLimits{MaxMessageBytes: 2 << 20}.resolve()
	for _, tc := range requestCases() {
		for _, nullStructs := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/nullStructs=%v", tc.name, nullStructs), func(t *testing.T) {
				msg := genRequest(t, capnp.SingleSegment(nil), &tc.r, nullStructs)
				var got Request
				if err := decodeRequestFast(msg, lim, &got); err != nil {
					t.Fatalf("fast path: %v", err)
				}
				if !requestsEqual(&got, &tc.r) {
					t.Fatalf("got %s\nwant %s", short(got), short(tc.r))
				}
			})
		}
	}
}

func TestResultRoundTrips(t *testing.T) {
	lim := DefaultDecodeLimits()
	for _, tc := range resultCases() {
		t.Run(tc.name, func(t *testing.T) {
			msg := AppendResult(nil, &tc.r)
			if len(msg) != ResultSize(&tc.r) {
				t.Fatalf("wrote %d bytes, ResultSize says %d", len(msg), ResultSize(&tc.r))
			}
			if got := readGenResult(t, msg); !resultsEqual(&got, &tc.r) {
				t.Fatalf("capnp-go read %s\nwant %s", short(got), short(tc.r))
			}
			var got Result
			must(t, DecodeResult(msg, lim, &got))
			if !resultsEqual(&got, &tc.r) {
				t.Fatalf("DecodeResult read %s\nwant %s", short(got), short(tc.r))
			}
			gen := genResult(t, capnp.SingleSegment(nil), &tc.r)
			got = Result{}
			if err := decodeResultFast(gen, lim, &got); err != nil {
				t.Fatalf("fast path on capnp-go's encoding: %v", err)
			}
			if !resultsEqual(&got, &tc.r) {
				t.Fatalf("fast path read capnp-go's encoding as %s\nwant %s", short(got), short(tc.r))
			}
		})
	}
}

// TestDecodedTextsAlias: decoding does not copy, and the views cannot be
// appended to in place (which would overwrite the rest of the message).
func TestDecodedTextsAlias(t *testing.T) {
	r := Request{Library: []byte("lib"), Method: []byte("method"), Params: []byte("{}")}
	msg := AppendRequest(nil, &r)
	var got Request
	must(t, DecodeRequest(msg, DefaultDecodeLimits(), &got))
	i := bytes.Index(msg, []byte("lib\x00"))
	if i < 0 || &msg[i] != &got.Library[0] {
		t.Fatal("Library does not alias the message")
	}
	if cap(got.Library) != len(got.Library) {
		t.Fatalf("cap(Library) = %d, want %d", cap(got.Library), len(got.Library))
	}
}

func TestDecodeErrorZeroesResult(t *testing.T) {
	r := Request{JobID: 9, Library: []byte("x")}
	msg := AppendRequest(nil, &r)
	got := r
	if err := DecodeRequest(msg[:len(msg)-8], DefaultDecodeLimits(), &got); err == nil {
		t.Fatal("truncated message decoded")
	}
	if !requestsEqual(&got, &Request{}) {
		t.Fatalf("request not zeroed after error: %+v", got)
	}
}

func TestAppendPanicsOnHugeText(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "params is 536870911 bytes") {
			t.Fatalf("recover() = %v, want a panic naming params and its length", p)
		}
	}()
	checkText("params", maxTextLen) // the longest Text is fine
	checkText("params", maxTextLen+1)
}

func TestZeroAllocs(t *testing.T) {
	req := requestCases()[1].r
	res := resultCases()[2].r
	lim := DefaultDecodeLimits()
	reqMsg := AppendRequest(nil, &req)
	resMsg := AppendResult(nil, &res)
	buf := make([]byte, 0, 4096)
	var r Request
	var rr Result
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"AppendRequest", func() { buf = AppendRequest(buf[:0], &req) }},
		{"AppendResult", func() { buf = AppendResult(buf[:0], &res) }},
		{"DecodeRequest", func() {
			if err := DecodeRequest(reqMsg, lim, &r); err != nil {
				t.Fatal(err)
			}
		}},
		{"DecodeResult", func() {
			if err := DecodeResult(resMsg, lim, &rr); err != nil {
				t.Fatal(err)
			}
		}},
		{"RequestSize", func() { _ = RequestSize(&req) }},
	} {
		if n := testing.AllocsPerRun(200, c.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
	}
}

func TestDefaultDecodeLimits(t *testing.T) {
	d := DefaultDecodeLimits()
	if (DecodeLimits{}).resolve() != d {
		t.Fatalf("zero DecodeLimits resolve to %+v, want the defaults %+v", DecodeLimits{}.resolve(), d)
	}
	big := Request{Library: []byte("l"), Method: []byte("m"), Params: bytes.Repeat([]byte(" "), 1<<20)}
	if RequestSize(&big) > d.MaxMessageBytes {
		t.Fatalf("a request with 1 MiB of params (%d bytes) is over the default limit %d", RequestSize(&big), d.MaxMessageBytes)
	}
	var got Request
	must(t, DecodeRequest(AppendRequest(nil, &big), d, &got))
}

func TestDecodeErrorMessage(t *testing.T) {
	var r Request
	err := DecodeRequest([]byte{1, 2, 3}, DefaultDecodeLimits(), &r)
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrMalformed) || errors.Is(err, ErrLimit) {
		t.Fatalf("err = %#v, want a *DecodeError matching ErrMalformed only", err)
	}
	if want := "schema: malformed message: message shorter than its segment table (at byte 0)"; err.Error() != want {
		t.Fatalf("err.Error() = %q, want %q", err.Error(), want)
	}
}
