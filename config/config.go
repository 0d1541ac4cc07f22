// Package config is the node's configuration file: TOML, every setting
// optional, each default documented in the file that `inos config` prints
// (Default, encoded by Write). `inos run` works without a file; with one
// (--config), the file's settings replace the defaults and command-line
// flags that were given replace the file's.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Duration is a time.Duration written as Go writes durations ("50µs",
// "10s", "1h30m").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole file.
type Config struct {
	Node    Node    `toml:"node" comment:"The node: its shared region, rings, heap and dispatcher."`
	Guests  Guests  `toml:"guests" comment:"The built-in wasm libraries (image, crypto, bench)."`
	GPU     GPU     `toml:"gpu" comment:"The host-side library gpu: WGSL compute through webgpu.h (Dawn or wgpu-native)."`
	Metrics Metrics `toml:"metrics" comment:"Operators' view: HDR histograms, interval logs, Prometheus and health endpoints."`
	SLO     SLO     `toml:"slo" comment:"Service-level objectives, checked every metrics interval; a violation is logged (warn),\ncounted (inos_slo_violations_total) and, with a webhook, posted as JSON."`
	Breaker Breaker `toml:"breaker" comment:"A circuit breaker per library: after too many of its recent jobs fail through the\nlibrary's fault, its jobs are refused at once (libraryUnavailable) until a probe job succeeds."`
}

// Node configures kernel.Config.
type Node struct {
	Region       string   `toml:"region" comment:"Shared region name: the file /dev/shm/inos-<region>. Required (here or --region)."`
	InboxSlots   int      `toml:"inbox_slots" comment:"Inbox ring slots, a power of two."`
	OutboxSlots  int      `toml:"outbox_slots" comment:"Slots of each producer's outbox ring, a power of two."`
	Producers    int      `toml:"producers" comment:"Producer slots: how many producer processes may attach at once."`
	HeapMiB      int      `toml:"heap_mib" comment:"The shared heap producers and the node allocate inputs, outputs and envelopes from, MiB."`
	Batch        int      `toml:"batch" comment:"Most jobs the dispatcher takes per wake."`
	Spin         Duration `toml:"spin" comment:"How long the dispatcher spins for work before it parks on the inbox's futex."`
	Park         Duration `toml:"park" comment:"Longest single futex sleep."`
	Housekeeping Duration `toml:"housekeeping" comment:"Heartbeat and producer-scan period (dead producers' memory is reclaimed then)."`
	LogLevel     string   `toml:"log_level" comment:"debug, info, warn or error."`
}

// Guests configures the built-in guests.
type Guests struct {
	Enabled  bool   `toml:"enabled" comment:"Serve the built-in wasm guests beside the host-side echo and noop."`
	CacheDir string `toml:"cache_dir" comment:"wazero's compilation cache (\"\" for none): with it a node starts in tens of milliseconds, without it in seconds."`
}

// GPU configures the gpu library.
type GPU struct {
	Enabled bool   `toml:"enabled" comment:"Serve the gpu library when a webgpu.h library and an adapter are found (else the node logs why and serves without it)."`
	Lib     string `toml:"lib" comment:"The webgpu.h shared library (\"\": $WEBGPU_LIB, then the system's; scripts/webgpu.sh installs Dawn's in .tools/webgpu/lib)."`
}

// Metrics configures the metrics loop and the HTTP endpoint.
type Metrics struct {
	Addr        string   `toml:"addr" comment:"HOST:PORT of the HTTP endpoint serving /metrics (Prometheus), /healthz and /readyz; \"\" for none."`
	Interval    Duration `toml:"interval" comment:"Metrics interval: interval histograms are logged and SLOs checked this often."`
	LogDir      string   `toml:"log_dir" comment:"Folder for HdrHistogram interval logs (<region>-<time>.hlog, read by HdrHistogram's tools); \"\" for none."`
	LogRotate   Duration `toml:"log_rotate" comment:"Start a new log file after this long."`
	LogMaxMiB   int      `toml:"log_max_mib" comment:"... or when the file passes this size, MiB."`
	LogKeep     int      `toml:"log_keep" comment:"Log files kept; older ones are deleted."`
	HeartbeatOK Duration `toml:"heartbeat_ok" comment:"/healthz fails when the dispatcher has not turned for this long."`
}

// SLO configures the objectives.
type SLO struct {
	LatencyP95       Duration            `toml:"latency_p95" comment:"Every operation's p95 latency (submit to result) must stay under this."`
	LatencyOverrides map[string]Duration `toml:"latency_overrides" comment:"Per-operation p95 targets, \"library.method\" = \"duration\" (e.g. \"image.resize\" = \"2s\")."`
	SuccessRate      float64             `toml:"success_rate" comment:"Share of jobs that must not fail through the library's fault (client errors do not count)."`
	MemoryEfficiency float64             `toml:"memory_efficiency" comment:"The shared heap's efficiency (bytes requested / bytes held) must stay above this."`
	ZeroCopy         bool                `toml:"zero_copy" comment:"Check zero-copy compliance: no byte copied between a producer and a guest."`
	MinJobs          int                 `toml:"min_jobs" comment:"An operation's latency and success are judged only over intervals with at least this many jobs."`
	Webhook          string              `toml:"webhook" comment:"URL to POST violations and anomalies to, as JSON; \"\" for none."`
	AnomalyK         float64             `toml:"anomaly_k" comment:"Latency anomaly: an interval's p95 this many deviations above its moving baseline."`
	AnomalyAlpha     float64             `toml:"anomaly_alpha" comment:"Weight of the newest interval in the moving baseline (EWMA)."`
}

// Breaker configures the circuit breakers.
type Breaker struct {
	Enabled     bool     `toml:"enabled" comment:"Give each library a circuit breaker."`
	Window      int      `toml:"window" comment:"Recent outcomes a breaker weighs."`
	MinJobs     int      `toml:"min_jobs" comment:"A breaker does not open before this many outcomes in its window."`
	FailureRate float64  `toml:"failure_rate" comment:"It opens when this share of its window failed through the library's fault."`
	Cooldown    Duration `toml:"cooldown" comment:"How long it stays open before it lets one probe job through."`
}

// Default returns the defaults: what `inos run` does without a file.
func Default() Config {
	cache := ""
	if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "inos", "wazero")
	}
	return Config{
		Node: Node{
			InboxSlots: 4096, OutboxSlots: 1024, Producers: 16, HeapMiB: 512, Batch: 10,
			Spin: Duration(50 * time.Microsecond), Park: Duration(50 * time.Millisecond),
			Housekeeping: Duration(100 * time.Millisecond), LogLevel: "info",
		},
		Guests: Guests{Enabled: true, CacheDir: cache},
		GPU:    GPU{Enabled: true},
		Metrics: Metrics{
			Interval: Duration(10 * time.Second), LogRotate: Duration(time.Hour), LogMaxMiB: 64, LogKeep: 24,
			HeartbeatOK: Duration(5 * time.Second),
		},
		SLO: SLO{
			LatencyP95: Duration(100 * time.Millisecond), LatencyOverrides: map[string]Duration{},
			SuccessRate: 0.999, MemoryEfficiency: 0.80, ZeroCopy: true, MinJobs: 20,
			AnomalyK: 4, AnomalyAlpha: 0.2,
		},
		Breaker: Breaker{Enabled: true, Window: 20, MinJobs: 10, FailureRate: 0.5, Cooldown: Duration(10 * time.Second)},
	}
}

// Load reads the file at path over the defaults: settings the file leaves
// out keep their defaults. An unknown key is an error (a misspelt setting
// must not be silently ignored).
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		var de *toml.DecodeError
		var sm *toml.StrictMissingError
		switch {
		case errors.As(err, &sm):
			return c, fmt.Errorf("config %s: unknown setting:\n%s", path, sm.String())
		case errors.As(err, &de):
			row, col := de.Position()
			return c, fmt.Errorf("config %s:%d:%d: %v", path, row, col, de)
		}
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, c.Check()
}

// Check reports settings that cannot work.
func (c Config) Check() error {
	var errs []error
	pow2 := func(name string, v int) {
		if v <= 0 || v&(v-1) != 0 {
			errs = append(errs, fmt.Errorf("%s = %d: want a power of two", name, v))
		}
	}
	pow2("node.inbox_slots", c.Node.InboxSlots)
	pow2("node.outbox_slots", c.Node.OutboxSlots)
	rate := func(name string, v float64) {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s = %v: want a number from 0 to 1", name, v))
		}
	}
	rate("slo.success_rate", c.SLO.SuccessRate)
	rate("slo.memory_efficiency", c.SLO.MemoryEfficiency)
	rate("breaker.failure_rate", c.Breaker.FailureRate)
	if c.Node.HeapMiB <= 0 || c.Node.Producers <= 0 || c.Node.Batch <= 0 {
		errs = append(errs, errors.New("node.heap_mib, node.producers and node.batch must be positive"))
	}
	if c.Metrics.Interval <= 0 {
		errs = append(errs, errors.New("metrics.interval must be positive"))
	}
	return errors.Join(errs...)
}

// Write encodes c as TOML with every setting's documentation.
func Write(c Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# INOS node configuration (inos run --config FILE). Every setting is optional;\n" +
		"# the values below are the defaults. Command-line flags override the file.\n\n")
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
