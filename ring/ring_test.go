package ring

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/inos-node/node/shm"
)

func newRing(t testing.TB, capacity int) *Ring {
	t.Helper()
	mem := make([]byte, Size(capacity))
	r, err := Init(mem, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestInitRejectsBadCapacity(t *testing.T) {
	for _, c := range []int{0, 1, 3, 100, maxCap * 2} {
		if _, err := Init(make([]byte, Size(4)), c); err == nil {
			t.Errorf("capacity %d accepted", c)
		}
	}
	if _, err := Init(make([]byte, 10), 4); err == nil {
		t.Error("short memory accepted")
	}
}

func TestAttachChecksMagicAndCapacity(t *testing.T) {
	mem := make([]byte, Size(8))
	if _, err := Attach(mem); !errors.Is(err, ErrBadRing) {
		t.Fatalf("attach of zeroed memory: %v", err)
	}
	if _, err := Init(mem, 8); err != nil {
		t.Fatal(err)
	}
	if _, err := Attach(mem[:Size(4)]); !errors.Is(err, ErrBadRing) {
		t.Fatalf("attach of truncated ring: %v", err)
	}
	r, err := Attach(mem)
	if err != nil || r.Cap() != 8 {
		t.Fatalf("attach: %v cap %d", err, r.Cap())
	}
}

// TestModel runs random operations against a ring and a plain slice queue
// and checks they agree at every step.
func TestModel(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		capacity := 1 << (1 + rng.IntN(5))
		r := newRing(t, capacity)
		var model []Entry
		var next uint64
		for op := 0; op < 2000; op++ {
			switch rng.IntN(3) {
			case 0, 1:
				e := Entry{Off: next, Len: uint32(next), Aux: uint32(next >> 3), Tag: next * 7, Owner: uint16(next % 5)}
				err := r.TryPush(e.Owner, e)
				if len(model) == capacity {
					if !errors.Is(err, ErrFull) {
						t.Fatalf("seed %d op %d: push into full ring: %v", seed, op, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("seed %d op %d: push: %v", seed, op, err)
				}
				model = append(model, e)
				next++
			case 2:
				dst := make([]Entry, 1+rng.IntN(12))
				n, skipped := r.PopBatch(dst)
				want := min(len(dst), len(model))
				if n != want || skipped != 0 {
					t.Fatalf("seed %d op %d: popped %d (skipped %d), want %d", seed, op, n, skipped, want)
				}
				for i := 0; i < n; i++ {
					if dst[i] != model[i] {
						t.Fatalf("seed %d op %d: got %+v want %+v", seed, op, dst[i], model[i])
					}
				}
				model = model[n:]
			}
			if r.Len() != len(model) {
				t.Fatalf("seed %d op %d: Len %d, model %d", seed, op, r.Len(), len(model))
			}
			if r.Ready() != (len(model) > 0) {
				t.Fatalf("seed %d op %d: Ready %v with %d queued", seed, op, r.Ready(), len(model))
			}
		}
	}
}

func TestAbandonedClaimIsSkipped(t *testing.T) {
	r := newRing(t, 4)
	if err := r.TryPush(1, Entry{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	// Owner 2 claims the next slot and "dies" before publishing.
	tl := r.tail.Load()
	s := &r.slots[tl&r.mask]
	if !s.word.CompareAndSwap(word(tl, 0, stateFree), word(tl, 2, stateClaim)) {
		t.Fatal("claim failed")
	}
	if err := r.TryPush(3, Entry{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	dst := make([]Entry, 4)
	if n, _ := r.PopBatch(dst); n != 1 || dst[0].Tag != 1 {
		t.Fatalf("before recovery: popped %d %+v", n, dst[0])
	}
	if o, ok := r.Stalled(); !ok || o != 2 {
		t.Fatalf("Stalled = %d, %v", o, ok)
	}
	if n := r.Abandon(2); n != 1 {
		t.Fatalf("Abandon = %d", n)
	}
	n, skipped := r.PopBatch(dst)
	if n != 1 || skipped != 1 || dst[0].Tag != 3 || dst[0].Owner != 3 {
		t.Fatalf("after recovery: popped %d skipped %d %+v", n, skipped, dst[0])
	}
	// The ring keeps working for whole laps after the recovery.
	for i := 0; i < 10; i++ {
		if err := r.TryPush(1, Entry{Tag: uint64(i)}); err != nil {
			t.Fatal(err)
		}
		if n, _ := r.PopBatch(dst[:1]); n != 1 || dst[0].Tag != uint64(i) {
			t.Fatalf("lap %d: %d %+v", i, n, dst[0])
		}
	}
}

// TestHammer pushes from many goroutines (each blocking when full) while one
// consumer pops in batches: nothing lost, nothing duplicated, per-producer
// order kept.
func TestHammer(t *testing.T) {
	const producers, perProducer = 6, 20000
	r := newRing(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for p := 1; p <= producers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perProducer; i++ {
				e := Entry{Off: uint64(i), Tag: uint64(p)<<32 | uint64(i)}
				if err := r.Push(ctx, uint16(p), e, shm.WaitPolicy{Spin: time.Microsecond, Park: time.Millisecond}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]uint64, producers+1)
	dst := make([]Entry, 10)
	for got := 0; got < producers*perProducer; {
		if _, err := r.Wait(ctx, shm.WaitPolicy{Spin: 10 * time.Microsecond, Park: time.Millisecond}); err != nil {
			t.Fatalf("after %d entries: %v", got, err)
		}
		n, _ := r.PopBatch(dst)
		for _, e := range dst[:n] {
			p := e.Tag >> 32
			if uint16(p) != e.Owner || e.Off != next[p] || uint64(uint32(e.Tag)) != next[p] {
				t.Fatalf("producer %d: got %+v, want sequence %d", p, e, next[p])
			}
			next[p]++
		}
		got += n
	}
	wg.Wait()
	if n, _ := r.PopBatch(dst); n != 0 {
		t.Fatalf("%d extra entries", n)
	}
}

func BenchmarkPushPop(b *testing.B) {
	r := newRing(b, 1024)
	dst := make([]Entry, 10)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.TryPush(1, Entry{Off: 1})
		r.PopBatch(dst)
	}
}
