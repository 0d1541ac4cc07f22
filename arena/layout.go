package arena

import (
	"fmt"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// Metadata layout, in 64-bit words from the start of meta:
//
//	word  0     magic "INOSAREN"
//	word  1     granules G
//	word  2     max handles H
//	word  3     flags (bit 0: plain)
//	word  4     CompactAt, float64 bits
//	word  8     lock: holder pid (u32), waiters (u32) — its own cache line
//	word 16..   counters (see ctr*)
//	...         free-block count per level, levels 0..maxLevel
//	...         one hierarchical bitmap per level (a bit per block)
//	...         exact-fit lists: quickSizes × (1 + quickDepth) words
//	...         handle table: H × 4 words
//	...         free-handle stack: H u32 (H/2 words, rounded up)
const (
	magic      = 0x4e455241534f4e49 // "INOSAREN" little-endian
	wMagic     = 0
	wGranules  = 1
	wHandles   = 2
	wFlags     = 3
	wCompactAt = 4
	wLock      = 8
	wCounters  = 16
	nCounters  = 16
	wLevels    = wCounters + nCounters

	flagPlain = 1

	quickSizes = 64 // exact-fit lists for 1..64 granules (64 B .. 4 KiB)
	quickDepth = 32
)

// Counters (under the lock).
const (
	ctrRequested = iota
	ctrHeld      // granules
	ctrCached    // granules on exact-fit lists
	ctrFree      // granules in the buddy structure
	ctrLive
	ctrAllocs
	ctrFrees
	ctrQuickHits
	ctrCompactions
	ctrBytesMoved
	ctrRecoveries
	ctrHandleTop
)

type layout struct {
	granules, handles   uint64
	maxLevel            int
	levels, bitmaps     uint64 // word offsets
	bitmapAt            []uint64
	quick, table, stack uint64
	words               uint64
}

func computeLayout(granules, handles uint64) layout {
	l := layout{granules: granules, handles: handles, maxLevel: bits.Len64(granules) - 1}
	l.levels = wLevels
	off := l.levels + uint64(l.maxLevel+1)
	l.bitmaps = off
	for k := 0; k <= l.maxLevel; k++ {
		l.bitmapAt = append(l.bitmapAt, off)
		off += hbitmapWords(granules >> k)
	}
	l.quick = off
	off += quickSizes * (1 + quickDepth)
	l.table = off
	off += handles * 4
	l.stack = off
	off += (handles + 1) / 2
	l.words = off
	return l
}

// MetaSize returns the bytes of metadata an arena of cfg needs.
func MetaSize(cfg Config) (uint64, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return 0, err
	}
	return computeLayout(cfg.Size/Granule, uint64(cfg.MaxHandles)).words * 8, nil
}

func (c Config) resolve() (Config, error) {
	if c.Size == 0 || c.Size%Granule != 0 {
		return c, fmt.Errorf("%w: arena size %d is not a positive multiple of %d", ErrBadSize, c.Size, Granule)
	}
	if c.Size/Granule > 1<<40 {
		return c, fmt.Errorf("%w: arena of %d bytes is too large", ErrBadSize, c.Size)
	}
	if c.MaxHandles == 0 {
		c.MaxHandles = 65536
	}
	if c.MaxHandles < 1 || c.MaxHandles > 1<<31 {
		return c, fmt.Errorf("%w: MaxHandles %d", ErrBadSize, c.MaxHandles)
	}
	if c.CompactAt == 0 {
		c.CompactAt = 0.30
	}
	return c, nil
}

func words(b []byte) []uint64 {
	if len(b) < 8 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), len(b)/8)
}

func atomicU64(w *uint64) *atomic.Uint64 { return (*atomic.Uint64)(unsafe.Pointer(w)) }
func atomicU32(w *uint64, hi bool) *atomic.Uint32 {
	p := unsafe.Pointer(w)
	if hi {
		p = unsafe.Add(p, 4)
	}
	return (*atomic.Uint32)(p)
}
