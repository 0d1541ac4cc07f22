//go:build webgpu

package gpu_test

import (
	"context"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/internal/nodetest"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// TestThroughNode: jobs of the gpu library through a node and a producer,
// with buffers in shared memory and errors in the envelope.
func TestThroughNode(t *testing.T) {
	l := open(t, gpu.Limits{})
	reg, err := kernel.NewRegistry(l)
	if err != nil {
		t.Fatal(err)
	}
	c := nodetest.Start(t, reg, 64<<20)
	put := func(b []byte) schema.Ref {
		buf, err := c.Alloc(max(len(b), 1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Free(buf) })
		copy(buf.Bytes, b)
		buf.Ref.Length = uint64(len(b))
		return buf.Ref
	}
	run := func(method, params string, in []byte, outCap int) client.Result {
		t.Helper()
		res, err := c.Call(context.Background(), client.Job{Library: "gpu", Method: method, Params: []byte(params),
			Input: put(in), Output: put(make([]byte, outCap)), Deadline: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run("saxpy", `{"a":0.5}`, f32bytes([]float32{2, 4, 6, 1, 1, 1}), 12)
	if res.Status != schema.StatusOK {
		t.Fatalf("saxpy: %v %v %s", res.Status, res.Kind, res.Message)
	}
	if got := f32s(res.Output.Bytes); len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Fatalf("saxpy through the node: %v", got)
	}
	res = run("execute_shader", execParams("fn main( {", "", []uint32{1}, nil, 4), nil, 4)
	if res.Kind != schema.ErrorInvalidParams {
		t.Fatalf("a compile error: %v %v %s", res.Status, res.Kind, res.Message)
	}
	t.Logf("compile error through the node: %s", res.Message)
	res = run("saxpy", `{"a":1}`, f32bytes([]float32{1, 2, 3, 4}), 4)
	if res.Kind != schema.ErrorOutputTooLarge || res.OutputNeeded != 8 {
		t.Fatalf("small output: %v %v needed %d: %s", res.Status, res.Kind, res.OutputNeeded, res.Message)
	}
}
