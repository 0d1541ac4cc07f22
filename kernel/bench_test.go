package kernel_test

import (
	"context"
	"testing"
	"time"

	"github.com/inos-node/node/breaker"
	"github.com/inos-node/node/client"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/ops"
	"github.com/inos-node/node/shm"
)

// BenchmarkRoundTrip is one noop job, producer to node and back, with both
// sides spinning (node in a goroutine of this process; `inos bench ring`
// measures the cross-process path). "observed" runs the node with what
// `inos run` observes every job with: the HDR recorder, the Prometheus
// job metrics and the circuit breakers; the difference is their cost per
// job.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("bare", func(b *testing.B) { roundTrip(b, false) })
	b.Run("observed", func(b *testing.B) { roundTrip(b, true) })
}

func roundTrip(b *testing.B, observed bool) {
	name := regionName(b)
	cfg := smallConfig(name)
	cfg.Wait = shm.WaitPolicy{Spin: time.Millisecond, Park: 10 * time.Millisecond}
	if observed {
		reg, _ := kernel.NewRegistry(kernel.Echo{}, kernel.Noop{})
		ms := reg.Methods()
		brk := breaker.New(ms, breaker.Config{})
		cfg.Libraries = reg
		cfg.Observer = kernel.Observers{metrics.NewRecorder(ms), ops.NewJobMetrics(ms), brk}
		cfg.Gate = brk
	}
	startNode(b, cfg)
	c, err := client.Attach(name, client.Options{Wait: shm.WaitPolicy{Spin: time.Millisecond, Park: 10 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	job := client.Job{Library: "noop", Method: "noop"}
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Call(ctx, job)
		if err != nil || r.Err() != nil {
			b.Fatal(err, r.Err())
		}
	}
}
