package ops

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// durationBuckets are the upper bounds, in seconds, of the job duration
// histograms: 100 µs to 60 s in 1–2.5–5 steps (×2 or ×2.5 each), round
// numbers an operator can read off a `le` label.
var durationBuckets = [...]float64{
	0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05,
	0.1, 0.25, 0.5,
	1, 2.5, 5,
	10, 25, 60,
}

// Stages of inos_job_duration_seconds, in JobEvent order.
const (
	stageQueue = iota
	stageExec
	stageTotal
	nStages
)

var stageNames = [nStages]string{"queue", "exec", "total"}

// JobMetrics counts and times the jobs the node answers. It is a
// kernel.Observer (set it as kernel.Config.Observer, alone or in
// kernel.Observers) and a prometheus.Collector (register it).
//
// Everything Observe touches is bound when JobMetrics is made: one row per
// method, indexed by MethodID, holding atomic counters (one per outcome)
// and the three stage histograms. Observe does no map lookup, takes no lock
// and allocates nothing; Collect turns the counters into samples at scrape
// time. Observe may be called from several goroutines.
type JobMetrics struct {
	rows     []jobRow // by MethodID
	none     jobRow   // NoMethod, and any MethodID not in rows
	outcomes []string // label value by ErrorKind; the last one is "unknown"

	jobs, fuel, in, out *prometheus.Desc
	durations           *prometheus.HistogramVec
}

// jobRow is one method's metrics.
type jobRow struct {
	lib, method string
	// byKind counts jobs by ErrorKind (ErrorNone: success); the last
	// element counts kinds this schema version does not name.
	byKind        []atomic.Uint64
	fuel, in, out atomic.Uint64
	stages        [nStages]prometheus.Histogram
}

// NewJobMetrics returns the metrics for the registry's methods (pass
// kernel.Registry.Methods()). Each MethodInfo's ID indexes its row; an event
// whose Method is NoMethod or an ID not given here counts under
// library="" and method="".
func NewJobMetrics(methods []kernel.MethodInfo) *JobMetrics {
	m := &JobMetrics{
		outcomes: outcomeNames(),
		jobs: prometheus.NewDesc("inos_jobs_total",
			"Jobs answered, by outcome: ok or the error kind.",
			[]string{"library", "method", "outcome"}, nil),
		fuel: prometheus.NewDesc("inos_job_fuel_total",
			"Fuel (guest instructions, metered) the jobs used.",
			[]string{"library", "method"}, nil),
		in: prometheus.NewDesc("inos_job_input_bytes_total",
			"Bytes of the jobs' inputs.",
			[]string{"library", "method"}, nil),
		out: prometheus.NewDesc("inos_job_output_bytes_total",
			"Bytes of the jobs' outputs.",
			[]string{"library", "method"}, nil),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inos_job_duration_seconds",
			Help: "Job latency by stage: queue (submit to start), exec (the method), " +
				"total (submit to the result's publication).",
			Buckets: durationBuckets[:],
		}, []string{"library", "method", "stage"}),
	}
	n := 0
	for _, mi := range methods {
		n = max(n, int(mi.ID)+1)
	}
	m.rows = make([]jobRow, n)
	for _, mi := range methods {
		if mi.ID >= 0 {
			m.bind(&m.rows[mi.ID], mi.Library, mi.Method)
		}
	}
	m.bind(&m.none, "", "")
	return m
}

func (m *JobMetrics) bind(r *jobRow, lib, method string) {
	r.lib, r.method = lib, method
	r.byKind = make([]atomic.Uint64, len(m.outcomes))
	for s := range r.stages {
		r.stages[s] = m.durations.WithLabelValues(lib, method, stageNames[s]).(prometheus.Histogram)
	}
}

// outcomeNames returns the outcome label of each ErrorKind: "ok" for
// ErrorNone, the schema's name for the others, and "unknown" last for any
// kind past them.
func outcomeNames() []string {
	names := []string{"ok"}
	for k := schema.ErrorNone + 1; k.String() != ""; k++ {
		names = append(names, k.String())
	}
	return append(names, "unknown")
}

// Observe records one answered job. It implements kernel.Observer.
func (m *JobMetrics) Observe(e *kernel.JobEvent) {
	r := &m.none
	if id := int(e.Method); id >= 0 && id < len(m.rows) && m.rows[id].byKind != nil {
		r = &m.rows[id]
	}
	k := min(int(e.Kind), len(r.byKind)-1)
	r.byKind[k].Add(1)
	r.fuel.Add(e.FuelUsed)
	r.in.Add(e.InputBytes)
	r.out.Add(e.OutputBytes)
	// A stage of 0 ns is one the event does not know (no submit time, no
	// execution): it is left out rather than counted as instantaneous.
	if e.QueueNs != 0 {
		r.stages[stageQueue].Observe(float64(e.QueueNs) * 1e-9)
	}
	if e.ExecNs != 0 {
		r.stages[stageExec].Observe(float64(e.ExecNs) * 1e-9)
	}
	if e.TotalNs != 0 {
		r.stages[stageTotal].Observe(float64(e.TotalNs) * 1e-9)
	}
}

// Describe implements prometheus.Collector.
func (m *JobMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.jobs
	ch <- m.fuel
	ch <- m.in
	ch <- m.out
	m.durations.Describe(ch)
}

// Collect implements prometheus.Collector. Every method shows its "ok"
// count and its other counters from the start (at 0), a failure outcome
// once it has happened; the row of jobs that named no known method shows
// once there has been one.
func (m *JobMetrics) Collect(ch chan<- prometheus.Metric) {
	for i := range m.rows {
		if m.rows[i].byKind != nil {
			m.collectRow(ch, &m.rows[i])
		}
	}
	for k := range m.none.byKind {
		if m.none.byKind[k].Load() != 0 {
			m.collectRow(ch, &m.none)
			break
		}
	}
}

func (m *JobMetrics) collectRow(ch chan<- prometheus.Metric, r *jobRow) {
	for k := range r.byKind {
		if v := r.byKind[k].Load(); v != 0 || k == 0 {
			ch <- prometheus.MustNewConstMetric(m.jobs, prometheus.CounterValue, float64(v), r.lib, r.method, m.outcomes[k])
		}
	}
	ch <- prometheus.MustNewConstMetric(m.fuel, prometheus.CounterValue, float64(r.fuel.Load()), r.lib, r.method)
	ch <- prometheus.MustNewConstMetric(m.in, prometheus.CounterValue, float64(r.in.Load()), r.lib, r.method)
	ch <- prometheus.MustNewConstMetric(m.out, prometheus.CounterValue, float64(r.out.Load()), r.lib, r.method)
	for _, h := range r.stages {
		ch <- h
	}
}
