package sandbox

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/sandbox/internal/guesttest"
)

// hostileGuest is a Go reactor whose exports misbehave on purpose.
const hostileGuest = `package main

//go:wasmexport add
func add(a, b int32) int32 { return a + b }

//go:wasmexport work
func work(n int32) int64 {
	var s int64
	for i := int32(0); i < n; i++ {
		s = s*31 + int64(i)
	}
	return s
}

//go:wasmexport spin
func spin() {
	x := uint64(1)
	for x != 0 {
		x = x*6364136223846793005 + 1442695040888963407
	}
}

var keep [][]byte

//go:wasmexport grow
func grow() {
	for {
		keep = append(keep, make([]byte, 1<<20))
	}
}

//go:wasmexport boom
func boom() { panic("guest bug") }

func main() {}
`

func newPool(t *testing.T, pages uint32, lim Limits) *Pool {
	t.Helper()
	ctx := context.Background()
	e, err := NewEngine(ctx, "", pages)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	m, err := e.Load(ctx, "hostile", guesttest.Source(t, hostileGuest, guesttest.Reactor), lim)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.NewPool(ctx, m, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(ctx) })
	return p
}

// stillServes checks the pool answers a good call after a bad one.
func stillServes(t *testing.T, p *Pool) {
	t.Helper()
	r, err := p.Call(context.Background(), "add", 2, 3)
	if err != nil || r.Values[0] != 5 {
		t.Fatalf("after the failure, add(2,3) = %v, %v", r.Values, err)
	}
}

func TestCallsAndFuelDeterminism(t *testing.T) {
	p := newPool(t, 4096, ImageLimits())
	stillServes(t, p)
	var fuel []uint64
	for i := 0; i < 3; i++ {
		r, err := p.Call(context.Background(), "work", 3_000_000)
		if err != nil {
			t.Fatal(err)
		}
		fuel = append(fuel, r.FuelUsed)
	}
	if fuel[0] == 0 || fuel[0] != fuel[1] || fuel[1] != fuel[2] {
		t.Fatalf("fuel of the same call on three runs: %v", fuel)
	}
	if fuel[0] < FuelQuantum {
		t.Fatalf("work(3e6) used %d fuel, less than one quantum: the refill path was not exercised", fuel[0])
	}
	t.Logf("work(3e6): %d fuel on every run", fuel[0])
	if _, err := p.Call(context.Background(), "nope"); err == nil {
		t.Fatal("call of a missing export succeeded")
	}
}

func TestRunawayGuestStoppedAtItsTimeout(t *testing.T) {
	lim := ImageLimits()
	lim.Timeout = 50 * time.Millisecond
	p := newPool(t, 4096, lim)
	r, err := p.Call(context.Background(), "spin")
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("spin: %v", err)
	}
	if over := r.Elapsed - lim.Timeout; over > 10*time.Millisecond {
		t.Fatalf("stopped %v after its timeout, want within 10 ms", over)
	}
	t.Logf("%v (elapsed %v)", err, r.Elapsed)
	stillServes(t, p)
}

func TestOutOfFuel(t *testing.T) {
	lim := ImageLimits()
	lim.MaxFuel = 10_000
	p := newPool(t, 4096, lim)
	if _, err := p.Call(context.Background(), "work", 100_000_000); !errors.Is(err, ErrOutOfFuel) {
		t.Fatalf("work past its fuel: %v", err)
	}
	stillServes(t, p)
}

func TestMemoryLimitAndPanics(t *testing.T) {
	lim := ImageLimits()
	lim.MaxMemoryPages = 512 // 32 MiB
	p := newPool(t, 512, lim)
	_, err := p.Call(context.Background(), "grow")
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("guest growing without end: %v", err)
	}
	t.Log(err)
	stillServes(t, p)
	_, err = p.Call(context.Background(), "boom")
	if !errors.Is(err, ErrTrap) || !strings.Contains(err.Error(), "guest bug") {
		t.Fatalf("panicking guest: %v", err)
	}
	t.Log(err)
	stillServes(t, p)
}
