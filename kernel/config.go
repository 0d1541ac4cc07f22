package kernel

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/ring"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

// ResultBufferMin is the least capacity of an envelope buffer: the node
// writes the JobResult over the request, and an error message is cut to
// fit. Producers allocate max(request size, ResultBufferMin).
const ResultBufferMin = 1024

// Config configures a node. The zero value of each field means its default.
type Config struct {
	// Region names the shared region (the file /dev/shm/inos-<Region>).
	Region string
	// Dir overrides the region's directory (tests).
	Dir string

	InboxCap     int // inbox slots, a power of two; default 4096
	OutboxCap    int // slots of each producer's outbox, a power of two; default 1024
	MaxProducers int // producer slots; default 16
	// HeapBytes is the shared heap the arena hands out to producers and
	// the node; default 512 MiB.
	HeapBytes uint64
	// MaxHandles bounds live heap allocations; default 65536.
	MaxHandles int
	// CompactAt is the heap's external fragmentation above which
	// housekeeping compacts unpinned blocks; default 0.30.
	CompactAt float64
	// CompactBytes bounds the bytes one housekeeping turn moves; default
	// 64 MiB.
	CompactBytes uint64

	// Batch is the most entries the dispatcher pops per turn; default 10.
	Batch int
	// Wait is how the dispatcher waits for work; default spin 50 µs, then
	// park in slices of 50 ms.
	Wait shm.WaitPolicy
	// Housekeeping is the longest time between heartbeats and producer
	// scans; default 100 ms.
	Housekeeping time.Duration
	// StaleHeartbeat is how old a live producer's heartbeat may get before
	// the node logs it as silent; default 5 s (clients beat every second).
	StaleHeartbeat time.Duration

	// MaxEnvelopeBytes bounds one JobRequest; default 1 MiB + 64 KiB.
	MaxEnvelopeBytes int
	// MaxParamsBytes bounds params; default 1 MiB.
	MaxParamsBytes int
	// Decode limits the Cap'n Proto reader; default schema.DefaultDecodeLimits.
	Decode schema.DecodeLimits

	Libraries *Registry    // default: echo and noop
	Logger    *slog.Logger // default slog.Default()

	// Observer, if set, is told about every answered job (metrics, SLOs).
	Observer Observer
	// Gate, if set, may refuse a job before its method runs (circuit
	// breakers).
	Gate Gate
}

func (c Config) withDefaults() (Config, error) {
	if c.Region == "" {
		return c, fmt.Errorf("kernel: Config.Region is empty")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.InboxCap, 4096)
	def(&c.OutboxCap, 1024)
	def(&c.MaxProducers, 16)
	def(&c.Batch, 10)
	def(&c.MaxEnvelopeBytes, 1<<20+64<<10)
	def(&c.MaxParamsBytes, 1<<20)
	if c.HeapBytes == 0 {
		c.HeapBytes = 512 << 20
	}
	def(&c.MaxHandles, 65536)
	if c.CompactBytes == 0 {
		c.CompactBytes = 64 << 20
	}
	if c.Wait.Spin == 0 && c.Wait.Park == 0 {
		c.Wait = shm.WaitPolicy{Spin: shm.DefaultSpin, Park: shm.DefaultPark}
	}
	if c.Housekeeping == 0 {
		c.Housekeeping = 100 * time.Millisecond
	}
	if c.StaleHeartbeat == 0 {
		c.StaleHeartbeat = 5 * time.Second
	}
	if c.Decode == (schema.DecodeLimits{}) {
		c.Decode = schema.DefaultDecodeLimits()
	}
	if c.Decode.MaxMessageBytes < c.MaxEnvelopeBytes {
		c.Decode.MaxMessageBytes = c.MaxEnvelopeBytes
	}
	if c.MaxProducers > ring.MaxOwner {
		return c, fmt.Errorf("kernel: MaxProducers %d > %d", c.MaxProducers, ring.MaxOwner)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Libraries == nil {
		r, err := NewRegistry(Echo{}, Noop{})
		if err != nil {
			return c, err
		}
		c.Libraries = r
	}
	return c, nil
}

func (c Config) arenaConfig() arena.Config {
	return arena.Config{Size: c.HeapBytes, MaxHandles: c.MaxHandles, CompactAt: c.CompactAt}
}

// LayoutConfig returns the region layout for c's sizes.
func (c Config) LayoutConfig() (shm.LayoutConfig, error) {
	meta, err := arena.MetaSize(c.arenaConfig())
	if err != nil {
		return shm.LayoutConfig{}, err
	}
	return shm.LayoutConfig{
		InboxBytes:     ring.Size(c.InboxCap),
		OutboxBytes:    ring.Size(c.OutboxCap),
		MaxProducers:   uint64(c.MaxProducers),
		ArenaMetaBytes: meta,
		HeapBytes:      c.HeapBytes,
	}, nil
}
