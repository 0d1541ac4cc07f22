//go:build webgpu

package gpu_test

import (
	"encoding/binary"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// foreverWGSL never ends (in[0] is never 12345678): GPU work that only the
// timeout stops.
const foreverWGSL = `
@group(0) @binding(0) var<storage, read> in: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
    loop {
        if (in[0] == 12345678u) { break; }
        out[0] = out[0] + 1u;
    }
}`

// slowWGSL runs in[0] steps of a linear congruential generator (a
// recurrence no compiler folds): finite, but longer than the timeout.
const slowWGSL = `
@group(0) @binding(0) var<storage, read> in: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
    var x = 1u;
    for (var i = 0u; i < in[0]; i = i + 1u) { x = x * 1664525u + 1013904223u; }
    out[0] = x;
}`

// TestTimeout runs in a child process: on lavapipe a shader that never
// ends keeps its CPU threads busy until the process exits, which would
// slow every later test of this one.
func TestTimeout(t *testing.T) {
	if os.Getenv("INOS_GPU_TIMEOUT_CHILD") == "1" {
		timeoutChild(t)
		return
	}
	open(t, gpu.Limits{}) // skips or fails as the others do
	cmd := exec.Command(os.Args[0], "-test.run=^TestTimeout$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "INOS_GPU_TIMEOUT_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func timeoutChild(t *testing.T) {
	l := open(t, gpu.Limits{Timeout: 300 * time.Millisecond, MaxAbandoned: 3})
	x := f32bytes([]float32{1, 2, 3, 4, 5, 6})
	saxpyOK := func(when string) {
		t.Helper()
		start := time.Now()
		out, err := call(t, l, "saxpy", `{"a":2}`, x, 12)
		if err != nil {
			t.Fatalf("%s: saxpy: %v", when, err)
		}
		if got := f32s(out); got[0] != 6 || got[2] != 12 {
			t.Fatalf("%s: saxpy gave %v", when, got)
		}
		t.Logf("%s: saxpy ok in %v; stats %+v", when, time.Since(start).Round(time.Millisecond), l.Stats())
	}
	count := func(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }
	run := func(code string, groups uint32, input []byte, lim schema.JobLimits) (time.Duration, error) {
		start := time.Now()
		_, err := callJob(t, l, &kernel.Job{Method: "execute_shader", Input: input, Limits: lim,
			Params: []byte(execParams(code, "", []uint32{groups}, [][2]int{{0, len(input)}}, 8))}, 8)
		return time.Since(start), err
	}
	saxpyOK("first")

	// A finite shader longer than the timeout: stopped, then its device is
	// released in the background when it ends.
	took, err := run(slowWGSL, 1, count(1_500_000_000), schema.JobLimits{})
	wantKind(t, err, schema.ErrorDeadlineExceeded)
	t.Logf("slow shader: %v after %v", err, took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Fatalf("the 300ms timeout took %v", took)
	}
	if s := l.Stats(); s.TimedOut != 1 || s.Abandoned != 1 {
		t.Fatalf("after the slow shader: stats %+v", s)
	}
	saxpyOK("after the slow shader")
	if s := l.Stats(); s.Recreated != 1 {
		t.Fatalf("stats %+v, want one device recreated", s)
	}
	deadline := time.Now().Add(60 * time.Second)
	for l.Stats().Abandoned != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow shader's device is still not released: %+v", l.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the slow shader's device was released: %+v", l.Stats())

	// A shader that never ends, on more workgroups than lavapipe has
	// threads: all of them stay busy, and only a new instance (with its own
	// threads) serves the next job.
	took, err = run(foreverWGSL, 64, count(0), schema.JobLimits{})
	wantKind(t, err, schema.ErrorDeadlineExceeded)
	t.Logf("endless shader: %v after %v", err, took.Round(time.Millisecond))
	saxpyOK("after the endless shader")

	// The job's own timeout, shorter than the library's.
	took, err = run(foreverWGSL, 1, count(0), schema.JobLimits{TimeoutNs: uint64(100 * time.Millisecond)})
	wantKind(t, err, schema.ErrorDeadlineExceeded)
	t.Logf("endless shader with a 100ms job timeout: %v after %v", err, took.Round(time.Millisecond))
	if !strings.Contains(err.Error(), "within its 100ms") {
		t.Fatalf("the job's 100ms timeout did not apply: %v", err)
	}
	saxpyOK("after the second endless shader")

	// A third: where the driver cannot stop an endless shader (lavapipe),
	// MaxAbandoned devices are now busy for good and jobs are refused.
	// NVIDIA's driver kills the hung context: its abandoned devices are
	// released (Abandoned back to 0) and jobs keep being served.
	_, err = run(foreverWGSL, 1, count(0), schema.JobLimits{})
	wantKind(t, err, schema.ErrorDeadlineExceeded)
	_, err = call(t, l, "saxpy", `{"a":2}`, x, 12)
	if l.Info().Type != "CPU" && err == nil {
		t.Logf("the driver stops endless shaders (%+v): jobs are still served", l.Stats())
		return
	}
	wantKind(t, err, schema.ErrorUnavailable)
	t.Logf("with %d devices busy: %v", l.Stats().Abandoned, err)
}
