package ops

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/sandbox"
)

// Node is what NodeCollector reads at scrape time; *kernel.Node has it.
type Node interface {
	InboxDepth() int
	HeapStats() arena.Stats
}

// Library is what LibraryCollector reads at scrape time; *sandbox.Library
// has it.
type Library interface {
	Name() string
	Stats() sandbox.LibraryStats
	PoolStats() sandbox.PoolStats
}

// NodeCollector exposes the node's inbox and shared heap. Each scrape takes
// one HeapStats snapshot (one short hold of the arena's lock) and one
// InboxDepth.
type NodeCollector struct {
	n                                     Node
	inbox                                 *prometheus.Desc
	efficiency, extFrag, live, free, size *prometheus.Desc
}

// NewNodeCollector returns the collector of n's gauges.
func NewNodeCollector(n Node) *NodeCollector {
	g := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &NodeCollector{
		n:     n,
		inbox: g("inos_inbox_depth", "Job entries waiting in the inbox ring."),
		efficiency: g("inos_heap_efficiency",
			"Shared heap: bytes requested by live allocations / bytes held for them and on exact-fit lists (1 when empty)."),
		extFrag: g("inos_heap_external_fragmentation",
			"Shared heap: 1 - largest free block / free bytes (0: all free space in one block)."),
		live: g("inos_heap_live_blocks", "Shared heap: live allocations."),
		free: g("inos_heap_free_bytes", "Shared heap: free bytes in the buddy structure."),
		size: g("inos_heap_size_bytes", "Shared heap: data bytes."),
	}
}

// Describe implements prometheus.Collector.
func (c *NodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.inbox, c.efficiency, c.extFrag, c.live, c.free, c.size} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *NodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(c.inbox, float64(c.n.InboxDepth()))
	s := c.n.HeapStats()
	gauge(c.efficiency, s.Efficiency)
	gauge(c.extFrag, s.ExternalFrag)
	gauge(c.live, float64(s.Live))
	gauge(c.free, float64(s.Free))
	gauge(c.size, float64(s.Size))
}

// LibraryCollector exposes each sandboxed library's guest pool and its
// zero-copy counters. Each scrape takes one PoolStats (a short hold of the
// pool's lock) and one Stats per library.
type LibraryCollector struct {
	libs                                  []Library
	instances, memory, created, discarded *prometheus.Desc
	mapped, copied, kept                  *prometheus.Desc
}

// NewLibraryCollector returns the collector of the libraries' metrics. Their
// names must differ (a registry's names do).
func NewLibraryCollector(libs ...Library) *LibraryCollector {
	lib := []string{"library"}
	return &LibraryCollector{
		libs: append([]Library(nil), libs...),
		instances: prometheus.NewDesc("inos_guest_instances",
			"Guest instances alive, by state: busy (out of the pool, running a job) or idle (warm in the pool).",
			[]string{"library", "state"}, nil),
		memory: prometheus.NewDesc("inos_guest_memory_bytes",
			"Linear memory held by the idle guest instances (producers' pages mapped in are not counted).", lib, nil),
		created: prometheus.NewDesc("inos_guest_instances_created_total",
			"Guest instances made since start.", lib, nil),
		discarded: prometheus.NewDesc("inos_guest_instances_discarded_total",
			"Guest instances discarded since start (a trap, an exit, a timeout, fuel run out).", lib, nil),
		mapped: prometheus.NewDesc("inos_sandbox_bytes_mapped_total",
			"Bytes of producers' shared memory mapped into guests (zero-copy).", lib, nil),
		copied: prometheus.NewDesc("inos_sandbox_bytes_copied_total",
			"Bytes copied into or out of guests where mapping was not possible.", lib, nil),
		kept: prometheus.NewDesc("inos_sandbox_output_maps_kept_total",
			"Jobs whose output buffer was already mapped in the guest by its previous job.", lib, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *LibraryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.instances, c.memory, c.created, c.discarded, c.mapped, c.copied, c.kept} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LibraryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.libs {
		name := l.Name()
		p, s := l.PoolStats(), l.Stats()
		metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, t, v, append([]string{name}, labels...)...)
		}
		metric(c.instances, prometheus.GaugeValue, float64(max(p.Live-p.Idle, 0)), "busy")
		metric(c.instances, prometheus.GaugeValue, float64(p.Idle), "idle")
		metric(c.memory, prometheus.GaugeValue, float64(p.MemoryBytes))
		metric(c.created, prometheus.CounterValue, float64(p.Created))
		metric(c.discarded, prometheus.CounterValue, float64(p.Discarded))
		metric(c.mapped, prometheus.CounterValue, float64(s.BytesMapped))
		metric(c.copied, prometheus.CounterValue, float64(s.BytesCopied))
		metric(c.kept, prometheus.CounterValue, float64(s.OutputMapsKept))
	}
}

// NewBuildInfo returns the collector of `inos_up 1` and
// `inos_build_info{version,goversion} 1`. An empty version is taken from
// the binary's build information (the main module's version, "(devel)"
// for a build from a work tree).
func NewBuildInfo(version string) prometheus.Collector {
	if version == "" {
		version = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			version = bi.Main.Version
		}
	}
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "inos_up", Help: "1 while the node serves metrics."})
	up.Set(1)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "inos_build_info",
		Help:        "Always 1; the labels name the build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	info.Set(1)
	return collectors{up, info}
}

// collectors is several collectors as one.
type collectors []prometheus.Collector

func (cs collectors) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range cs {
		c.Describe(ch)
	}
}

func (cs collectors) Collect(ch chan<- prometheus.Metric) {
	for _, c := range cs {
		c.Collect(ch)
	}
}
