//go:build webgpu

package gpu_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/inos-node/node/gpu"
)

// TestStaging runs jobs and the transfer benchmarks through staging buffers
// of 1 MiB (the smallest), so that transfers take many chunks: pieces split
// across chunks and several in one, the ring of slots wrapped many times,
// unaligned lengths padded, an unaligned output cut.
func TestStaging(t *testing.T) {
	l := open(t, gpu.Limits{})
	old := gpu.SetRingChunk(l, 1<<20)
	staged := gpu.SetStagedUploads(l, true) // off on lavapipe
	t.Cleanup(func() {
		gpu.SetRingChunk(l, old)
		gpu.SetStagedUploads(l, staged)
	})

	// saxpy: x and y of 12 MiB + 20 bytes each.
	rng := rand.New(rand.NewPCG(5, 6))
	n := 3<<20 + 5
	x, y := randF32(rng, n), randF32(rng, n)
	const a = float32(-2.25)
	out, err := call(t, l, "saxpy", fmt.Sprintf(`{"a":%v}`, a), append(f32bytes(x), f32bytes(y)...), 4*n)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f32s(out) {
		want := a*x[i] + y[i]
		if d := abs32(v - want); d > 2*ulp(max(abs32(a*x[i]), abs32(y[i]), abs32(want))) {
			t.Fatalf("saxpy: out[%d] = %v, want %v", i, v, want)
		}
	}

	// execute_shader: two inputs of unaligned lengths (1 MiB + 3, 2 MiB + 1),
	// the output their words (b's plus one), 4·words − 1 bytes of it.
	const catWGSL = `
@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read> b: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let na = arrayLength(&a);
    let i = id.y * 65535u * 64u + id.x;
    if (i < na) { out[i] = a[i]; } else if (i < na + arrayLength(&b)) { out[i] = b[i - na] + 1u; }
}`
	la, lb := 1<<20+3, 2<<20+1
	input := make([]byte, la+lb)
	for i := range input {
		input[i] = byte(rng.Uint32())
	}
	na, nb := (la+3)/4, (lb+3)/4
	outSize := 4*(na+nb) - 1
	padded := func(b []byte) []byte { return append(append([]byte(nil), b...), make([]byte, (4-len(b)%4)%4)...) }
	want := padded(input[:la])
	pb := padded(input[la:])
	for j := 0; j < nb; j++ {
		want = binary.LittleEndian.AppendUint32(want, binary.LittleEndian.Uint32(pb[4*j:])+1)
	}
	want = want[:outSize]
	groups := uint32((na + nb + 63) / 64)
	out, err = call(t, l, "execute_shader", execParams(catWGSL, "", []uint32{groups}, [][2]int{{0, la}, {la, lb}}, outSize), input, outSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != outSize {
		t.Fatalf("execute_shader: %d bytes, want %d", len(out), outSize)
	}
	for i := range out {
		if out[i] != want[i] {
			t.Fatalf("execute_shader: byte %d is %d, want %d", i, out[i], want[i])
		}
	}

	// A small job after the large ones, then the benchmarks (they compare
	// what they read back with what they wrote).
	out, err = call(t, l, "saxpy", `{"a":2}`, f32bytes([]float32{1, 2, 3, 4}), 8)
	if err != nil || f32s(out)[0] != 5 || f32s(out)[1] != 8 {
		t.Fatalf("small saxpy: %v %v", f32s(out), err)
	}
	for _, size := range []uint64{5<<20 + 4, 64 << 10, 12} {
		if _, err := l.BenchUpload(size, 2); err != nil {
			t.Fatalf("upload %d: %v", size, err)
		}
		if _, err := l.BenchReadback(size, 2); err != nil {
			t.Fatalf("read-back %d: %v", size, err)
		}
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind by jobs", n)
	}
}
