//go:build webgpu

package gpu_test

import (
	"fmt"
	"math/bits"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/inos-node/node/gpu"
)

// TestBenchScenarios prints the figures of inos bench gpu's scenarios at
// their full sizes. It runs only with INOS_GPU_BENCH=1 (seconds on a GPU,
// about a minute on lavapipe):
//
//	INOS_GPU_BENCH=1 go test -tags webgpu -run BenchScenarios -v ./gpu/
func TestBenchScenarios(t *testing.T) {
	if os.Getenv("INOS_GPU_BENCH") != "1" {
		t.Skip("set INOS_GPU_BENCH=1 to run the full-size benchmark scenarios")
	}
	l := open(t, gpu.Limits{})
	info := l.Info()
	t.Logf("device: %s (%s, %s)", info.Device, info.Type, info.Description)
	report := func(name string, r gpu.BenchResult, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := slices.Clone(r.Samples)
		slices.Sort(s)
		p50, p99 := s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
		per := p50.Seconds() / float64(r.Batch)
		line := ""
		if r.Bytes > 0 {
			line += fmt.Sprintf(" %.2f GB/s", float64(r.Bytes)/per/1e9)
		}
		if r.Flops > 0 {
			line += fmt.Sprintf(" %.1f GFLOP/s", float64(r.Flops)/per/1e9)
		}
		t.Logf("%-28s p50 %-12v p99 %-12v (%d samples of %d)%s", name, p50, p99, len(s), r.Batch, line)
	}
	r, err := l.BenchDispatch(200)
	report("dispatch (empty kernel)", r, err)
	for _, size := range []uint64{1 << 20, 64 << 20} {
		r, err = l.BenchUpload(size, 10)
		report(fmt.Sprintf("upload %d MiB", size>>20), r, err)
		r, err = l.BenchReadback(size, 10)
		report(fmt.Sprintf("read-back %d MiB", size>>20), r, err)
	}
	n := uint64(1 << 24)
	if info.Type == "DiscreteGPU" {
		n = 1 << 26
	}
	r, err = l.BenchSaxpy(n, 20, 10)
	report(fmt.Sprintf("saxpy n=2^%d", bits.Len64(n)-1), r, err)
	start := time.Now()
	r, err = l.BenchMatmul(2048, 2048, 2048, 1, 3)
	report("matmul 2048³", r, err)
	t.Logf("matmul took %v", time.Since(start).Round(time.Millisecond))
}
