package kernel_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/shm"
)

// TestSoakKills SIGKILLs producer processes at random points of their work,
// INOS_SOAK_KILLS times (default 2000), and the node itself every 100th
// round, restarting it on the same region. After every round a fresh
// producer must get its jobs done and no slot may stay taken. It runs only
// under `make soak` (INOS_SOAK=1).
func TestSoakKills(t *testing.T) {
	if os.Getenv("INOS_SOAK") == "" {
		t.Skip("soak: run with make soak (INOS_SOAK=1)")
	}
	kills := envInt("INOS_SOAK_KILLS", 2000)
	name := regionName(t)
	node := spawn(t, "node", name)
	node.expect(t, "ready")
	start := time.Now()
	var nodeKills int
	for i := 1; i <= kills; i++ {
		victims := []*child{
			spawn(t, "producer", name, "INOS_JOBS=1000000", "INOS_DEPTH=32"),
			spawn(t, "claimer", name),
		}
		victims[0].expect(t, "ready")
		victims[1].expect(t, "claimed")
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		for _, v := range victims {
			v.kill()
			v.wait(t, 10*time.Second)
		}
		if i%100 == 0 {
			node.kill()
			node.wait(t, 10*time.Second)
			node = spawn(t, "node", name)
			node.expect(t, "ready")
			nodeKills++
		}
		// The node recovered: a new producer's jobs complete.
		c, err := client.Attach(name, client.Options{Wait: shm.WaitPolicy{Spin: 10 * time.Microsecond, Park: 5 * time.Millisecond}})
		if err != nil {
			t.Fatalf("round %d: attach: %v", i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for j := 0; j < 10; j++ {
			if r, err := c.Call(ctx, client.Job{Library: "noop", Method: "noop"}); err != nil || r.Err() != nil {
				t.Fatalf("round %d: job after the kills: %v %v", i, err, r.Err())
			}
		}
		cancel()
		c.Close()
		if i%500 == 0 {
			t.Logf("%d rounds (%d producer kills, %d node kills) in %v", i, 2*i, nodeKills, time.Since(start).Round(time.Second))
		}
	}
	// Every dead producer's slot comes back.
	r, err := shm.Attach(name, shm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	reg := r.Producers()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < reg.Len(); i++ {
		for reg.Info(i).State != shm.SlotFree && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if p := reg.Info(i); p.State != shm.SlotFree {
			t.Errorf("slot %d still taken after the soak: %+v", i, p)
		}
	}
	t.Logf("soak: %d rounds, %d producer processes SIGKILLed (half of them mid-claim), %d node SIGKILLs, in %v",
		kills, 2*kills, nodeKills, time.Since(start).Round(time.Second))
}
