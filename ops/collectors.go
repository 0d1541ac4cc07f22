package ops

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/breaker"
	"github.com/inos-node/node/slo"
)

// SLOCollector exposes an SLO tracker's counts:
// inos_slo_violations_total{slo,library,method} (times a target went from
// met to violated; slo "anomaly" for latency anomalies),
// inos_slo_violated_intervals_total{...} (intervals judged violated), and
// inos_slo_webhook_total{result="sent|failed|dropped"}.
type SLOCollector struct {
	t                            *slo.Tracker
	violations, intervals, hooks *prometheus.Desc
}

// NewSLOCollector reads t at scrape time.
func NewSLOCollector(t *slo.Tracker) *SLOCollector {
	l := []string{"slo", "library", "method"}
	return &SLOCollector{t: t,
		violations: prometheus.NewDesc("inos_slo_violations_total", "Times an SLO went from met to violated (slo=\"anomaly\": latency anomalies).", l, nil),
		intervals:  prometheus.NewDesc("inos_slo_violated_intervals_total", "Metrics intervals an SLO was judged violated.", l, nil),
		hooks:      prometheus.NewDesc("inos_slo_webhook_total", "SLO events posted to the webhook, by result.", []string{"result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *SLOCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.violations
	ch <- c.intervals
	ch <- c.hooks
}

// Collect implements prometheus.Collector.
func (c *SLOCollector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.t.Violations() {
		ch <- prometheus.MustNewConstMetric(c.violations, prometheus.CounterValue, float64(v.N), v.SLO, v.Library, v.Method)
		ch <- prometheus.MustNewConstMetric(c.intervals, prometheus.CounterValue, float64(v.Intervals), v.SLO, v.Library, v.Method)
	}
	w := c.t.Webhook()
	ch <- prometheus.MustNewConstMetric(c.hooks, prometheus.CounterValue, float64(w.Sent), "sent")
	ch <- prometheus.MustNewConstMetric(c.hooks, prometheus.CounterValue, float64(w.Failed), "failed")
	ch <- prometheus.MustNewConstMetric(c.hooks, prometheus.CounterValue, float64(w.Dropped), "dropped")
}

// BreakerCollector exposes circuit breakers: inos_breaker_state{library}
// (0 closed, 1 half-open, 2 open), inos_breaker_opens_total{library} and
// inos_breaker_refused_total{library} (jobs refused while open).
type BreakerCollector struct {
	s                    *breaker.Set
	state, opens, refuse *prometheus.Desc
}

// NewBreakerCollector reads s at scrape time.
func NewBreakerCollector(s *breaker.Set) *BreakerCollector {
	l := []string{"library"}
	return &BreakerCollector{s: s,
		state:  prometheus.NewDesc("inos_breaker_state", "A library's circuit breaker: 0 closed, 1 half-open, 2 open.", l, nil),
		opens:  prometheus.NewDesc("inos_breaker_opens_total", "Times a library's circuit breaker opened.", l, nil),
		refuse: prometheus.NewDesc("inos_breaker_refused_total", "Jobs refused (libraryUnavailable) while a library's breaker was open.", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BreakerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.state
	ch <- c.opens
	ch <- c.refuse
}

// Collect implements prometheus.Collector.
func (c *BreakerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.s.Stats() {
		v := 0.0
		switch s.State {
		case breaker.HalfOpen:
			v = 1
		case breaker.Open:
			v = 2
		}
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, v, s.Library)
		ch <- prometheus.MustNewConstMetric(c.opens, prometheus.CounterValue, float64(s.Opens), s.Library)
		ch <- prometheus.MustNewConstMetric(c.refuse, prometheus.CounterValue, float64(s.Refused), s.Library)
	}
}
