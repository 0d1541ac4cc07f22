//go:build webgpu

package gpu_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

func TestInfo(t *testing.T) {
	l := open(t, gpu.Limits{})
	info := l.Info()
	t.Logf("adapter: %+v", info)
	if info.Backend != "Vulkan" {
		t.Fatalf("backend %q, want Vulkan", info.Backend)
	}
	if l.Name() != "gpu" {
		t.Fatalf("name %q", l.Name())
	}
	// The library registers like any other.
	if _, err := kernel.NewRegistry(l); err != nil {
		t.Fatal(err)
	}
}

func TestCompileWGSL(t *testing.T) {
	l := open(t, gpu.Limits{})
	compile := func(src string) gpu.CompileResult {
		t.Helper()
		out, err := call(t, l, "compile_wgsl", "", []byte(src), 1<<16)
		if err != nil {
			t.Fatal(err)
		}
		var res gpu.CompileResult
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		return res
	}
	ok := compile("@compute @workgroup_size(1)\nfn main() {}\n")
	if !ok.OK || len(ok.Messages) != 0 {
		t.Fatalf("valid shader: %+v", ok)
	}
	bad := compile("@compute @workgroup_size(1)\nfn main() {\n    let x: f32 = undefined_thing;\n}\n")
	t.Logf("%+v", bad)
	if bad.OK || len(bad.Messages) == 0 {
		t.Fatalf("invalid shader: %+v", bad)
	}
	if m := bad.Messages[0]; m.Type != "error" || m.Line != 3 || m.Column != 18 || !strings.Contains(m.Message, "undefined_thing") {
		t.Fatalf("first message %+v, want an error at 3:18 about undefined_thing", m)
	}
	// Two errors on different lines: a type mismatch and a missing function.
	two := compile("fn f() -> i32 {\n  return 1.5;\n}\n@compute @workgroup_size(1)\nfn main() { nope(); }\n")
	t.Logf("%+v", two)
	if two.OK || two.Messages[0].Line != 2 {
		t.Fatalf("type error: %+v, want an error on line 2", two)
	}
	// The JSON keys are the documented ones.
	out, _ := call(t, l, "compile_wgsl", "", []byte("fn main( {"), 1<<16)
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	msg := raw["messages"].([]any)[0].(map[string]any)
	for _, k := range []string{"type", "line", "column", "message"} {
		if _, ok := msg[k]; !ok {
			t.Fatalf("message %v lacks %q", msg, k)
		}
	}
	// Params: none taken.
	_, err := call(t, l, "compile_wgsl", `{"strict":true}`, []byte("fn main() {}"), 1<<16)
	wantKind(t, err, schema.ErrorInvalidParams)
	// An output too small for the result.
	_, err = call(t, l, "compile_wgsl", "", []byte("fn main() {}"), 4)
	if ke := wantKind(t, err, schema.ErrorOutputTooLarge); ke.OutputNeeded == 0 {
		t.Fatalf("%v: no size needed", err)
	}
}

const addWGSL = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < arrayLength(&out)) { out[id.x] = a[id.x] + b[id.x] * 10.0; }
}
`

func execParams(code, entry string, groups []uint32, inputs [][2]int, outSize int) string {
	p := map[string]any{"code": code, "workgroups": groups, "output_size": outSize}
	if entry != "" {
		p["entry_point"] = entry
	}
	var ins []map[string]int
	for _, in := range inputs {
		ins = append(ins, map[string]int{"offset": in[0], "length": in[1]})
	}
	if ins != nil {
		p["inputs"] = ins
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func TestExecuteShader(t *testing.T) {
	l := open(t, gpu.Limits{})
	const n = 1000
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = float32(i), float32(n-i)
	}
	input := append(f32bytes(a), f32bytes(b)...)
	out, err := call(t, l, "execute_shader", execParams(addWGSL, "add", []uint32{(n + 63) / 64}, [][2]int{{0, 4 * n}, {4 * n, 4 * n}}, 4*n), input, 4*n)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range f32s(out) {
		if want := a[i] + b[i]*10; v != want {
			t.Fatalf("out[%d] = %v, want %v", i, v, want)
		}
	}

	// Bytes, unaligned: an input of 10 bytes (padded with zeros to 12), an
	// output of 7 (the job gets 7), workgroups in 2 dimensions, the default
	// entry point.
	const bytesWGSL = `
@group(0) @binding(0) var<storage, read> in: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) w: vec3<u32>) {
    let i = w.y * 2u + w.x;
    if (i < arrayLength(&in)) { out[i] = in[i] + 0x01010101u; }
}`
	in := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	out, err = call(t, l, "execute_shader", execParams(bytesWGSL, "", []uint32{2, 2}, [][2]int{{0, 10}}, 7), in, 64)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}[:7]; string(out) != string(want) {
		t.Fatalf("out = %v, want %v", out, want)
	}

	// No inputs: the output alone.
	const iotaWGSL = `
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(4)
fn main(@builtin(global_invocation_id) id: vec3<u32>) { out[id.x] = id.x * id.x; }`
	out, err = call(t, l, "execute_shader", execParams(iotaWGSL, "", []uint32{2, 1, 1}, nil, 32), nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range u32s(out) {
		if v != uint32(i*i) {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind by jobs", n)
	}
}

func u32s(b []byte) []uint32 {
	v := make([]uint32, len(b)/4)
	for i := range v {
		v[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
	return v
}

func TestExecuteShaderErrors(t *testing.T) {
	l := open(t, gpu.Limits{MaxBufferBytes: 4096, MaxWorkgroupsPerDim: 1000, MaxWorkgroups: 5000})
	input := make([]byte, 8192)
	cases := []struct {
		name, params string
		outCap       int
		kind         schema.ErrorKind
		msg          string // in the error
	}{
		{"compile error", execParams("@compute @workgroup_size(1)\nfn main() {\n    let x: f32 = undefined_thing;\n}", "", []uint32{1}, nil, 4), 4,
			schema.ErrorInvalidParams, "line 3, column 18"},
		{"no code", `{"workgroups":[1],"output_size":4}`, 4, schema.ErrorInvalidParams, "code"},
		{"unknown field", `{"code":"x","workgroups":[1],"output_size":4,"shared":true}`, 4, schema.ErrorInvalidParams, "unknown field"},
		{"wrong type", `{"code":"x","workgroups":"many","output_size":4}`, 4, schema.ErrorInvalidParams, "workgroups"},
		{"not JSON", `{"code":`, 4, schema.ErrorInvalidParams, "EOF"},
		{"no entry point", execParams(addWGSL, "main", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 16), 16, schema.ErrorInvalidParams, "main"},
		{"bindings", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}}, 16), 16, schema.ErrorInvalidParams, "binding"},
		{"input past the end", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {8190, 16}}, 16), 16, schema.ErrorInvalidParams, "past the input"},
		{"empty input", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 0}}, 16), 16, schema.ErrorInvalidParams, "length"},
		{"no output", execParams(addWGSL, "add", []uint32{1}, nil, 0), 16, schema.ErrorInvalidParams, "output_size"},
		{"no workgroups", execParams(addWGSL, "add", nil, nil, 16), 16, schema.ErrorInvalidParams, "workgroups"},
		{"zero workgroups", execParams(addWGSL, "add", []uint32{1, 0}, nil, 16), 16, schema.ErrorInvalidParams, "workgroups[1]"},
		{"four dimensions", execParams(addWGSL, "add", []uint32{1, 1, 1, 1}, nil, 16), 16, schema.ErrorInvalidParams, "workgroups"},
		{"workgroups per dimension", execParams(addWGSL, "add", []uint32{1001}, nil, 16), 16, schema.ErrorInvalidParams, "per dimension"},
		{"workgroups in total", execParams(addWGSL, "add", []uint32{100, 100}, nil, 16), 16, schema.ErrorInvalidParams, "10000 workgroups"},
		{"input over the limit", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 4097}}, 16), 16, schema.ErrorInputTooLarge, "limit"},
		{"output over the limit", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 4097), 8192, schema.ErrorOutputTooLarge, "limit"},
		{"output over the job's", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 64), 32, schema.ErrorOutputTooLarge, "64 bytes"},
	}
	for _, c := range cases {
		_, err := call(t, l, "execute_shader", c.params, input, c.outCap)
		ke := wantKind(t, err, c.kind)
		if !strings.Contains(ke.Msg, c.msg) {
			t.Errorf("%s: %v does not mention %q", c.name, err, c.msg)
		}
		t.Logf("%s: %v", c.name, err)
	}
	// The size needed is reported.
	_, err := call(t, l, "execute_shader", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 63), input, 32)
	if ke := wantKind(t, err, schema.ErrorOutputTooLarge); ke.OutputNeeded != 63 {
		t.Fatalf("OutputNeeded %d, want 63", ke.OutputNeeded)
	}
	// The job's own output limit counts too.
	_, err = callJob(t, l, &kernel.Job{Method: "execute_shader", Input: input, Limits: schema.JobLimits{MaxOutputBytes: 8},
		Params: []byte(execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 16))}, 64)
	wantKind(t, err, schema.ErrorOutputTooLarge)

	// The device still works, and nothing was left behind.
	out, err := call(t, l, "execute_shader", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}, {16, 16}}, 16), f32bytes([]float32{1, 2, 3, 4, 5, 6, 7, 8}), 16)
	if err != nil {
		t.Fatal(err)
	}
	if got := f32s(out); got[0] != 51 || got[3] != 84 {
		t.Fatalf("after the errors: %v", got)
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind by jobs", n)
	}
	if s := l.Stats(); s.Failed == 0 || s.Jobs != s.Failed+1 || s.Recreated != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func randF32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

func TestSaxpy(t *testing.T) {
	l := open(t, gpu.Limits{})
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 3, 4, 1000, 100_003, 1 << 20} {
		x, y := randF32(rng, n), randF32(rng, n)
		a := float32(rng.Float64()*10 - 5)
		out, err := call(t, l, "saxpy", fmt.Sprintf(`{"a":%v}`, a), append(f32bytes(x), f32bytes(y)...), 4*n)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		got := f32s(out)
		if len(got) != n {
			t.Fatalf("n=%d: %d results", n, len(got))
		}
		for i := range got {
			// The GPU may fuse a·x+y into one rounding: allow one ulp of the larger term.
			want := a*x[i] + y[i]
			tol := 2 * ulp(max(abs32(a*x[i]), abs32(y[i]), abs32(want)))
			if d := abs32(got[i] - want); d > tol {
				t.Fatalf("n=%d: out[%d] = %v, want %v (±%v)", n, i, got[i], want, tol)
			}
		}
	}
	// Errors.
	xy := f32bytes(make([]float32, 8))
	_, err := call(t, l, "saxpy", `{}`, xy, 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "saxpy", `{"a":1,"b":2}`, xy, 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "saxpy", `{"a":"one"}`, xy, 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "saxpy", `{"a":1}`, xy[:12], 64)
	wantKind(t, err, schema.ErrorInvalidInput)
	_, err = call(t, l, "saxpy", `{"a":1}`, xy, 8)
	if ke := wantKind(t, err, schema.ErrorOutputTooLarge); ke.OutputNeeded != 16 {
		t.Fatalf("OutputNeeded %d, want 16", ke.OutputNeeded)
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind by jobs", n)
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

func ulp(x float32) float32 {
	return math.Nextafter32(x, float32(math.Inf(1))) - x
}

func TestMatmul(t *testing.T) {
	l := open(t, gpu.Limits{})
	rng := rand.New(rand.NewPCG(2, 2))
	for _, d := range [][3]int{{1, 1, 1}, {3, 5, 7}, {64, 64, 64}, {65, 63, 17}, {100, 37, 129}, {130, 200, 300}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randF32(rng, m*k), randF32(rng, k*n)
		out, err := call(t, l, "matmul", fmt.Sprintf(`{"m":%d,"n":%d,"k":%d}`, m, n, k), append(f32bytes(a), f32bytes(b)...), 4*m*n)
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		got := f32s(out)
		worst := 0.0
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var want, mag float64
				for p := 0; p < k; p++ {
					x := float64(a[i*k+p]) * float64(b[p*n+j])
					want += x
					mag += math.Abs(x)
				}
				// f32 accumulation over k terms: error ≤ k·ε·Σ|a·b|.
				err := math.Abs(float64(got[i*n+j]) - want)
				if tol := float64(k) * 0x1p-23 * mag; err > tol+1e-30 {
					t.Fatalf("%v: C[%d][%d] = %v, want %v (±%v)", d, i, j, got[i*n+j], want, tol)
				}
				if mag > 0 {
					worst = max(worst, err/mag)
				}
			}
		}
		t.Logf("m=%d n=%d k=%d: worst error %.2g of Σ|a·b|", m, n, k, worst)
	}
	_, err := call(t, l, "matmul", `{"m":2,"n":2}`, make([]byte, 32), 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "matmul", `{"m":2,"n":2,"k":2}`, make([]byte, 28), 64)
	wantKind(t, err, schema.ErrorInvalidInput)
	_, err = call(t, l, "matmul", `{"m":2,"n":2,"k":2,"alpha":1}`, make([]byte, 32), 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "matmul", `{"m":4000000000,"n":4000000000,"k":1}`, make([]byte, 32), 64)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "matmul", `{"m":100000,"n":1,"k":100000}`, make([]byte, 32), 64)
	wantKind(t, err, schema.ErrorInputTooLarge)
	_, err = call(t, l, "matmul", `{"m":2,"n":2,"k":2}`, make([]byte, 32), 15)
	if ke := wantKind(t, err, schema.ErrorOutputTooLarge); ke.OutputNeeded != 16 {
		t.Fatalf("OutputNeeded %d, want 16", ke.OutputNeeded)
	}
}

// TestGrayscale: the GPU's bytes are the image library's, byte for byte.
func TestGrayscale(t *testing.T) {
	l := open(t, gpu.Limits{})
	rng := rand.New(rand.NewPCG(3, 3))
	noise := make([]byte, 4*333*77)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	photo := sample.Photo(640, 480, 1)
	images := []struct {
		name string
		pix  []byte
		w, h int
	}{
		{"1×1", []byte{255, 0, 0, 255}, 1, 1},
		{"noise 333×77", noise, 333, 77},
		{"photo 640×480", photo.Pix, 640, 480},
		{"every color 4096×4096", gpu.AllColors(), 4096, 4096},
	}
	for _, img := range images {
		want, err := gpu.ImagelibGrayscale(img.pix, img.w, img.h)
		if err != nil {
			t.Fatal(err)
		}
		got, err := call(t, l, "grayscale", fmt.Sprintf(`{"width":%d,"height":%d}`, img.w, img.h), img.pix, len(img.pix))
		if err != nil {
			t.Fatalf("%s: %v", img.name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d bytes, want %d", img.name, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				p := i &^ 3
				t.Fatalf("%s: pixel %d: GPU %v, image library %v (input %v)", img.name, p/4, got[p:p+4], want[p:p+4], img.pix[p:p+4])
			}
		}
		t.Logf("%s: %d bytes equal", img.name, len(got))
	}
	_, err := call(t, l, "grayscale", `{"width":2}`, make([]byte, 8), 8)
	wantKind(t, err, schema.ErrorInvalidParams)
	_, err = call(t, l, "grayscale", `{"width":2,"height":1}`, make([]byte, 7), 8)
	wantKind(t, err, schema.ErrorInvalidInput)
	_, err = call(t, l, "grayscale", `{"width":4294967295,"height":4294967295}`, make([]byte, 8), 8)
	wantKind(t, err, schema.ErrorInputTooLarge)
}

func TestBench(t *testing.T) {
	l := open(t, gpu.Limits{})
	d, err := l.BenchDispatch(20)
	if err != nil {
		t.Fatal(err)
	}
	up, err := l.BenchUpload(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	down, err := l.BenchReadback(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	sx, err := l.BenchSaxpy(1<<20, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := l.BenchMatmul(256, 256, 256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name string
		r    gpu.BenchResult
	}{{"dispatch", d}, {"upload", up}, {"readback", down}, {"saxpy", sx}, {"matmul", mm}} {
		if len(r.r.Samples) == 0 {
			t.Fatalf("%s: no samples", r.name)
		}
		best := r.r.Samples[0]
		for _, s := range r.r.Samples {
			best = min(best, s)
		}
		per := best.Seconds() / float64(r.r.Batch)
		t.Logf("%s: best %v per sample of %d; %.2f GB/s, %.2f GFLOP/s", r.name, best, r.r.Batch,
			float64(r.r.Bytes)/per/1e9, float64(r.r.Flops)/per/1e9)
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind", n)
	}
	if _, err := l.BenchSaxpy(1<<40, 1, 1); err == nil {
		t.Fatal("a saxpy over the device's limits ran")
	}
}

// TestDeviceLost: a lost device is replaced by the next job.
func TestDeviceLost(t *testing.T) {
	l := open(t, gpu.Limits{})
	x := f32bytes([]float32{1, 2, 3, 4})
	if _, err := call(t, l, "saxpy", `{"a":2}`, x, 8); err != nil {
		t.Fatal(err)
	}
	gpu.DestroyDevice(l)
	out, err := call(t, l, "saxpy", `{"a":2}`, x, 8)
	if err != nil {
		t.Logf("the job on the lost device: %v", err)
		out, err = call(t, l, "saxpy", `{"a":2}`, x, 8)
	}
	if err != nil {
		t.Fatalf("after the device was lost: %v", err)
	}
	if got := f32s(out); got[0] != 5 || got[1] != 8 {
		t.Fatalf("saxpy on the new device: %v", got)
	}
	if s := l.Stats(); s.Recreated != 1 {
		t.Fatalf("stats %+v, want one device recreated", s)
	}
	t.Logf("stats %+v", l.Stats())
}

// TestHammer: many jobs of every kind, good and bad, one after another
// from goroutines that move between threads; nothing leaks, every result
// is right.
func TestHammer(t *testing.T) {
	l := open(t, gpu.Limits{})
	x := f32bytes([]float32{1, 2, 3, 4, 5, 6, 7, 8})
	done := make(chan error)
	for w := 0; w < 4; w++ {
		go func() {
			for i := 0; i < 50; i++ {
				var err error
				switch i % 5 {
				case 0:
					var out []byte
					out, err = call(t, l, "saxpy", `{"a":3}`, x, 16)
					if err == nil && f32s(out)[3] != 20 {
						err = fmt.Errorf("saxpy gave %v", f32s(out))
					}
				case 1:
					_, err = call(t, l, "execute_shader", execParams("fn main( {", "", []uint32{1}, nil, 4), nil, 4)
					if ke, ok := err.(*kernel.Error); ok && ke.Kind == schema.ErrorInvalidParams {
						err = nil
					}
				case 2:
					_, err = call(t, l, "compile_wgsl", "", []byte("@compute @workgroup_size(1) fn main() {}"), 1024)
				case 3:
					_, err = call(t, l, "grayscale", `{"width":2,"height":1}`, []byte{1, 2, 3, 4, 5, 6, 7, 8}, 8)
				case 4:
					_, err = call(t, l, "execute_shader", execParams(addWGSL, "add", []uint32{1}, [][2]int{{0, 16}}, 16), x, 16)
					if ke, ok := err.(*kernel.Error); ok && ke.Kind == schema.ErrorInvalidParams {
						err = nil
					}
				}
				if err != nil {
					done <- fmt.Errorf("job %d: %w", i, err)
					return
				}
			}
			done <- nil
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := gpu.LiveJobObjects(l); n != 0 {
		t.Fatalf("%d objects left behind by jobs", n)
	}
	if s := l.Stats(); s.Jobs != 200 || s.Recreated != 0 {
		t.Fatalf("stats %+v", s)
	}
}
