package sandbox_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/guests/wasm"
	"github.com/inos-node/node/internal/nodetest"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/sandbox"
	"github.com/inos-node/node/sandbox/internal/guesttest"
	"github.com/inos-node/node/schema"
)

// testGuest builds the test guest in testdata/name.
func testGuest(t testing.TB, name string) []byte {
	t.Helper()
	return guesttest.Dir(t, filepath.Join("testdata", name))
}

// testLimits are small limits, so that the tests reach them quickly.
func testLimits() sandbox.Limits {
	return sandbox.Limits{
		MaxInputBytes: 4 << 20, MaxOutputBytes: 4 << 20, MaxMemoryPages: 1024, // 64 MiB
		Timeout: 200 * time.Millisecond, MaxFuel: 5_000_000_000,
		Imports: sandbox.GoGuestImports(),
	}
}

var regionSeq atomic.Int64

// rig is a node serving wasm libraries, and a producer attached to it.
type rig struct {
	c    *client.Client
	libs map[string]*sandbox.Library
}

func newRig(t testing.TB, cfgs ...sandbox.LibraryConfig) *rig {
	t.Helper()
	ctx := context.Background()
	e, err := sandbox.NewEngine(ctx, "", 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	r := &rig{libs: map[string]*sandbox.Library{}}
	reg, _ := kernel.NewRegistry()
	for _, cfg := range cfgs {
		l, err := e.NewLibrary(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(ctx) })
		if err := reg.Add(l); err != nil {
			t.Fatal(err)
		}
		r.libs[cfg.Name] = l
	}
	r.c = nodetest.Start(t, reg, 64<<20)
	return r
}

// buf allocates a shared buffer holding data (or n zero bytes).
func (r *rig) buf(t *testing.T, n int, fill byte) client.Buffer {
	t.Helper()
	b, err := r.c.Alloc(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.c.Free(b) })
	for i := range b.Bytes {
		b.Bytes[i] = fill + byte(i%7)
	}
	return b
}

func (r *rig) call(t *testing.T, lib, method, params string, in, out schema.Ref, lim schema.JobLimits) client.Result {
	t.Helper()
	res, err := r.c.Call(context.Background(), client.Job{Library: lib, Method: method, Params: []byte(params), Input: in, Output: out, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stillServes checks a good job runs after a bad one.
func (r *rig) stillServes(t *testing.T, lib string) {
	t.Helper()
	in := r.buf(t, 10000, 3)
	out := r.buf(t, 10000, 0)
	res := r.call(t, lib, "copy", "", in.Ref, out.Ref, schema.JobLimits{})
	if err := res.Err(); err != nil || !bytes.Equal(r.c.View(res.Output.Ref), in.Bytes) {
		t.Fatalf("after the failure a good job: %v", err)
	}
}

func benchLib(copyBuffers bool) sandbox.LibraryConfig {
	return sandbox.LibraryConfig{Name: "bench", Wasm: wasm.Bench, Limits: testLimits(), CopyBuffers: copyBuffers}
}

// TestBenchGuestThroughTheNode runs the embedded bench guest's methods
// through the node on both buffer paths and checks every output byte, the
// fuel reported, and which bytes were mapped and which copied.
func TestBenchGuestThroughTheNode(t *testing.T) {
	for _, copyBuffers := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy=%v", copyBuffers), func(t *testing.T) {
			r := newRig(t, benchLib(copyBuffers))
			lib := r.libs["bench"]
			if got := strings.Join(lib.MethodNames(), ","); got != "empty,sha256,work,xor" {
				t.Fatalf("methods %s", got)
			}
			if res := r.call(t, "bench", "empty", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}); res.Err() != nil || res.FuelUsed == 0 {
				t.Fatalf("empty: %v, fuel %d", res.Err(), res.FuelUsed)
			}
			for _, n := range []int{1, 100, 4096, 4097, 1<<20 + 123, 4 << 20} {
				in := r.buf(t, n, 0x40)
				out := r.buf(t, n, 0)
				before := lib.Stats()
				res := r.call(t, "bench", "xor", `{"key":255}`, in.Ref, out.Ref, schema.JobLimits{})
				if err := res.Err(); err != nil {
					t.Fatalf("xor of %d bytes: %v", n, err)
				}
				got := r.c.View(res.Output.Ref)
				if len(got) != n || res.Output.Ref.Offset != out.Ref.Offset {
					t.Fatalf("xor of %d bytes: output %+v", n, res.Output.Ref)
				}
				for i := range got {
					if got[i] != in.Bytes[i]^0xff {
						t.Fatalf("xor of %d bytes: byte %d is %#x, want %#x", n, i, got[i], in.Bytes[i]^0xff)
					}
				}
				s := lib.Stats()
				mapped, copied := s.BytesMapped-before.BytesMapped, s.BytesCopied-before.BytesCopied
				switch {
				case copyBuffers && (mapped != 0 || copied != uint64(2*n)):
					t.Fatalf("copy path, %d bytes: mapped %d, copied %d", n, mapped, copied)
				case !copyBuffers && n >= 4096 && copied != 0:
					// client.Alloc gives page-aligned blocks of whole pages.
					t.Fatalf("%d bytes in page-aligned blocks: %d copied (mapped %d)", n, copied, mapped)
				}
				t.Logf("xor %8d bytes: mapped %8d copied %8d, fuel %d", n, mapped, copied, res.FuelUsed)
			}
		})
	}
}

// TestOutputHandedOnAsInput chains two jobs: the first job's output buffer
// is the second's input, and neither job copies a byte of it.
func TestOutputHandedOnAsInput(t *testing.T) {
	r := newRig(t, benchLib(false))
	lib := r.libs["bench"]
	in := r.buf(t, 3<<20, 9)
	mid := r.buf(t, 3<<20, 0)
	sum := r.buf(t, 64, 0)
	before := lib.Stats()
	if res := r.call(t, "bench", "xor", `{"key":7}`, in.Ref, mid.Ref, schema.JobLimits{}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	res := r.call(t, "bench", "sha256", "", mid.Ref, sum.Ref, schema.JobLimits{})
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
	want := make([]byte, len(in.Bytes))
	for i, c := range in.Bytes {
		want[i] = c ^ 7
	}
	if got, h := r.c.View(res.Output.Ref), sha256.Sum256(want); !bytes.Equal(got, h[:]) {
		t.Fatalf("sha256 of the first job's output: %x, want %x", got, h)
	}
	s := lib.Stats()
	// Mapped: 3 MiB in, 3 MiB out, the same 3 MiB in again. Copied: only
	// the 32-byte digest, whose 64-byte block holds no whole page.
	if copied, mapped := s.BytesCopied-before.BytesCopied, s.BytesMapped-before.BytesMapped; copied != 32 || mapped != 3*3<<20 {
		t.Fatalf("two chained jobs mapped %d bytes and copied %d", mapped, copied)
	}
}

// TestFuelIsDeterministic: two nodes running the same jobs in the same
// order charge exactly the same fuel for each (the guest's clocks and
// random source are the host's deterministic ones, and the fuel pass
// charges per basic block). Repeats of one job on one warm instance differ
// only by the Go guest's own background work (GC), which depends on its
// heap's history: within 0.01%.
func TestFuelIsDeterministic(t *testing.T) {
	jobs := []struct{ method, params string }{{"sha256", ""}, {"sha256", ""}, {"work", `{"rounds":100000}`}, {"sha256", ""}, {"xor", `{"key":1}`}}
	var runs [2][]uint64
	for k := range runs {
		r := newRig(t, benchLib(false))
		in := r.buf(t, 1<<20, 1)
		out := r.buf(t, 1<<20, 0)
		for _, j := range jobs {
			res := r.call(t, "bench", j.method, j.params, in.Ref, out.Ref, schema.JobLimits{})
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			runs[k] = append(runs[k], res.FuelUsed)
		}
	}
	t.Logf("fuel per job, two nodes: %v %v", runs[0], runs[1])
	for i := range jobs {
		if runs[0][i] == 0 || runs[0][i] != runs[1][i] {
			t.Fatalf("job %d (%s): fuel %d on one node, %d on the other", i, jobs[i].method, runs[0][i], runs[1][i])
		}
	}
	for _, i := range []int{1, 3} {
		a, b := float64(runs[0][0]), float64(runs[0][i])
		if d := (b - a) / a; d > 1e-4 || d < -1e-4 {
			t.Fatalf("sha256 of the same 1 MiB on one instance: %v then %v fuel", a, b)
		}
	}
}

// TestLimitsThroughTheNode: every limit is enforced with its error kind
// and a clear message, and the node serves the next job.
func TestLimitsThroughTheNode(t *testing.T) {
	lim := testLimits()
	lim.MaxInputBytes, lim.MaxOutputBytes = 64<<10, 32<<10
	r := newRig(t, sandbox.LibraryConfig{Name: "hostile", Wasm: testGuest(t, "hostile"), Limits: lim})
	big := r.buf(t, 64<<10+1, 1)
	small := r.buf(t, 1000, 1)
	mid := r.buf(t, 30000, 1)
	out := r.buf(t, 64<<10, 0)
	tiny := r.buf(t, 10, 0)
	cases := []struct {
		name, method, params string
		in, out              schema.Ref
		lim                  schema.JobLimits
		kind                 schema.ErrorKind
		msg                  string
	}{
		{"input too large", "copy", "", big.Ref, out.Ref, schema.JobLimits{}, schema.ErrorInputTooLarge, "input is 65537 bytes, the library's limit is 65536"},
		{"output too large", "copy", "", small.Ref, tiny.Ref, schema.JobLimits{}, schema.ErrorOutputTooLarge, "output needs 1000 bytes, 10 reserved"},
		{"output over the library's limit", "peek", "", mid.Ref, out.Ref, schema.JobLimits{}, schema.ErrorOutputTooLarge, "needs 42288 bytes, 32768 reserved (the library's limit is 32768 bytes)"},
		{"output over the job's limit", "copy", "", small.Ref, out.Ref, schema.JobLimits{MaxOutputBytes: 999}, schema.ErrorOutputTooLarge, "999 reserved"},
		{"guest lies about its output", "liar", "", schema.Ref{}, tiny.Ref, schema.JobLimits{}, schema.ErrorLibraryFailed, "returned output length 11, capacity is 10"},
		{"memory without end", "grow", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorResourceExhausted, "memory at its limit of 1024 pages"},
		{"loop forever", "spin", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorDeadlineExceeded, "ran past its timeout"},
		{"out of fuel", "spin", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{MaxFuel: 1_000_000}, schema.ErrorResourceExhausted, "ran out of fuel"},
		{"panic", "panic", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorLibraryFailed, "panicked: guest bug"},
		{"exit", "exit", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorLibraryFailed, "exit code 3"},
		{"fatal runtime error", "fatal", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorLibraryFailed, "assignment to entry in nil map"},
		{"out of bounds", "oob", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorLibraryFailed, "out of bounds memory access"},
		{"unknown param", "params", `{"width":3,"height":4}`, schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorInvalidParams, `unknown field "height"`},
		{"param of the wrong type", "params", `{"width":"wide"}`, schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorInvalidParams, "width: got a JSON string, want int"},
		{"unknown method", "nope", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}, schema.ErrorUnknownMethod, `no method "nope"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := r.call(t, "hostile", tc.method, tc.params, tc.in, tc.out, tc.lim)
			if res.Kind != tc.kind || !strings.Contains(res.Message, tc.msg) {
				t.Fatalf("got %v: %q\nwant %v containing %q", res.Kind, res.Message, tc.kind, tc.msg)
			}
			t.Logf("%v: %s (fuel %d, %v)", res.Kind, res.Message, res.FuelUsed, time.Duration(res.ExecNs))
			if want := map[string]uint64{"output too large": 1000, "output over the library's limit": 42288, "output over the job's limit": 1000}[tc.name]; res.OutputNeeded != want {
				t.Errorf("OutputNeeded = %d, want %d", res.OutputNeeded, want)
			}
			if tc.method == "spin" && tc.lim.MaxFuel == 0 {
				if over := time.Duration(res.ExecNs) - lim.Timeout; over > 10*time.Millisecond {
					t.Errorf("stopped %v after its timeout, want within 10 ms", over)
				}
			}
			r.stillServes(t, "hostile")
		})
	}
	// The params method with good params succeeds (and the table above is
	// not passing for a reason of its own).
	if res := r.call(t, "hostile", "params", `{"width":3,"filter":"x"}`, schema.Ref{}, schema.Ref{}, schema.JobLimits{}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	// Every case but the unknown method (the node refuses that one) reached
	// the library.
	if s := r.libs["hostile"].Stats(); s.Failed != uint64(len(cases)-1) {
		t.Fatalf("library counted %d failed jobs, want %d", s.Failed, len(cases)-1)
	}
}

// TestGarbageDoesNotRunAGuestOutOfMemory: a guest whose reserved windows
// are half its memory collects its garbage before its heap reaches the
// limit (the SDK sets Go's soft memory limit from the one inos_reserve
// gets); with Go's default GOGC the heap would grow to twice the live
// windows and the guest would run out.
func TestGarbageDoesNotRunAGuestOutOfMemory(t *testing.T) {
	lim := testLimits()
	lim.MaxMemoryPages = 1024 // 64 MiB
	lim.MaxInputBytes, lim.MaxOutputBytes = 16<<20, 16<<20
	r := newRig(t, sandbox.LibraryConfig{Name: "hostile", Wasm: testGuest(t, "hostile"), Limits: lim})
	for i := 0; i < 200; i++ {
		if res := r.call(t, "hostile", "garbage", "", schema.Ref{}, schema.Ref{}, schema.JobLimits{}); res.Err() != nil {
			t.Fatalf("job %d: %v", i, res.Err())
		}
	}
}

// TestGuestSeesOnlyItsProducersBytes surrounds a producer's small,
// unaligned input with another producer's secret bytes and has the guest
// dump its whole input window: it must see the input and zeros, nothing
// else. It then writes over its input, which must not reach the producer
// (copy-on-write), and the next job must not see the previous one's edges.
func TestGuestSeesOnlyItsProducersBytes(t *testing.T) {
	r := newRig(t, sandbox.LibraryConfig{Name: "hostile", Wasm: testGuest(t, "hostile"), Limits: testLimits()})
	other, err := client.Attach(r.c.Region().Name(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// Interleave small blocks of both producers.
	var mine []client.Buffer
	for i := 0; i < 64; i++ {
		s, err := other.Alloc(3000)
		if err != nil {
			t.Fatal(err)
		}
		for j := range s.Bytes {
			s.Bytes[j] = 0x5a
		}
		b := r.buf(t, 3000, 0x11)
		mine = append(mine, b)
	}
	out := r.buf(t, 5*4096+3000, 0)
	for i, in := range mine[:8] {
		res := r.call(t, "hostile", "peek", "", in.Ref, out.Ref, schema.JobLimits{})
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		seen := r.c.View(res.Output.Ref)
		if bytes.IndexByte(seen, 0x5a) >= 0 {
			t.Fatalf("input %d: the guest saw another producer's bytes around its input", i)
		}
		if !bytes.Contains(seen, in.Bytes) {
			t.Fatalf("input %d: the guest did not see its input", i)
		}
		for _, c := range bytes.ReplaceAll(seen, in.Bytes, nil) {
			if c != 0 {
				t.Fatalf("input %d: byte %#x around the input, want only zeros", i, c)
			}
		}
	}
	// Writes to the input stay in the guest.
	in := r.buf(t, 1<<20, 0x21)
	want := bytes.Clone(in.Bytes)
	if res := r.call(t, "hostile", "scribble", "", in.Ref, schema.Ref{}, schema.JobLimits{}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if !bytes.Equal(in.Bytes, want) {
		t.Fatal("the guest's writes to its input reached the producer's buffer")
	}
}

// TestKeptOutputMappingIsNotSeenByTheNextJob: an instance keeps its last
// output mapping for a producer that reuses its buffer, but a next job
// with no output, or another one, finds its output window holding its own
// buffer or the instance's own pages, never the previous job's output.
func TestKeptOutputMappingIsNotSeenByTheNextJob(t *testing.T) {
	r := newRig(t, sandbox.LibraryConfig{Name: "hostile", Wasm: testGuest(t, "hostile"), Limits: testLimits()})
	outWin := int(testLimits().MaxInputBytes) + 4096 // from the input window's start (Library's layout)
	secret := r.buf(t, 64<<10, 0)
	for i := range secret.Bytes {
		secret.Bytes[i] = 0x77
	}
	out := r.buf(t, 64<<10, 0)
	small := r.buf(t, 4096, 0)
	probe := r.buf(t, 100, 1)
	hunt := fmt.Sprintf(`{"from":%d,"len":%d,"byte":119}`, outWin, 64<<10)
	keptBefore := r.libs["hostile"].Stats().OutputMapsKept
	for round := 0; round < 2; round++ {
		// The secret goes to out, which stays mapped in the instance.
		if res := r.call(t, "hostile", "copy", "", secret.Ref, out.Ref, schema.JobLimits{}); res.Err() != nil || !bytes.Equal(r.c.View(res.Output.Ref), secret.Bytes) {
			t.Fatalf("copy: %v", res.Err())
		}
		for _, o := range []schema.Ref{{}, small.Ref} {
			res := r.call(t, "hostile", "hunt", hunt, probe.Ref, o, schema.JobLimits{})
			if res.Message != "hostile.hunt: found 0" {
				t.Fatalf("output %v: the guest hunting its output window got %q, want found 0", o, res.Message)
			}
		}
	}
	// Two jobs in a row with the same output buffer keep the mapping.
	for i := 0; i < 2; i++ {
		if res := r.call(t, "hostile", "copy", "", secret.Ref, out.Ref, schema.JobLimits{}); res.Err() != nil {
			t.Fatal(res.Err())
		}
	}
	if kept := r.libs["hostile"].Stats().OutputMapsKept - keptBefore; kept != 1 {
		t.Fatalf("%d jobs kept the output mapping, want 1", kept)
	}
}

func TestForbiddenImportRefusedAtLoad(t *testing.T) {
	ctx := context.Background()
	e, err := sandbox.NewEngine(ctx, "", 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	_, err = e.NewLibrary(ctx, sandbox.LibraryConfig{Name: "forbidden", Wasm: testGuest(t, "forbidden"), Limits: testLimits()})
	var ie *sandbox.ImportError
	if !errors.As(err, &ie) || !errors.Is(err, sandbox.ErrForbiddenImport) || !strings.Contains(err.Error(), "wasi_snapshot_preview1.path_open") {
		t.Fatalf("loading a guest that opens files: %v", err)
	}
	t.Log(err)
	// A module that is not an INOS guest at all.
	_, err = e.NewLibrary(ctx, sandbox.LibraryConfig{Name: "raw", Wasm: []byte("\x00asm\x01\x00\x00\x00"), Limits: testLimits()})
	if !errors.Is(err, sandbox.ErrNotAGuest) {
		t.Fatalf("loading an empty module: %v", err)
	}
}

// BenchmarkEmptyJob is one empty job through the node (in this process)
// into the bench guest and back; allocs/op counts the node's side too.
func BenchmarkEmptyJob(b *testing.B) {
	r := newRig(b, benchLib(false))
	job := client.Job{Library: "bench", Method: "empty"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := r.c.Call(ctx, job)
		if err != nil || res.Err() != nil {
			b.Fatal(err, res.Err())
		}
	}
}
