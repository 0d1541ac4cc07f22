package slo

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// newTracker returns a Tracker whose clock advances 10 s per Evaluate
// call made through step, logging to the returned buffer (JSON lines).
func newTracker(t *testing.T, cfg Config) (*Tracker, *fakeClock, *bytes.Buffer) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	var logs bytes.Buffer
	cfg.Clock = clock.Now
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr, clock, &logs
}

func step(tr *Tracker, c *fakeClock, ms []MethodInterval, n *NodeInterval) []Event {
	c.t = c.t.Add(10 * time.Second)
	return tr.Evaluate(ms, n)
}

// summary writes events as "kind slo lib.method" lines.
func summary(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Kind + " " + e.SLO)
		if e.Library != "" {
			b.WriteString(" " + e.Library + "." + e.Method)
		}
	}
	return b.String()
}

func lat(lib, m string, jobs uint64, p95 time.Duration) MethodInterval {
	return MethodInterval{Library: lib, Method: m, Jobs: jobs, OK: jobs, P50: p95 / 2, P95: p95, P99: p95 * 2}
}

func rate(lib, m string, ok, failed, clientErrors uint64) MethodInterval {
	return MethodInterval{Library: lib, Method: m, Jobs: ok + failed + clientErrors, OK: ok, Failed: failed, P95: time.Millisecond}
}

func node(heap float64, copied uint64) *NodeInterval {
	return &NodeInterval{HeapEfficiency: heap, BytesCopied: copied}
}

const ms = time.Millisecond

func TestTargets(t *testing.T) {
	type round struct {
		methods []MethodInterval
		node    *NodeInterval
		want    string // summary of the round's events
	}
	noAnomaly := AnomalyConfig{Off: true}
	tests := []struct {
		name   string
		cfg    Config
		rounds []round
	}{
		{"latency violation lasts, then recovers", Config{Anomaly: noAnomaly}, []round{
			{methods: []MethodInterval{lat("img", "resize", 100, 50*ms)}},
			{methods: []MethodInterval{lat("img", "resize", 100, 150*ms)}, want: "violation latency_p95 img.resize"},
			{methods: []MethodInterval{lat("img", "resize", 100, 160*ms)}}, // on change only
			{methods: []MethodInterval{lat("img", "resize", 100, 99*ms)}, want: "recovery latency_p95 img.resize"},
			{methods: []MethodInterval{lat("img", "resize", 100, 100*ms)}, want: "violation latency_p95 img.resize"}, // p95 < target
		}},
		{"latency per-method override", Config{Anomaly: noAnomaly,
			MethodLatency: map[string]time.Duration{"img.resize": 500 * ms, "img.crop": -1}}, []round{
			{methods: []MethodInterval{lat("img", "resize", 100, 150*ms), lat("img", "crop", 100, time.Second), lat("txt", "upper", 100, 150*ms)},
				want: "violation latency_p95 txt.upper"},
			{methods: []MethodInterval{lat("img", "resize", 100, 500*ms)}, want: "violation latency_p95 img.resize"},
		}},
		{"latency configured", Config{Anomaly: noAnomaly, Latency: 10 * ms}, []round{
			{methods: []MethodInterval{lat("img", "resize", 100, 11*ms)}, want: "violation latency_p95 img.resize"},
		}},
		{"latency skips intervals under MinJobs", Config{Anomaly: noAnomaly}, []round{
			{methods: []MethodInterval{lat("img", "resize", 19, time.Second)}},
			{methods: []MethodInterval{lat("img", "resize", 20, time.Second)}, want: "violation latency_p95 img.resize"},
			{methods: []MethodInterval{lat("img", "resize", 3, ms)}}, // no evidence: still violated
			{methods: []MethodInterval{lat("img", "resize", 20, ms)}, want: "recovery latency_p95 img.resize"},
		}},
		{"latency MinJobs configured", Config{Anomaly: noAnomaly, MinJobs: 1}, []round{
			{methods: []MethodInterval{lat("img", "resize", 1, time.Second)}, want: "violation latency_p95 img.resize"},
		}},
		{"success rate", Config{}, []round{
			{methods: []MethodInterval{rate("img", "resize", 10000, 0, 0)}},
			{methods: []MethodInterval{rate("img", "resize", 9990, 10, 0)}, want: "violation success_rate img.resize"}, // 99.9% is not above 99.9%
			{methods: []MethodInterval{rate("img", "resize", 9000, 10, 0)}},
			{methods: []MethodInterval{rate("img", "resize", 9990, 9, 0)}, want: "recovery success_rate img.resize"},
		}},
		{"success rate ignores client errors", Config{}, []round{
			{methods: []MethodInterval{rate("img", "resize", 100, 0, 5000)}},
			{methods: []MethodInterval{rate("img", "resize", 0, 0, 5000)}}, // no judged jobs at all
		}},
		{"success rate carries short intervals over", Config{}, []round{
			{methods: []MethodInterval{rate("img", "resize", 4, 1, 100)}},
			{methods: []MethodInterval{rate("img", "resize", 5, 0, 100)}},
			{methods: []MethodInterval{rate("img", "resize", 5, 0, 100)}},
			{methods: []MethodInterval{rate("img", "resize", 5, 0, 0)}, want: "violation success_rate img.resize"}, // 1 of 20
			{methods: []MethodInterval{rate("img", "resize", 19, 0, 0)}},
			{methods: []MethodInterval{rate("img", "resize", 1, 0, 0)}, want: "recovery success_rate img.resize"},
		}},
		{"success rate configured", Config{SuccessRate: 0.9, MinJobs: 10}, []round{
			{methods: []MethodInterval{rate("img", "resize", 9, 1, 0)}, want: "violation success_rate img.resize"},
			{methods: []MethodInterval{rate("img", "resize", 19, 1, 0)}, want: "recovery success_rate img.resize"},
		}},
		{"heap efficiency", Config{}, []round{
			{node: node(0.85, 0)},
			{node: node(0.79, 0), want: "violation heap_efficiency"},
			{node: node(0.80, 0)}, // not above 80%: still violated
			{node: node(math.NaN(), 0)},
			{node: nil},
			{node: node(0.81, 0), want: "recovery heap_efficiency"},
		}},
		{"heap efficiency configured", Config{HeapEfficiency: 0.5}, []round{
			{node: node(0.51, 0)},
			{node: node(0.49, 0), want: "violation heap_efficiency"},
		}},
		{"zero-copy", Config{}, []round{
			{node: node(0.9, 0)},
			{node: node(0.9, 4096), want: "violation zero_copy"},
			{node: node(0.9, 1)},
			{node: node(0.9, 0), want: "recovery zero_copy"},
		}},
		{"targets off", Config{Latency: -1, SuccessRate: -1, HeapEfficiency: -1, AllowCopies: true, Anomaly: noAnomaly}, []round{
			{methods: []MethodInterval{rate("img", "resize", 0, 100, 0), lat("img", "crop", 100, time.Hour)}, node: node(0, 1<<30)},
		}},
		{"several at once, node first", Config{Anomaly: noAnomaly}, []round{
			{methods: []MethodInterval{
				{Library: "b", Method: "m", Jobs: 100, OK: 50, Failed: 50, P95: time.Second},
				lat("a", "m", 100, time.Second),
			}, node: node(0.1, 1), want: "violation heap_efficiency; violation zero_copy; violation latency_p95 b.m; " +
				"violation success_rate b.m; violation latency_p95 a.m"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, c, _ := newTracker(t, tt.cfg)
			for i, r := range tt.rounds {
				if got := summary(step(tr, c, r.methods, r.node)); got != r.want {
					t.Errorf("round %d: %q, want %q", i, got, r.want)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{MethodLatency: map[string]time.Duration{"resize": ms}},
		{MethodLatency: map[string]time.Duration{".resize": ms}},
		{SuccessRate: 1},
		{HeapEfficiency: 1.5},
		{Anomaly: AnomalyConfig{Alpha: 1.5}},
		{Anomaly: AnomalyConfig{Alpha: -0.1}},
		{Webhook: "ftp://example.com/x"},
		{Webhook: "/relative"},
		{Webhook: "http://%zz"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

// TestReports checks the log records, counts and status lines of a
// violation and its recovery.
func TestReports(t *testing.T) {
	tr, c, logs := newTracker(t, Config{Anomaly: AnomalyConfig{Off: true}, Node: "n1"})
	step(tr, c, []MethodInterval{lat("img", "resize", 100, 20*ms)}, node(0.9, 0))
	evs := step(tr, c, []MethodInterval{lat("img", "resize", 100, 132*ms)}, node(0.9, 0))
	step(tr, c, []MethodInterval{lat("img", "resize", 100, 140*ms)}, node(0.9, 0))
	if len(evs) != 1 {
		t.Fatalf("events %v", evs)
	}
	want := Event{Kind: Violation, SLO: Latency, Library: "img", Method: "resize", Target: "< 100ms", Value: "132ms",
		Limit: 0.1, Measured: 0.132, Time: c.t.Add(-10 * time.Second), Interval: "10s", Node: "n1",
		Message: "img.resize p95 latency 132ms is not below its 100ms target (100 jobs)"}
	if evs[0] != want {
		t.Errorf("event\n %+v\nwant\n %+v", evs[0], want)
	}
	step(tr, c, []MethodInterval{lat("img", "resize", 100, 30*ms)}, node(0.9, 0))

	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "time")
		delete(m, "detail")
		recs = append(recs, m)
	}
	wantRecs := []map[string]any{
		{"level": "WARN", "msg": "slo violated", "slo": "latency_p95", "library": "img", "method": "resize",
			"target": "< 100ms", "value": "132ms", "interval": float64(10 * time.Second)},
		{"level": "INFO", "msg": "slo recovered", "slo": "latency_p95", "library": "img", "method": "resize",
			"target": "< 100ms", "value": "30ms", "interval": float64(10 * time.Second)},
	}
	if got, want := mustJSON(recs), mustJSON(wantRecs); got != want {
		t.Errorf("logs\n %s\nwant\n %s", got, want)
	}
	if got, want := mustJSON(tr.Violations()), mustJSON([]Count{{SLO: Latency, Library: "img", Method: "resize", N: 1, Intervals: 2}}); got != want {
		t.Errorf("violations %s, want %s", got, want)
	}
}

func TestStatus(t *testing.T) {
	tr, c, _ := newTracker(t, Config{MethodLatency: map[string]time.Duration{"img.crop": 250 * ms}})
	for range 6 {
		step(tr, c, []MethodInterval{
			{Library: "img", Method: "resize", Jobs: 1000, OK: 998, Failed: 2, P95: 20 * ms},
			lat("img", "crop", 100, 150*ms),
		}, node(0.75, 0))
	}
	step(tr, c, []MethodInterval{lat("img", "resize", 3, 20*ms), lat("img", "crop", 100, 150*ms)}, nil)
	got := tr.Status()
	want := []Line{
		{"heap efficiency", "> 80%", "75.0% (stale)", false},
		{"zero-copy", "0 B copied", "0 B copied (stale)", true},
		{"img.crop p95", "< 250ms", "150ms", true},
		{"img.crop success", "> 99.9%", "100.000% (0 of 100 failed)", true},
		{"img.crop anomaly", "< 151ms", "150ms", true},
		{"img.resize p95", "< 100ms", "20ms (stale)", true},
		{"img.resize success", "> 99.9%", "99.800% (2 of 1000 failed) (stale)", false},
		{"img.resize anomaly", "< 21ms", "20ms (stale)", true},
	}
	if mustJSON(got) != mustJSON(want) {
		t.Errorf("status\n%s\nwant\n%s", lines(got), lines(want))
	}

	fresh, _, _ := newTracker(t, Config{})
	fresh.Evaluate([]MethodInterval{lat("a", "b", 1, ms)}, nil)
	want = []Line{
		{"heap efficiency", "> 80%", "n/a", true},
		{"zero-copy", "0 B copied", "n/a", true},
		{"a.b p95", "< 100ms", "n/a", true},
		{"a.b success", "> 99.9%", "n/a", true},
		{"a.b anomaly", "warming up (0/5)", "n/a", true},
	}
	if got := fresh.Status(); mustJSON(got) != mustJSON(want) {
		t.Errorf("status\n%s\nwant\n%s", lines(got), lines(want))
	}
}

func lines(ls []Line) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("  " + mustJSON(l) + "\n")
	}
	return b.String()
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{duration(850 * time.Nanosecond), "850ns"},
		{duration(12345 * time.Nanosecond), "12.3µs"},
		{duration(12345678), "12.3ms"},
		{duration(132 * ms), "132ms"},
		{duration(1234567890), "1.23s"},
		{duration(90 * time.Minute), "1h30m0s"},
		{duration(0), "0s"},
		{percent(0.999), "99.9%"},
		{percent(0.8), "80%"},
		{percentValue(0.99899, 3), "99.899%"},
		{byteSize(0), "0 B"},
		{byteSize(1023), "1023 B"},
		{byteSize(4096), "4.0 KiB"},
		{byteSize(12 << 20), "12.0 MiB"},
		{byteSize(3 << 40), "3.0 TiB"},
	} {
		if tt.got != tt.want {
			t.Errorf("%q, want %q", tt.got, tt.want)
		}
	}
}

func TestConcurrentReaders(t *testing.T) {
	tr, _, _ := newTracker(t, Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			p := 20 * ms
			if i%50 > 40 {
				p = 500 * ms
			}
			tr.Evaluate([]MethodInterval{lat("a", "b", 100, p), rate("a", "c", 90, uint64(i%3), 0)}, node(0.9, uint64(i%2)))
		}
	}()
	for {
		select {
		case <-done:
			if len(tr.Violations()) == 0 {
				t.Error("no violations")
			}
			return
		default:
			_ = tr.Status()
			_ = tr.Violations()
			_ = tr.Webhook()
		}
	}
}
