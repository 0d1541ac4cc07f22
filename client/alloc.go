package client

import "sort"

// spanAlloc is a first-fit allocator over one producer's heap partition. It
// lives in the producer's own memory: only this producer allocates from its
// partition, so no cross-process synchronisation is needed. It is the
// stand-in until the shared arena lands.
type spanAlloc struct {
	free []span // sorted by off, never adjacent (coalesced)
}

type span struct{ off, size uint64 }

const allocAlign = 64 // a cache line: no two buffers share one

func newSpanAlloc(base, size uint64) *spanAlloc {
	return &spanAlloc{free: []span{{base, size}}}
}

func (a *spanAlloc) alloc(n uint64) (uint64, bool) {
	n = (n + allocAlign - 1) &^ (allocAlign - 1)
	for i := range a.free {
		s := &a.free[i]
		if s.size < n {
			continue
		}
		off := s.off
		s.off += n
		s.size -= n
		if s.size == 0 {
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return off, true
	}
	return 0, false
}

func (a *spanAlloc) release(off, n uint64) {
	n = (n + allocAlign - 1) &^ (allocAlign - 1)
	i := sort.Search(len(a.free), func(i int) bool { return a.free[i].off > off })
	// Merge with the previous and/or next span where they touch.
	if i > 0 && a.free[i-1].off+a.free[i-1].size == off {
		a.free[i-1].size += n
		if i < len(a.free) && a.free[i-1].off+a.free[i-1].size == a.free[i].off {
			a.free[i-1].size += a.free[i].size
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return
	}
	if i < len(a.free) && off+n == a.free[i].off {
		a.free[i].off = off
		a.free[i].size += n
		return
	}
	a.free = append(a.free, span{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = span{off, n}
}

func (a *spanAlloc) freeBytes() uint64 {
	var t uint64
	for _, s := range a.free {
		t += s.size
	}
	return t
}
