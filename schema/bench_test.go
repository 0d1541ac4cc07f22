package schema

import (
	"testing"

	capnp "capnproto.org/go/capnp/v3"
)

// The fast codec against the generated capnp-go code doing the same work:
// encode a typical request into a reused buffer, decode every field.

func benchRequest() Request {
	return Request{
		JobID: 42, Library: []byte("imageproc"), Method: []byte("thumbnail"),
		Params:         []byte(`{"width":128,"height":128,"format":"webp","quality":80}`),
		Input:          Ref{Offset: 4096, Length: 1 << 20},
		Output:         Ref{Offset: 1<<20 + 4096, Length: 64 << 10},
		Limits:         JobLimits{MaxFuel: 1e9, TimeoutNs: 5e9, MaxOutputBytes: 64 << 10, MaxMemoryPages: 256},
		DeadlineUnixNs: 1_700_000_000_000_000_000, SubmitUnixNs: 1_699_999_999_000_000_000,
	}
}

func benchResult() Result {
	return Result{JobID: 42, Status: StatusOK, Output: Ref{Offset: 1<<20 + 4096, Length: 12345}, QueueNs: 1500, ExecNs: 250_000, FuelUsed: 1234567}
}

func BenchmarkAppendRequest(b *testing.B) {
	r := benchRequest()
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(RequestSize(&r)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequest(buf[:0], &r)
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	r := benchRequest()
	msg := AppendRequest(nil, &r)
	lim := DefaultDecodeLimits()
	var got Request
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRequest(msg, lim, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRequestFallback: the same request with far pointers, which
// takes the capnp-go path.
func BenchmarkDecodeRequestFallback(b *testing.B) {
	r := benchRequest()
	msg := doubleFarify(AppendRequest(nil, &r))
	lim := DefaultDecodeLimits()
	var got Request
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRequest(msg, lim, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResult(b *testing.B) {
	r := benchResult()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResult(buf[:0], &r)
	}
}

func BenchmarkDecodeResult(b *testing.B) {
	r := benchResult()
	msg := AppendResult(nil, &r)
	lim := DefaultDecodeLimits()
	var got Result
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeResult(msg, lim, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCapnpGoEncodeRequest(b *testing.B) {
	r := benchRequest()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		msg, seg, err := capnp.NewMessage(capnp.SingleSegment(buf[:0]))
		if err != nil {
			b.Fatal(err)
		}
		jr, _ := NewRootJobRequest(seg)
		jr.SetJobId(r.JobID)
		jr.SetLibrary(string(r.Library))
		jr.SetMethod(string(r.Method))
		jr.SetParams(string(r.Params))
		in, _ := jr.NewInput()
		in.SetOffset(r.Input.Offset)
		in.SetLength(r.Input.Length)
		out, _ := jr.NewOutput()
		out.SetOffset(r.Output.Offset)
		out.SetLength(r.Output.Length)
		l, _ := jr.NewLimits()
		l.SetMaxFuel(r.Limits.MaxFuel)
		l.SetTimeoutNs(r.Limits.TimeoutNs)
		l.SetMaxOutputBytes(r.Limits.MaxOutputBytes)
		l.SetMaxMemoryPages(r.Limits.MaxMemoryPages)
		jr.SetDeadlineUnixNs(r.DeadlineUnixNs)
		jr.SetSubmitUnixNs(r.SubmitUnixNs)
		if _, err := msg.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCapnpGoDecodeRequest(b *testing.B) {
	r := benchRequest()
	data := AppendRequest(nil, &r)
	var got Request
	b.ReportAllocs()
	for b.Loop() {
		msg, err := capnp.Unmarshal(data)
		if err != nil {
			b.Fatal(err)
		}
		jr, err := ReadRootJobRequest(msg)
		if err != nil {
			b.Fatal(err)
		}
		got.JobID = jr.JobId()
		got.Library, _ = jr.LibraryBytes()
		got.Method, _ = jr.MethodBytes()
		got.Params, _ = jr.ParamsBytes()
		in, _ := jr.Input()
		got.Input = Ref{Offset: in.Offset(), Length: in.Length(), Handle: in.Handle()}
		out, _ := jr.Output()
		got.Output = Ref{Offset: out.Offset(), Length: out.Length(), Handle: out.Handle()}
		l, _ := jr.Limits()
		got.Limits = JobLimits{l.MaxFuel(), l.TimeoutNs(), l.MaxOutputBytes(), l.MaxMemoryPages()}
		got.DeadlineUnixNs = jr.DeadlineUnixNs()
		got.SubmitUnixNs = jr.SubmitUnixNs()
	}
}

func BenchmarkCapnpGoEncodeResult(b *testing.B) {
	r := benchResult()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		msg, seg, err := capnp.NewMessage(capnp.SingleSegment(buf[:0]))
		if err != nil {
			b.Fatal(err)
		}
		jr, _ := NewRootJobResult(seg)
		jr.SetJobId(r.JobID)
		jr.SetStatus(r.Status)
		out, _ := jr.NewOutput()
		out.SetOffset(r.Output.Offset)
		out.SetLength(r.Output.Length)
		jr.SetErrorKind(r.ErrorKind)
		jr.SetErrorMessage(string(r.ErrorMessage))
		jr.SetQueueNs(r.QueueNs)
		jr.SetExecNs(r.ExecNs)
		jr.SetFuelUsed(r.FuelUsed)
		if _, err := msg.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCapnpGoDecodeResult(b *testing.B) {
	r := benchResult()
	data := AppendResult(nil, &r)
	var got Result
	b.ReportAllocs()
	for b.Loop() {
		msg, err := capnp.Unmarshal(data)
		if err != nil {
			b.Fatal(err)
		}
		jr, err := ReadRootJobResult(msg)
		if err != nil {
			b.Fatal(err)
		}
		got.JobID = jr.JobId()
		got.Status = jr.Status()
		out, _ := jr.Output()
		got.Output = Ref{Offset: out.Offset(), Length: out.Length(), Handle: out.Handle()}
		got.ErrorKind = jr.ErrorKind()
		got.ErrorMessage, _ = jr.ErrorMessageBytes()
		got.QueueNs = jr.QueueNs()
		got.ExecNs = jr.ExecNs()
		got.FuelUsed = jr.FuelUsed()
	}
}
