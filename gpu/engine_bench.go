//go:build cgo

package gpu

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/inos-node/node/gpu/internal/wgpu"
)

// benchRig holds a benchmark's objects, released together.
type benchRig struct {
	e    *engine
	g    *generation
	objs []releaser
}

// bench runs f on the current generation, in error scopes (out of memory,
// validation), then releases what f made.
func (e *engine) bench(f func(r *benchRig) (BenchResult, error)) (res BenchResult, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g, err := e.current()
	if err != nil {
		return BenchResult{}, err
	}
	defer e.endJob(g)
	r := &benchRig{e: e, g: g}
	defer func() {
		for i := len(r.objs) - 1; i >= 0; i-- {
			r.objs[i].Release()
		}
	}()
	return f(r)
}

// buffer makes a buffer, reporting a validation or out-of-memory error.
func (r *benchRig) buffer(size uint64, usage wgpu.BufferUsage) (*wgpu.Buffer, error) {
	lim := r.e.devLim
	if usage&wgpu.UsageStorage != 0 && size > lim.MaxStorageBufferBindingSize || size > lim.MaxBufferSize {
		return nil, fmt.Errorf("gpu: bench: a buffer of %d bytes is over the device's limits (%d per storage binding, %d per buffer)",
			size, lim.MaxStorageBufferBindingSize, lim.MaxBufferSize)
	}
	dev := r.g.dev
	dev.PushErrorScope(wgpu.FilterOutOfMemory)
	dev.PushErrorScope(wgpu.FilterValidation)
	b := dev.CreateBuffer(size, usage)
	r.objs = append(r.objs, b)
	verr, err := dev.PopErrorScope(hostWait)
	oerr, err2 := dev.PopErrorScope(hostWait)
	if err == nil {
		err = err2
	}
	if err != nil {
		return nil, r.e.waitError(r.g, err, hostWait)
	}
	if verr != nil {
		return nil, verr
	}
	if oerr != nil {
		return nil, oerr
	}
	return b, nil
}

// pass records one compute pass of batch dispatches and submits it.
func (r *benchRig) submit(pipe *wgpu.ComputePipeline, group *wgpu.BindGroup, groups [3]uint32, batch int) {
	dev := r.g.dev
	enc := dev.CreateCommandEncoder()
	pass := enc.BeginComputePass()
	pass.SetPipeline(pipe)
	if group != nil {
		pass.SetBindGroup(0, group)
	}
	for range batch {
		pass.DispatchWorkgroups(groups[0], groups[1], groups[2])
	}
	pass.End()
	cb := enc.Finish()
	dev.Queue().Submit(cb)
	cb.Release()
	pass.Release()
	enc.Release()
}

// The warm-up before a kernel's samples. NVIDIA's driver lowers the SM
// clock when the GPU idles (345 MHz) and raises it only under sustained
// load; saxpy on a GPU at 400–615 MHz reached 1.74 TB/s, at 1980 MHz 3.95
// TB/s (H200; the same 50% → 86% on the H100, NOTES.md). The samples are
// the steady state: the warm-up repeats the sample's work, untimed, for at
// least warmMin, then until no sample has been 2% faster than the best for
// warmStable, at most warmMax. Not on a CPU adapter (lavapipe).
const (
	warmMin    = time.Second
	warmStable = 250 * time.Millisecond
	warmMax    = 4 * time.Second
)

// timeSamples warms the GPU up with work (submitted, then waited for),
// then times samples of it into res.
func (r *benchRig) timeSamples(res *BenchResult, samples int, work func()) error {
	start := time.Now()
	if r.e.info.Type != wgpu.AdapterCPU.String() {
		best, improved := time.Duration(math.MaxInt64), start
		for {
			t := time.Now()
			work()
			if err := r.wait(); err != nil {
				return err
			}
			d := time.Since(t)
			if d < best*98/100 {
				improved = time.Now()
			}
			best = min(best, d)
			if el := time.Since(start); el >= warmMax || el >= warmMin && time.Since(improved) >= warmStable {
				break
			}
		}
	}
	res.Warmup = time.Since(start)
	for range samples {
		t := time.Now()
		work()
		if err := r.wait(); err != nil {
			return err
		}
		res.Samples = append(res.Samples, time.Since(t))
	}
	return nil
}

// wait waits for the queue, a timeout abandoning the device.
func (r *benchRig) wait() error {
	if err := r.g.dev.Queue().WorkDone(benchTimeout); err != nil {
		return r.e.waitError(r.g, err, benchTimeout)
	}
	return nil
}

// xfer is the benchmark's transfer context (transfer.go).
func (r *benchRig) xfer() *xfer {
	return &xfer{e: r.e, g: r.g, deadline: time.Now().Add(benchTimeout), timeout: benchTimeout}
}

// write uploads data into dst through the library's upload path.
func (r *benchRig) write(dst *wgpu.Buffer, data []byte) error {
	return r.xfer().upload([]segment{{dst: dst, data: data}})
}

// read copies len(dst) bytes of src into host memory through the library's
// read-back path.
func (r *benchRig) read(src *wgpu.Buffer, dst []byte) error {
	return r.xfer().download(src, dst, nil, nil)
}

// bindGroup makes the bind group of a built-in kernel's buffers.
func (r *benchRig) bindGroup(pipe *wgpu.ComputePipeline, bufs ...*wgpu.Buffer) *wgpu.BindGroup {
	layout := pipe.BindGroupLayout(0)
	r.objs = append(r.objs, layout)
	entries := make([]wgpu.BufferBinding, len(bufs))
	for i, b := range bufs {
		entries[i] = wgpu.BufferBinding{Binding: uint32(i), Buffer: b}
	}
	g := r.g.dev.CreateBindGroup(layout, entries)
	r.objs = append(r.objs, g)
	return g
}

func (r *benchRig) uniform(words ...uint32) (*wgpu.Buffer, error) {
	u, err := r.buffer(16, wgpu.UsageUniform|wgpu.UsageCopyDst)
	if err != nil {
		return nil, err
	}
	data := make([]byte, 16)
	for i, w := range words {
		binary.LittleEndian.PutUint32(data[4*i:], w)
	}
	r.g.dev.Queue().WriteBuffer(u, 0, data)
	return u, nil
}

func (e *engine) benchDispatch(samples int) (BenchResult, error) {
	return e.bench(func(r *benchRig) (BenchResult, error) {
		pipe, err := r.g.pipeline("empty")
		if err != nil {
			return BenchResult{}, err
		}
		res := BenchResult{Batch: 1}
		for range samples {
			start := time.Now()
			r.submit(pipe, nil, [3]uint32{1, 1, 1}, 1)
			if err := r.wait(); err != nil {
				return BenchResult{}, err
			}
			res.Samples = append(res.Samples, time.Since(start))
		}
		return res, nil
	})
}

func (e *engine) benchTransfer(size uint64, samples int, upload bool) (BenchResult, error) {
	return e.bench(func(r *benchRig) (BenchResult, error) {
		buf, err := r.buffer(size, wgpu.UsageStorage|wgpu.UsageCopyDst|wgpu.UsageCopySrc)
		if err != nil {
			return BenchResult{}, err
		}
		host := make([]byte, size)
		for i := uint64(0); i < size; i += 4 {
			// A different word at every offset: a misplaced chunk shows.
			binary.LittleEndian.PutUint32(host[i:], uint32(i/4)*2654435761+12345)
		}
		res := BenchResult{Batch: 1, Bytes: size}
		if upload {
			for i := range samples {
				start := time.Now()
				if err := r.write(buf, host); err != nil {
					return BenchResult{}, err
				}
				if err := r.wait(); err != nil {
					return BenchResult{}, err
				}
				res.Samples = append(res.Samples, time.Since(start))
				if i == 0 {
					got := make([]byte, size)
					if err := r.read(buf, got); err != nil {
						return BenchResult{}, err
					}
					if string(got) != string(host) {
						return BenchResult{}, fmt.Errorf("gpu: bench upload: the bytes read back differ from those written")
					}
				}
			}
			return res, nil
		}
		if err := r.write(buf, host); err != nil {
			return BenchResult{}, err
		}
		got := make([]byte, size)
		for i := range samples {
			start := time.Now()
			if err := r.read(buf, got); err != nil {
				return BenchResult{}, err
			}
			res.Samples = append(res.Samples, time.Since(start))
			if i == 0 && string(got) != string(host) {
				return BenchResult{}, fmt.Errorf("gpu: bench read-back: the bytes read back differ from those written")
			}
		}
		return res, nil
	})
}

func (e *engine) benchSaxpy(n uint64, batch, samples int) (BenchResult, error) {
	return e.bench(func(r *benchRig) (BenchResult, error) {
		pipe, err := r.g.pipeline("saxpy")
		if err != nil {
			return BenchResult{}, err
		}
		n4 := (n + 3) / 4
		xy, err := r.buffer(32*n4, wgpu.UsageStorage|wgpu.UsageCopyDst)
		if err != nil {
			return BenchResult{}, err
		}
		out, err := r.buffer(16*n4, wgpu.UsageStorage|wgpu.UsageCopySrc)
		if err != nil {
			return BenchResult{}, err
		}
		const a = 1.5
		rng := rand.New(rand.NewPCG(1, 2))
		host := make([]byte, 32*n4)
		for i := uint64(0); i < 8*n4; i++ {
			binary.LittleEndian.PutUint32(host[4*i:], math.Float32bits(rng.Float32()*2-1))
		}
		if err := r.write(xy, host); err != nil {
			return BenchResult{}, err
		}
		groups := uint32(min((n4+255)/256, 65535))
		u, err := r.uniform(math.Float32bits(a), uint32(n4), groups*256)
		if err != nil {
			return BenchResult{}, err
		}
		group := r.bindGroup(pipe, xy, out, u)
		res := BenchResult{Batch: batch, Bytes: 12 * n}
		if err := r.timeSamples(&res, samples, func() { r.submit(pipe, group, [3]uint32{groups, 1, 1}, batch) }); err != nil {
			return BenchResult{}, err
		}
		// Check the result.
		got := make([]byte, 16*n4)
		if err := r.read(out, got); err != nil {
			return BenchResult{}, err
		}
		f := func(b []byte, i uint64) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])) }
		for _, i := range []uint64{0, n / 3, n / 2, n - 1} {
			want := a*f(host, i) + f(host, 4*n4+i)
			if d := math.Abs(float64(f(got, i) - want)); d > 1e-5 {
				return BenchResult{}, fmt.Errorf("gpu: bench saxpy: out[%d] = %v, want %v", i, f(got, i), want)
			}
		}
		return res, nil
	})
}

func (e *engine) benchMatmul(m, n, k uint32, batch, samples int) (BenchResult, error) {
	return e.bench(func(r *benchRig) (BenchResult, error) {
		pipe, err := r.g.pipeline("matmul")
		if err != nil {
			return BenchResult{}, err
		}
		M, N, K := uint64(m), uint64(n), uint64(k)
		ab, err := r.buffer(4*M*K, wgpu.UsageStorage|wgpu.UsageCopyDst)
		if err != nil {
			return BenchResult{}, err
		}
		bb, err := r.buffer(4*K*N, wgpu.UsageStorage|wgpu.UsageCopyDst)
		if err != nil {
			return BenchResult{}, err
		}
		cb, err := r.buffer(4*M*N, wgpu.UsageStorage|wgpu.UsageCopySrc)
		if err != nil {
			return BenchResult{}, err
		}
		rng := rand.New(rand.NewPCG(3, 4))
		fill := func(elems uint64) []byte {
			b := make([]byte, 4*elems)
			for i := uint64(0); i < elems; i++ {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(rng.Float32()*2-1))
			}
			return b
		}
		a, b := fill(M*K), fill(K*N)
		if err := r.write(ab, a); err != nil {
			return BenchResult{}, err
		}
		if err := r.write(bb, b); err != nil {
			return BenchResult{}, err
		}
		u, err := r.uniform(m, n, k)
		if err != nil {
			return BenchResult{}, err
		}
		group := r.bindGroup(pipe, ab, bb, cb, u)
		groups := [3]uint32{uint32((N + 63) / 64), uint32((M + 63) / 64), 1}
		res := BenchResult{Batch: batch, Flops: 2 * M * N * K}
		if err := r.timeSamples(&res, samples, func() { r.submit(pipe, group, groups, batch) }); err != nil {
			return BenchResult{}, err
		}
		got := make([]byte, 4*M*N)
		if err := r.read(cb, got); err != nil {
			return BenchResult{}, err
		}
		f := func(b []byte, i uint64) float64 {
			return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
		for _, ij := range [][2]uint64{{0, 0}, {M - 1, N - 1}, {M / 2, N / 3}} {
			var want, mag float64
			for p := uint64(0); p < K; p++ {
				x := f(a, ij[0]*K+p) * f(b, p*N+ij[1])
				want += x
				mag += math.Abs(x)
			}
			if d := math.Abs(f(got, ij[0]*N+ij[1]) - want); d > 1e-4*mag+1e-6 {
				return BenchResult{}, fmt.Errorf("gpu: bench matmul: C[%d][%d] = %v, want %v", ij[0], ij[1], f(got, ij[0]*N+ij[1]), want)
			}
		}
		return res, nil
	})
}
