package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/breaker"
	"github.com/inos-node/node/config"
	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/guests/builtin"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/ops"
	"github.com/inos-node/node/sandbox"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
	"github.com/inos-node/node/slo"
)

// runFlags are run's flags: each, when given, replaces its setting from
// the config file (or the default).
type runFlags struct {
	fs   *flag.FlagSet
	file string
	set  map[string]func(c *config.Config, v string) error
}

func newRunFlags() *runFlags {
	f := &runFlags{fs: flag.NewFlagSet("run", flag.ContinueOnError), set: map[string]func(*config.Config, string) error{}}
	f.fs.StringVar(&f.file, "config", "", "TOML config file (`inos config` prints every setting with its default)")
	d := config.Default()
	str := func(name, usage, def string, to func(*config.Config) *string) {
		f.fs.String(name, def, usage)
		f.set[name] = func(c *config.Config, v string) error { *to(c) = v; return nil }
	}
	num := func(name, usage string, def int, to func(*config.Config) *int) {
		f.fs.Int(name, def, usage)
		f.set[name] = func(c *config.Config, v string) (err error) { *to(c), err = strconv.Atoi(v); return }
	}
	dur := func(name, usage string, def config.Duration, to func(*config.Config) *config.Duration) {
		f.fs.Duration(name, def.D(), usage)
		f.set[name] = func(c *config.Config, v string) error { return to(c).UnmarshalText([]byte(v)) }
	}
	str("region", "shared region name (/dev/shm/inos-NAME); may also be the first argument", "", func(c *config.Config) *string { return &c.Node.Region })
	num("inbox", "inbox ring slots (power of two)", d.Node.InboxSlots, func(c *config.Config) *int { return &c.Node.InboxSlots })
	num("outbox", "outbox ring slots per producer (power of two)", d.Node.OutboxSlots, func(c *config.Config) *int { return &c.Node.OutboxSlots })
	num("producers", "producer slots", d.Node.Producers, func(c *config.Config) *int { return &c.Node.Producers })
	num("heap-mib", "shared heap (the arena producers and the node allocate from), MiB", d.Node.HeapMiB, func(c *config.Config) *int { return &c.Node.HeapMiB })
	num("batch", "most jobs the dispatcher takes per wake", d.Node.Batch, func(c *config.Config) *int { return &c.Node.Batch })
	dur("spin", "how long the dispatcher spins before parking", d.Node.Spin, func(c *config.Config) *config.Duration { return &c.Node.Spin })
	dur("park", "longest single futex sleep", d.Node.Park, func(c *config.Config) *config.Duration { return &c.Node.Park })
	dur("housekeeping", "heartbeat and producer-scan period", d.Node.Housekeeping, func(c *config.Config) *config.Duration { return &c.Node.Housekeeping })
	str("log-level", "debug, info, warn or error", d.Node.LogLevel, func(c *config.Config) *string { return &c.Node.LogLevel })
	f.fs.Bool("guests", d.Guests.Enabled, "serve the built-in wasm guest libraries (image, crypto, bench) beside echo and noop")
	f.set["guests"] = func(c *config.Config, v string) (err error) { c.Guests.Enabled, err = strconv.ParseBool(v); return }
	str("cache-dir", "wazero's compilation cache (\"\" for none)", d.Guests.CacheDir, func(c *config.Config) *string { return &c.Guests.CacheDir })
	str("metrics-addr", "HOST:PORT for /metrics (Prometheus), /healthz and /readyz (\"\" for none)", "", func(c *config.Config) *string { return &c.Metrics.Addr })
	dur("metrics-interval", "interval of the HDR interval logs and the SLO checks", d.Metrics.Interval, func(c *config.Config) *config.Duration { return &c.Metrics.Interval })
	str("hdr-log-dir", "folder for HdrHistogram interval logs (\"\" for none)", "", func(c *config.Config) *string { return &c.Metrics.LogDir })
	f.fs.Bool("gpu", d.GPU.Enabled, "serve the gpu library when a webgpu.h library and an adapter are found")
	f.set["gpu"] = func(c *config.Config, v string) (err error) { c.GPU.Enabled, err = strconv.ParseBool(v); return }
	str("webgpu-lib", "the webgpu.h shared library (default $WEBGPU_LIB)", "", func(c *config.Config) *string { return &c.GPU.Lib })
	return f
}

// parse reads the flags, then the config file they name, then applies the
// flags that were given over it.
func (f *runFlags) parse(args []string) (config.Config, error) {
	if err := f.fs.Parse(args); err != nil {
		return config.Config{}, err
	}
	c := config.Default()
	if f.file != "" {
		var err error
		if c, err = config.Load(f.file); err != nil {
			return c, err
		}
	}
	var errs []error
	f.fs.Visit(func(fl *flag.Flag) {
		if set := f.set[fl.Name]; set != nil {
			if err := set(&c, fl.Value.String()); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %w", fl.Name, err))
			}
		}
	})
	if c.Node.Region == "" && f.fs.NArg() == 1 {
		c.Node.Region = f.fs.Arg(0)
	}
	if c.Node.Region == "" {
		errs = append(errs, errors.New("--region (or node.region in the config file) is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Check()
}

func cmdRun(args []string) error {
	c, err := newRunFlags().parse(args)
	if err != nil {
		return err
	}
	log, err := newLogger(c.Node.LogLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	start := time.Now()

	// The HTTP endpoint comes up first, so that /readyz says "not ready"
	// while the guests compile.
	var ready atomic.Pointer[error]
	notYet := errors.New("compiling and warming the guests")
	ready.Store(&notYet)
	var node atomic.Pointer[kernel.Node]
	live := func() error {
		n := node.Load()
		if n == nil {
			return errors.New("the node is starting")
		}
		hb := n.Heartbeat()
		if hb.IsZero() {
			return errors.New("the dispatcher has not started")
		}
		if age := time.Since(hb); age > c.Metrics.HeartbeatOK.D() {
			return fmt.Errorf("the dispatcher's last heartbeat was %s ago", age.Round(time.Millisecond))
		}
		return nil
	}
	var srv *ops.Server
	if c.Metrics.Addr != "" {
		readyz := func() error {
			if err := *ready.Load(); err != nil {
				return err
			}
			return live() // and the dispatcher turns
		}
		srv = ops.NewServer(c.Metrics.Addr, nil, live, readyz, log)
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Close(context.Background())
		log.Info("serving /metrics, /healthz and /readyz", "addr", srv.Addr())
	}

	reg, err := kernel.NewRegistry(kernel.Echo{}, kernel.Noop{})
	var guests []*sandbox.Library
	if c.Guests.Enabled {
		set, lerr := builtin.Load(ctx, builtin.Options{CacheDir: c.Guests.CacheDir})
		if lerr != nil {
			return lerr
		}
		defer set.Close(context.Background())
		reg, err = set.Registry, nil
		for _, g := range builtin.Guests() {
			if l := set.Guests[g.Name]; l != nil {
				guests = append(guests, l)
			}
		}
	}
	if err != nil {
		return err
	}
	if c.GPU.Enabled {
		g, gerr := gpu.Open(ctx, gpu.Options{LibPath: c.GPU.Lib})
		if gerr != nil {
			// Jobs for gpu get libraryUnavailable with the reason.
			log.Info("the gpu library is unavailable", "reason", gerr)
			if err := reg.Add(gpu.Unavailable(gerr)); err != nil {
				return err
			}
		} else {
			defer g.Close()
			if err := reg.Add(g); err != nil {
				return err
			}
			i := g.Info()
			log.Info("gpu library", "device", i.Device, "backend", i.Backend, "type", i.Type)
		}
	}
	o := &observability{cfg: c, started: start, log: log, guests: guests}
	if err := reg.Add(o); err != nil { // the host-side library "node": method "stats"
		return err
	}
	if err := o.init(reg.Methods()); err != nil {
		return err
	}
	defer o.close()
	if srv != nil {
		for _, col := range o.collectors() {
			if err := srv.Register(col); err != nil {
				return err
			}
		}
	}

	n, err := kernel.New(kernel.Config{
		Region: c.Node.Region, InboxCap: c.Node.InboxSlots, OutboxCap: c.Node.OutboxSlots, MaxProducers: c.Node.Producers,
		HeapBytes: uint64(c.Node.HeapMiB) << 20, Batch: c.Node.Batch,
		Wait:         shm.WaitPolicy{Spin: c.Node.Spin.D(), Park: c.Node.Park.D()},
		Housekeeping: c.Node.Housekeeping.D(), Logger: log, Libraries: reg,
		Observer: o.observers, Gate: o.gate(),
	})
	if err != nil {
		return err
	}
	node.Store(n)
	o.node = n
	if srv != nil {
		if err := srv.Register(ops.NewNodeCollector(n)); err != nil {
			return err
		}
	}
	loopDone := make(chan struct{})
	loopCtx, stopLoop := context.WithCancel(ctx)
	go func() { defer close(loopDone); o.loop(loopCtx) }()
	ready.Store(new(error))
	log.Info("node ready", "region", c.Node.Region, "after", time.Since(start).Round(time.Millisecond), "methods", len(reg.Methods()))

	runErr := n.Run(ctx)
	stopLoop()
	<-loopDone
	st, hs := n.Stats(), n.HeapStats()
	log.Info("node stopping", "jobs", st.Jobs, "failed", st.Failed, "dropped", st.Dropped,
		"reclaimed", st.Reclaimed, "abandoned", st.Abandoned, "parks", st.Parks,
		"heap_live", hs.Live, "heap_efficiency", fmt.Sprintf("%.3f", hs.Efficiency),
		"heap_external_frag", fmt.Sprintf("%.3f", hs.ExternalFrag), "heap_compactions", hs.Compactions)
	if err := n.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// observability is the node's metrics, SLOs and breakers, and the
// host-side library "node" whose method "stats" answers `inos stats`.
type observability struct {
	cfg     config.Config
	started time.Time
	log     *slog.Logger
	guests  []*sandbox.Library
	node    *kernel.Node

	rec       *metrics.Recorder
	prom      *ops.JobMetrics
	brk       *breaker.Set
	tracker   *slo.Tracker
	hlog      *metrics.LogWriter
	observers kernel.Observers
	copied    uint64 // sandbox bulk bytes copied at the last interval
	// pending holds latencies carried over until there are enough to judge.
	pending map[kernel.MethodID]*hdrhistogram.Histogram
}

func (o *observability) Name() string { return "node" }

func (o *observability) Methods() map[string]kernel.Method {
	return map[string]kernel.Method{"stats": o.stats}
}

func (o *observability) init(methods []kernel.MethodInfo) error {
	o.rec = metrics.NewRecorder(methods)
	o.pending = map[kernel.MethodID]*hdrhistogram.Histogram{}
	o.prom = ops.NewJobMetrics(methods)
	o.observers = kernel.Observers{o.rec, o.prom}
	if b := o.cfg.Breaker; b.Enabled {
		o.brk = breaker.New(methods, breaker.Config{Window: b.Window, MinJobs: b.MinJobs, FailureRate: b.FailureRate, Cooldown: b.Cooldown.D(),
			OnChange: func(lib string, from, to breaker.State) {
				o.log.Warn("circuit breaker", "library", lib, "from", from.String(), "to", to.String())
			}})
		o.observers = append(o.observers, o.brk)
	}
	s := o.cfg.SLO
	lat := map[string]time.Duration{}
	for k, v := range s.LatencyOverrides {
		lat[k] = v.D()
	}
	var err error
	o.tracker, err = slo.New(slo.Config{
		Latency: s.LatencyP95.D(), MethodLatency: lat, SuccessRate: s.SuccessRate, HeapEfficiency: s.MemoryEfficiency,
		AllowCopies: !s.ZeroCopy, MinJobs: uint64(s.MinJobs), Webhook: s.Webhook, Node: o.cfg.Node.Region,
		Anomaly: slo.AnomalyConfig{K: s.AnomalyK, Alpha: s.AnomalyAlpha}, Logger: o.log,
	})
	if err != nil {
		return err
	}
	if d := o.cfg.Metrics.LogDir; d != "" {
		o.hlog, err = metrics.NewLogWriter(d, o.cfg.Node.Region, metrics.LogOptions{
			RotateEvery: o.cfg.Metrics.LogRotate.D(), MaxBytes: int64(o.cfg.Metrics.LogMaxMiB) << 20, Keep: o.cfg.Metrics.LogKeep})
		if err != nil {
			return err
		}
	}
	return nil
}

func (o *observability) gate() kernel.Gate {
	if o.brk == nil {
		return nil
	}
	return o.brk
}

func (o *observability) close() {
	o.tracker.Close()
	if o.hlog != nil {
		o.hlog.Close()
	}
}

// loop ends an interval every metrics interval: its histograms go to the
// HDR log, and the SLOs are checked on it.
func (o *observability) loop(ctx context.Context) {
	t := time.NewTicker(o.cfg.Metrics.Interval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			o.interval() // the last, partial one
			return
		case <-t.C:
			o.interval()
		}
	}
}

func (o *observability) interval() {
	iv := o.rec.Interval()
	if o.hlog != nil {
		if err := o.hlog.Write(iv); err != nil {
			o.log.Warn("HDR interval log", "err", err)
		}
	}
	ms := make([]slo.MethodInterval, 0, len(iv))
	for i := range iv {
		s := &iv[i]
		mi := slo.MethodInterval{Library: s.Library, Method: s.Method, OK: s.OK}
		for k, n := range s.Errors {
			if breaker.Classify(k) == breaker.Failure {
				mi.Failed += n
			}
		}
		// A p95 needs samples: an operation's latency is carried over
		// intervals until it has SLO.MinJobs of them, so that slow,
		// rare operations are judged too.
		if h, _ := s.Latency(); h != nil {
			acc := o.pending[s.ID]
			if acc == nil {
				acc = metrics.NewHistogram()
				o.pending[s.ID] = acc
			}
			acc.Merge(h)
			mi.Jobs = uint64(acc.TotalCount())
			if mi.Jobs >= uint64(o.cfg.SLO.MinJobs) {
				mi.P50, mi.P95, mi.P99 = time.Duration(acc.ValueAtQuantile(50)), time.Duration(acc.ValueAtQuantile(95)), time.Duration(acc.ValueAtQuantile(99))
				delete(o.pending, s.ID)
			}
		}
		ms = append(ms, mi)
	}
	nodeIv := &slo.NodeInterval{HeapEfficiency: math.NaN()}
	// An idle heap (nothing requested, freed blocks still cached for
	// reuse) has no efficiency worth judging.
	if o.node != nil {
		if hs := o.node.HeapStats(); hs.Requested > 0 {
			nodeIv.HeapEfficiency = hs.Efficiency
		}
	}
	var copied uint64
	for _, l := range o.guests {
		copied += l.Stats().BulkBytesCopied
	}
	nodeIv.BytesCopied, o.copied = copied-o.copied, copied
	o.tracker.Evaluate(ms, nodeIv)
}

// stats is node.stats: the node's cumulative histograms and counters, its
// SLO status and breaker states, in metrics' wire form.
func (o *observability) stats(_ context.Context, j *kernel.Job) (schema.Ref, error) {
	extra := metrics.Extra{Node: o.cfg.Node.Region, Uptime: time.Since(o.started), Taken: time.Now()}
	for _, l := range o.tracker.Status() {
		extra.SLO = append(extra.SLO, metrics.SLOLine{Name: l.Name, Target: l.Target, Value: l.Value, OK: l.OK})
	}
	if o.brk != nil {
		extra.Breakers = map[string]string{}
		for _, s := range o.brk.Stats() {
			v := s.State.String()
			if s.Opens > 0 {
				v += fmt.Sprintf(" (opened %d times, %d jobs refused)", s.Opens, s.Refused)
			}
			extra.Breakers[s.Library] = v
		}
	}
	b, err := metrics.EncodeSnapshot(o.rec.Snapshot(), extra)
	if err != nil {
		return schema.Ref{}, err
	}
	if len(b) > len(j.Output) {
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorOutputTooLarge, Msg: fmt.Sprintf("node.stats needs %d bytes", len(b)), OutputNeeded: uint64(len(b))}
	}
	return schema.Ref{Offset: j.OutputRef.Offset, Length: uint64(copy(j.Output, b))}, nil
}

// collectors are the Prometheus collectors of the jobs, the guests, the
// SLOs and the breakers (the node's own is added once it exists).
func (o *observability) collectors() []prometheus.Collector {
	libs := make([]ops.Library, len(o.guests))
	for i, l := range o.guests {
		libs[i] = l
	}
	cs := []prometheus.Collector{o.prom, ops.NewLibraryCollector(libs...), ops.NewBuildInfo(""), ops.NewSLOCollector(o.tracker)}
	if o.brk != nil {
		cs = append(cs, ops.NewBreakerCollector(o.brk))
	}
	return cs
}
