package ops_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/ops"
	"github.com/inos-node/node/schema"
)

var testMethods = []kernel.MethodInfo{
	{ID: 0, Library: "image", Method: "invert"},
	{ID: 1, Library: "crypto", Method: "blake3"},
}

// invertOK is a successful image.invert job: 20 µs queued, 1.5 ms executing.
func invertOK() *kernel.JobEvent {
	return &kernel.JobEvent{Method: 0, Library: "image", MethodName: "invert",
		QueueNs: 20_000, ExecNs: 1_500_000, TotalNs: 1_600_000,
		FuelUsed: 1000, InputBytes: 4096, OutputBytes: 2048}
}

func TestJobCounters(t *testing.T) {
	m := ops.NewJobMetrics(testMethods)
	for range 3 {
		m.Observe(invertOK())
	}
	m.Observe(&kernel.JobEvent{Method: 1, Library: "crypto", MethodName: "blake3",
		Kind: schema.ErrorInvalidParams, TotalNs: 50_000, InputBytes: 10})
	m.Observe(&kernel.JobEvent{Method: kernel.NoMethod, Kind: schema.ErrorUnknownLibrary, TotalNs: 30_000})
	m.Observe(&kernel.JobEvent{Method: 7, Kind: schema.ErrorUnknownMethod})            // an ID it was not built with
	m.Observe(&kernel.JobEvent{Method: 1, Kind: schema.ErrorKind(200), InputBytes: 5}) // a kind newer than this build

	const want = `
# HELP inos_jobs_total Jobs answered, by outcome: ok or the error kind.
# TYPE inos_jobs_total counter
inos_jobs_total{library="",method="",outcome="ok"} 0
inos_jobs_total{library="",method="",outcome="unknownLibrary"} 1
inos_jobs_total{library="",method="",outcome="unknownMethod"} 1
inos_jobs_total{library="crypto",method="blake3",outcome="invalidParams"} 1
inos_jobs_total{library="crypto",method="blake3",outcome="ok"} 0
inos_jobs_total{library="crypto",method="blake3",outcome="unknown"} 1
inos_jobs_total{library="image",method="invert",outcome="ok"} 3
# HELP inos_job_fuel_total Fuel (guest instructions, metered) the jobs used.
# TYPE inos_job_fuel_total counter
inos_job_fuel_total{library="",method=""} 0
inos_job_fuel_total{library="crypto",method="blake3"} 0
inos_job_fuel_total{library="image",method="invert"} 3000
# HELP inos_job_input_bytes_total Bytes of the jobs' inputs.
# TYPE inos_job_input_bytes_total counter
inos_job_input_bytes_total{library="",method=""} 0
inos_job_input_bytes_total{library="crypto",method="blake3"} 15
inos_job_input_bytes_total{library="image",method="invert"} 12288
# HELP inos_job_output_bytes_total Bytes of the jobs' outputs.
# TYPE inos_job_output_bytes_total counter
inos_job_output_bytes_total{library="",method=""} 0
inos_job_output_bytes_total{library="crypto",method="blake3"} 0
inos_job_output_bytes_total{library="image",method="invert"} 6144
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want),
		"inos_jobs_total", "inos_job_fuel_total", "inos_job_input_bytes_total", "inos_job_output_bytes_total"); err != nil {
		t.Fatal(err)
	}
}

func TestJobDurations(t *testing.T) {
	m := ops.NewJobMetrics(testMethods)
	for range 3 {
		m.Observe(invertOK())
	}
	// No submit time and never executed: only total is known.
	m.Observe(&kernel.JobEvent{Method: 1, Kind: schema.ErrorInvalidParams, TotalNs: 50_000})

	h := durations(t, m)
	for _, c := range []struct {
		series string
		count  uint64
		sum    float64
	}{
		{"image/invert/queue", 3, 60e-6},
		{"image/invert/exec", 3, 4.5e-3},
		{"image/invert/total", 3, 4.8e-3},
		{"crypto/blake3/queue", 0, 0}, // 0 ns: unknown, not observed
		{"crypto/blake3/exec", 0, 0},
		{"crypto/blake3/total", 1, 50e-6},
	} {
		got, ok := h[c.series]
		if !ok {
			t.Errorf("%s: no series", c.series)
			continue
		}
		if got.GetSampleCount() != c.count || !near(got.GetSampleSum(), c.sum) {
			t.Errorf("%s: count %d sum %g, want %d and %g", c.series, got.GetSampleCount(), got.GetSampleSum(), c.count, c.sum)
		}
	}
	if _, ok := h["//total"]; ok {
		t.Error(`the library="" row is exposed before any job named no method`)
	}
	// 1.5 ms lies in (1 ms, 2.5 ms].
	cum := map[float64]uint64{}
	for _, b := range h["image/invert/exec"].GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if len(cum) != 18 || cum[0.0001] != 0 || cum[0.001] != 0 || cum[0.0025] != 3 || cum[60] != 3 {
		t.Errorf("exec buckets: %v", cum)
	}
}

// durations gathers inos_job_duration_seconds by "library/method/stage".
func durations(t *testing.T, c prometheus.Collector) map[string]*dto.Histogram {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		if mf.GetName() != "inos_job_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["library"]+"/"+l["method"]+"/"+l["stage"]] = m.GetHistogram()
		}
	}
	return out
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

func TestObserveDoesNotAllocate(t *testing.T) {
	m := ops.NewJobMetrics(testMethods)
	ok, failed, none := invertOK(), &kernel.JobEvent{Method: 1, Kind: schema.ErrorDeadlineExceeded, ExecNs: 9e9},
		&kernel.JobEvent{Method: kernel.NoMethod, Kind: schema.ErrorInvalidEnvelope, TotalNs: 1000}
	if n := testing.AllocsPerRun(1000, func() {
		m.Observe(ok)
		m.Observe(failed)
		m.Observe(none)
	}); n != 0 {
		t.Fatalf("Observe allocates: %v per run", n)
	}
}

// BenchmarkObserve is a successful job with all three stages known, the
// dispatcher's common case.
func BenchmarkObserve(b *testing.B) {
	m := ops.NewJobMetrics(testMethods)
	e := invertOK()
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(e)
	}
}
