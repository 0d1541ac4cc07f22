package gpu

import (
	"fmt"
	"time"
)

// The benchmark API, for inos bench gpu. Each method runs on the library's
// device (one at a time with jobs), makes its own buffers and releases them,
// and returns one duration per sample, measured on the host from the first
// call of the sample to the end of the wait for its work: what a caller of
// the GPU sees. The figures (percentiles, GB/s, GFLOP/s) are the caller's,
// from the BenchResult's sizes. Kernels' results are checked against the
// CPU once per call (a few elements), so a device that computes nothing
// fails instead of looking fast.

// BenchResult is a benchmark's samples.
type BenchResult struct {
	// Samples are the durations of the samples, in order.
	Samples []time.Duration
	// Batch is the operations each sample ran (dispatches, or transfers).
	Batch int
	// Bytes is the bytes one operation moves: transferred (upload,
	// read-back), or read and written by a kernel (saxpy: 12 a element).
	Bytes uint64
	// Flops is the floating-point operations of one operation (matmul:
	// 2·m·n·k).
	Flops uint64
	// Warmup is how long the kernel ran untimed before the samples, for
	// the GPU's clocks to rise (saxpy, matmul; not on a CPU adapter).
	Warmup time.Duration
}

// benchTimeout bounds one sample.
const benchTimeout = 2 * time.Minute

func checkSamples(samples, batch int) error {
	if samples < 1 || batch < 1 {
		return fmt.Errorf("gpu: bench: samples (%d) and batch (%d) must be ≥ 1", samples, batch)
	}
	return nil
}

// BenchDispatch times the round trip of an empty kernel: encode one
// dispatch of one workgroup, submit it, wait until it is done. Batch is 1.
func (l *Library) BenchDispatch(samples int) (BenchResult, error) {
	if err := checkSamples(samples, 1); err != nil {
		return BenchResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng.benchDispatch(samples)
}

// BenchUpload times writing size bytes of host memory into a GPU buffer
// the way jobs write their inputs (through the library's staging buffers,
// transfer.go), then waiting for the queue. size is rounded up to a
// multiple of 4. The first sample's bytes are read back and compared.
func (l *Library) BenchUpload(size uint64, samples int) (BenchResult, error) {
	if err := checkSamples(samples, 1); err != nil {
		return BenchResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng.benchTransfer(align4(size), samples, true)
}

// BenchReadback times reading size bytes of a GPU buffer back into host
// memory the way jobs read their outputs: copies into the library's
// mappable staging buffers, the maps, the copies out of them.
func (l *Library) BenchReadback(size uint64, samples int) (BenchResult, error) {
	if err := checkSamples(samples, 1); err != nil {
		return BenchResult{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng.benchTransfer(align4(size), samples, false)
}

// BenchSaxpy times saxpy on n f32 elements resident on the device (x and y
// uploaded once): each sample submits batch dispatches at once and waits
// for them, after a warm-up (BenchResult.Warmup). Bytes is 12·n per
// dispatch (x, y read, the output written).
func (l *Library) BenchSaxpy(n uint64, batch, samples int) (BenchResult, error) {
	if err := checkSamples(samples, batch); err != nil {
		return BenchResult{}, err
	}
	if n == 0 {
		return BenchResult{}, fmt.Errorf("gpu: bench saxpy: n must be ≥ 1")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng.benchSaxpy(n, batch, samples)
}

// BenchMatmul times the matmul kernel on resident m×k and k×n matrices:
// each sample submits batch dispatches and waits, after a warm-up.
// Flops is 2·m·n·k.
func (l *Library) BenchMatmul(m, n, k uint32, batch, samples int) (BenchResult, error) {
	if err := checkSamples(samples, batch); err != nil {
		return BenchResult{}, err
	}
	if m == 0 || n == 0 || k == 0 || m > 65535*64 || n > 65535*64 {
		return BenchResult{}, fmt.Errorf("gpu: bench matmul: m, n, k must be ≥ 1 (m and n ≤ %d)", 65535*64)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.eng.benchMatmul(m, n, k, batch, samples)
}
