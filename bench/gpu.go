package bench

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/inos-node/node/gpu"
)

// GPUOptions configure RunGPU.
type GPUOptions struct {
	Quick bool
	// PeakGBps is the device's memory bandwidth, for saxpy's fraction of
	// it (default: 3350 for an NVIDIA H100's HBM3, 0 otherwise: unknown).
	PeakGBps float64
	// LinkGBps is the host link's bandwidth, for the transfers' fraction
	// of it (default: 63 for PCIe 5.0 x16 on an H100, 0 otherwise).
	LinkGBps float64
}

// GPURow is one measurement.
type GPURow struct {
	Scenario string  `json:"scenario"` // dispatch | upload | readback | saxpy | matmul
	Device   string  `json:"device"`   // the adapter, or "cpu" for the CPU path
	Path     string  `json:"path"`     // gpu | cpu
	Size     string  `json:"size"`     // what one operation is
	Count    int     `json:"count"`    // samples
	Batch    int     `json:"batch"`    // operations per sample
	P50      int64   `json:"p50_ns"`   // of one sample
	P99      int64   `json:"p99_ns"`
	GBps     float64 `json:"gbps,omitempty"`
	GFlops   float64 `json:"gflops,omitempty"`
	// OfPeak is GBps over the device's memory bandwidth (saxpy) or the
	// host link's (transfers), when known.
	OfPeak float64 `json:"of_peak,omitempty"`
	// VsCPU is the GPU row's rate (or, for dispatch, p50) over the CPU
	// path's in the same run.
	VsCPU float64 `json:"vs_cpu,omitempty"`
}

// GPUReporter prints GPU rows as JSON lines or a table.
type GPUReporter struct{ rowLog[GPURow] }

// NewGPUReporter writes to w, as JSON lines when asJSON is set.
func NewGPUReporter(w io.Writer, asJSON bool) *GPUReporter {
	return &GPUReporter{rowLog[GPURow]{w: w, json: asJSON}}
}

// Flush prints the table (text mode only).
func (p *GPUReporter) Flush() {
	if p.json {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tpath\tsize\tcount\tbatch\tp50\tp99\tGB/s\tGFLOP/s\tof peak\tvs cpu\t")
	for _, r := range p.rows {
		f := func(v float64, format string) string {
			if v == 0 {
				return ""
			}
			return fmt.Sprintf(format, v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Path, r.Size, r.Count, r.Batch,
			ns(r.P50), ns(r.P99), f(r.GBps, "%.1f"), f(r.GFlops, "%.1f"), f(r.OfPeak*100, "%.0f%%"), f(r.VsCPU, "%.2fx"))
	}
	tw.Flush()
}

// RunGPU measures the gpu library's device beside the CPU in the same run:
// the round trip of an empty kernel (against a goroutine hand-off), upload
// and read-back (against memmove), saxpy on resident buffers and matmul
// (against Go code on every core).
func RunGPU(l *gpu.Library, o GPUOptions, rep *GPUReporter) error {
	info := l.Info()
	dev := info.Device
	if dev == "" {
		dev = info.Description
	}
	if o.PeakGBps == 0 && o.LinkGBps == 0 && containsFold(dev, "H100") {
		o.PeakGBps, o.LinkGBps = 3350, 63
	}
	samples, xfer, saxN, mm := 50, uint64(256<<20), uint64(1<<26), 2048
	if o.Quick {
		samples, xfer, saxN, mm = 10, 64<<20, 1<<22, 512
	}
	cpuSaxN, cpuMM := saxN, mm
	if !containsFold(info.Type, "Discrete") {
		// A CPU device (lavapipe) shares the cores with the CPU path: keep
		// it to sizes that finish in seconds.
		saxN, mm = min(saxN, 1<<22), min(mm, 512)
		cpuSaxN, cpuMM = saxN, mm
	}
	add := func(r GPURow, res gpu.BenchResult) GPURow {
		r.Device, r.Path, r.Count, r.Batch = dev, "gpu", len(res.Samples), res.Batch
		r.P50, r.P99 = p50p99(res.Samples)
		if res.Bytes > 0 && r.P50 > 0 {
			r.GBps = float64(res.Bytes) * float64(res.Batch) / float64(r.P50)
		}
		if res.Flops > 0 && r.P50 > 0 {
			r.GFlops = float64(res.Flops) * float64(res.Batch) / float64(r.P50)
		}
		return r
	}
	cpuRow := func(scenario, size string, batch int, bytes, flops uint64, ds []time.Duration) GPURow {
		r := GPURow{Scenario: scenario, Device: "cpu", Path: "cpu", Size: size, Count: len(ds), Batch: batch}
		r.P50, r.P99 = p50p99(ds)
		if bytes > 0 {
			r.GBps = float64(bytes) * float64(batch) / float64(r.P50)
		}
		if flops > 0 {
			r.GFlops = float64(flops) * float64(batch) / float64(r.P50)
		}
		return r
	}

	// Dispatch round trip, beside handing work to a goroutine and back.
	res, err := l.BenchDispatch(samples * 10)
	if err != nil {
		return err
	}
	g := add(GPURow{Scenario: "dispatch", Size: "empty kernel"}, res)
	c := cpuRow("dispatch", "goroutine hand-off", 1, 0, 0, timeN(samples*10, handOff()))
	g.VsCPU = float64(g.P50) / float64(c.P50)
	rep.Add(g)
	rep.Add(c)

	// Upload and read-back, beside memmove of as many bytes.
	src, dst := make([]byte, xfer), make([]byte, xfer)
	for _, up := range []bool{true, false} {
		var res gpu.BenchResult
		name := "upload"
		if up {
			res, err = l.BenchUpload(xfer, samples)
		} else {
			name = "readback"
			res, err = l.BenchReadback(xfer, samples)
		}
		if err != nil {
			return err
		}
		g := add(GPURow{Scenario: name, Size: bytesStr(int(xfer))}, res)
		if o.LinkGBps > 0 {
			g.OfPeak = g.GBps / o.LinkGBps
		}
		c := cpuRow(name, "memmove "+bytesStr(int(xfer)), 1, xfer, 0, timeN(samples, func() { copy(dst, src) }))
		g.VsCPU = g.GBps / c.GBps
		rep.Add(g)
		rep.Add(c)
	}

	// saxpy on resident buffers.
	res, err = l.BenchSaxpy(saxN, 10, samples)
	if err != nil {
		return err
	}
	g = add(GPURow{Scenario: "saxpy", Size: fmt.Sprintf("n=%d", saxN)}, res)
	if o.PeakGBps > 0 {
		g.OfPeak = g.GBps / o.PeakGBps
	}
	x, y := make([]float32, cpuSaxN), make([]float32, cpuSaxN)
	for i := range x {
		x[i], y[i] = float32(i), 1
	}
	c = cpuRow("saxpy", fmt.Sprintf("n=%d, %d cores", cpuSaxN, runtime.NumCPU()), 1, 12*cpuSaxN, 0,
		timeN(max(samples/5, 3), func() { parallel(len(x), func(a, b int) { saxpy(2.5, x[a:b], y[a:b]) }) }))
	g.VsCPU = g.GBps / c.GBps
	rep.Add(g)
	rep.Add(c)

	// matmul.
	res, err = l.BenchMatmul(uint32(mm), uint32(mm), uint32(mm), 1, max(samples/5, 3))
	if err != nil {
		return err
	}
	g = add(GPURow{Scenario: "matmul", Size: fmt.Sprintf("%d³ f32", mm)}, res)
	a, b, cm := make([]float32, cpuMM*cpuMM), make([]float32, cpuMM*cpuMM), make([]float32, cpuMM*cpuMM)
	for i := range a {
		a[i], b[i] = float32(i%7), float32(i%5)
	}
	c = cpuRow("matmul", fmt.Sprintf("%d³ f32, %d cores", cpuMM, runtime.NumCPU()), 1, 0, 2*uint64(cpuMM)*uint64(cpuMM)*uint64(cpuMM),
		timeN(3, func() { matmul(cpuMM, a, b, cm) }))
	g.VsCPU = g.GFlops / c.GFlops
	rep.Add(g)
	rep.Add(c)
	return nil
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// p50p99 returns the samples' median and 99th percentile, from one
// histogram of them.
func p50p99(ds []time.Duration) (p50, p99 int64) {
	h := NewHistogram()
	for _, d := range ds {
		_ = h.RecordValue(int64(d))
	}
	return h.ValueAtQuantile(50), h.ValueAtQuantile(99)
}

func timeN(n int, f func()) []time.Duration {
	f() // warm
	ds := make([]time.Duration, n)
	for i := range ds {
		t0 := time.Now()
		f()
		ds[i] = time.Since(t0)
	}
	return ds
}

// handOff returns a function that hands a value to a waiting goroutine and
// waits for its answer: the CPU's counterpart of a dispatch round trip.
func handOff() func() {
	req, resp := make(chan int), make(chan int)
	go func() {
		for v := range req {
			resp <- v
		}
	}()
	return func() { req <- 1; <-resp }
}

// parallel runs f over [0, n) split across the cores.
func parallel(n int, f func(a, b int)) {
	k := runtime.NumCPU()
	var wg sync.WaitGroup
	for i := 0; i < k; i++ {
		a, b := n*i/k, n*(i+1)/k
		wg.Add(1)
		go func() { defer wg.Done(); f(a, b) }()
	}
	wg.Wait()
}

func saxpy(a float32, x, y []float32) {
	for i := range x {
		y[i] = a*x[i] + y[i]
	}
}

// matmul is C = A·B for n×n row-major matrices, blocked over rows on every
// core, the inner loop over B's row (cache friendly; the compiler
// vectorizes nothing, as Go does not).
func matmul(n int, a, b, c []float32) {
	parallel(n, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			ci := c[i*n : i*n+n]
			clear(ci)
			for k := 0; k < n; k++ {
				aik := a[i*n+k]
				bk := b[k*n : k*n+n]
				for j := range ci {
					ci[j] += aik * bk[j]
				}
			}
		}
	})
}
