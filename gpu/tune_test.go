//go:build webgpu && cgo

package gpu_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/gpu/internal/wgpu"
)

// TestTune times variants of the saxpy kernel and of the host↔device
// transfers on raw devices (one with Dawn's robustness, one without), to
// choose the library's. It runs only with INOS_GPU_TUNE=1; on a discrete GPU
// it uses saxpy n = 2^26 and 256 MiB transfers (a few seconds), elsewhere
// 2^20 and 16 MiB:
//
//	INOS_GPU_TUNE=1 go test -tags webgpu -run Tune -v ./gpu/
//
// Figures: p50 of the samples (GB/s from it), and the best sample.
func TestTune(t *testing.T) {
	if os.Getenv("INOS_GPU_TUNE") != "1" {
		t.Skip("set INOS_GPU_TUNE=1 to time the kernel and transfer variants")
	}
	l := open(t, gpu.Limits{})
	info := l.Info()
	t.Logf("device: %s (%s, %s)", info.Device, info.Type, info.Description)
	n, xfer := tuneSizes(info)
	ad := rawAdapter(t, info.LibPath)
	for _, robust := range []bool{true, false} {
		var off []string
		if !robust {
			off = []string{"disable_robustness"}
		}
		dev, err := ad.RequestDeviceToggles("tune", 30*time.Second, off, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := &tuneRig{t: t, dev: dev}
		name := "robust"
		if !robust {
			name = "no-robustness"
			tr.oob()
		}
		tr.saxpy(n, name, true)
		if robust {
			tr.oob()
			tr.transfers(xfer)
		}
		if e, k := dev.TakeUncapturedError(); e != nil {
			t.Errorf("%s: %d uncaptured errors, the first: %v", name, k, e)
		}
		dev.Release()
	}
}

type tuneRig struct {
	t   *testing.T
	dev *wgpu.Device
}

func (tr *tuneRig) check(what string) {
	tr.t.Helper()
	if e, k := tr.dev.TakeUncapturedError(); e != nil {
		tr.t.Fatalf("%s: %d uncaptured errors, the first: %v", what, k, e)
	}
}

func (tr *tuneRig) wait() {
	tr.t.Helper()
	if err := tr.dev.Queue().WorkDone(time.Minute); err != nil {
		tr.t.Fatal(err)
	}
}

// timeIt runs f samples times after one warm-up run: the p50 and the best.
func timeIt(samples int, f func()) (p50, best time.Duration) {
	f()
	ds := make([]time.Duration, samples)
	for i := range ds {
		start := time.Now()
		f()
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[0]
}

func gbps(bytes uint64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e9 }

// pcopy copies src into dst (same length) with up to workers goroutines.
func pcopy(dst, src []byte, workers int) {
	n := len(src)
	if workers <= 1 || n < 1<<20 {
		copy(dst, src)
		return
	}
	chunk := (n/workers + 4095) &^ 4095
	var wg sync.WaitGroup
	for off := 0; off < n; off += chunk {
		end := min(off+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			copy(dst[off:end], src[off:end])
		}()
	}
	wg.Wait()
}

func (tr *tuneRig) submit(f func(enc *wgpu.CommandEncoder)) {
	enc := tr.dev.CreateCommandEncoder()
	f(enc)
	cb := enc.Finish()
	tr.dev.Queue().Submit(cb)
	cb.Release()
	enc.Release()
}

// readSmall reads size bytes at off of src.
func (tr *tuneRig) readSmall(src *wgpu.Buffer, offs []uint64, size uint64) [][]byte {
	back := tr.dev.CreateBuffer(size*uint64(len(offs)), wgpu.UsageMapRead|wgpu.UsageCopyDst)
	defer back.Release()
	tr.submit(func(enc *wgpu.CommandEncoder) {
		for i, o := range offs {
			enc.CopyBufferToBuffer(src, o, back, uint64(i)*size, size)
		}
	})
	if err := back.MapRead(0, back.Size(), time.Minute); err != nil {
		tr.t.Fatal(err)
	}
	view, _ := back.Mapped(0, back.Size())
	out := make([][]byte, len(offs))
	for i := range offs {
		out[i] = bytes.Clone(view[uint64(i)*size : uint64(i+1)*size])
	}
	back.Unmap()
	return out
}

// pipeline compiles a kernel, failing on a compile or validation error.
func (tr *tuneRig) pipeline(code string) *wgpu.ComputePipeline {
	tr.t.Helper()
	mod := tr.dev.CreateShaderModule(code)
	defer mod.Release()
	msgs, err := mod.CompilationInfo(time.Minute)
	if err != nil {
		tr.t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Type == "error" {
			tr.t.Fatalf("compile: %d:%d: %s\n%s", m.Line, m.Column, m.Message, code)
		}
	}
	p := tr.dev.CreateComputePipeline(mod, "main")
	tr.check("pipeline")
	return p
}

// oob reports what a read past a runtime-sized array's end gives: with
// robustness, Dawn clamps the index (the last element); without, whatever
// the driver does.
func (tr *tuneRig) oob() {
	const code = `
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(1) fn main() { let i = arrayLength(&src) + 3u; dst[0] = src[i]; dst[1] = src[i + 1000000u]; }`
	pipe := tr.pipeline(code)
	defer pipe.Release()
	src := tr.dev.CreateBuffer(64, wgpu.UsageStorage|wgpu.UsageCopyDst)
	defer src.Release()
	dst := tr.dev.CreateBuffer(16, wgpu.UsageStorage|wgpu.UsageCopySrc)
	defer dst.Release()
	data := make([]byte, 64)
	for i := range 16 {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(100+i))
	}
	tr.dev.Queue().WriteBuffer(src, 0, data)
	layout := pipe.BindGroupLayout(0)
	defer layout.Release()
	g := tr.dev.CreateBindGroup(layout, []wgpu.BufferBinding{{Binding: 0, Buffer: src}, {Binding: 1, Buffer: dst}})
	defer g.Release()
	tr.submit(func(enc *wgpu.CommandEncoder) {
		pass := enc.BeginComputePass()
		pass.SetPipeline(pipe)
		pass.SetBindGroup(0, g)
		pass.DispatchWorkgroups(1, 1, 1)
		pass.End()
		pass.Release()
	})
	got := tr.readSmall(dst, []uint64{0}, 8)[0]
	tr.check("oob")
	tr.t.Logf("out-of-bounds reads (src[len+3], src[len+1e6]; the last element is 115): %d %d",
		binary.LittleEndian.Uint32(got), binary.LittleEndian.Uint32(got[4:]))
}

// saxpyKernel is a loop-free saxpy: each invocation makes per vec4s, at
// base + k·wg (coalesced); the workgroups form a 2-D grid of p.stride
// vec4s per row.
func saxpyKernel(wg, per int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
struct Params { a: f32, n4: u32, stride: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> xy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(%d)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let base = wid.y * p.stride + wid.x * %du + lid;
`, wg, wg*per)
	for k := range per {
		fmt.Fprintf(&b, "    { let i = base + %du; if (i < p.n4) { out[i] = p.a * xy[i] + xy[p.n4 + i]; } }\n", k*wg)
	}
	b.WriteString("}\n")
	return b.String()
}

// tuneSizes returns the saxpy length and the transfer size the tuning
// tests use: full sizes on a discrete GPU, small ones elsewhere.
func tuneSizes(info gpu.AdapterInfo) (n, xfer uint64) {
	if info.Type == "DiscreteGPU" {
		return 1 << 26, 256 << 20
	}
	return 1 << 20, 16 << 20
}

// rawAdapter loads the webgpu.h library at path and returns its
// high-performance Vulkan adapter, outside the gpu library (the tuning
// tests make devices of their own); it is released when the test ends.
func rawAdapter(t *testing.T, path string) *wgpu.Adapter {
	t.Helper()
	if err := wgpu.Load(path); err != nil {
		t.Fatal(err)
	}
	in, err := wgpu.NewInstance()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Release)
	ad, err := in.RequestAdapter(wgpu.AdapterOptions{Backend: wgpu.BackendVulkan, Power: wgpu.PowerHighPerformance}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ad.Release)
	return ad
}

// grid2D splits groups into x×y (x ≤ 65535) with the least waste.
func grid2D(groups uint64) (uint32, uint32) {
	y := (groups + 65534) / 65535
	x := (groups + y - 1) / y
	return uint32(x), uint32(y)
}

func (tr *tuneRig) saxpy(n uint64, devName string, full bool) {
	t, dev, q := tr.t, tr.dev, tr.dev.Queue()
	n4 := n / 4
	host := make([]byte, 32*n4)
	for i := uint64(0); i < 8*n4; i++ {
		binary.LittleEndian.PutUint32(host[4*i:], math.Float32bits(float32(i%1013)*0.01-5))
	}
	xy := dev.CreateBuffer(32*n4, wgpu.UsageStorage|wgpu.UsageCopyDst|wgpu.UsageCopySrc)
	defer xy.Release()
	out := dev.CreateBuffer(16*n4, wgpu.UsageStorage|wgpu.UsageCopySrc|wgpu.UsageCopyDst)
	defer out.Release()
	for off := uint64(0); off < uint64(len(host)); off += 32 << 20 {
		q.WriteBuffer(xy, off, host[off:min(off+32<<20, uint64(len(host)))])
	}
	tr.wait()
	u := dev.CreateBuffer(16, wgpu.UsageUniform|wgpu.UsageCopyDst)
	defer u.Release()
	const a = 1.5
	checks := []uint64{0, n4 / 3, n4 / 2, n4 - 1}
	nan := bytes.Repeat([]byte{0xff}, 16)

	type variant struct {
		name   string
		code   string
		groups [3]uint32
		stride uint32
		batch  int
	}
	var vs []variant
	for _, g := range []uint32{65535, 4224, 1056} {
		if !full && g != 65535 {
			continue
		}
		vs = append(vs, variant{fmt.Sprintf("grid-stride wg256 ×%d groups", g), gpu.SaxpyWGSL, [3]uint32{uint32(min(uint64(g), (n4+255)/256)), 1, 1}, 0, 20})
	}
	type shape struct{ wg, per int }
	shapes := []shape{{64, 1}, {128, 1}, {256, 1}, {512, 1}, {1024, 1}, {128, 2}, {256, 2}, {512, 2}, {128, 4}, {256, 4}}
	if !full {
		shapes = []shape{{256, 1}, {256, 2}}
	}
	base := -1
	for _, s := range shapes {
		if s == (shape{256, 1}) {
			base = len(vs)
		}
		groups := (n4 + uint64(s.wg*s.per) - 1) / uint64(s.wg*s.per)
		x, y := grid2D(groups)
		vs = append(vs, variant{fmt.Sprintf("flat wg%d ×%d vec4", s.wg, s.per), saxpyKernel(s.wg, s.per), [3]uint32{x, y, 1}, x * uint32(s.wg*s.per), 20})
	}
	if full {
		for _, batch := range []int{1, 10, 50} {
			v := vs[base]
			v.name = fmt.Sprintf("flat wg256 ×1 vec4, batch %d", batch)
			v.batch = batch
			vs = append(vs, v)
		}
	}
	for _, v := range vs {
		pipe := tr.pipeline(v.code)
		stride := v.stride
		if stride == 0 {
			stride = v.groups[0] * 256
		}
		ub := make([]byte, 16)
		binary.LittleEndian.PutUint32(ub[0:], math.Float32bits(a))
		binary.LittleEndian.PutUint32(ub[4:], uint32(n4))
		binary.LittleEndian.PutUint32(ub[8:], stride)
		q.WriteBuffer(u, 0, ub)
		for _, c := range checks {
			q.WriteBuffer(out, 16*c, nan)
		}
		layout := pipe.BindGroupLayout(0)
		g := dev.CreateBindGroup(layout, []wgpu.BufferBinding{{Binding: 0, Buffer: xy}, {Binding: 1, Buffer: out}, {Binding: 2, Buffer: u}})
		run := func() {
			tr.submit(func(enc *wgpu.CommandEncoder) {
				pass := enc.BeginComputePass()
				pass.SetPipeline(pipe)
				pass.SetBindGroup(0, g)
				for range v.batch {
					pass.DispatchWorkgroups(v.groups[0], v.groups[1], v.groups[2])
				}
				pass.End()
				pass.Release()
			})
			tr.wait()
		}
		p50, best := timeIt(10, run)
		got := tr.readSmall(out, mulAll(checks, 16), 16)
		for k, c := range checks {
			for j := uint64(0); j < 4; j++ {
				i := 4*c + j
				want := a*math.Float32frombits(binary.LittleEndian.Uint32(host[4*i:])) + math.Float32frombits(binary.LittleEndian.Uint32(host[16*n4+4*i:]))
				gv := math.Float32frombits(binary.LittleEndian.Uint32(got[k][4*j:]))
				if math.Abs(float64(gv-want)) > 1e-5 {
					t.Errorf("%s %s: out[%d] = %v, want %v", devName, v.name, i, gv, want)
				}
			}
		}
		tr.check(v.name)
		bytesPer := 12 * n * uint64(v.batch)
		t.Logf("saxpy %-14s %-36s grid %6d×%-3d p50 %-10v %7.1f GB/s  best %7.1f GB/s", devName, v.name, v.groups[0], v.groups[1],
			p50.Round(time.Microsecond), gbps(bytesPer, p50), gbps(bytesPer, best))
		g.Release()
		layout.Release()
		pipe.Release()
	}
	if full {
		// The copy engine's (or the driver's) device-to-device rate: reads and writes 16·n4 bytes.
		p50, best := timeIt(10, func() {
			tr.submit(func(enc *wgpu.CommandEncoder) {
				for range 20 {
					enc.CopyBufferToBuffer(xy, 0, out, 0, 16*n4)
				}
			})
			tr.wait()
		})
		t.Logf("saxpy %-14s %-36s p50 %-10v %7.1f GB/s  best %7.1f GB/s (read + write)", devName, "copyBufferToBuffer ×20",
			p50.Round(time.Microsecond), gbps(20*32*n4, p50), gbps(20*32*n4, best))
	}
}

func mulAll(xs []uint64, m uint64) []uint64 {
	out := make([]uint64, len(xs))
	for i, x := range xs {
		out[i] = x * m
	}
	return out
}

// transfers times uploads and read-backs of size bytes.
func (tr *tuneRig) transfers(size uint64) {
	t, dev, q := tr.t, tr.dev, tr.dev.Queue()
	host := make([]byte, size)
	for i := uint64(0); i < size; i += 4 {
		binary.LittleEndian.PutUint32(host[i:], uint32(i/4)*2654435761+12345) // no two words alike
	}
	got := make([]byte, size)
	copy(got, host) // fault the pages in
	const samples = 8
	dst := dev.CreateBuffer(size, wgpu.UsageStorage|wgpu.UsageCopyDst|wgpu.UsageCopySrc)
	defer dst.Release()
	back := dev.CreateBuffer(size, wgpu.UsageMapRead|wgpu.UsageCopyDst)
	defer back.Release()
	readBack := func(workers int) {
		tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(dst, 0, back, 0, size) })
		if err := back.MapRead(0, size, time.Minute); err != nil {
			t.Fatal(err)
		}
		view, _ := back.Mapped(0, size)
		pcopy(got, view, workers)
		back.Unmap()
	}
	verify := func(what string) {
		t.Helper()
		clear(got)
		readBack(8)
		if !bytes.Equal(got, host) {
			t.Errorf("%s: the bytes on the device differ from those written", what)
		}
		tr.check(what)
	}
	report := func(what string, p50, best time.Duration, extra string) {
		t.Logf("%-58s p50 %-10v %6.2f GB/s  best %6.2f GB/s %s", what, p50.Round(time.Microsecond), gbps(size, p50), gbps(size, best), extra)
	}
	mib := size >> 20

	// Host references.
	for _, w := range []int{1, 4, 8, 16} {
		p50, best := timeIt(samples, func() { pcopy(got, host, w) })
		report(fmt.Sprintf("host memmove %d MiB, %d goroutines", mib, w), p50, best, "")
	}

	// Uploads.
	for _, chunk := range []uint64{size, 32 << 20, 4 << 20} {
		clear(got)
		p50, best := timeIt(samples, func() {
			for off := uint64(0); off < size; off += chunk {
				q.WriteBuffer(dst, off, host[off:min(off+chunk, size)])
			}
			tr.wait()
		})
		verify("WriteBuffer")
		report(fmt.Sprintf("upload %d MiB: WriteBuffer in %d MiB pieces + WorkDone", mib, chunk>>20), p50, best, "")
	}
	stg := dev.CreateBufferMapped(size, wgpu.UsageMapWrite|wgpu.UsageCopySrc)
	for _, w := range []int{1, 4, 8, 16} {
		q.WriteBuffer(dst, 0, make([]byte, 4096))
		var tCopy, tDMA, tMap time.Duration
		p50, best := timeIt(samples, func() {
			s := time.Now()
			view, err := stg.MappedWritable(0, size)
			if err != nil {
				t.Fatal(err)
			}
			pcopy(view, host, w)
			stg.Unmap()
			s1 := time.Now()
			tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(stg, 0, dst, 0, size) })
			tr.wait()
			s2 := time.Now()
			if err := stg.MapWrite(0, size, time.Minute); err != nil {
				t.Fatal(err)
			}
			tCopy, tDMA, tMap = tCopy+s1.Sub(s), tDMA+s2.Sub(s1), tMap+time.Since(s2)
		})
		verify("staging")
		k := time.Duration(samples + 1)
		report(fmt.Sprintf("upload %d MiB: resident MapWrite staging, %d goroutines", mib, w), p50, best,
			fmt.Sprintf("(mean: memcpy %v, copy+wait %v, remap %v)", (tCopy/k).Round(time.Microsecond), (tDMA/k).Round(time.Microsecond), (tMap/k).Round(time.Microsecond)))
	}
	stg.Unmap()
	stg.Release()
	{
		p50, best := timeIt(samples, func() {
			s := dev.CreateBufferMapped(size, wgpu.UsageMapWrite|wgpu.UsageCopySrc)
			view, _ := s.MappedWritable(0, size)
			pcopy(view, host, 8)
			s.Unmap()
			tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(s, 0, dst, 0, size) })
			tr.wait()
			s.Release()
		})
		verify("fresh staging")
		report(fmt.Sprintf("upload %d MiB: fresh mappedAtCreation staging, 8 goroutines", mib), p50, best, "")
	}
	{
		var d2 *wgpu.Buffer
		p50, best := timeIt(samples, func() {
			d2.Release()
			d2 = dev.CreateBufferMapped(size, wgpu.UsageStorage|wgpu.UsageCopyDst|wgpu.UsageCopySrc)
			view, _ := d2.MappedWritable(0, size)
			pcopy(view, host, 8)
			d2.Unmap()
			tr.wait()
		})
		clear(got)
		tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(d2, 0, back, 0, size) })
		if err := back.MapRead(0, size, time.Minute); err != nil {
			t.Fatal(err)
		}
		view, _ := back.Mapped(0, size)
		if !bytes.Equal(view, host) {
			t.Errorf("mappedAtCreation storage: the bytes differ")
		}
		back.Unmap()
		d2.Release()
		report(fmt.Sprintf("upload %d MiB: storage buffer mappedAtCreation, 8 goroutines", mib), p50, best, "")
	}
	for _, ring := range []struct{ chunk, k uint64 }{{4 << 20, 4}, {16 << 20, 4}, {32 << 20, 4}, {64 << 20, 2}} {
		if ring.chunk > size {
			continue
		}
		bufs := make([]*wgpu.Buffer, ring.k)
		for i := range bufs {
			bufs[i] = dev.CreateBufferMapped(ring.chunk, wgpu.UsageMapWrite|wgpu.UsageCopySrc)
		}
		mapped := make([]bool, ring.k)
		for i := range mapped {
			mapped[i] = true
		}
		p50, best := timeIt(samples, func() {
			for i, off := 0, uint64(0); off < size; i, off = i+1, off+ring.chunk {
				b := bufs[uint64(i)%ring.k]
				if !mapped[uint64(i)%ring.k] {
					if err := b.MapWrite(0, ring.chunk, time.Minute); err != nil {
						t.Fatal(err)
					}
				}
				m := min(ring.chunk, size-off)
				view, _ := b.MappedWritable(0, ring.chunk)
				pcopy(view[:m], host[off:off+m], 8)
				b.Unmap()
				mapped[uint64(i)%ring.k] = false
				tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(b, 0, dst, off, m) })
			}
			for i, b := range bufs {
				if !mapped[i] {
					if err := b.MapWrite(0, ring.chunk, time.Minute); err != nil {
						t.Fatal(err)
					}
					mapped[i] = true
				}
			}
		})
		verify("ring")
		report(fmt.Sprintf("upload %d MiB: ring of %d×%d MiB MapWrite staging, 8 goroutines", mib, ring.k, ring.chunk>>20), p50, best, "")
		for _, b := range bufs {
			b.Unmap()
			b.Release()
		}
	}

	// Read-backs.
	q.WriteBuffer(dst, 0, host)
	tr.wait()
	for _, w := range []int{1, 4, 8, 16} {
		var tDMA, tCopy time.Duration
		p50, best := timeIt(samples, func() {
			s := time.Now()
			tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(dst, 0, back, 0, size) })
			if err := back.MapRead(0, size, time.Minute); err != nil {
				t.Fatal(err)
			}
			s1 := time.Now()
			view, _ := back.Mapped(0, size)
			pcopy(got, view, w)
			back.Unmap()
			tDMA, tCopy = tDMA+s1.Sub(s), tCopy+time.Since(s1)
		})
		if !bytes.Equal(got, host) {
			t.Errorf("read-back: the bytes differ")
		}
		k := time.Duration(samples + 1)
		report(fmt.Sprintf("read-back %d MiB: resident MapRead, %d goroutines", mib, w), p50, best,
			fmt.Sprintf("(mean: copy+map %v, memcpy %v)", (tDMA/k).Round(time.Microsecond), (tCopy/k).Round(time.Microsecond)))
	}
	{
		clear(got)
		p50, best := timeIt(samples, func() {
			b := dev.CreateBuffer(size, wgpu.UsageMapRead|wgpu.UsageCopyDst)
			tr.submit(func(enc *wgpu.CommandEncoder) { enc.CopyBufferToBuffer(dst, 0, b, 0, size) })
			if err := b.MapRead(0, size, time.Minute); err != nil {
				t.Fatal(err)
			}
			view, _ := b.Mapped(0, size)
			pcopy(got, view, 8)
			b.Unmap()
			b.Release()
		})
		if !bytes.Equal(got, host) {
			t.Errorf("read-back: the bytes differ")
		}
		report(fmt.Sprintf("read-back %d MiB: fresh MapRead, 8 goroutines", mib), p50, best, "")
	}
	for _, ring := range []struct{ chunk, k uint64 }{{4 << 20, 4}, {16 << 20, 4}, {32 << 20, 4}, {64 << 20, 2}} {
		if ring.chunk > size {
			continue
		}
		bufs := make([]*wgpu.Buffer, ring.k)
		for i := range bufs {
			bufs[i] = dev.CreateBuffer(ring.chunk, wgpu.UsageMapRead|wgpu.UsageCopyDst)
		}
		clear(got)
		chunks := (size + ring.chunk - 1) / ring.chunk
		p50, best := timeIt(samples, func() {
			issue := func(i uint64) {
				off := i * ring.chunk
				tr.submit(func(enc *wgpu.CommandEncoder) {
					enc.CopyBufferToBuffer(dst, off, bufs[i%ring.k], 0, min(ring.chunk, size-off))
				})
			}
			for i := uint64(0); i < min(ring.k, chunks); i++ {
				issue(i)
			}
			for i := uint64(0); i < chunks; i++ {
				b := bufs[i%ring.k]
				off := i * ring.chunk
				m := min(ring.chunk, size-off)
				if err := b.MapRead(0, m, time.Minute); err != nil {
					t.Fatal(err)
				}
				view, _ := b.Mapped(0, m)
				pcopy(got[off:off+m], view, 8)
				b.Unmap()
				if i+ring.k < chunks {
					issue(i + ring.k)
				}
			}
		})
		if !bytes.Equal(got, host) {
			t.Errorf("ring read-back: the bytes differ")
		}
		report(fmt.Sprintf("read-back %d MiB: ring of %d×%d MiB MapRead, 8 goroutines", mib, ring.k, ring.chunk>>20), p50, best, "")
		for _, b := range bufs {
			b.Release()
		}
	}
	tr.check("transfers")
}

// TestTuneLibrary times the library's own paths: the transfer benchmarks
// with staging buffers of 8 to 64 MiB, saxpy with 10 and 50 dispatches per
// submission, and a saxpy job end to end (input up, output back).
func TestTuneLibrary(t *testing.T) {
	if os.Getenv("INOS_GPU_TUNE") != "1" {
		t.Skip("set INOS_GPU_TUNE=1 to time the library's paths")
	}
	l := open(t, gpu.Limits{})
	info := l.Info()
	t.Logf("device: %s (%s, %s)", info.Device, info.Type, info.Description)
	n, xfer := uint64(1<<20), uint64(16<<20)
	if info.Type == "DiscreteGPU" {
		n, xfer = 1<<26, 256<<20
	}
	p50 := func(r gpu.BenchResult) time.Duration {
		s := slices.Clone(r.Samples)
		slices.Sort(s)
		return s[len(s)/2]
	}
	old := gpu.SetRingChunk(l, 0)
	for _, chunk := range []uint64{8 << 20, 16 << 20, 32 << 20, 64 << 20} {
		gpu.SetRingChunk(l, chunk)
		up, err := l.BenchUpload(xfer, 10)
		if err != nil {
			t.Fatal(err)
		}
		down, err := l.BenchReadback(xfer, 10)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("staging %2d MiB: upload %d MiB p50 %-10v %6.2f GB/s; read-back p50 %-10v %6.2f GB/s", chunk>>20, xfer>>20,
			p50(up).Round(time.Microsecond), gbps(xfer, p50(up)), p50(down).Round(time.Microsecond), gbps(xfer, p50(down)))
	}
	gpu.SetRingChunk(l, old)
	for _, batch := range []int{10, 50} {
		r, err := l.BenchSaxpy(n, batch, 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("BenchSaxpy n=%d batch %d: p50 %v, %.1f GB/s (after a warm-up of %v)", n, batch, p50(r).Round(time.Microsecond),
			gbps(r.Bytes*uint64(batch), p50(r)), r.Warmup.Round(time.Millisecond))
	}
	// A saxpy job: 8·m bytes up, 4·m back.
	m := int(min(n, 1<<24))
	x := make([]float32, 2*m)
	for i := range x {
		x[i] = float32(i % 1000)
	}
	input := f32bytes(x)
	d, _ := timeIt(5, func() {
		out, err := call(t, l, "saxpy", `{"a":2}`, input, 4*m)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := f32s(out)[m-1], 2*x[m-1]+x[2*m-1]; got != want {
			t.Fatalf("saxpy job: out[%d] = %v, want %v", m-1, got, want)
		}
	})
	t.Logf("saxpy job n=%d (%d MiB up, %d MiB back): p50 %v, %.2f GB/s moved", m, 8*m>>20, 4*m>>20, d.Round(time.Microsecond), gbps(12*uint64(m), d))
}

// TestTuneSaxpyAB alternates, three times, the library's BenchSaxpy with
// the same kernel on a raw device, on the library's random data and on a
// periodic pattern; then the library's transfers with 16 and 32 MiB
// staging buffers, twice. (Run it with nvidia-smi logging beside: clocks,
// power and throttle reasons.)
func TestTuneSaxpyAB(t *testing.T) {
	if os.Getenv("INOS_GPU_TUNE") != "1" {
		t.Skip("set INOS_GPU_TUNE=1")
	}
	l := open(t, gpu.Limits{})
	info := l.Info()
	n, xfer := tuneSizes(info)
	t0 := time.Now()
	stamp := func() string {
		return fmt.Sprintf("[%s +%6.2fs]", time.Now().Format("15:04:05.000"), time.Since(t0).Seconds())
	}
	p50 := func(r gpu.BenchResult) time.Duration {
		s := slices.Clone(r.Samples)
		slices.Sort(s)
		return s[len(s)/2]
	}
	ad := rawAdapter(t, info.LibPath)
	dev, err := ad.RequestDevice("ab", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Release()
	tr := &tuneRig{t: t, dev: dev}
	q := dev.Queue()
	n4 := n / 4
	mk := func(random bool) *wgpu.Buffer {
		host := make([]byte, 32*n4)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := uint64(0); i < 8*n4; i++ {
			v := float32(i%1013)*0.01 - 5
			if random {
				v = rng.Float32()*2 - 1
			}
			binary.LittleEndian.PutUint32(host[4*i:], math.Float32bits(v))
		}
		b := dev.CreateBuffer(32*n4, wgpu.UsageStorage|wgpu.UsageCopyDst)
		for off := uint64(0); off < uint64(len(host)); off += 32 << 20 {
			q.WriteBuffer(b, off, host[off:min(off+32<<20, uint64(len(host)))])
		}
		tr.wait()
		return b
	}
	pattern, random := mk(false), mk(true)
	defer pattern.Release()
	defer random.Release()
	out := dev.CreateBuffer(16*n4, wgpu.UsageStorage|wgpu.UsageCopySrc)
	defer out.Release()
	groups := uint32(min((n4+255)/256, 65535))
	u := dev.CreateBuffer(16, wgpu.UsageUniform|wgpu.UsageCopyDst)
	defer u.Release()
	ub := make([]byte, 16)
	binary.LittleEndian.PutUint32(ub[0:], math.Float32bits(1.5))
	binary.LittleEndian.PutUint32(ub[4:], uint32(n4))
	binary.LittleEndian.PutUint32(ub[8:], groups*256)
	q.WriteBuffer(u, 0, ub)
	pipe := tr.pipeline(gpu.SaxpyWGSL)
	defer pipe.Release()
	layout := pipe.BindGroupLayout(0)
	defer layout.Release()
	raw := func(xy *wgpu.Buffer, what string) {
		g := dev.CreateBindGroup(layout, []wgpu.BufferBinding{{Binding: 0, Buffer: xy}, {Binding: 1, Buffer: out}, {Binding: 2, Buffer: u}})
		defer g.Release()
		d, best := timeIt(20, func() {
			tr.submit(func(enc *wgpu.CommandEncoder) {
				pass := enc.BeginComputePass()
				pass.SetPipeline(pipe)
				pass.SetBindGroup(0, g)
				for range 10 {
					pass.DispatchWorkgroups(groups, 1, 1)
				}
				pass.End()
				pass.Release()
			})
			tr.wait()
		})
		t.Logf("%s raw device, %-8s batch 10: p50 %-9v %7.1f GB/s (best %7.1f)", stamp(), what, d.Round(time.Microsecond), gbps(120*n, d), gbps(120*n, best))
	}
	for round := range 3 {
		r, err := l.BenchSaxpy(n, 10, 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s round %d: library BenchSaxpy batch 10: p50 %-9v %7.1f GB/s (warm-up %v)", stamp(), round, p50(r).Round(time.Microsecond),
			gbps(120*n, p50(r)), r.Warmup.Round(time.Millisecond))
		raw(random, "random")
		raw(pattern, "pattern")
	}
	old := gpu.SetRingChunk(l, 0)
	for round := range 2 {
		for _, chunk := range []uint64{16 << 20, 32 << 20} {
			gpu.SetRingChunk(l, chunk)
			up, err := l.BenchUpload(xfer, 10)
			if err != nil {
				t.Fatal(err)
			}
			down, err := l.BenchReadback(xfer, 10)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s round %d: staging %2d MiB: upload p50 %-9v %6.2f GB/s; read-back p50 %-9v %6.2f GB/s", stamp(), round, chunk>>20,
				p50(up).Round(time.Microsecond), gbps(xfer, p50(up)), p50(down).Round(time.Microsecond), gbps(xfer, p50(down)))
		}
	}
	gpu.SetRingChunk(l, old)
}
