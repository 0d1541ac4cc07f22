package arena

import (
	"fmt"
	"math/bits"
	"runtime"
	"slices"
)

func (h Handle) valid(a *Arena) bool { return uint64(h.index()) < a.l.handles && h.gen() != 0 }

// Bounds on the free blocks a run search starts from: one allocation's
// fallback, and one Compact call in all.
const (
	allocRunBudget   = 1 << 16
	compactRunBudget = 1 << 16
)

// Alloc reserves n bytes for owner and returns the allocation's handle and
// its offset in the data range. The block starts on a Granule boundary;
// blocks of 2^k granules or more that were carved from a fresh buddy block
// start on that block's boundary.
func (a *Arena) Alloc(o Owner, n uint64) (Handle, uint64, error) {
	if n == 0 || n > a.l.granules*Granule {
		return 0, 0, fmt.Errorf("%w: %d bytes in an arena of %d", ErrBadSize, n, a.l.granules*Granule)
	}
	m := (n + Granule - 1) / Granule
	a.lockArena()
	pos, ok := a.quickPop(m)
	held := m
	if ok {
		a.ctr[ctrQuickHits]++
	} else if pos, held, ok = a.acquire(m, false); !ok && !a.plain {
		budget := allocRunBudget
		pos, ok = a.acquireRun(m, a.l.granules, &budget)
		held = m
		if !ok && a.ctr[ctrCached] > 0 {
			// Cached small blocks may be what splits a run: merge them back.
			a.flushQuick()
			if pos, held, ok = a.acquire(m, false); !ok {
				pos, ok = a.acquireRun(m, a.l.granules, &budget)
				held = m
			}
		}
	}
	if !ok {
		free, largest := a.ctr[ctrFree], a.largestFree()
		a.unlockArena()
		return 0, 0, fmt.Errorf("%w: %d bytes wanted, %d free, largest free block %d", ErrNoSpace, n, free*Granule, largest*Granule)
	}
	top := a.ctr[ctrHandleTop]
	if top == 0 {
		a.giveBack(pos, held)
		a.unlockArena()
		return 0, 0, fmt.Errorf("%w: %d handles", ErrNoHandles, a.l.handles)
	}
	idx := a.stack()[top-1]
	a.ctr[ctrHandleTop] = top - 1
	e := a.entry(idx)
	gen := wGen(atomicU64(&e[0]).Load()) + 1
	if gen == 0 {
		gen = 1 // never issue generation 0: handle 0 stays invalid
	}
	e[1], e[2], e[3] = pos, n, held|uint64(o)<<48
	// The entry turns live last: a rebuild after a crash trusts live
	// entries only.
	atomicU64(&e[0]).Store(entryWord(gen, stLive, 0))
	a.ctr[ctrRequested] += n
	a.ctr[ctrHeld] += held
	a.ctr[ctrLive]++
	a.ctr[ctrAllocs]++
	a.unlockArena()
	return Handle(uint64(gen)<<32 | uint64(idx)), pos * Granule, nil
}

// giveBack returns held granules at pos to an exact-fit list or the buddy
// structure.
func (a *Arena) giveBack(pos, held uint64) {
	if !a.quickPush(pos, held) {
		a.release(pos, held)
	}
}

// check validates h against its entry: generation, state and owner.
func (a *Arena) check(h Handle, o Owner, w uint64, e []uint64) error {
	switch {
	case wGen(w) != h.gen():
		return &HandleError{Handle: h, Err: ErrStaleHandle}
	case wState(w) == stFree:
		return &HandleError{Handle: h, Err: ErrDoubleFree}
	case Owner(e[3]>>48) != o:
		return &HandleError{Handle: h, Err: fmt.Errorf("%w (owner %d, not %d)", ErrForeign, e[3]>>48, o)}
	}
	return nil
}

// Free releases the allocation h of owner o. A pinned allocation is not
// freed (ErrPinned): a running job still reads it.
func (a *Arena) Free(o Owner, h Handle) error {
	if !h.valid(a) {
		return &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	e := a.entry(h.index())
	w := a.lockSettled(e)
	defer a.unlockArena()
	if err := a.check(h, o, w, e); err != nil {
		return err
	}
	if wPins(w) != 0 {
		return &HandleError{Handle: h, Err: fmt.Errorf("%w (%d pins)", ErrPinned, wPins(w))}
	}
	a.freeEntry(h.index(), e, w)
	return nil
}

// lockSettled takes the lock at a moment when entry e is not being moved
// (a move copies outside the lock) and returns its word.
func (a *Arena) lockSettled(e []uint64) uint64 {
	for {
		a.lockArena()
		w := atomicU64(&e[0]).Load()
		if wState(w) != stMoving {
			return w
		}
		a.unlockArena()
		runtime.Gosched()
	}
}

// freeEntry frees a live entry (under the lock). The entry turns free
// first, keeping its generation so that a second Free is recognised as a
// double free until the entry is reused.
func (a *Arena) freeEntry(idx uint32, e []uint64, w uint64) {
	atomicU64(&e[0]).Store(entryWord(wGen(w), stFree, 0))
	held := e[3] & (1<<48 - 1)
	a.ctr[ctrRequested] -= e[2]
	a.ctr[ctrHeld] -= held
	a.ctr[ctrLive]--
	a.ctr[ctrFrees]++
	top := a.ctr[ctrHandleTop]
	a.stack()[top] = idx
	a.ctr[ctrHandleTop] = top + 1
	a.giveBack(e[1], held)
}

// Pin keeps h's block where it is until Unpin and returns its offset; pins
// nest. Pin takes no lock: it waits only while compaction moves the block.
func (a *Arena) Pin(h Handle) (uint64, error) {
	if !h.valid(a) {
		return 0, &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	e := a.entry(h.index())
	word := atomicU64(&e[0])
	for {
		w := word.Load()
		switch {
		case wGen(w) != h.gen():
			return 0, &HandleError{Handle: h, Err: ErrStaleHandle}
		case wState(w) == stFree:
			return 0, &HandleError{Handle: h, Err: ErrDoubleFree}
		case wState(w) == stMoving:
			runtime.Gosched()
			continue
		case wPins(w) == pinMask:
			return 0, &HandleError{Handle: h, Err: fmt.Errorf("%w: pin count overflow", ErrPinned)}
		}
		if word.CompareAndSwap(w, w+1) {
			return e[1] * Granule, nil
		}
	}
}

// Unpin undoes one Pin.
func (a *Arena) Unpin(h Handle) error {
	if !h.valid(a) {
		return &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	word := atomicU64(&a.entry(h.index())[0])
	for {
		w := word.Load()
		if wGen(w) != h.gen() || wState(w) != stLive {
			return &HandleError{Handle: h, Err: ErrStaleHandle}
		}
		if wPins(w) == 0 {
			return &HandleError{Handle: h, Err: fmt.Errorf("%w: unpin of an unpinned block", ErrStaleHandle)}
		}
		if word.CompareAndSwap(w, w-1) {
			return nil
		}
	}
}

// Lookup returns h's current offset, requested size and owner. Unless the
// caller holds a pin, compaction may move the block right after.
func (a *Arena) Lookup(h Handle) (off, n uint64, o Owner, err error) {
	if !h.valid(a) {
		return 0, 0, 0, &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	e := a.entry(h.index())
	w := a.lockSettled(e)
	defer a.unlockArena()
	if wGen(w) != h.gen() {
		return 0, 0, 0, &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	if wState(w) == stFree {
		return 0, 0, 0, &HandleError{Handle: h, Err: ErrDoubleFree}
	}
	return e[1] * Granule, e[2], Owner(e[3] >> 48), nil
}

// ReclaimOwner frees every allocation of o, pinned or not, and returns how
// many it freed. The node calls it once o's process is known to be gone.
func (a *Arena) ReclaimOwner(o Owner) int {
	n := 0
	for i := uint32(0); uint64(i) < a.l.handles; i++ {
		e := a.entry(i)
		w := a.lockSettled(e)
		if wState(w) != stFree && Owner(e[3]>>48) == o {
			a.freeEntry(i, e, w)
			n++
		}
		a.unlockArena()
	}
	return n
}

// NeedsCompaction reports whether external fragmentation is above the
// configured threshold (never for a plain arena).
func (a *Arena) NeedsCompaction() bool {
	if a.plain {
		return false
	}
	s := a.Stats()
	return s.Free > 0 && s.ExternalFrag > a.frac
}

// Compact moves unpinned allocations, highest address first, into the
// lowest free block that holds them, until maxBytes were moved or no move
// lowers an address. Freed space coalesces behind them. A block being moved
// is marked so that Pin waits for the move to finish: no reader sees a
// half-moved block. Compaction copies bytes (that is its job): the bytes
// moved are counted in Stats.
func (a *Arena) Compact(maxBytes uint64) CompactStats {
	var st CompactStats
	if a.plain {
		return st
	}
	type cand struct {
		idx uint32
		gen uint32
		pos uint64
	}
	var cands []cand
	a.lockArena()
	a.flushQuick()
	for i := uint32(0); uint64(i) < a.l.handles; i++ {
		e := a.entry(i)
		if w := atomicU64(&e[0]).Load(); wState(w) == stLive {
			cands = append(cands, cand{i, wGen(w), e[1]})
		}
	}
	a.unlockArena()
	slices.SortFunc(cands, func(x, y cand) int {
		switch {
		case x.pos > y.pos:
			return -1
		case x.pos < y.pos:
			return 1
		}
		return 0
	})
	// Each move holds the lock only to pick the destination and to switch
	// the entry over; the copy runs unlocked, the block marked moving (Pin
	// and Free wait for it) and its destination already taken.
	budget := compactRunBudget
	for _, c := range cands {
		if st.BytesMoved >= maxBytes || budget <= 0 {
			break
		}
		a.lockArena()
		e := a.entry(c.idx)
		word := atomicU64(&e[0])
		w := word.Load()
		if wGen(w) != c.gen || wState(w) != stLive || e[1] != c.pos {
			a.unlockArena() // freed or reused since the scan
			continue
		}
		held := e[3] & (1<<48 - 1)
		dst, got, ok := a.acquire(held, true)
		if ok && dst >= c.pos {
			a.release(dst, got)
			ok = false
		}
		if !ok {
			// No single block below: a run of adjacent free pieces will do.
			if dst, ok = a.acquireRun(held, c.pos, &budget); !ok {
				a.unlockArena()
				continue
			}
			got = held
		}
		if wPins(w) != 0 || !word.CompareAndSwap(w, entryWord(wGen(w), stMoving, 0)) {
			a.release(dst, got)
			a.unlockArena()
			st.Skipped++
			continue
		}
		a.unlockArena()
		n := e[2]
		copy(a.data[dst*Granule:dst*Granule+n], a.data[c.pos*Granule:c.pos*Granule+n])
		a.lockArena()
		e[1] = dst
		word.Store(entryWord(wGen(w), stLive, 0))
		a.release(c.pos, held)
		a.ctr[ctrCompactions]++
		a.ctr[ctrBytesMoved] += n
		done := a.extFrag() < a.frac/2 // hysteresis: stop well below the trigger
		a.unlockArena()
		st.Moved++
		st.BytesMoved += n
		if done {
			break
		}
	}
	return st
}

// extFrag is Stats().ExternalFrag, under the lock.
func (a *Arena) extFrag() float64 { return extFrag(a.ctr[ctrFree], a.largestFree()) }

// extFrag measures free granules against the largest block they could
// form: free space packed at the top of the arena reads 0, however much
// there is.
func extFrag(free, largest uint64) float64 {
	if free == 0 {
		return 0
	}
	return 1 - float64(largest)/float64(uint64(1)<<(bits.Len64(free)-1))
}

// Stats returns the fragmentation monitor's figures.
func (a *Arena) Stats() Stats {
	var c [nCounters]uint64
	a.lockArena()
	copy(c[:], a.ctr)
	largest := a.largestFree()
	a.unlockArena()
	s := Stats{
		Size: a.l.granules * Granule, Live: c[ctrLive], Requested: c[ctrRequested],
		Held: c[ctrHeld] * Granule, Cached: c[ctrCached] * Granule, Free: c[ctrFree] * Granule,
		LargestFree: largest * Granule, Allocs: c[ctrAllocs], Frees: c[ctrFrees], QuickHits: c[ctrQuickHits],
		Compactions: c[ctrCompactions], BytesMoved: c[ctrBytesMoved], Recoveries: c[ctrRecoveries],
		HandlesInUse: int(a.l.handles - c[ctrHandleTop]),
		Efficiency:   1,
	}
	if s.Held+s.Cached > 0 {
		s.Efficiency = float64(s.Requested) / float64(s.Held+s.Cached)
	}
	if s.Held > 0 {
		s.InternalFrag = 1 - float64(s.Requested)/float64(s.Held)
	}
	s.ExternalFrag = extFrag(c[ctrFree], largest)
	return s
}

// rebuild recomputes every free structure from the handle table after a
// lock holder died mid-operation (under the lock, taken over). Live and
// moving entries keep their blocks (a move that did not finish left the
// old copy intact); everything else is free.
func (a *Arena) rebuild() {
	for k := range a.lvl {
		for _, l := range a.lvl[k].lv {
			clear(l)
		}
		a.count[k] = 0
	}
	for m := uint64(1); m <= quickSizes; m++ {
		a.quickList(m)[0] = 0
	}
	type span struct{ pos, n uint64 }
	var live []span
	var requested, held, nlive uint64
	stack := a.stack()
	top := 0
	for i := uint32(0); uint64(i) < a.l.handles; i++ {
		e := a.entry(i)
		w := atomicU64(&e[0]).Load()
		if wState(w) == stFree {
			stack[top] = i
			top++
			continue
		}
		if wState(w) == stMoving {
			atomicU64(&e[0]).Store(entryWord(wGen(w), stLive, 0))
		}
		h := e[3] & (1<<48 - 1)
		live = append(live, span{e[1], h})
		requested += e[2]
		held += h
		nlive++
	}
	slices.SortFunc(live, func(x, y span) int { return int(int64(x.pos) - int64(y.pos)) })
	a.ctr[ctrFree], a.ctr[ctrCached] = 0, 0
	at := uint64(0)
	for _, s := range live {
		if s.pos > at {
			a.release(at, s.pos-at)
		}
		at = max(at, s.pos+s.n)
	}
	if at < a.l.granules {
		a.release(at, a.l.granules-at)
	}
	a.ctr[ctrRequested], a.ctr[ctrHeld], a.ctr[ctrLive] = requested, held, nlive
	a.ctr[ctrHandleTop] = uint64(top)
	a.ctr[ctrRecoveries]++
}

// Check is how the node validates a reference a producer sent: h must be
// a live block of owner o that its owner has pinned (so it cannot move or
// be freed while the job runs). It returns the block's offset and the bytes
// its owner asked for. Check takes no lock.
func (a *Arena) Check(h Handle, o Owner) (off, n uint64, err error) {
	if !h.valid(a) {
		return 0, 0, &HandleError{Handle: h, Err: ErrStaleHandle}
	}
	e := a.entry(h.index())
	w := atomicU64(&e[0]).Load()
	if err := a.check(h, o, w, e); err != nil {
		return 0, 0, err
	}
	if wState(w) != stLive || wPins(w) == 0 {
		return 0, 0, &HandleError{Handle: h, Err: ErrNotPinned}
	}
	// Pinned: position and size cannot change under us.
	return e[1] * Granule, e[2], nil
}
