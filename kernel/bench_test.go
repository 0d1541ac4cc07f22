package kernel_test

import (
	"context"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/shm"
)

// BenchmarkRoundTrip is one noop job, producer to node and back, with both
// sides spinning (node in a goroutine of this process; `inos bench ring`
// measures the cross-process path).
func BenchmarkRoundTrip(b *testing.B) {
	name := regionName(b)
	cfg := smallConfig(name)
	cfg.Wait = shm.WaitPolicy{Spin: time.Millisecond, Park: 10 * time.Millisecond}
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
