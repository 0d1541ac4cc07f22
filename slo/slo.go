package slo

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// MethodInterval is one method's figures over one evaluation interval.
type MethodInterval struct {
	Library, Method string
	// Jobs is every job the method answered; OK those that succeeded;
	// Failed those that failed by the library's fault (the breaker's
	// classification). Client errors are in Jobs only.
	Jobs, OK, Failed uint64
	// Latency percentiles of the interval's jobs.
	P50, P95, P99 time.Duration
}

// NodeInterval is the node-wide figures of one evaluation interval.
type NodeInterval struct {
	// HeapEfficiency is the share of the shared heap's bytes in use that
	// the jobs asked for, in [0, 1]; NaN: not measured (not judged).
	HeapEfficiency float64
	// BytesCopied is the bulk bytes copied between producers and guests in
	// the interval; 0 is zero-copy compliance.
	BytesCopied uint64
}

// The names of the checks (Event.SLO, Count.SLO).
const (
	Latency        = "latency_p95"
	SuccessRate    = "success_rate"
	HeapEfficiency = "heap_efficiency"
	ZeroCopy       = "zero_copy"
	Anomaly        = "anomaly"
)

// Defaults of Config.
const (
	DefaultLatency        = 100 * time.Millisecond
	DefaultSuccessRate    = 0.999
	DefaultMinJobs        = 20
	DefaultHeapEfficiency = 0.80
	DefaultAlpha          = 0.2
	DefaultK              = 4
	DefaultFloor          = time.Millisecond
	DefaultWarmup         = 5
	DefaultConfirm        = 2
	DefaultWebhookTimeout = 5 * time.Second
	DefaultWebhookQueue   = 64
)

// Config sets the targets and outputs. Zero fields take the defaults.
type Config struct {
	// Latency is every method's p95 target (p95 < Latency); default
	// 100 ms; negative: no latency target.
	Latency time.Duration
	// MethodLatency overrides Latency for the methods it names, as
	// "library.method"; a negative value: no latency target for it.
	MethodLatency map[string]time.Duration
	// SuccessRate is the target of OK/(OK+Failed) (rate > SuccessRate);
	// default 0.999; negative: none.
	SuccessRate float64
	// MinJobs is the smallest sample judged (see the package
	// documentation); default 20.
	MinJobs uint64
	// HeapEfficiency is the target of NodeInterval.HeapEfficiency (value
	// > target); default 0.8; negative: none.
	HeapEfficiency float64
	// AllowCopies turns the zero-copy target off.
	AllowCopies bool
	// Anomaly tunes latency anomaly detection.
	Anomaly AnomalyConfig

	// Webhook, if set, is an http(s) URL that each Event is POSTed to.
	Webhook string
	// WebhookTimeout bounds one POST; default 5 s.
	WebhookTimeout time.Duration
	// WebhookQueue is how many events may wait to be posted; default 64.
	WebhookQueue int
	// HTTPClient posts; default a client with WebhookTimeout.
	HTTPClient *http.Client
	// Node names this node in webhook bodies.
	Node string

	// Logger receives the reports; default slog.Default().
	Logger *slog.Logger
	// Clock tells the time; default time.Now.
	Clock func() time.Time
}

// AnomalyConfig tunes anomaly detection. Zero fields take the defaults.
type AnomalyConfig struct {
	Off    bool          // no anomaly detection
	Alpha  float64       // weight of a new interval in the averages, in (0, 1]; default 0.2
	K      float64       // deviations above the baseline that make an anomaly; default 4
	Floor  time.Duration // the smallest excess that is an anomaly; default 1 ms
	Warmup int           // judged intervals before detection starts; default 5
	// Confirm is how many intervals in a row must exceed the threshold
	// before an anomaly is reported; default 2 (see the package
	// documentation; 1 reports single intervals).
	Confirm int
}

func (c Config) withDefaults() (Config, error) {
	if c.Latency == 0 {
		c.Latency = DefaultLatency
	}
	c.MethodLatency = maps.Clone(c.MethodLatency) // the caller's map may change
	for k := range c.MethodLatency {
		if lib, m, ok := strings.Cut(k, "."); !ok || lib == "" || m == "" {
			return c, fmt.Errorf("slo: MethodLatency key %q is not \"library.method\"", k)
		}
	}
	if c.SuccessRate == 0 {
		c.SuccessRate = DefaultSuccessRate
	}
	if c.SuccessRate >= 1 {
		return c, fmt.Errorf("slo: SuccessRate %v: no rate is above it", c.SuccessRate)
	}
	if c.MinJobs == 0 {
		c.MinJobs = DefaultMinJobs
	}
	if c.HeapEfficiency == 0 {
		c.HeapEfficiency = DefaultHeapEfficiency
	}
	if c.HeapEfficiency >= 1 {
		return c, fmt.Errorf("slo: HeapEfficiency %v: no efficiency is above it", c.HeapEfficiency)
	}
	a := &c.Anomaly
	if a.Alpha == 0 {
		a.Alpha = DefaultAlpha
	}
	if !(a.Alpha > 0 && a.Alpha <= 1) {
		return c, fmt.Errorf("slo: Anomaly.Alpha %v is not in (0, 1]", a.Alpha)
	}
	if a.K <= 0 {
		a.K = DefaultK
	}
	if a.Floor <= 0 {
		a.Floor = DefaultFloor
	}
	if a.Warmup <= 0 {
		a.Warmup = DefaultWarmup
	}
	if a.Confirm <= 0 {
		a.Confirm = DefaultConfirm
	}
	if c.Webhook != "" {
		u, err := url.Parse(c.Webhook)
		if err != nil {
			return c, fmt.Errorf("slo: Webhook: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("slo: Webhook %q is not an http or https URL", c.Webhook)
		}
	}
	if c.WebhookTimeout <= 0 {
		c.WebhookTimeout = DefaultWebhookTimeout
	}
	if c.WebhookQueue <= 0 {
		c.WebhookQueue = DefaultWebhookQueue
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.WebhookTimeout}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c, nil
}

// The kinds of Event.
const (
	Violation = "violation" // a check went from ok to violated (or an anomaly began)
	Recovery  = "recovery"  // it went back to ok
)

// Event is one report: a check changed state. It is also the webhook's
// JSON body.
type Event struct {
	Kind    string `json:"event"` // Violation or Recovery
	SLO     string `json:"slo"`
	Library string `json:"library,omitempty"` // empty for node-wide checks
	Method  string `json:"method,omitempty"`
	// Target and Value for people: "< 100ms", "132ms".
	Target string `json:"target"`
	Value  string `json:"value"`
	// Limit and Measured are the same in base units: seconds for
	// latencies, a fraction for rates, bytes for copies.
	Limit    float64   `json:"limit"`
	Measured float64   `json:"measured"`
	Time     time.Time `json:"time"`
	Interval string    `json:"interval"` // the evaluated interval's length, e.g. "10s"
	Node     string    `json:"node,omitempty"`
	Message  string    `json:"message"`
}

// Count is how often one check was violated.
type Count struct {
	SLO, Library, Method string
	// N counts violations (ok → violated changes); Intervals counts the
	// judged intervals found violated.
	N, Intervals uint64
}

// Line is one check of the latest evaluation, for inos stats.
type Line struct {
	Name, Target, Value string
	OK                  bool
}

// Tracker judges the intervals. Create it with New.
type Tracker struct {
	cfg  Config
	hook *webhook // nil without Config.Webhook

	mu      sync.Mutex
	last    time.Time // the previous evaluation (or New)
	round   uint64    // evaluations so far
	methods map[methodKey]*methodState
	order   []*methodState // sorted by library, method
	heap    check
	copies  check
	counts  map[countKey]*Count
}

type methodKey struct{ lib, method string }

type countKey struct{ slo, lib, method string }

// check is one SLO's state on one subject.
type check struct {
	judged  uint64 // the round it was last judged; 0: never
	bad     bool   // violated (stays until an ok judgement)
	target  string
	value   string
	disable bool
}

type methodState struct {
	lib, method string
	latency     time.Duration // target; <0: none
	lat, rate   check
	anomaly     check
	// Success counts not yet judged (a short interval's carry over).
	ok, failed uint64
	base       baseline
	above      int // intervals in a row above the anomaly threshold
}

// New returns a Tracker, and starts its webhook sender if Config.Webhook is
// set.
func New(cfg Config) (*Tracker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	t := &Tracker{cfg: cfg, last: cfg.Clock(), methods: map[methodKey]*methodState{}, counts: map[countKey]*Count{}}
	t.heap.disable = cfg.HeapEfficiency < 0
	t.copies.disable = cfg.AllowCopies
	if cfg.Webhook != "" {
		t.hook = startWebhook(cfg)
	}
	return t, nil
}

// Close stops the webhook sender, abandoning the post in flight and the
// queued events (counted as dropped). Evaluate may still be called; its
// events are no longer posted.
func (t *Tracker) Close() {
	if t.hook != nil {
		t.hook.close()
	}
}

func (t *Tracker) method(lib, name string) *methodState {
	k := methodKey{lib, name}
	if m := t.methods[k]; m != nil {
		return m
	}
	m := &methodState{lib: lib, method: name, latency: t.cfg.Latency}
	if d, ok := t.cfg.MethodLatency[lib+"."+name]; ok && d != 0 {
		m.latency = d
	}
	m.lat.disable = m.latency < 0
	m.rate.disable = t.cfg.SuccessRate < 0
	m.anomaly.disable = t.cfg.Anomaly.Off
	t.methods[k] = m
	i, _ := slices.BinarySearchFunc(t.order, m, compareMethods)
	t.order = slices.Insert(t.order, i, m)
	return m
}

func compareMethods(a, b *methodState) int {
	return cmp.Or(cmp.Compare(a.lib, b.lib), cmp.Compare(a.method, b.method))
}

// judgement is one check's verdict in one evaluation, before it is
// applied.
type judgement struct {
	slo, lib, method string
	ok               bool
	target, value    string
	limit, measured  float64
	message          string // the sentence for a violation or a recovery
}

// evaluation collects one Evaluate's events.
type evaluation struct {
	t        *Tracker
	now      time.Time
	interval time.Duration
	events   []Event
}

// judge applies j to c.
func (ev *evaluation) judge(c *check, j judgement) {
	t := ev.t
	c.judged, c.target, c.value = t.round, j.target, j.value
	kind := ""
	switch {
	case !j.ok && !c.bad:
		kind = Violation
	case j.ok && c.bad:
		kind = Recovery
	}
	if !j.ok {
		k := countKey{j.slo, j.lib, j.method}
		n := t.counts[k]
		if n == nil {
			n = &Count{SLO: j.slo, Library: j.lib, Method: j.method}
			t.counts[k] = n
		}
		n.Intervals++
		if !c.bad {
			n.N++
		}
	}
	c.bad = !j.ok
	if kind == "" {
		return
	}
	ev.events = append(ev.events, Event{Kind: kind, SLO: j.slo, Library: j.lib, Method: j.method,
		Target: j.target, Value: j.value, Limit: j.limit, Measured: j.measured,
		Time: ev.now, Interval: ev.interval.String(), Node: t.cfg.Node, Message: j.message})
}

// Evaluate judges one interval's figures and returns the reports (also
// logged and posted). node nil: no node-wide figures this interval.
func (t *Tracker) Evaluate(methods []MethodInterval, node *NodeInterval) []Event {
	t.mu.Lock()
	now := t.cfg.Clock()
	ev := &evaluation{t: t, now: now, interval: now.Sub(t.last)}
	t.last = now
	t.round++
	if node != nil {
		ev.node(node)
	}
	for i := range methods {
		ev.method(&methods[i])
	}
	t.mu.Unlock()
	for i := range ev.events {
		t.report(&ev.events[i], ev.interval)
	}
	return ev.events
}

func (ev *evaluation) node(n *NodeInterval) {
	t := ev.t
	if c := &t.heap; !c.disable && !math.IsNaN(n.HeapEfficiency) {
		ok := n.HeapEfficiency > t.cfg.HeapEfficiency
		j := judgement{slo: HeapEfficiency, ok: ok,
			target: "> " + percent(t.cfg.HeapEfficiency), value: percentValue(n.HeapEfficiency, 1),
			limit: t.cfg.HeapEfficiency, measured: n.HeapEfficiency}
		if ok {
			j.message = fmt.Sprintf("heap efficiency %s is above its %s target again", j.value, percent(t.cfg.HeapEfficiency))
		} else {
			j.message = fmt.Sprintf("heap efficiency %s is not above its %s target", j.value, percent(t.cfg.HeapEfficiency))
		}
		ev.judge(c, j)
	}
	if c := &t.copies; !c.disable {
		ok := n.BytesCopied == 0
		j := judgement{slo: ZeroCopy, ok: ok, target: "0 B copied", value: byteSize(n.BytesCopied) + " copied",
			measured: float64(n.BytesCopied)}
		if ok {
			j.message = "no bulk bytes were copied between producers and guests: zero-copy again"
		} else {
			j.message = fmt.Sprintf("%s of bulk data were copied between producers and guests in %v; the target is zero-copy", byteSize(n.BytesCopied), ev.interval)
		}
		ev.judge(c, j)
	}
}

func (ev *evaluation) method(mi *MethodInterval) {
	t := ev.t
	m := t.method(mi.Library, mi.Method)
	name := mi.Library + "." + mi.Method
	if !m.lat.disable && mi.Jobs >= t.cfg.MinJobs {
		ok := mi.P95 < m.latency
		j := judgement{slo: Latency, lib: m.lib, method: m.method, ok: ok,
			target: "< " + duration(m.latency), value: duration(mi.P95),
			limit: m.latency.Seconds(), measured: mi.P95.Seconds()}
		if ok {
			j.message = fmt.Sprintf("%s p95 latency %s is below its %s target again", name, j.value, duration(m.latency))
		} else {
			j.message = fmt.Sprintf("%s p95 latency %s is not below its %s target (%d jobs)", name, j.value, duration(m.latency), mi.Jobs)
		}
		ev.judge(&m.lat, j)
	}
	if !m.rate.disable {
		m.ok += mi.OK
		m.failed += mi.Failed
		if n := m.ok + m.failed; n >= t.cfg.MinJobs {
			rate := float64(m.ok) / float64(n)
			ok := rate > t.cfg.SuccessRate
			value := fmt.Sprintf("%s (%d of %d failed)", percentValue(rate, 3), m.failed, n)
			j := judgement{slo: SuccessRate, lib: m.lib, method: m.method, ok: ok,
				target: "> " + percent(t.cfg.SuccessRate), value: value,
				limit: t.cfg.SuccessRate, measured: rate}
			if ok {
				j.message = fmt.Sprintf("%s success rate %s is above its %s target again", name, value, percent(t.cfg.SuccessRate))
			} else {
				j.message = fmt.Sprintf("%s success rate %s is not above its %s target", name, value, percent(t.cfg.SuccessRate))
			}
			ev.judge(&m.rate, j)
			m.ok, m.failed = 0, 0
		}
	}
	if !m.anomaly.disable && mi.Jobs >= t.cfg.MinJobs {
		a := &t.cfg.Anomaly
		x := float64(mi.P95)
		if m.base.n >= a.Warmup {
			b := m.base
			thr := b.threshold(a.K, float64(a.Floor))
			if x > thr {
				m.above++
			} else {
				m.above = 0
			}
			ok := m.above < a.Confirm
			j := judgement{slo: Anomaly, lib: m.lib, method: m.method, ok: ok,
				target: "< " + duration(time.Duration(thr)), value: duration(mi.P95),
				limit: thr / 1e9, measured: mi.P95.Seconds()}
			if ok {
				j.message = fmt.Sprintf("%s p95 latency %s is back within its baseline %s ± %s", name, j.value,
					duration(time.Duration(b.mean)), duration(time.Duration(b.dev)))
			} else {
				j.message = fmt.Sprintf("%s p95 latency %s is anomalous (%d intervals above %s): its baseline is %s ± %s", name, j.value,
					m.above, duration(time.Duration(thr)), duration(time.Duration(b.mean)), duration(time.Duration(b.dev)))
			}
			ev.judge(&m.anomaly, j) // above but not yet confirmed is still ok
			x = min(x, thr)         // an outlier barely moves the baseline
		}
		m.base.add(x, a.Alpha)
	}
}

// report logs e and posts it.
func (t *Tracker) report(e *Event, interval time.Duration) {
	level, msg := slog.LevelWarn, "slo violated"
	switch {
	case e.SLO == Anomaly && e.Kind == Violation:
		msg = "latency anomaly"
	case e.SLO == Anomaly:
		level, msg = slog.LevelInfo, "latency anomaly over"
	case e.Kind == Recovery:
		level, msg = slog.LevelInfo, "slo recovered"
	}
	t.cfg.Logger.LogAttrs(context.Background(), level, msg,
		slog.String("slo", e.SLO), slog.String("library", e.Library), slog.String("method", e.Method),
		slog.String("target", e.Target), slog.String("value", e.Value), slog.Duration("interval", interval),
		slog.String("detail", e.Message))
	if t.hook != nil {
		t.hook.enqueue(*e)
	}
}

// Violations returns how often each check was violated, sorted by SLO,
// library and method; checks never violated are absent.
func (t *Tracker) Violations() []Count {
	t.mu.Lock()
	out := make([]Count, 0, len(t.counts))
	for _, c := range t.counts {
		out = append(out, *c)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.SLO, b.SLO), cmp.Compare(a.Library, b.Library), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// Status returns one line per check: the node-wide ones, then each
// method's (latency, success rate, anomaly), sorted by library and method.
// OK is false while the check is violated. A value judged before the latest
// evaluation (too few jobs since) ends in " (stale)"; one never judged is
// "n/a".
func (t *Tracker) Status() []Line {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Line
	add := func(c *check, name, target string) {
		if c.disable {
			return
		}
		l := Line{Name: name, Target: target, Value: "n/a", OK: !c.bad}
		if c.judged > 0 {
			l.Target, l.Value = c.target, c.value
			if c.judged != t.round {
				l.Value += " (stale)"
			}
		}
		out = append(out, l)
	}
	add(&t.heap, "heap efficiency", "> "+percent(t.cfg.HeapEfficiency))
	add(&t.copies, "zero-copy", "0 B copied")
	for _, m := range t.order {
		name := m.lib + "." + m.method
		add(&m.lat, name+" p95", "< "+duration(m.latency))
		add(&m.rate, name+" success", "> "+percent(t.cfg.SuccessRate))
		warm := fmt.Sprintf("warming up (%d/%d)", m.base.n, t.cfg.Anomaly.Warmup)
		if m.base.n >= t.cfg.Anomaly.Warmup && m.anomaly.judged == 0 {
			warm = "< " + duration(time.Duration(m.base.threshold(t.cfg.Anomaly.K, float64(t.cfg.Anomaly.Floor))))
		}
		add(&m.anomaly, name+" anomaly", warm)
	}
	return out
}

// Webhook returns the webhook sender's counts (zero without a webhook).
func (t *Tracker) Webhook() WebhookStats {
	if t.hook == nil {
		return WebhookStats{}
	}
	return t.hook.stats()
}

// baseline is a moving average of a method's interval p95 and of its
// absolute deviation, in nanoseconds.
type baseline struct {
	mean, dev float64
	n         int // intervals added
}

// add learns x. The first intervals are averaged plainly (weight 1/n),
// so that the warm-up ends with the mean and deviation of its samples
// rather than a first sample's echo.
func (b *baseline) add(x, alpha float64) {
	b.n++
	if b.n == 1 {
		b.mean, b.dev = x, 0
		return
	}
	d := math.Abs(x - b.mean)
	b.mean += max(alpha, 1/float64(b.n)) * (x - b.mean)
	b.dev += max(alpha, 1/float64(b.n-1)) * (d - b.dev)
}

// threshold is the p95 above which an interval is an anomaly.
func (b *baseline) threshold(k, floor float64) float64 {
	return b.mean + max(k*b.dev, floor)
}
