package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/inos-node/node/arena"
)

// ArenaOptions configure RunArena.
type ArenaOptions struct {
	// Quick shrinks the run so that it finishes in seconds: a 64 MiB arena,
	// 100 000 ops per trace and a 5 s cap per replay, unless set otherwise.
	Quick bool
	// Duration caps one replay of one trace on one allocator; a replay cut
	// short reports the ops it did and truncated. Default 2 min (quick 5 s).
	Duration time.Duration
	// ArenaBytes is the arena's data size, rounded down to a multiple of 64;
	// default 256 MiB (quick 64 MiB).
	ArenaBytes uint64
	// Ops is the length of each trace; default 1 000 000 (quick 100 000).
	Ops int
	// Seed names the traces; the same seed gives the same traces.
	Seed uint64
	// Fill is the traces' cap on live bytes as a fraction of ArenaBytes;
	// default 0.6: room for rounding and fragmentation to matter without a
	// perfect allocator ever running out.
	Fill float64
	// StatsEvery samples Stats after every StatsEvery-th op that changes
	// the live bytes; default 1, every such op. Stats is timed and its cost
	// reported, so a caller can tell whether sampling more sparsely is
	// needed.
	StatsEvery int
	// CompactBudget is the most bytes one Compact call may move; default
	// 64 MiB, so that one call costs milliseconds, not a stall.
	CompactBudget uint64
	// Traces and Allocators to run; default all: realistic and adversarial,
	// arena, buddy and goheap.
	Traces, Allocators []string
}

func (o ArenaOptions) withDefaults() ArenaOptions {
	if o.ArenaBytes == 0 {
		o.ArenaBytes = 256 << 20
		if o.Quick {
			o.ArenaBytes = 64 << 20
		}
	}
	o.ArenaBytes &^= arena.Granule - 1
	if o.Ops <= 0 {
		o.Ops = 1_000_000
		if o.Quick {
			o.Ops = 100_000
		}
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Minute
		if o.Quick {
			o.Duration = 5 * time.Second
		}
	}
	if o.Fill <= 0 {
		o.Fill = 0.6
	}
	if o.StatsEvery <= 0 {
		o.StatsEvery = 1
	}
	if o.CompactBudget == 0 {
		o.CompactBudget = 64 << 20
	}
	if len(o.Traces) == 0 {
		o.Traces = []string{"realistic", "adversarial"}
	}
	if len(o.Allocators) == 0 {
		o.Allocators = []string{"arena", "buddy", "goheap"}
	}
	return o
}

// arenaCompactEvery is how often, in ops, the arena replay asks
// NeedsCompaction: often enough to catch fragmentation within a few
// thousand allocations, rarely enough that the check costs nothing.
const arenaCompactEvery = 1000

// arenaSeriesPoints is the number of points in the fragmentation-over-time
// series.
const arenaSeriesPoints = 20

// ArenaRow is one trace replayed on one allocator. Fractions are 0..1.
// Efficiency and fragmentation are nil for goheap, which has no such
// statistics; they skip the first 1% of ops, while the arena is nearly
// empty and both would flatter every allocator.
type ArenaRow struct {
	Trace     string `json:"trace"`
	Allocator string `json:"allocator"`
	// ArenaBytes and Seed name the trace; TraceOps is its length, Ops the
	// ops replayed (fewer when truncated by the duration cap).
	ArenaBytes uint64 `json:"arena_bytes"`
	Seed       uint64 `json:"seed"`
	TraceOps   int    `json:"trace_ops"`
	Ops        int    `json:"ops"`
	Truncated  bool   `json:"truncated,omitempty"`
	// TraceFill is the trace's mean live bytes, granule-rounded, over the
	// arena size: what a perfect allocator would hold.
	TraceFill    float64 `json:"trace_fill_mean"`
	Allocs       int     `json:"allocs"`
	FailedAllocs int     `json:"failed_allocs"`
	// NoHandles counts failed allocations that were ErrNoHandles rather
	// than ErrNoSpace (included in FailedAllocs).
	NoHandles  int `json:"no_handles,omitempty"`
	Frees      int `json:"frees"`
	FreeErrors int `json:"free_errors,omitempty"`

	EfficiencyMin  *float64 `json:"efficiency_min"`
	EfficiencyMean *float64 `json:"efficiency_mean"`
	ExtFragMin     *float64 `json:"ext_frag_min"`
	ExtFragMean    *float64 `json:"ext_frag_mean"`
	ExtFragMax     *float64 `json:"ext_frag_max"`
	// The series are means over 20 equal slices of the replay, warm-up
	// included.
	ExtFragSeries    []float64 `json:"ext_frag_series,omitempty"`
	EfficiencySeries []float64 `json:"efficiency_series,omitempty"`

	AllocP50 int64 `json:"alloc_p50_ns"`
	AllocP99 int64 `json:"alloc_p99_ns"`
	AllocMax int64 `json:"alloc_max_ns"`
	// FailedAllocMax is the slowest failed allocation: failing may search
	// every free list.
	FailedAllocMax int64 `json:"failed_alloc_max_ns,omitempty"`
	FreeP50        int64 `json:"free_p50_ns"`
	FreeP99        int64 `json:"free_p99_ns"`
	FreeMax        int64 `json:"free_max_ns"`

	// Compactions is Stats().Compactions at the end (blocks moved),
	// BytesMoved likewise; CompactCalls is how many times the replay
	// called Compact, CompactMax the slowest call.
	Compactions  uint64 `json:"compactions"`
	BytesMoved   uint64 `json:"bytes_moved"`
	CompactCalls int    `json:"compact_calls,omitempty"`
	// CompactBudget is the most bytes one Compact call may move.
	CompactBudget uint64 `json:"compact_budget,omitempty"`
	CompactP50    int64  `json:"compact_p50_ns,omitempty"`
	CompactMax    int64  `json:"compact_max_ns,omitempty"`
	// CompactTotal is the time spent in Compact over the replay, to set
	// beside the allocation latencies it is kept out of.
	CompactTotal int64  `json:"compact_total_ns,omitempty"`
	QuickHits    uint64 `json:"quick_hits,omitempty"`

	// StatsEvery and StatsMean say how efficiency was sampled: after every
	// StatsEvery-th op that changed live bytes, each Stats call costing
	// StatsMean on average (not counted in any latency above).
	StatsEvery int   `json:"stats_every,omitempty"`
	StatsMean  int64 `json:"stats_mean_ns,omitempty"`
	StatsMax   int64 `json:"stats_max_ns,omitempty"`
	// TimerP50 is the cost of an empty timed region: the floor under every
	// latency in the row.
	TimerP50 int64   `json:"timer_p50_ns"`
	ElapsedS float64 `json:"elapsed_s"`
	Note     string  `json:"note,omitempty"`
}

// ArenaReporter prints arena rows as they come, as JSON lines or, at Flush,
// as a table with the fragmentation series.
type ArenaReporter struct{ rowLog[ArenaRow] }

// NewArenaReporter writes to w, as JSON lines when asJSON is set.
func NewArenaReporter(w io.Writer, asJSON bool) *ArenaReporter {
	return &ArenaReporter{rowLog[ArenaRow]{w: w, json: asJSON}}
}

// RunArena replays each trace against the arena, the same arena as a plain
// power-of-two buddy allocator (the baseline it must beat on efficiency) and
// Go's heap (a latency reference only: the garbage collector has no
// fragmentation to report), and reports one row per trace and allocator.
// An allocator that runs out of space fails that allocation and goes on; a
// failure is counted, never fatal. An error from the arena other than
// ErrNoSpace or ErrNoHandles ends the run; it wraps the arena's error, so
// callers can test it for arena.ErrNotSupported.
func RunArena(ctx context.Context, o ArenaOptions, rep *ArenaReporter) error {
	o = o.withDefaults()
	floor := timerFloor()
	for _, name := range o.Traces {
		var tr *Trace
		switch name {
		case "realistic":
			tr = RealisticTrace(o.Seed, o.ArenaBytes, o.Fill, o.Ops)
		case "adversarial":
			tr = AdversarialTrace(o.Seed, o.ArenaBytes, o.Fill, o.Ops)
		default:
			return fmt.Errorf("bench: unknown trace %q (want realistic or adversarial)", name)
		}
		acc, err := tr.Account()
		if err != nil {
			return fmt.Errorf("bench: %s trace is invalid: %w", name, err)
		}
		for _, alloc := range o.Allocators {
			if err := ctx.Err(); err != nil {
				return err
			}
			row, err := replay(ctx, tr, alloc, o)
			if err != nil {
				return fmt.Errorf("bench: %s trace on %s: %w", name, alloc, err)
			}
			row.TraceFill = float64(acc.MeanLive) / float64(o.ArenaBytes)
			row.TimerP50 = floor
			rep.Add(row)
		}
	}
	return nil
}

// timerFloor is the median of an empty region timed the way every op is.
func timerFloor() int64 {
	h := NewHistogram()
	for range 10000 {
		t0 := time.Now()
		_ = h.RecordValue(int64(time.Since(t0)))
	}
	return h.ValueAtQuantile(50)
}

// replayTarget is one allocator under test. Allocation ids are the trace's.
type replayTarget interface {
	alloc(id uint32, n uint64) error
	free(id uint32) error
	// stats reports false where the allocator has none (goheap).
	stats() (arena.Stats, bool)
	// maybeCompact compacts if the allocator wants it and says whether it
	// did.
	maybeCompact(budget uint64) bool
}

type arenaTarget struct {
	a       *arena.Arena
	handles []arena.Handle
	compact bool
}

func newArenaTarget(tr *Trace, cfg arena.Config) (*arenaTarget, error) {
	n, err := arena.MetaSize(cfg)
	if err != nil {
		return nil, err
	}
	// make([]byte) of this size is at least 8-byte aligned, as Init needs.
	meta := make([]byte, n)
	data := make([]byte, cfg.Size)
	// Touch every page now, so that the first compactions do not pay the
	// kernel's page faults in the middle of the measurement.
	for i := 0; i < len(data); i += 4096 {
		data[i] = 1
	}
	a, err := arena.Init(meta, data, cfg)
	if err != nil {
		return nil, err
	}
	return &arenaTarget{a: a, handles: make([]arena.Handle, tr.IDs), compact: !cfg.Plain}, nil
}

func (t *arenaTarget) alloc(id uint32, n uint64) error {
	h, _, err := t.a.Alloc(arena.NodeOwner, n)
	t.handles[id] = h
	return err
}

func (t *arenaTarget) free(id uint32) error { return t.a.Free(arena.NodeOwner, t.handles[id]) }

func (t *arenaTarget) stats() (arena.Stats, bool) { return t.a.Stats(), true }

func (t *arenaTarget) maybeCompact(budget uint64) bool {
	if !t.compact || !t.a.NeedsCompaction() {
		return false
	}
	t.a.Compact(budget)
	return true
}

// heapTarget allocates with make and frees by dropping the reference: what
// a node without an arena would do, paying in garbage collection instead.
type heapTarget struct{ bufs [][]byte }

func (t *heapTarget) alloc(id uint32, n uint64) error {
	t.bufs[id] = make([]byte, n)
	return nil
}

func (t *heapTarget) free(id uint32) error {
	t.bufs[id] = nil
	return nil
}

func (t *heapTarget) stats() (arena.Stats, bool) { return arena.Stats{}, false }
func (t *heapTarget) maybeCompact(uint64) bool   { return false }

// sampler accumulates one fraction's min, mean and max after the warm-up,
// and its per-slice means over the whole replay.
type sampler struct {
	min, max, sum float64
	n             int
	slice         [arenaSeriesPoints]struct {
		sum float64
		n   int
	}
}

func newSampler() *sampler { return &sampler{min: math.Inf(1), max: math.Inf(-1)} }

func (s *sampler) add(v float64, op, ops int, warm bool) {
	if math.IsNaN(v) {
		return
	}
	i := min(op*arenaSeriesPoints/max(ops, 1), arenaSeriesPoints-1)
	s.slice[i].sum += v
	s.slice[i].n++
	if warm {
		return
	}
	s.min, s.max = min(s.min, v), max(s.max, v)
	s.sum += v
	s.n++
}

func (s *sampler) result() (lo, mean, hi *float64, series []float64) {
	if s.n == 0 {
		return nil, nil, nil, nil
	}
	r := func(v float64) *float64 { v = round4(v); return &v }
	series = make([]float64, arenaSeriesPoints)
	last := 0.0
	for i, sl := range s.slice {
		if sl.n > 0 {
			last = sl.sum / float64(sl.n)
		}
		series[i] = round4(last)
	}
	return r(s.min), r(s.sum / float64(s.n)), r(s.max), series
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// replay runs tr on one allocator.
func replay(ctx context.Context, tr *Trace, name string, o ArenaOptions) (ArenaRow, error) {
	row := ArenaRow{Trace: tr.Name, Allocator: name, ArenaBytes: o.ArenaBytes, Seed: o.Seed, TraceOps: len(tr.Ops)}
	var t replayTarget
	switch name {
	case "arena", "buddy":
		at, err := newArenaTarget(tr, arena.Config{Size: o.ArenaBytes, Plain: name == "buddy"})
		if err != nil {
			return row, err
		}
		t = at
		row.StatsEvery = o.StatsEvery
		if name == "arena" {
			row.CompactBudget = o.CompactBudget
		}
	case "goheap":
		t = &heapTarget{bufs: make([][]byte, tr.IDs)}
	default:
		return row, fmt.Errorf("unknown allocator %q (want arena, buddy or goheap)", name)
	}
	// Start every replay from a collected heap, so that one replay's
	// garbage is not collected during the next one's measurement.
	runtime.GC()
	allocH, freeH, failH, compactH, statsH := NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()
	eff, ext := newSampler(), newSampler()
	ok := make([]bool, tr.IDs) // allocations that succeeded
	warmUp := len(tr.Ops) / 100
	changes := 0
	start := time.Now()
	var firstFreeErr error
	var compactTotal int64
	ops := 0
	for i, op := range tr.Ops {
		if i%1024 == 0 && i > 0 {
			if err := ctx.Err(); err != nil {
				return row, err
			}
			if time.Since(start) > o.Duration {
				row.Truncated = true
				break
			}
		}
		if i%arenaCompactEvery == 0 && i > 0 {
			t0 := time.Now()
			if t.maybeCompact(o.CompactBudget) {
				d := int64(time.Since(t0))
				_ = compactH.RecordValue(d)
				compactTotal += d
			}
		}
		ops++
		changed := false
		switch op.Kind {
		case OpAlloc:
			t0 := time.Now()
			err := t.alloc(op.ID, op.Size)
			d := int64(time.Since(t0))
			row.Allocs++
			switch {
			case err == nil:
				_ = allocH.RecordValue(d)
				ok[op.ID], changed = true, true
			case errors.Is(err, arena.ErrNoSpace), errors.Is(err, arena.ErrNoHandles):
				_ = failH.RecordValue(d)
				row.FailedAllocs++
				if errors.Is(err, arena.ErrNoHandles) {
					row.NoHandles++
				}
			default:
				return row, fmt.Errorf("op %d: alloc %d B: %w", i, op.Size, err)
			}
		case OpFree:
			if !ok[op.ID] {
				continue // its allocation failed
			}
			ok[op.ID] = false
			t0 := time.Now()
			err := t.free(op.ID)
			d := int64(time.Since(t0))
			row.Frees++
			if err != nil {
				if errors.Is(err, arena.ErrNotSupported) {
					return row, err
				}
				// The trace frees only what it allocated: an error here is
				// the allocator's. Count it and go on measuring.
				row.FreeErrors++
				if firstFreeErr == nil {
					firstFreeErr = fmt.Errorf("op %d: free id %d: %w", i, op.ID, err)
				}
				continue
			}
			_ = freeH.RecordValue(d)
			changed = true
		}
		if changed {
			changes++
			if changes%o.StatsEvery == 0 {
				t0 := time.Now()
				st, has := t.stats()
				if has {
					_ = statsH.RecordValue(int64(time.Since(t0)))
					eff.add(st.Efficiency, i, len(tr.Ops), i < warmUp)
					ext.add(st.ExternalFrag, i, len(tr.Ops), i < warmUp)
				}
			}
		}
	}
	row.ElapsedS = round4(time.Since(start).Seconds())
	row.Ops = ops
	row.AllocP50, row.AllocP99, row.AllocMax = allocH.ValueAtQuantile(50), allocH.ValueAtQuantile(99), allocH.Max()
	row.FreeP50, row.FreeP99, row.FreeMax = freeH.ValueAtQuantile(50), freeH.ValueAtQuantile(99), freeH.Max()
	if failH.TotalCount() > 0 {
		row.FailedAllocMax = failH.Max()
	}
	if compactH.TotalCount() > 0 {
		row.CompactCalls = int(compactH.TotalCount())
		row.CompactP50, row.CompactMax = compactH.ValueAtQuantile(50), compactH.Max()
		row.CompactTotal = compactTotal
	}
	if statsH.TotalCount() > 0 {
		row.StatsMean, row.StatsMax = int64(statsH.Mean()), statsH.Max()
	}
	row.EfficiencyMin, row.EfficiencyMean, _, row.EfficiencySeries = eff.result()
	row.ExtFragMin, row.ExtFragMean, row.ExtFragMax, row.ExtFragSeries = ext.result()
	if st, has := t.stats(); has {
		row.Compactions, row.BytesMoved, row.QuickHits = st.Compactions, st.BytesMoved, st.QuickHits
	}
	var notes []string
	if row.Truncated {
		notes = append(notes, fmt.Sprintf("cut at %s", o.Duration))
	}
	if firstFreeErr != nil {
		notes = append(notes, "first free error: "+firstFreeErr.Error())
	}
	row.Note = strings.Join(notes, "; ")
	return row, nil
}

// Flush prints the table and the fragmentation series (text mode only).
func (p *ArenaReporter) Flush() {
	if p.json || len(p.rows) == 0 {
		return
	}
	pct := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", *v*100)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\tallocator\tops\tfailed\teff min\teff mean\text frag mean\text frag max\talloc p50\tp99\tmax\tfree p50\tp99\tmax\tcompact calls\tcompact p50\tmax\ttotal\tblocks moved\tmoved\tquick hits\t")
	for _, r := range p.rows {
		ops := fmt.Sprint(r.Ops)
		if r.Truncated {
			ops += "*"
		}
		calls, cp50, cmax, ctot, moved, blocks, hits := "-", "-", "-", "-", "-", "-", "-"
		if r.Allocator == "arena" {
			calls, blocks, moved = fmt.Sprint(r.CompactCalls), fmt.Sprint(r.Compactions), mib(r.BytesMoved)
			if r.CompactCalls > 0 {
				cp50, cmax, ctot = ns(r.CompactP50), ns(r.CompactMax), ns(r.CompactTotal)
			}
		}
		if r.Allocator != "goheap" {
			hits = fmt.Sprint(r.QuickHits)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Trace, r.Allocator, ops, r.FailedAllocs, pct(r.EfficiencyMin), pct(r.EfficiencyMean),
			pct(r.ExtFragMean), pct(r.ExtFragMax), ns(r.AllocP50), ns(r.AllocP99), ns(r.AllocMax),
			ns(r.FreeP50), ns(r.FreeP99), ns(r.FreeMax), calls, cp50, cmax, ctot, blocks, moved, hits)
	}
	tw.Flush()

	for _, series := range []struct {
		title string
		get   func(ArenaRow) []float64
	}{
		{"external fragmentation", func(r ArenaRow) []float64 { return r.ExtFragSeries }},
		{"efficiency", func(r ArenaRow) []float64 { return r.EfficiencySeries }},
	} {
		fmt.Fprintf(p.w, "\n%s over the replay, %%, mean of each twentieth of the ops (warm-up included):\n", series.title)
		tw = tabwriter.NewWriter(p.w, 0, 0, 1, ' ', tabwriter.AlignRight)
		for _, r := range p.rows {
			s := series.get(r)
			if len(s) == 0 {
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t", r.Trace, r.Allocator)
			for _, v := range s {
				fmt.Fprintf(tw, "%.0f\t", v*100)
			}
			fmt.Fprintln(tw)
		}
		tw.Flush()
	}

	r0 := p.rows[0]
	fmt.Fprintf(p.w, "\narena %s, traces of %d ops, seed %d; perfect-allocator fill:", mib(r0.ArenaBytes), r0.TraceOps, r0.Seed)
	seen := map[string]bool{}
	for _, r := range p.rows {
		if !seen[r.Trace] {
			seen[r.Trace] = true
			fmt.Fprintf(p.w, " %s %.1f%%", r.Trace, r.TraceFill*100)
		}
	}
	fmt.Fprintln(p.w, " of the arena (mean live bytes, granule-rounded).")
	var sampling string
	for _, r := range p.rows {
		if r.StatsEvery > 0 {
			every := "every op"
			if r.StatsEvery > 1 {
				every = fmt.Sprintf("every %d ops", r.StatsEvery)
			}
			sampling = fmt.Sprintf("Stats() after %s that changed live bytes (mean %s, max %s per call, outside the timings)",
				every, ns(r.StatsMean), ns(r.StatsMax))
			break
		}
	}
	fmt.Fprintf(p.w, "efficiency = requested / (held + cached); ext frag = 1 - largest free block / largest power of two <= free bytes. Sampled by %s;\n", sampling)
	fmt.Fprintln(p.w, "min, mean and max skip the first 1% of ops (warm-up: a nearly empty arena flatters everyone).")
	fmt.Fprintf(p.w, "Latencies include an empty timed region's %s. goheap: make([]byte, n), freed by dropping it;\n", ns(r0.TimerP50))
	fmt.Fprintln(p.w, "its latencies include zeroing and the garbage collector's assists, and it has no fragmentation figures.")
	for _, r := range p.rows {
		if r.CompactBudget > 0 {
			fmt.Fprintf(p.w, "arena compacts (at most %s per call) when NeedsCompaction, checked every %d ops; buddy never compacts.\n",
				mib(r.CompactBudget), arenaCompactEvery)
			fmt.Fprintln(p.w, "A failed allocation is counted and not retried: no allocator compacts on failure.")
			break
		}
	}
	for _, r := range p.rows {
		if r.Truncated || r.Note != "" {
			fmt.Fprintf(p.w, "%s/%s: %s\n", r.Trace, r.Allocator, r.Note)
		}
	}
	if anyTruncated(p.rows) {
		fmt.Fprintln(p.w, "* replay cut short by the duration cap.")
	}
}

func anyTruncated(rows []ArenaRow) bool {
	for _, r := range rows {
		if r.Truncated {
			return true
		}
	}
	return false
}

func mib(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
