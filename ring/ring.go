package ring

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/inos-node/node/shm"
)

const (
	magic      = "INOSRING"
	offCap     = 8
	offTail    = 128
	offHead    = 256
	offData    = 384
	offSpace   = 512
	offSlots   = 640
	slotSize   = 32
	maxCap     = 1 << 24
	posBits    = 48
	ownerBits  = 14
	posMask    = 1<<posBits - 1
	ownerMask  = 1<<ownerBits - 1
	stateFree  = 0
	stateClaim = 1
	statePub   = 2
	stateAband = 3
)

// MaxOwner is the largest owner id a slot can record.
const MaxOwner = ownerMask

// Errors.
var (
	ErrFull     = errors.New("ring: full")
	ErrBadRing  = errors.New("ring: not an initialized ring")
	ErrBadOwner = errors.New("ring: owner id out of range")
	errCapacity = errors.New("ring: capacity must be a power of two between 2 and 2^24")
)

// Entry is what a slot carries.
type Entry struct {
	Off uint64 // offset into the shared region
	Len uint32
	Aux uint32
	Tag uint64
	// Owner is the id of the producer that pushed the entry; set by Pop,
	// ignored by Push (the owner argument is used).
	Owner uint16
}

type slot struct {
	word atomic.Uint64
	off  uint64
	len  uint32
	aux  uint32
	tag  uint64
}

// Ring is a view of a ring in shared memory. Any number of goroutines and
// processes may push; exactly one goroutine in one process may pop.
type Ring struct {
	cap   uint64
	mask  uint64
	tail  *atomic.Uint64
	head  *atomic.Uint64
	data  shm.Epoch
	space shm.Epoch
	slots []slot

	// consumer-local
	chead uint64
}

// Size returns the bytes a ring of capacity slots needs.
func Size(capacity int) uint64 { return offSlots + uint64(capacity)*slotSize }

func word(pos uint64, owner uint16, state uint64) uint64 {
	return (pos&posMask)<<16 | uint64(owner&ownerMask)<<2 | state
}
func wordPos(w uint64) uint64    { return w >> 16 }
func wordOwner(w uint64) uint16  { return uint16(w>>2) & ownerMask }
func wordState(w uint64) uint64  { return w & 3 }
func samePos(w, pos uint64) bool { return wordPos(w) == pos&posMask }

// Init formats mem as an empty ring of the given capacity and returns it.
// Only the region's creator calls Init, before anyone else can see mem.
func Init(mem []byte, capacity int) (*Ring, error) {
	if capacity < 2 || capacity > maxCap || bits.OnesCount(uint(capacity)) != 1 {
		return nil, errCapacity
	}
	if uint64(len(mem)) < Size(capacity) {
		return nil, fmt.Errorf("ring: %d bytes for a ring that needs %d", len(mem), Size(capacity))
	}
	clear(mem[:Size(capacity)])
	*(*uint64)(unsafe.Pointer(&mem[offCap])) = uint64(capacity)
	r := view(mem, uint64(capacity))
	for i := range r.slots {
		r.slots[i].word.Store(word(uint64(i), 0, stateFree))
	}
	copy(mem, magic) // last: Attach trusts a ring only once the magic is there
	return r, nil
}

// Attach returns a view of a ring that Init formatted in mem.
func Attach(mem []byte) (*Ring, error) {
	if len(mem) < offSlots || string(mem[:8]) != magic {
		return nil, ErrBadRing
	}
	c := *(*uint64)(unsafe.Pointer(&mem[offCap]))
	if c < 2 || c > maxCap || bits.OnesCount64(c) != 1 || uint64(len(mem)) < Size(int(c)) {
		return nil, fmt.Errorf("%w: capacity %d in %d bytes", ErrBadRing, c, len(mem))
	}
	r := view(mem, c)
	r.chead = r.head.Load()
	return r, nil
}

func view(mem []byte, c uint64) *Ring {
	return &Ring{
		cap:   c,
		mask:  c - 1,
		tail:  (*atomic.Uint64)(unsafe.Pointer(&mem[offTail])),
		head:  (*atomic.Uint64)(unsafe.Pointer(&mem[offHead])),
		data:  shm.EpochAt(mem[offData:]),
		space: shm.EpochAt(mem[offSpace:]),
		slots: unsafe.Slice((*slot)(unsafe.Pointer(&mem[offSlots])), c),
	}
}

// Cap returns the ring's capacity.
func (r *Ring) Cap() int { return int(r.cap) }

// Len returns the number of claimed or published entries not yet popped.
// It is a snapshot that may be stale by the time it returns.
func (r *Ring) Len() int {
	h := r.head.Load()
	t := r.tail.Load()
	if t < h {
		return 0
	}
	return int(t - h)
}

// TryPush publishes e on behalf of owner, or returns ErrFull at once. It
// bumps the data epoch, waking a parked consumer.
func (r *Ring) TryPush(owner uint16, e Entry) error {
	if err := r.Publish(owner, e); err != nil {
		return err
	}
	r.data.Bump()
	return nil
}

// Push is TryPush that waits (per p) for room while the ring is full.
func (r *Ring) Push(ctx context.Context, owner uint16, e Entry, p shm.WaitPolicy) error {
	for {
		err := r.Publish(owner, e)
		if err == nil {
			r.data.Bump()
			return nil
		}
		if !errors.Is(err, ErrFull) {
			return err
		}
		if err := r.WaitRoom(ctx, p); err != nil {
			return err
		}
	}
}

// WaitRoom waits (per p) until the ring has a free slot; a producer calls
// it after ErrFull, then tries again.
func (r *Ring) WaitRoom(ctx context.Context, p shm.WaitPolicy) error {
	_, err := r.space.Wait(ctx, p, r.hasRoom)
	return err
}

func (r *Ring) hasRoom() bool {
	t := r.tail.Load()
	w := r.slots[t&r.mask].word.Load()
	return !samePos(w, t-r.cap)
}

// Reservation is a claimed slot not yet published. Until Publish, the
// consumer stops at it; if its owner dies, Abandon releases it.
type Reservation struct {
	s     *slot
	pos   uint64
	owner uint16
}

// Reserve claims the next slot for owner without publishing it, or returns
// ErrFull. Most callers use TryPush/Publish, which reserve and publish in
// one go; Reserve exists for callers that fill an entry in place.
func (r *Ring) Reserve(owner uint16) (Reservation, error) {
	if owner > ownerMask {
		return Reservation{}, ErrBadOwner
	}
	for {
		t := r.tail.Load()
		s := &r.slots[t&r.mask]
		w := s.word.Load()
		switch {
		case samePos(w, t) && wordState(w) == stateFree:
			if !s.word.CompareAndSwap(w, word(t, owner, stateClaim)) {
				continue
			}
			r.tail.CompareAndSwap(t, t+1)
			return Reservation{s: s, pos: t, owner: owner}, nil
		case samePos(w, t):
			// Someone claimed t but has not advanced tail yet: help.
			r.tail.CompareAndSwap(t, t+1)
		case samePos(w, t-r.cap):
			// The consumer has not freed the previous lap's entry.
			if r.tail.Load() == t {
				return Reservation{}, ErrFull
			}
		}
		// Otherwise our view of tail was stale: reload.
	}
}

// Publish completes the reservation with e. It does not wake the consumer:
// call the ring's Notify after the last publish.
func (c Reservation) Publish(e Entry) {
	c.s.off, c.s.len, c.s.aux, c.s.tag = e.Off, e.Len, e.Aux, e.Tag
	c.s.word.Store(word(c.pos, c.owner, statePub))
}

// Ready reports whether Pop would return an entry (or skip an abandoned
// slot). Consumer only.
func (r *Ring) Ready() bool {
	w := r.slots[r.chead&r.mask].word.Load()
	return samePos(w, r.chead) && wordState(w) >= statePub
}

// Stalled reports whether the next slot is claimed but not yet published,
// and by whom. Consumer only.
func (r *Ring) Stalled() (owner uint16, ok bool) {
	w := r.slots[r.chead&r.mask].word.Load()
	if samePos(w, r.chead) && wordState(w) == stateClaim {
		return wordOwner(w), true
	}
	return 0, false
}

// PopBatch moves up to len(dst) published entries into dst and returns how
// many it moved, plus how many abandoned slots it stepped over. It never
// blocks. Consumer only.
func (r *Ring) PopBatch(dst []Entry) (n, skipped int) {
	n, skipped = r.Take(dst)
	r.Release()
	return n, skipped
}

// Take is PopBatch without handing the slots back to producers: it copies
// up to len(dst) entries and moves the consumer's cursor, and Release later
// frees every slot taken since the last Release. Freeing a slot is a store
// that must wait for the producer's cache to let go of the line; the
// dispatcher frees after it has answered, so that wait is not on the
// round trip. Consumer only.
func (r *Ring) Take(dst []Entry) (n, skipped int) {
	h := r.chead
	for n < len(dst) {
		s := &r.slots[h&r.mask]
		w := s.word.Load()
		if !samePos(w, h) {
			break
		}
		switch wordState(w) {
		case statePub:
			dst[n] = Entry{Off: s.off, Len: s.len, Aux: s.aux, Tag: s.tag, Owner: wordOwner(w)}
			n++
		case stateAband:
			skipped++
		default: // free (empty) or claimed (not yet published)
			r.chead = h
			return n, skipped
		}
		h++
	}
	r.chead = h
	return n, skipped
}

// Release frees the slots taken since the last Release and publishes the
// new head, waking producers that wait for room. Consumer only.
func (r *Ring) Release() {
	old := r.head.Load()
	if old == r.chead {
		return
	}
	for h := old; h != r.chead; h++ {
		r.slots[h&r.mask].word.Store(word(h+r.cap, 0, stateFree))
	}
	r.head.Store(r.chead)
	if r.space.Sleepers() != 0 {
		r.space.Bump()
	}
}

// Wait blocks until an entry is ready to pop (per p). Consumer only.
func (r *Ring) Wait(ctx context.Context, p shm.WaitPolicy) (shm.WaitStats, error) {
	return r.data.Wait(ctx, p, r.Ready)
}

// WaitUntil is Wait that also returns (st.TimedOut) once until passes.
func (r *Ring) WaitUntil(ctx context.Context, p shm.WaitPolicy, until time.Time) (shm.WaitStats, error) {
	return r.data.WaitUntil(ctx, p, until, r.Ready)
}

// Publish is TryPush without the wake-up: a producer that publishes several
// entries calls Notify once after the last.
func (r *Ring) Publish(owner uint16, e Entry) error {
	c, err := r.Reserve(owner)
	if err != nil {
		return err
	}
	c.Publish(e)
	return nil
}

// Notify bumps the data epoch, waking a parked consumer, and reports
// whether the consumer was parked (so the wake-up is on its way, which
// takes longer than a spinning consumer's answer). It also serves to make a
// consumer re-check its context (shutdown).
func (r *Ring) Notify() (woke bool) { return r.data.Bump() }

// Abandon marks every slot that owner holds claimed as abandoned and returns
// how many it marked. Call it only once owner's process is known to be dead:
// a live owner would race the CAS with its publish.
func (r *Ring) Abandon(owner uint16) int {
	n := 0
	for i := range r.slots {
		s := &r.slots[i]
		w := s.word.Load()
		if wordState(w) == stateClaim && wordOwner(w) == owner &&
			s.word.CompareAndSwap(w, word(wordPos(w), owner, stateAband)) {
			n++
		}
	}
	if n > 0 {
		r.data.Bump()
	}
	return n
}
