package shm

import (
	"sync/atomic"
	"time"
	"unsafe"
)

// Producer slot states, the high 32 bits of an entry's state word (the low
// 32 bits hold the pid).
const (
	SlotFree        = 0
	SlotRegistering = 1 // claimed; pid known, rest being written
	SlotActive      = 2
	SlotLeaving     = 3 // the producer detached cleanly; the node cleans up
	SlotReclaiming  = 4 // the node is cleaning up
)

// Entry field offsets.
const (
	entWord      = 0  // state<<32 | pid
	entGen       = 8  // u32 registration generation
	entStart     = 16 // process start time
	entHeartbeat = 24 // Unix ns
)

// Registry is the producer table. It is a view; copies share the table.
type Registry struct {
	mem []byte
	n   int
}

// ProducerInfo is a snapshot of one entry.
type ProducerInfo struct {
	Slot      int
	State     uint32
	PID       int
	Start     uint64
	Gen       uint32
	Heartbeat time.Time
}

// Len returns the number of slots.
func (g Registry) Len() int { return g.n }

func (g Registry) word(i int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&g.mem[i*ProducerEntrySize+entWord]))
}
func (g Registry) gen(i int) *atomic.Uint32 {
	return (*atomic.Uint32)(unsafe.Pointer(&g.mem[i*ProducerEntrySize+entGen]))
}
func (g Registry) u64(i, off int) *atomic.Uint64 {
	return (*atomic.Uint64)(unsafe.Pointer(&g.mem[i*ProducerEntrySize+off]))
}

func packWord(state uint32, pid int) uint64 { return uint64(state)<<32 | uint64(uint32(pid)) }

// Register claims a free slot for the process pid (which started at start)
// and returns the slot and its new generation. The claim is one CAS that
// already carries the pid, so a producer that dies mid-registration is still
// recognisable as dead.
func (g Registry) Register(pid int, start uint64) (slot int, gen uint32, err error) {
	for i := 0; i < g.n; i++ {
		w := g.word(i)
		if w.Load() != 0 || !w.CompareAndSwap(0, packWord(SlotRegistering, pid)) {
			continue
		}
		gen = g.gen(i).Add(1)
		g.u64(i, entStart).Store(start)
		g.u64(i, entHeartbeat).Store(uint64(time.Now().UnixNano()))
		w.Store(packWord(SlotActive, pid))
		return i, gen, nil
	}
	return -1, 0, ErrRegistryFull
}

// Heartbeat records that the producer in slot is alive.
func (g Registry) Heartbeat(slot int) {
	g.u64(slot, entHeartbeat).Store(uint64(time.Now().UnixNano()))
}

// Leave marks slot as given up by its producer; the node reclaims it.
func (g Registry) Leave(slot int, pid int) bool {
	return g.word(slot).CompareAndSwap(packWord(SlotActive, pid), packWord(SlotLeaving, pid))
}

// Info returns a snapshot of slot.
func (g Registry) Info(slot int) ProducerInfo {
	w := g.word(slot).Load()
	return ProducerInfo{
		Slot:      slot,
		State:     uint32(w >> 32),
		PID:       int(uint32(w)),
		Start:     g.u64(slot, entStart).Load(),
		Gen:       g.gen(slot).Load(),
		Heartbeat: time.Unix(0, int64(g.u64(slot, entHeartbeat).Load())),
	}
}

// Gen returns slot's current registration generation.
func (g Registry) Gen(slot int) uint32 { return g.gen(slot).Load() }

// Active reports whether slot is registered with generation gen.
func (g Registry) Active(slot int, gen uint32) bool {
	return uint32(g.word(slot).Load()>>32) == SlotActive && g.gen(slot).Load() == gen
}

// NeedsReclaim reports whether the node should reclaim slot: its producer
// left, or its process is gone.
func (g Registry) NeedsReclaim(p ProducerInfo) bool {
	switch p.State {
	case SlotLeaving:
		return true
	case SlotRegistering:
		return !ProcessAlive(p.PID, 0)
	case SlotActive:
		return !ProcessAlive(p.PID, p.Start)
	}
	return false
}

// BeginReclaim moves slot from the state in p to SlotReclaiming; it fails if
// the entry changed since p was read.
func (g Registry) BeginReclaim(p ProducerInfo) bool {
	return g.word(p.Slot).CompareAndSwap(packWord(p.State, p.PID), packWord(SlotReclaiming, p.PID))
}

// Free returns a reclaimed slot to the pool.
func (g Registry) Free(slot int) {
	g.u64(slot, entStart).Store(0)
	g.word(slot).Store(0)
}
