package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inos-node/node/arena"
)

var traceGens = []struct {
	name string
	gen  func(seed, arenaBytes uint64, fill float64, n int) *Trace
	// minMean is the least mean fill, as a fraction of the target, that
	// the generator is meant to hold: the realistic trace runs in steady
	// state near the target, the adversarial one swings by design.
	minMean float64
}{
	{"realistic", RealisticTrace, 0.75},
	{"adversarial", AdversarialTrace, 0.45},
}

// The same seed must give the same trace, op for op, or rows from two runs
// (and the three allocators within one run) would not be comparable.
func TestTracesDeterministic(t *testing.T) {
	for _, g := range traceGens {
		a := g.gen(7, 8<<20, 0.6, 20000)
		b := g.gen(7, 8<<20, 0.6, 20000)
		if !slices.Equal(a.Ops, b.Ops) || a.IDs != b.IDs || a.Target != b.Target {
			t.Errorf("%s: two traces from seed 7 differ", g.name)
		}
		c := g.gen(8, 8<<20, 0.6, 20000)
		if slices.Equal(a.Ops, c.Ops) {
			t.Errorf("%s: seeds 7 and 8 gave the same trace", g.name)
		}
	}
}

// perfectAccount replays a trace with a map and nothing else: the
// independent check on Trace.Account and on the generators.
func perfectAccount(t *testing.T, tr *Trace) (peak, mean uint64, allocs int) {
	t.Helper()
	live := map[uint32]uint64{}
	var cur uint64
	var sum float64
	warm := len(tr.Ops) / 100
	for i, op := range tr.Ops {
		switch op.Kind {
		case OpAlloc:
			if _, ok := live[op.ID]; ok {
				t.Fatalf("%s op %d: id %d allocated while live", tr.Name, i, op.ID)
			}
			g := (op.Size + 63) / 64 * 64
			live[op.ID] = g
			cur += g
			allocs++
		case OpFree:
			g, ok := live[op.ID]
			if !ok {
				t.Fatalf("%s op %d: free of id %d, not live", tr.Name, i, op.ID)
			}
			delete(live, op.ID)
			cur -= g
		}
		if cur > tr.Target {
			t.Fatalf("%s op %d: %d live bytes over the target %d", tr.Name, i, cur, tr.Target)
		}
		if len(live) > traceMaxLive {
			t.Fatalf("%s op %d: %d live allocations, over %d", tr.Name, i, len(live), traceMaxLive)
		}
		peak = max(peak, cur)
		if i >= warm {
			sum += float64(cur)
		}
	}
	return peak, uint64(sum / float64(len(tr.Ops)-warm)), allocs
}

// The traces must never ask a perfect allocator for more than the fill
// target, and must hold near it (not drift empty), across arena sizes from
// tiny (where size classes shrink) to the default.
func TestTracesRespectFill(t *testing.T) {
	cases := []struct {
		arena uint64
		ops   int
	}{{256 << 10, 20000}, {4 << 20, 50000}, {64 << 20, 100000}, {256 << 20, 200000}}
	for _, g := range traceGens {
		for _, c := range cases {
			tr := g.gen(1, c.arena, 0.6, c.ops)
			if len(tr.Ops) != c.ops {
				t.Errorf("%s %d B: %d ops, want %d", g.name, c.arena, len(tr.Ops), c.ops)
			}
			if want := traceTarget(c.arena, 0.6); tr.Target != want || tr.Target > c.arena {
				t.Fatalf("%s %d B: target %d, want %d", g.name, c.arena, tr.Target, want)
			}
			peak, mean, allocs := perfectAccount(t, tr)
			acc, err := tr.Account()
			if err != nil {
				t.Fatalf("%s %d B: Account: %v", g.name, c.arena, err)
			}
			if acc.PeakLive != peak || acc.MeanLive != mean || acc.Allocs != allocs {
				t.Errorf("%s %d B: Account says peak %d mean %d allocs %d; the map says %d %d %d",
					g.name, c.arena, acc.PeakLive, acc.MeanLive, acc.Allocs, peak, mean, allocs)
			}
			if f := float64(mean) / float64(tr.Target); f < g.minMean {
				t.Errorf("%s %d B: mean live %.2f of the target, want at least %.2f", g.name, c.arena, f, g.minMean)
			}
			if acc.Frees < allocs/3 {
				t.Errorf("%s %d B: %d frees for %d allocs: not a steady state", g.name, c.arena, acc.Frees, allocs)
			}
		}
	}
}

// The realistic trace must contain its three kinds of sizes, and the
// adversarial one only sizes just above 2^k or 3/4·2^k.
func TestTraceSizes(t *testing.T) {
	tr := RealisticTrace(3, 256<<20, 0.6, 200000)
	var env, crypto, image, n int
	for _, op := range tr.Ops {
		if op.Kind != OpAlloc {
			continue
		}
		n++
		switch {
		case op.Size >= 150 && op.Size <= 300:
			env++
		case op.Size >= 1<<10 && op.Size <= 64<<10:
			crypto++
		case op.Size >= 100<<10 && op.Size <= 10<<20:
			image++
		default:
			t.Fatalf("realistic: size %d is in no class", op.Size)
		}
	}
	if f := float64(env) / float64(n); f < 0.6 || f > 0.8 {
		t.Errorf("realistic: envelopes are %.2f of allocations, want about 0.7", f)
	}
	if crypto == 0 || image == 0 {
		t.Errorf("realistic: %d crypto payloads, %d images", crypto, image)
	}

	tr = AdversarialTrace(3, 64<<20, 0.6, 100000)
	for _, op := range tr.Ops {
		if op.Kind != OpAlloc {
			continue
		}
		ok := false
		for k := 6; k <= 20; k++ {
			q := uint64(3) << (k - 2)
			if op.Size == 1<<k+1 || op.Size > q && op.Size <= q+1<<(k-4) {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("adversarial: size %d is neither 2^k+1 nor just above 3/4·2^k", op.Size)
		}
	}
}

func TestAccountRejectsBadTraces(t *testing.T) {
	bad := []*Trace{
		{Name: "double free", Target: 1 << 20, IDs: 1, Ops: []Op{{OpAlloc, 0, 10}, {OpFree, 0, 0}, {OpFree, 0, 0}}},
		{Name: "over target", Target: 128, IDs: 2, Ops: []Op{{OpAlloc, 0, 64}, {OpAlloc, 1, 65}}},
		{Name: "zero size", Target: 128, IDs: 1, Ops: []Op{{OpAlloc, 0, 0}}},
		{Name: "id reuse", Target: 1 << 20, IDs: 1, Ops: []Op{{OpAlloc, 0, 10}, {OpFree, 0, 0}, {OpAlloc, 0, 10}}},
	}
	for _, tr := range bad {
		if _, err := tr.Account(); err == nil {
			t.Errorf("%s: Account accepted it", tr.Name)
		}
	}
}

// goheap needs no arena, so the replay loop is tested even while the arena
// is a stub.
func TestRunArenaGoHeap(t *testing.T) {
	var out bytes.Buffer
	rep := NewArenaReporter(&out, true)
	err := RunArena(context.Background(), ArenaOptions{ArenaBytes: 1 << 20, Ops: 5000, Seed: 1, Allocators: []string{"goheap"}}, rep)
	if err != nil {
		t.Fatal(err)
	}
	rows := rep.Rows()
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, r := range rows {
		if r.Ops != 5000 || r.FailedAllocs != 0 || r.EfficiencyMean != nil || r.ExtFragMean != nil {
			t.Errorf("%+v", r)
		}
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Errorf("%d JSON lines, want 2:\n%s", n, out.String())
	}
}

// RunArena on a tiny arena: one row per trace and allocator, with fields
// that make sense, as JSON lines and as a table.
func TestRunArenaTiny(t *testing.T) {
	var out bytes.Buffer
	rep := NewArenaReporter(&out, true)
	o := ArenaOptions{ArenaBytes: 1 << 20, Ops: 20000, Seed: 1}
	err := RunArena(context.Background(), o, rep)
	if errors.Is(err, arena.ErrNotSupported) {
		t.Skip("arena is still a stub (ErrNotSupported): nothing to measure yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	rows := rep.Rows()
	var got []string
	for _, r := range rows {
		got = append(got, r.Trace+"/"+r.Allocator)
	}
	want := []string{"realistic/arena", "realistic/buddy", "realistic/goheap", "adversarial/arena", "adversarial/buddy", "adversarial/goheap"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	frac := func(name string, v *float64) {
		t.Helper()
		if v == nil || *v < 0 || *v > 1 {
			t.Errorf("%s = %v, want a fraction", name, v)
		}
	}
	eff := map[string]float64{}
	for _, r := range rows {
		id := r.Trace + "/" + r.Allocator
		if r.Ops != 20000 || r.TraceOps != 20000 || r.Truncated {
			t.Errorf("%s: %d of %d ops (truncated %v)", id, r.Ops, r.TraceOps, r.Truncated)
		}
		if r.Allocs == 0 || r.FailedAllocs > r.Allocs || r.Frees > r.Allocs-r.FailedAllocs || r.FreeErrors != 0 {
			t.Errorf("%s: %d allocs, %d failed, %d frees, %d free errors", id, r.Allocs, r.FailedAllocs, r.Frees, r.FreeErrors)
		}
		if !(0 < r.AllocP50 && r.AllocP50 <= r.AllocP99 && r.AllocP99 <= r.AllocMax) ||
			!(0 < r.FreeP50 && r.FreeP50 <= r.FreeP99 && r.FreeP99 <= r.FreeMax) {
			t.Errorf("%s: latencies out of order: %+v", id, r)
		}
		if r.TraceFill <= 0 || r.TraceFill > 0.6 {
			t.Errorf("%s: trace fill %v", id, r.TraceFill)
		}
		if r.Allocator == "goheap" {
			if r.EfficiencyMin != nil || r.ExtFragMean != nil || r.Compactions != 0 {
				t.Errorf("%s: fragmentation figures for the Go heap", id)
			}
			continue
		}
		frac(id+" efficiency_min", r.EfficiencyMin)
		frac(id+" efficiency_mean", r.EfficiencyMean)
		frac(id+" ext_frag_mean", r.ExtFragMean)
		frac(id+" ext_frag_max", r.ExtFragMax)
		if *r.EfficiencyMin > *r.EfficiencyMean || *r.ExtFragMean > *r.ExtFragMax {
			t.Errorf("%s: min above mean or mean above max", id)
		}
		if len(r.ExtFragSeries) != arenaSeriesPoints || len(r.EfficiencySeries) != arenaSeriesPoints {
			t.Errorf("%s: series of %d and %d points", id, len(r.ExtFragSeries), len(r.EfficiencySeries))
		}
		if r.Allocator == "buddy" && (r.Compactions != 0 || r.BytesMoved != 0) {
			t.Errorf("%s: the baseline compacted", id)
		}
		eff[id] = *r.EfficiencyMean
	}
	// The reason the arena exists: on sizes just past a power of two the
	// buddy baseline wastes a third or more.
	if eff["adversarial/arena"] <= eff["adversarial/buddy"] {
		t.Errorf("adversarial: arena efficiency %.3f not above buddy's %.3f", eff["adversarial/arena"], eff["adversarial/buddy"])
	}

	// Every JSON line carries the fields consumers rely on.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d JSON lines, want %d", len(lines), len(want))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		for _, k := range []string{"trace", "allocator", "ops", "failed_allocs", "efficiency_min", "efficiency_mean",
			"ext_frag_mean", "ext_frag_max", "alloc_p50_ns", "alloc_p99_ns", "alloc_max_ns", "free_p50_ns",
			"free_p99_ns", "free_max_ns", "compactions", "bytes_moved"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON line lacks %q: %s", k, l)
			}
		}
	}

	// The same rows as a table.
	out.Reset()
	text := NewArenaReporter(&out, false)
	for _, r := range rows {
		text.Add(r)
	}
	text.Flush()
	for _, s := range []string{"allocator", "external fragmentation over the replay", "adversarial buddy", "first 1% of ops"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

// A replay that outlasts Duration stops and says so.
func TestRunArenaDurationCap(t *testing.T) {
	rep := NewArenaReporter(&bytes.Buffer{}, true)
	err := RunArena(context.Background(), ArenaOptions{ArenaBytes: 1 << 20, Ops: 20000, Duration: time.Nanosecond,
		Traces: []string{"realistic"}, Allocators: []string{"goheap"}}, rep)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Rows()[0]
	if !r.Truncated || r.Ops >= r.TraceOps || !strings.Contains(r.Note, "cut") {
		t.Errorf("not cut short: %+v", r)
	}
}
