package metrics

import (
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// Stage is one of the latencies a job is timed at.
type Stage int

// The stages, in the order of MethodStats.Hist.
const (
	// StageQueue is from the producer's submit time to the start of
	// execution (kernel.JobEvent.QueueNs).
	StageQueue Stage = iota
	// StageExec is the execution, validation included (JobEvent.ExecNs).
	StageExec
	// StageTotal is from submit to the result's publication
	// (JobEvent.TotalNs): what the producer waited.
	StageTotal

	// NumStages is the number of stages.
	NumStages = 3
)

// String returns "queue", "exec" or "total".
func (s Stage) String() string {
	switch s {
	case StageQueue:
		return "queue"
	case StageExec:
		return "exec"
	case StageTotal:
		return "total"
	}
	return "stage?"
}

// Histogram geometry: 1 µs to 1 h at 3 significant digits, in nanoseconds.
// Values outside are clamped to the nearest end rather than dropped, so that
// counts always add up to jobs (a 0.4 µs job reads as 1 µs, a stuck one as 1 h).
const (
	HistMinNs   = 1000
	HistMaxNs   = 3_600_000_000_000
	HistSigFigs = 3
)

// NewHistogram returns an empty histogram of the Recorder's geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistMinNs, HistMaxNs, HistSigFigs)
}

// kindSlots bounds the error kinds counted one by one. job.capnp has 14;
// a kind at or past kindSlots-1 (a schema much newer than this code) is
// counted under kindSlots-1 rather than lost.
const kindSlots = 64

// MethodStats is one method's figures over a period: since the recorder
// started (Snapshot) or over one interval (Interval). The caller owns it,
// histograms included.
type MethodStats struct {
	Library, Method string
	ID              kernel.MethodID // kernel.NoMethod for jobs that named no known method
	// Hist is the latency in nanoseconds by Stage. A stage with no values
	// in the period is nil (a 200 KB histogram of nothing is not worth
	// copying); each non-nil one carries the tag "library.method.stage" and
	// the period's start and end (ms since the epoch).
	Hist [NumStages]*hdrhistogram.Histogram
	// Jobs answered, OK of them successfully (schema.ErrorNone).
	Jobs, OK uint64
	// Errors counts the failed jobs by kind; only kinds seen are present,
	// and it is nil when there were none.
	Errors map[schema.ErrorKind]uint64
	// Fuel used, input and output bytes, summed over the jobs.
	Fuel, InBytes, OutBytes uint64
	// Start and End bound the period.
	Start, End time.Time
}

// Name returns "library.method".
func (s *MethodStats) Name() string { return s.Library + "." + s.Method }

// Failed returns the number of jobs that did not succeed.
func (s *MethodStats) Failed() uint64 { return s.Jobs - s.OK }

// Latency returns the histogram that best answers "how long did callers
// wait": StageTotal, or StageExec when no job carried a submit time. It
// returns nil and StageExec when neither has values.
func (s *MethodStats) Latency() (*hdrhistogram.Histogram, Stage) {
	if h := s.Hist[StageTotal]; h != nil && h.TotalCount() > 0 {
		return h, StageTotal
	}
	return s.Hist[StageExec], StageExec
}

// counts is a period's figures for one method, as recorded.
type counts struct {
	hist          [NumStages]*hdrhistogram.Histogram
	jobs, ok      uint64
	fuel, in, out uint64
	errs          [kindSlots]uint64
}

func newCounts() counts {
	var c counts
	for s := range c.hist {
		c.hist[s] = NewHistogram()
	}
	return c
}

// add records one event. It does not allocate: histograms are dense and
// values are clamped into range, so RecordValue cannot fail.
func (c *counts) add(e *kernel.JobEvent) {
	c.jobs++
	if e.Kind == schema.ErrorNone {
		c.ok++
	} else {
		k := int(e.Kind)
		if k >= kindSlots {
			k = kindSlots - 1
		}
		c.errs[k]++
	}
	c.fuel += e.FuelUsed
	c.in += e.InputBytes
	c.out += e.OutputBytes
	// 0 means "not known" (no submit time; never a real duration at this
	// resolution), so the stage is skipped rather than counted as 1 µs.
	if e.QueueNs != 0 {
		c.hist[StageQueue].RecordValue(clamp(e.QueueNs)) // clamped: cannot fail
	}
	if e.ExecNs != 0 {
		c.hist[StageExec].RecordValue(clamp(e.ExecNs))
	}
	if e.TotalNs != 0 {
		c.hist[StageTotal].RecordValue(clamp(e.TotalNs))
	}
}

func clamp(ns uint64) int64 {
	if ns < HistMinNs {
		return HistMinNs
	}
	if ns > HistMaxNs {
		return HistMaxNs
	}
	return int64(ns)
}

// addCounters adds o's counters to c.
func (c *counts) addCounters(o *counts) {
	c.jobs += o.jobs
	c.ok += o.ok
	c.fuel += o.fuel
	c.in += o.in
	c.out += o.out
	for k, n := range o.errs {
		c.errs[k] += n
	}
}

// method is one method's state.
//
// Invariants:
//   - live is written by Observe and read or swapped by drain, both under
//     mu; nothing else touches it. Its histograms are never nil.
//   - cum and pend are touched only under Recorder.mu, which Observe never
//     takes: merging and copying them cannot stall the dispatcher.
//   - every job is in exactly one of live and pend (until Interval hands
//     pend over), and cum holds every job that has left live.
//   - pend's histograms are nil until a drain brings values for that stage.
type method struct {
	mu   sync.Mutex
	live counts

	cum, pend counts

	library string
	name    string
	id      kernel.MethodID
	tags    [NumStages]string // "library.method.stage", built once
}

// Recorder keeps latency histograms and counters per method and stage. It
// implements kernel.Observer. Observe must be called from one goroutine at
// a time (the node's dispatcher); Snapshot and Interval may be called from
// any goroutine (they serialize on the recorder's own lock), Interval by
// one consumer only, since each call ends the previous interval.
type Recorder struct {
	// methods[id] is method id; the last entry is kernel.NoMethod's.
	methods []method
	now     func() time.Time
	start   time.Time

	mu      sync.Mutex // readers' lock: cum, pend and ivStart
	ivStart time.Time
}

// NewRecorder returns a recorder for the registry's methods, as returned by
// kernel.Registry.Methods (MethodIDs 0..n-1 in order), plus one entry,
// library "-" method "-", for jobs that named no known method.
//
// It allocates six histograms of about 200 KB per method up front (the live
// ones Observe records into and the cumulative ones), so that Observe
// never allocates.
func NewRecorder(methods []kernel.MethodInfo) *Recorder {
	return newRecorder(methods, time.Now)
}

func newRecorder(methods []kernel.MethodInfo, now func() time.Time) *Recorder {
	r := &Recorder{methods: make([]method, len(methods)+1), now: now}
	for i := range r.methods {
		m := &r.methods[i]
		m.library, m.name, m.id = "-", "-", kernel.NoMethod
		if i < len(methods) {
			// The registry numbers methods densely: the slot index is the
			// MethodID that Observe is given.
			m.library, m.name, m.id = methods[i].Library, methods[i].Method, kernel.MethodID(i)
		}
		for s := range m.tags {
			m.tags[s] = Tag(m.library, m.name, Stage(s))
		}
		m.live, m.cum = newCounts(), newCounts()
	}
	r.start = now()
	r.ivStart = r.start
	return r
}

// Tag returns the HdrHistogram log tag of a method's stage,
// "library.method.stage", with the characters the log format forbids in a
// tag (comma, space, line breaks) replaced by '_'.
func Tag(library, method string, s Stage) string {
	t := library + "." + method + "." + s.String()
	if strings.ContainsAny(t, ", \t\r\n") {
		t = strings.Map(func(r rune) rune {
			switch r {
			case ',', ' ', '\t', '\r', '\n':
				return '_'
			}
			return r
		}, t)
	}
	return t
}

// Observe records one answered job: one uncontended mutex, up to three
// histogram increments and a few counters (about 30 ns), no allocation. A
// MethodID outside the registry is counted as kernel.NoMethod's.
func (r *Recorder) Observe(e *kernel.JobEvent) {
	i := int(e.Method)
	if n := len(r.methods) - 1; uint(i) >= uint(n) {
		i = n
	}
	m := &r.methods[i]
	m.mu.Lock()
	m.live.add(e)
	m.mu.Unlock()
}

// drain moves what Observe recorded into pend and cum. The method's lock is
// held only to swap in empty histograms, allocated before taking it, and
// copy the counters: the merging is done after, under r.mu alone. The
// caller holds r.mu.
func (r *Recorder) drain(m *method) {
	// Peek at which stages have values, then allocate their replacements
	// with the lock released.
	m.mu.Lock()
	jobs := m.live.jobs
	var had [NumStages]bool
	for s, h := range m.live.hist {
		had[s] = h.TotalCount() > 0
	}
	m.mu.Unlock()
	if jobs == 0 {
		// Anything recorded from now on is drained, counters and values
		// together, next time.
		return
	}
	var fresh [NumStages]*hdrhistogram.Histogram
	for s := range fresh {
		if had[s] {
			fresh[s] = NewHistogram()
		}
	}
	var d counts
	m.mu.Lock()
	for s, h := range m.live.hist {
		if h.TotalCount() == 0 {
			continue
		}
		if fresh[s] == nil {
			// The stage got its first value since the peek: rare enough
			// to allocate under the lock.
			fresh[s] = NewHistogram()
		}
		d.hist[s], m.live.hist[s] = h, fresh[s]
	}
	d.addCounters(&m.live)
	m.live.jobs, m.live.ok, m.live.fuel, m.live.in, m.live.out = 0, 0, 0, 0, 0
	m.live.errs = [kindSlots]uint64{}
	m.mu.Unlock()

	m.cum.addCounters(&d)
	m.pend.addCounters(&d)
	for s, h := range d.hist {
		if h == nil {
			continue
		}
		m.cum.hist[s].Merge(h)
		if m.pend.hist[s] == nil {
			m.pend.hist[s] = h // drained histograms are ours: no copy
		} else {
			m.pend.hist[s].Merge(h)
		}
	}
}

// Snapshot returns every method's figures since the recorder started, in
// MethodID order with kernel.NoMethod's last (so s[id] is method id), all
// methods included, with or without jobs. Observe waits only for a swap of
// pointers; the copying is done under the recorder's own lock.
func (r *Recorder) Snapshot() []MethodStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	end := r.now()
	out := make([]MethodStats, len(r.methods))
	for i := range r.methods {
		m := &r.methods[i]
		r.drain(m)
		st := &out[i]
		for s, h := range m.cum.hist {
			if h.TotalCount() > 0 {
				st.Hist[s] = h.Clone()
			}
		}
		m.cum.fill(st)
		m.describe(st, r.start, end)
	}
	return out
}

// Interval returns what was recorded since the previous call (the first
// call: since NewRecorder), for the methods that answered at least one job
// in it, in MethodID order with kernel.NoMethod's last. The histograms are
// handed over, not copied.
//
// Intervals tile time: every job is in exactly one interval, its counters
// and histogram values in the same one. A job that lands while Interval
// runs may fall in this interval or the next.
func (r *Recorder) Interval() []MethodStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	start, end := r.ivStart, r.now()
	r.ivStart = end
	var out []MethodStats
	for i := range r.methods {
		m := &r.methods[i]
		r.drain(m)
		if m.pend.jobs == 0 {
			continue
		}
		var st MethodStats
		st.Hist = m.pend.hist
		m.pend.fill(&st)
		m.pend = counts{}
		m.describe(&st, start, end)
		out = append(out, st)
	}
	return out
}

// fill copies the counters into st. It allocates the Errors map only when
// there were errors.
func (c *counts) fill(st *MethodStats) {
	st.Jobs, st.OK = c.jobs, c.ok
	st.Fuel, st.InBytes, st.OutBytes = c.fuel, c.in, c.out
	for k, n := range c.errs {
		if n == 0 {
			continue
		}
		if st.Errors == nil {
			st.Errors = make(map[schema.ErrorKind]uint64)
		}
		st.Errors[schema.ErrorKind(k)] = n
	}
}

// describe names st and stamps the period on it and its histograms, which
// are st's own by now.
func (m *method) describe(st *MethodStats, start, end time.Time) {
	st.Library, st.Method, st.ID = m.library, m.name, m.id
	st.Start, st.End = start, end
	for s, h := range st.Hist {
		if h != nil {
			h.SetTag(m.tags[s])
			h.SetStartTimeMs(start.UnixMilli())
			h.SetEndTimeMs(end.UnixMilli())
		}
	}
}
