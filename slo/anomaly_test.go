package slo

import (
	"math/rand/v2"
	"testing"
	"time"
)

// series makes n interval p95s around level with the given noise.
func series(r *rand.Rand, n int, level time.Duration, noise string) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		f := 1.0
		switch noise {
		case "uniform10": // ±10 %
			f += 0.1 * (2*r.Float64() - 1)
		case "gauss5":
			f += 0.05 * r.NormFloat64()
		case "gauss10":
			f += 0.10 * r.NormFloat64()
		case "exp50": // a long tail: +50 % on average
			f += 0.5 * r.ExpFloat64()
		}
		out[i] = time.Duration(float64(level) * max(f, 0.1))
	}
	return out
}

// anomalies feeds p95s to one method and returns the indices of the
// intervals that reported an anomaly (violation) and its end (recovery).
func anomalies(t *testing.T, cfg Config, p95s []time.Duration) (began, ended []int) {
	t.Helper()
	cfg.Latency = -1
	cfg.SuccessRate = -1
	tr, c, _ := newTracker(t, cfg)
	for i, p := range p95s {
		for _, e := range step(tr, c, []MethodInterval{lat("img", "resize", 100, p)}, nil) {
			if e.SLO != Anomaly {
				t.Fatalf("event %+v", e)
			}
			if e.Kind == Violation {
				began = append(began, i)
			} else {
				ended = append(ended, i)
			}
		}
	}
	return began, ended
}

func TestAnomalyNoFalseAlarms(t *testing.T) {
	for _, tt := range []struct {
		noise string
		level time.Duration
	}{
		{"uniform10", 20 * ms},
		{"gauss5", 20 * ms},
		{"gauss10", 20 * ms},
		{"gauss10", 2 * time.Second},
		{"exp50", 80 * time.Microsecond}, // large relative noise at µs scale: under the floor
		{"none", 20 * ms},
	} {
		for seed := range uint64(5) {
			r := rand.New(rand.NewPCG(seed, 7))
			began, _ := anomalies(t, Config{}, series(r, 1000, tt.level, tt.noise))
			if len(began) > 0 {
				t.Errorf("%s at %v, seed %d: anomalies at intervals %v", tt.noise, tt.level, seed, began)
			}
		}
	}
}

func TestAnomalyDetectsJump(t *testing.T) {
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 9))
		p := series(r, 60, 20*ms, "gauss5")
		for i := 30; i < 60; i++ {
			p[i] *= 5 // a lasting 5× jump at interval 30
		}
		began, ended := anomalies(t, Config{}, p)
		// Reported at its second interval (Confirm 2), once; over when the
		// baseline has learnt the new level.
		if len(began) != 1 || began[0] != 31 {
			t.Errorf("seed %d: anomaly began at %v, want [31]", seed, began)
		}
		if len(ended) != 1 || ended[0] < 35 || ended[0] > 50 {
			t.Errorf("seed %d: anomaly ended at %v, want one end within 20 intervals", seed, ended)
		}
	}
}

func TestAnomalySpike(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	p := series(r, 40, 20*ms, "gauss5")
	p[20] *= 5 // one interval
	if began, _ := anomalies(t, Config{}, p); len(began) != 0 {
		t.Errorf("Confirm 2: a single spike reported at %v", began)
	}
	began, ended := anomalies(t, Config{Anomaly: AnomalyConfig{Confirm: 1}}, p)
	if len(began) != 1 || began[0] != 20 || len(ended) != 1 || ended[0] != 21 {
		t.Errorf("Confirm 1: a single spike began at %v, ended at %v; want [20], [21]", began, ended)
	}
	// The spike barely moved the baseline: a second one is caught too.
	p[30] *= 5
	if began, _ := anomalies(t, Config{Anomaly: AnomalyConfig{Confirm: 1}}, p); len(began) != 2 {
		t.Errorf("Confirm 1: two spikes reported at %v", began)
	}
}

func TestAnomalyWarmupAndMinJobs(t *testing.T) {
	p := []time.Duration{20 * ms, 20 * ms, 100 * ms, 100 * ms, 100 * ms, 100 * ms, 100 * ms}
	if began, _ := anomalies(t, Config{}, p); len(began) != 0 {
		t.Errorf("anomaly during the warm-up at %v", began)
	}
	cfg := Config{Latency: -1, SuccessRate: -1, Anomaly: AnomalyConfig{Warmup: 3, Confirm: 1}}
	tr, c, _ := newTracker(t, cfg)
	for range 3 {
		step(tr, c, []MethodInterval{lat("img", "resize", 100, 20*ms)}, nil)
	}
	// Too few jobs: neither judged nor learnt.
	for range 20 {
		if evs := step(tr, c, []MethodInterval{lat("img", "resize", 19, time.Second)}, nil); len(evs) != 0 {
			t.Fatalf("judged an interval of 19 jobs: %v", evs)
		}
	}
	if got := summary(step(tr, c, []MethodInterval{lat("img", "resize", 20, 100*ms)}, nil)); got != "violation anomaly img.resize" {
		t.Errorf("events %q", got)
	}
	if got := tr.Violations(); len(got) != 1 || got[0].SLO != Anomaly || got[0].N != 1 {
		t.Errorf("violations %+v", got)
	}
}

func TestAnomalyOff(t *testing.T) {
	p := make([]time.Duration, 20)
	for i := range p {
		p[i] = 20 * ms
		if i >= 10 {
			p[i] = time.Second
		}
	}
	if began, _ := anomalies(t, Config{Anomaly: AnomalyConfig{Off: true}}, p); len(began) != 0 {
		t.Errorf("anomalies with detection off at %v", began)
	}
}

func TestBaselineWarmupIsPlainMean(t *testing.T) {
	var b baseline
	for _, x := range []float64{10, 20, 30, 40} {
		b.add(x, 0.2)
	}
	// Mean 25; deviations from the running mean: |20-10|, |30-15|, |40-20|.
	if b.mean != 25 || b.dev != 15 {
		t.Errorf("mean %v dev %v, want 25 15", b.mean, b.dev)
	}
}
