package metrics_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/schema"
)

// clock is a fake time source that advances only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testMethods = []kernel.MethodInfo{
	{ID: 0, Library: "crypto", Method: "blake3"},
	{ID: 1, Library: "image", Method: "invert"},
	{ID: 2, Library: "bench", Method: "empty"},
}

// stageCounts returns each stage's value count, 0 for a nil histogram.
func stageCounts(st *metrics.MethodStats) [metrics.NumStages]int64 {
	var n [metrics.NumStages]int64
	for s, h := range st.Hist {
		if h != nil {
			n[s] = h.TotalCount()
		}
	}
	return n
}

func TestObserve(t *testing.T) {
	type want struct {
		slot             int // index in Snapshot
		jobs, ok         uint64
		errors           map[schema.ErrorKind]uint64
		fuel, in, out    uint64
		stages           [metrics.NumStages]int64
		minExec, maxExec int64 // 0: not checked
	}
	ms := uint64(time.Millisecond)
	cases := []struct {
		name   string
		events []kernel.JobEvent
		want   want
	}{
		{"success with submit time",
			[]kernel.JobEvent{{Method: 0, QueueNs: 20_000, ExecNs: ms, TotalNs: ms + 30_000, FuelUsed: 7, InputBytes: 64, OutputBytes: 32}},
			want{slot: 0, jobs: 1, ok: 1, fuel: 7, in: 64, out: 32, stages: [3]int64{1, 1, 1}}},
		{"no submit time: exec only",
			[]kernel.JobEvent{{Method: 1, ExecNs: ms}, {Method: 1, ExecNs: 2 * ms}},
			want{slot: 1, jobs: 2, ok: 2, stages: [3]int64{0, 2, 0}}},
		{"errors by kind",
			[]kernel.JobEvent{
				{Method: 2, Kind: schema.ErrorDeadlineExceeded, ExecNs: ms},
				{Method: 2, Kind: schema.ErrorDeadlineExceeded, ExecNs: ms},
				{Method: 2, Kind: schema.ErrorLibraryFailed, ExecNs: ms},
				{Method: 2, ExecNs: ms},
			},
			want{slot: 2, jobs: 4, ok: 1, errors: map[schema.ErrorKind]uint64{schema.ErrorDeadlineExceeded: 2, schema.ErrorLibraryFailed: 1}, stages: [3]int64{0, 4, 0}}},
		{"no method",
			[]kernel.JobEvent{{Method: kernel.NoMethod, Kind: schema.ErrorUnknownMethod, ExecNs: 5_000}},
			want{slot: 3, jobs: 1, errors: map[schema.ErrorKind]uint64{schema.ErrorUnknownMethod: 1}, stages: [3]int64{0, 1, 0}}},
		{"id past the registry counts as no method",
			[]kernel.JobEvent{{Method: 99, ExecNs: 5_000}, {Method: -7, ExecNs: 5_000}},
			want{slot: 3, jobs: 2, ok: 2, stages: [3]int64{0, 2, 0}}},
		{"out-of-range values are clamped, not dropped",
			[]kernel.JobEvent{{Method: 0, ExecNs: 1}, {Method: 0, ExecNs: uint64(5 * time.Hour)}},
			want{slot: 0, jobs: 2, ok: 2, stages: [3]int64{0, 2, 0}, minExec: metrics.HistMinNs, maxExec: metrics.HistMaxNs}},
		{"a kind past the table is kept",
			[]kernel.JobEvent{{Method: 0, Kind: schema.ErrorKind(500), ExecNs: ms}},
			want{slot: 0, jobs: 1, errors: map[schema.ErrorKind]uint64{63: 1}, stages: [3]int64{0, 1, 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := metrics.NewRecorder(testMethods)
			for i := range tc.events {
				r.Observe(&tc.events[i])
			}
			snap := r.Snapshot()
			if len(snap) != len(testMethods)+1 {
				t.Fatalf("snapshot has %d entries, want %d", len(snap), len(testMethods)+1)
			}
			st := &snap[tc.want.slot]
			w := tc.want
			if st.Jobs != w.jobs || st.OK != w.ok || st.Fuel != w.fuel || st.InBytes != w.in || st.OutBytes != w.out {
				t.Errorf("jobs/ok/fuel/in/out = %d/%d/%d/%d/%d, want %d/%d/%d/%d/%d",
					st.Jobs, st.OK, st.Fuel, st.InBytes, st.OutBytes, w.jobs, w.ok, w.fuel, w.in, w.out)
			}
			if len(st.Errors) != len(w.errors) {
				t.Errorf("errors = %v, want %v", st.Errors, w.errors)
			}
			for k, n := range w.errors {
				if st.Errors[k] != n {
					t.Errorf("errors[%v] = %d, want %d", k, st.Errors[k], n)
				}
			}
			if got := stageCounts(st); got != w.stages {
				t.Errorf("stage counts = %v, want %v", got, w.stages)
			}
			if h := st.Hist[metrics.StageExec]; w.maxExec != 0 && (h.Min() > w.minExec || !h.ValuesAreEquivalent(h.Max(), w.maxExec)) {
				t.Errorf("exec min %d max %d, want %d, %d", h.Min(), h.Max(), w.minExec, w.maxExec)
			}
			for i := range snap {
				if i != w.slot && snap[i].Jobs != 0 {
					t.Errorf("entry %d (%s) has %d jobs, want 0", i, snap[i].Name(), snap[i].Jobs)
				}
			}
		})
	}
}

func TestSnapshotNames(t *testing.T) {
	snap := metrics.NewRecorder(testMethods).Snapshot()
	for i, m := range testMethods {
		if snap[i].ID != m.ID || snap[i].Library != m.Library || snap[i].Method != m.Method {
			t.Errorf("entry %d = %d %s.%s, want %d %s.%s", i, snap[i].ID, snap[i].Library, snap[i].Method, m.ID, m.Library, m.Method)
		}
	}
	if last := snap[len(snap)-1]; last.ID != kernel.NoMethod || last.Name() != "-.-" {
		t.Errorf("last entry = %d %s, want NoMethod -.-", last.ID, last.Name())
	}
}

func TestInterval(t *testing.T) {
	clk := newClock()
	t0 := clk.Now()
	r := metrics.NewRecorderClock(testMethods, clk.Now)
	ev := kernel.JobEvent{Method: 1, ExecNs: 3_000_000, QueueNs: 10_000, TotalNs: 3_020_000}
	for range 10 {
		r.Observe(&ev)
	}
	clk.Advance(10 * time.Second)
	iv := r.Interval()
	if len(iv) != 1 || iv[0].ID != 1 || iv[0].Jobs != 10 {
		t.Fatalf("first interval = %+v, want image.invert with 10 jobs only", iv)
	}
	if !iv[0].Start.Equal(t0) || !iv[0].End.Equal(t0.Add(10*time.Second)) {
		t.Errorf("interval %v..%v, want %v..%v", iv[0].Start, iv[0].End, t0, t0.Add(10*time.Second))
	}
	h := iv[0].Hist[metrics.StageTotal]
	if h.Tag() != "image.invert.total" || h.StartTimeMs() != t0.UnixMilli() || h.EndTimeMs() != t0.Add(10*time.Second).UnixMilli() {
		t.Errorf("histogram tag %q start %d end %d", h.Tag(), h.StartTimeMs(), h.EndTimeMs())
	}

	// The next interval starts empty; the cumulative view keeps counting.
	clk.Advance(10 * time.Second)
	if iv := r.Interval(); len(iv) != 0 {
		t.Errorf("idle interval = %d methods, want none", len(iv))
	}
	r.Observe(&ev)
	clk.Advance(10 * time.Second)
	iv = r.Interval()
	if len(iv) != 1 || iv[0].Jobs != 1 || stageCounts(&iv[0]) != [3]int64{1, 1, 1} {
		t.Fatalf("third interval = %+v, want one job", iv)
	}
	if want := t0.Add(20 * time.Second); !iv[0].Start.Equal(want) {
		t.Errorf("third interval starts %v, want %v", iv[0].Start, want)
	}
	if snap := r.Snapshot(); snap[1].Jobs != 11 || stageCounts(&snap[1]) != [3]int64{11, 11, 11} {
		t.Errorf("snapshot = %d jobs, stages %v; want 11 everywhere", snap[1].Jobs, stageCounts(&snap[1]))
	}
	// A snapshot between intervals takes nothing from the next interval.
	for range 5 {
		r.Observe(&ev)
	}
	if snap := r.Snapshot(); snap[1].Jobs != 16 {
		t.Errorf("snapshot = %d jobs, want 16", snap[1].Jobs)
	}
	for range 3 {
		r.Observe(&ev)
	}
	if iv := r.Interval(); len(iv) != 1 || iv[0].Jobs != 8 || stageCounts(&iv[0]) != [3]int64{8, 8, 8} {
		t.Errorf("interval after a snapshot = %+v, want 8 jobs", iv)
	}
	// What Interval returned is the caller's: recording more must not change it.
	before := iv[0].Hist[metrics.StageExec].TotalCount()
	r.Observe(&ev)
	if after := iv[0].Hist[metrics.StageExec].TotalCount(); after != before {
		t.Errorf("returned histogram changed from %d to %d values", before, after)
	}
}

// TestIntervalsTile hammers the recorder: one goroutine observes as the
// dispatcher would while another takes intervals and snapshots. Every job
// must be counted in exactly one interval, its histogram values with it.
func TestIntervalsTile(t *testing.T) {
	r := metrics.NewRecorder(testMethods)
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range n {
			ev := kernel.JobEvent{Method: kernel.MethodID(i % 4), ExecNs: 1000 + rng.Uint64N(1e6)}
			if i%3 == 0 {
				ev.QueueNs, ev.TotalNs = 5000, ev.ExecNs+5000
			}
			r.Observe(&ev)
		}
	}()
	var jobs uint64
	var execs, totals int64
	take := func() {
		for _, st := range r.Interval() {
			jobs += st.Jobs
			c := stageCounts(&st)
			execs += c[metrics.StageExec]
			totals += c[metrics.StageTotal]
			if uint64(c[metrics.StageExec]) != st.Jobs {
				t.Errorf("%s: %d jobs but %d exec values", st.Name(), st.Jobs, c[metrics.StageExec])
			}
		}
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			take()
			_ = r.Snapshot()
			time.Sleep(200 * time.Microsecond)
		}
	}
	take()
	if jobs != n || execs != n || totals != (n+2)/3 {
		t.Errorf("intervals summed to %d jobs, %d exec and %d total values; want %d, %d, %d", jobs, execs, totals, n, n, (n+2)/3)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	r := metrics.NewRecorder(testMethods)
	ev := kernel.JobEvent{Method: 2, Kind: schema.ErrorLibraryFailed, QueueNs: 10_000, ExecNs: 250_000, TotalNs: 270_000, FuelUsed: 1}
	if a := testing.AllocsPerRun(1000, func() { r.Observe(&ev) }); a != 0 {
		t.Errorf("Observe allocates %.1f times per job, want 0", a)
	}
}

func BenchmarkObserve(b *testing.B) {
	r := metrics.NewRecorder(testMethods)
	// Spread values over the histogram as real latencies would, so that
	// the cost includes cache misses on the counts arrays.
	rng := rand.New(rand.NewPCG(3, 4))
	evs := make([]kernel.JobEvent, 1024)
	for i := range evs {
		exec := uint64(math.Exp(11 + 1.5*rng.NormFloat64()))
		evs[i] = kernel.JobEvent{Method: kernel.MethodID(i % len(testMethods)), QueueNs: 2000 + rng.Uint64N(50_000),
			ExecNs: exec, TotalNs: exec + 60_000, InputBytes: 64, OutputBytes: 64}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Observe(&evs[i&1023])
	}
}

// BenchmarkSnapshot is the cost of a full snapshot of three busy methods:
// most of it is spent cloning histograms under each method's lock.
func BenchmarkSnapshot(b *testing.B) {
	r := metrics.NewRecorder(testMethods)
	fill(r, rand.New(rand.NewPCG(1, 1)), 1000, 12, 0, 1, 2)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Snapshot()
	}
}

// BenchmarkInterval is the cost of one interval of three busy methods;
// the locks are held only to swap histograms.
func BenchmarkInterval(b *testing.B) {
	r := metrics.NewRecorder(testMethods)
	rng := rand.New(rand.NewPCG(1, 1))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		fill(r, rng, 10, 12, 0, 1, 2)
		b.StartTimer()
		_ = r.Interval()
	}
}

// BenchmarkObserveWithReaders times Observe while another goroutine takes
// snapshots and intervals back to back: what the dispatcher pays for
// readers. It reports Observe's p99.9 and max (the max mostly measures the
// scheduler on a shared machine).
func BenchmarkObserveWithReaders(b *testing.B) {
	r := metrics.NewRecorder(testMethods)
	ev := kernel.JobEvent{Method: 1, QueueNs: 10_000, ExecNs: 250_000, TotalNs: 270_000}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				r.Snapshot()
			} else {
				r.Interval()
			}
		}
	}()
	lat := metrics.NewHistogram()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		r.Observe(&ev)
		lat.RecordValue(max(int64(time.Since(t0)), metrics.HistMinNs))
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(lat.ValueAtQuantile(99.9)), "p99.9-ns")
	b.ReportMetric(float64(lat.Max()), "max-ns")
}
