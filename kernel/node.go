package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/arena"
	"github.com/inos-node/node/ring"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

// Node is a running supervisor over one shared region.
type Node struct {
	cfg      Config
	log      *slog.Logger
	region   *shm.Region
	layout   shm.Layout
	mem      []byte
	inbox    *ring.Ring
	outboxes []*ring.Ring
	reg      shm.Registry
	arena    *arena.Arena

	// dispatcher-local
	batch     []ring.Entry
	scratch   []byte
	touched   []bool
	touchedL  []int
	warnedGen []uint32 // per slot: the generation last warned about
	res       schema.Result
	req       schema.Request
	job       Job
	method    method   // the running job's method (id NoMethod before it is known)
	ran       bool     // whether the running job's method was called
	event     JobEvent // reused for Observer
	lastHK    time.Time
	beat      atomic.Int64 // lastHK in Unix nanoseconds, for Heartbeat
	stalled   uint64       // head position seen stalled at last housekeeping

	stats counters

	runMu   sync.Mutex
	stopRun context.CancelFunc // cancels the running Run, if any
	runDone chan struct{}      // closed when that Run returns
}

type counters struct {
	jobs, failed, dropped, abandoned, reclaimed, turns, parks, outboxFull, silent atomic.Uint64
	byKind                                                                        [32]atomic.Uint64
}

// Stats is a snapshot of the node's counters.
type Stats struct {
	Jobs       uint64            // entries handled (results sent)
	Failed     uint64            // results with status error
	Dropped    uint64            // entries of producers that had died or left
	Abandoned  uint64            // half-claimed slots of dead producers skipped
	Reclaimed  uint64            // producer slots reclaimed
	Turns      uint64            // dispatcher turns with work
	Parks      uint64            // futex sleeps of the dispatcher
	OutboxFull uint64            // results that found their outbox full
	Silent     uint64            // producers seen alive with a stale heartbeat
	ByKind     map[string]uint64 // failed results by error kind
}

// New creates the region and formats its rings. A region left by a dead
// node is replaced; a live node's region is an error (shm.ErrBusy).
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	lc, err := cfg.LayoutConfig()
	if err != nil {
		return nil, err
	}
	region, err := shm.Create(cfg.Region, lc, shm.Options{Dir: cfg.Dir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger, region: region, layout: region.Layout(), mem: region.Bytes(), reg: region.Producers()}
	l := n.layout
	if n.inbox, err = ring.Init(region.Slice(l.InboxOff, l.InboxSize), cfg.InboxCap); err != nil {
		region.Close()
		return nil, err
	}
	if n.arena, err = arena.Init(region.Slice(l.ArenaMetaOff, l.ArenaMetaSize), region.Slice(l.HeapOff, l.HeapSize), cfg.arenaConfig()); err != nil {
		region.Close()
		return nil, err
	}
	n.outboxes = make([]*ring.Ring, cfg.MaxProducers)
	for i := range n.outboxes {
		if n.outboxes[i], err = ring.Init(region.Slice(l.Outbox(i), l.OutboxSize), cfg.OutboxCap); err != nil {
			region.Close()
			return nil, err
		}
	}
	n.batch = make([]ring.Entry, cfg.Batch)
	n.scratch = make([]byte, cfg.MaxEnvelopeBytes)
	n.touched = make([]bool, cfg.MaxProducers)
	n.warnedGen = make([]uint32, cfg.MaxProducers)
	n.log.Info("node ready", "region", cfg.Region, "bytes", l.Size, "producers", cfg.MaxProducers,
		"inbox", cfg.InboxCap, "outbox", cfg.OutboxCap, "heap", l.HeapSize, "libraries", cfg.Libraries.Libraries())
	return n, nil
}

// Region returns the node's region.
func (n *Node) Region() *shm.Region { return n.region }

// Config returns the node's configuration with defaults filled in.
func (n *Node) Config() Config { return n.cfg }

// Run dispatches jobs until ctx ends or Close is called. It returns nil on
// cancellation. Only one Run may be active at a time.
func (n *Node) Run(ctx context.Context) error {
	n.runMu.Lock()
	if n.runDone != nil || n.region == nil {
		n.runMu.Unlock()
		return errors.New("kernel: Run called twice, or after Close")
	}
	ctx, cancel := context.WithCancel(ctx)
	n.stopRun, n.runDone = cancel, make(chan struct{})
	done := n.runDone
	n.runMu.Unlock()
	defer func() {
		cancel()
		close(done)
	}()
	n.lastHK = time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		nextHK := n.lastHK.Add(n.cfg.Housekeeping)
		if !n.inbox.Ready() {
			st, err := n.inbox.WaitUntil(ctx, n.cfg.Wait, nextHK)
			if st.Parked > 0 {
				n.stats.parks.Add(uint64(st.Parked))
			}
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
		}
		// step returns its last clock read, which saves one per turn for
		// the housekeeping check.
		if _, now := n.step(ctx); !now.Before(nextHK) {
			n.housekeep()
		}
	}
}

// Step pops one batch and handles it; it returns how many entries it took.
// Run calls it in a loop; tests may drive it directly.
func (n *Node) Step(ctx context.Context) int {
	k, _ := n.step(ctx)
	return k
}

func (n *Node) step(ctx context.Context) (int, time.Time) {
	now := time.Now()
	k, skipped := n.inbox.Take(n.batch)
	if skipped > 0 {
		n.stats.abandoned.Add(uint64(skipped))
	}
	if k == 0 {
		n.inbox.Release() // abandoned slots
		return 0, now
	}
	n.stats.turns.Add(1)
	for i := range n.batch[:k] {
		now = n.handle(ctx, &n.batch[i], now)
	}
	for _, p := range n.touchedL {
		n.touched[p] = false
		n.outboxes[p].Notify()
	}
	n.touchedL = n.touchedL[:0]
	// Hand the inbox slots back only now that the answers are out.
	n.inbox.Release()
	return k, now
}

// Close stops Run (waiting for it to return), then wakes and detaches
// everyone: producers see the region closed.
func (n *Node) Close() error {
	n.runMu.Lock()
	defer n.runMu.Unlock()
	if n.region == nil {
		return nil
	}
	if n.runDone != nil {
		n.stopRun()
		n.inbox.Notify()
		<-n.runDone
	}
	for _, o := range n.outboxes {
		o.Notify()
	}
	err := n.region.Close()
	n.region = nil
	return err
}

// Stats returns a snapshot of the counters.
func (n *Node) Stats() Stats {
	s := Stats{
		Jobs: n.stats.jobs.Load(), Failed: n.stats.failed.Load(), Dropped: n.stats.dropped.Load(),
		Abandoned: n.stats.abandoned.Load(), Reclaimed: n.stats.reclaimed.Load(), Turns: n.stats.turns.Load(),
		Parks: n.stats.parks.Load(), OutboxFull: n.stats.outboxFull.Load(), Silent: n.stats.silent.Load(),
		ByKind: map[string]uint64{},
	}
	for k := range n.stats.byKind {
		if v := n.stats.byKind[k].Load(); v != 0 {
			s.ByKind[schema.ErrorKind(k).String()] = v
		}
	}
	return s
}

// HeapStats returns the shared heap's fragmentation monitor.
func (n *Node) HeapStats() arena.Stats { return n.arena.Stats() }

// InboxDepth returns the number of entries waiting in the inbox.
func (n *Node) InboxDepth() int { return n.inbox.Len() }

// Heartbeat returns when the dispatcher last did its housekeeping (every
// Config.Housekeeping while it runs; zero before it starts): a health check
// can tell a live dispatcher from a stuck one. Safe from any goroutine.
func (n *Node) Heartbeat() time.Time {
	if ns := n.beat.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// housekeep records the heartbeat, reclaims dead or departed producers and
// compacts the heap when it is fragmented.
func (n *Node) housekeep() {
	n.lastHK = time.Now()
	n.beat.Store(n.lastHK.UnixNano())
	n.region.Heartbeat()
	if n.arena.NeedsCompaction() {
		st := n.arena.Compact(n.cfg.CompactBytes)
		n.log.Debug("compacted the heap", "moved", st.Moved, "bytes", st.BytesMoved, "pinned_skipped", st.Skipped)
	}
	for i := 0; i < n.reg.Len(); i++ {
		p := n.reg.Info(i)
		if p.State == shm.SlotFree {
			continue
		}
		if n.reg.NeedsReclaim(p) {
			if n.reg.BeginReclaim(p) {
				n.reclaim(p)
			}
			continue
		}
		// Alive but silent (stopped, or wedged): say so once per
		// registration; its memory stays its own.
		if p.State == shm.SlotActive && n.lastHK.Sub(p.Heartbeat) > n.cfg.StaleHeartbeat && n.warnedGen[i] != p.Gen {
			n.warnedGen[i] = p.Gen
			n.stats.silent.Add(1)
			n.log.Warn("producer alive but its heartbeat is stale", "slot", i, "pid", p.PID, "last_heartbeat", p.Heartbeat)
		}
	}
}

func (n *Node) reclaim(p shm.ProducerInfo) {
	owner := uint16(p.Slot + 1)
	abandoned := n.inbox.Abandon(owner)
	// Nobody consumes this outbox any more: format it afresh for the next
	// producer, and give the producer's heap blocks back.
	l := n.layout
	if _, err := ring.Init(n.region.Slice(l.Outbox(p.Slot), l.OutboxSize), n.cfg.OutboxCap); err != nil {
		n.log.Error("reformat outbox", "slot", p.Slot, "err", err)
	}
	blocks := n.arena.ReclaimOwner(arena.Owner(owner))
	n.reg.Free(p.Slot)
	n.stats.reclaimed.Add(1)
	reason := "left"
	if p.State != shm.SlotLeaving {
		reason = "process gone"
	}
	n.log.Info("reclaimed producer slot", "slot", p.Slot, "pid", p.PID, "gen", p.Gen, "reason", reason, "abandoned_claims", abandoned, "heap_blocks", blocks)
}

// String describes the node for logs.
func (n *Node) String() string {
	return fmt.Sprintf("node(region=%s, pid=%d)", n.cfg.Region, os.Getpid())
}
