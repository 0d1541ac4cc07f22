package arena

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/internal/futex"
	"github.com/inos-node/node/shm"
)

// Handle table entry word 0 (atomic): generation<<32 | state<<16 | pins.
const (
	stFree   = 0
	stLive   = 1
	stMoving = 2
	pinMask  = 0xffff
)

func entryWord(gen uint32, state uint64, pins uint64) uint64 {
	return uint64(gen)<<32 | state<<16 | pins
}
func wGen(w uint64) uint32   { return uint32(w >> 32) }
func wState(w uint64) uint64 { return (w >> 16) & 3 }
func wPins(w uint64) uint64  { return w & pinMask }

// Arena is one process's view of an arena. Any number of goroutines and
// processes may use views of the same arena at once.
type Arena struct {
	meta  []uint64
	data  []byte
	l     layout
	plain bool
	frac  float64
	lvl   []hbitmap
	count []uint64 // free blocks per level (view into meta)
	ctr   []uint64 // counters (view into meta)
	lock  *atomic.Uint32
	wait  *atomic.Uint32
	pid   uint32
}

// Init formats meta as an empty arena over data and returns a view of it.
// meta must be MetaSize(cfg) bytes, 8-byte aligned; data cfg.Size bytes.
func Init(meta, data []byte, cfg Config) (*Arena, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	need, _ := MetaSize(cfg)
	if uint64(len(meta)) < need || uint64(len(data)) < cfg.Size {
		return nil, fmt.Errorf("%w: %d metadata bytes (need %d), %d data bytes (need %d)", ErrBadSize, len(meta), need, len(data), cfg.Size)
	}
	m := words(meta)
	clear(m[:need/8])
	m[wGranules] = cfg.Size / Granule
	m[wHandles] = uint64(cfg.MaxHandles)
	if cfg.Plain {
		m[wFlags] |= flagPlain
	}
	m[wCompactAt] = math.Float64bits(cfg.CompactAt)
	a := view(m, data)
	stack := a.stack()
	for i := range stack {
		stack[i] = uint32(len(stack) - 1 - i) // index 0 is handed out first
	}
	a.ctr[ctrHandleTop] = uint64(len(stack))
	a.release(0, a.l.granules)
	atomicU64(&m[wMagic]).Store(magic) // last: Attach trusts the magic
	return a, nil
}

// Attach returns a view of an arena that Init formatted.
func Attach(meta, data []byte) (*Arena, error) {
	m := words(meta)
	if len(m) < wLevels || atomicU64(&m[wMagic]).Load() != magic {
		return nil, ErrBadArena
	}
	l := computeLayout(m[wGranules], m[wHandles])
	if uint64(len(m)) < l.words || uint64(len(data)) < l.granules*Granule {
		return nil, fmt.Errorf("%w: metadata or data shorter than its header says", ErrBadArena)
	}
	return view(m, data), nil
}

func view(m []uint64, data []byte) *Arena {
	l := computeLayout(m[wGranules], m[wHandles])
	a := &Arena{meta: m, data: data[:l.granules*Granule], l: l, plain: m[wFlags]&flagPlain != 0,
		frac: math.Float64frombits(m[wCompactAt]), pid: uint32(os.Getpid())}
	a.count = m[l.levels : l.levels+uint64(l.maxLevel+1)]
	a.ctr = m[wCounters : wCounters+nCounters]
	for k := 0; k <= l.maxLevel; k++ {
		a.lvl = append(a.lvl, newHbitmap(m[l.bitmapAt[k]:], l.granules>>k))
	}
	a.lock = atomicU32(&m[wLock], false)
	a.wait = atomicU32(&m[wLock], true)
	return a
}

func (a *Arena) quickList(m uint64) []uint64 {
	base := a.l.quick + (m-1)*(1+quickDepth)
	return a.meta[base : base+1+quickDepth]
}

func (a *Arena) entry(i uint32) []uint64 {
	base := a.l.table + uint64(i)*4
	return a.meta[base : base+4 : base+4]
}

func (a *Arena) stack() []uint32 {
	w := a.meta[a.l.stack:a.l.words]
	return unsafe32(w)[:a.l.handles]
}

// --- the lock ----------------------------------------------------------------

// lockArena takes the arena's cross-process lock. The lock word holds the
// holder's pid; a waiter that finds the holder's process gone takes the
// lock over and rebuilds the free structures from the handle table, which
// every operation keeps consistent at each step (see doc.go).
func (a *Arena) lockArena() {
	if a.lock.CompareAndSwap(0, a.pid) {
		return
	}
	for i := 0; i < 200; i++ {
		if a.lock.Load() == 0 && a.lock.CompareAndSwap(0, a.pid) {
			return
		}
		runtime.Gosched()
	}
	a.wait.Add(1)
	defer a.wait.Add(^uint32(0))
	for {
		v := a.lock.Load()
		if v == 0 {
			if a.lock.CompareAndSwap(0, a.pid) {
				return
			}
			continue
		}
		_ = futex.Wait(a.lock, v, 10*time.Millisecond)
		if v == a.lock.Load() && v != a.pid && !shm.ProcessAlive(int(v), 0) && a.lock.CompareAndSwap(v, a.pid) {
			a.rebuild()
			return
		}
	}
}

func (a *Arena) unlockArena() {
	a.lock.Store(0)
	if a.wait.Load() != 0 {
		_ = futex.Wake(a.lock, 1)
	}
}

// --- buddy blocks (granule positions; under the lock) ----------------------------

func (a *Arena) putBlock(p uint64, k int) {
	a.lvl[k].set(p >> k)
	a.count[k]++
	a.ctr[ctrFree] += 1 << k
}

func (a *Arena) takeBlock(p uint64, k int) {
	a.lvl[k].clear(p >> k)
	a.count[k]--
	a.ctr[ctrFree] -= 1 << k
}

// release frees the granules [p, p+n): it splits the range into maximal
// aligned blocks and merges each with its buddy while the buddy is free.
func (a *Arena) release(p, n uint64) {
	end := p + n
	for p < end {
		k := bits.Len64(end-p) - 1
		if p != 0 {
			k = min(k, bits.TrailingZeros64(p))
		}
		next := p + 1<<k
		for k < a.l.maxLevel {
			b := p ^ 1<<k
			if b+1<<k > a.l.granules || !a.lvl[k].test(b>>k) {
				break
			}
			a.takeBlock(b, k)
			p = min(p, b)
			k++
		}
		a.putBlock(p, k)
		p = next
	}
}

// levelFor returns the least k with 2^k >= m.
func levelFor(m uint64) int { return bits.Len64(m - 1) }

// acquire takes m granules from the smallest free block that holds them
// (lowest address within that size) and frees the rest of the block. With
// lowest set, it takes the lowest-addressed block of any fitting size
// instead (compaction). It returns the position and the granules held.
func (a *Arena) acquire(m uint64, lowest bool) (pos, held uint64, ok bool) {
	need := levelFor(m)
	if need > a.l.maxLevel {
		return 0, 0, false
	}
	held = m
	if a.plain {
		held = 1 << need
	}
	best, bestK := uint64(math.MaxUint64), -1
	for k := need; k <= a.l.maxLevel; k++ {
		if a.count[k] == 0 {
			continue
		}
		i, _ := a.lvl[k].first()
		if !lowest {
			best, bestK = i<<k, k
			break
		}
		if i<<k < best {
			best, bestK = i<<k, k
		}
	}
	if bestK < 0 {
		return 0, 0, false
	}
	a.takeBlock(best, bestK)
	if rest := uint64(1)<<bestK - held; rest > 0 {
		a.release(best+held, rest)
	}
	return best, held, true
}

// freeAt returns the level of the free block that starts at granule q, if
// one does.
func (a *Arena) freeAt(q uint64) (int, bool) {
	for k := 0; k <= a.l.maxLevel; k++ {
		if q&(1<<k-1) != 0 {
			break // q is not aligned to larger blocks either
		}
		if q>>k < uint64(len(a.lvl[k].lv[0]))*64 && (q>>k+1)<<k <= a.l.granules && a.lvl[k].test(q>>k) {
			return k, true
		}
	}
	return 0, false
}

// freeEndingAt returns the level of the free block that ends at granule q.
func (a *Arena) freeEndingAt(q uint64) (int, bool) {
	for k := 0; k <= a.l.maxLevel && q >= 1<<k; k++ {
		p := q - 1<<k
		if p&(1<<k-1) != 0 {
			continue
		}
		if a.lvl[k].test(p >> k) {
			return k, true
		}
	}
	return 0, false
}

// acquireRun is the fallback when no single free block holds m granules:
// it looks for a run of adjacent free blocks (the pieces trimming and
// freeing leave side by side) that together hold m, takes the lowest such
// run it finds below limit, and gives back what the allocation does not
// use. Any such run contains a whole free block of level need-1 or need-2,
// so those blocks are the only places to start from. budget bounds the
// blocks it starts from (and is spent), so that a caller looping over many
// allocations, like Compact, stays bounded however fragmented the arena is.
func (a *Arena) acquireRun(m, limit uint64, budget *int) (uint64, bool) {
	need := levelFor(m)
	best, bestEnd, found := uint64(0), uint64(0), false
	for k := need - 1; k >= max(need-2, 0); k-- {
		for i, ok := a.lvl[k].first(); ok && *budget > 0; i, ok = a.lvl[k].next(i + 1) {
			*budget--
			start, end := i<<k, (i+1)<<k
			if found && start >= best || start >= limit {
				break
			}
			for end-start < m {
				kk, ok := a.freeAt(end)
				if !ok {
					break
				}
				end += 1 << kk
			}
			for end-start < m {
				kk, ok := a.freeEndingAt(start)
				if !ok {
					break
				}
				start -= 1 << kk
			}
			if end-start >= m && start < limit && (!found || start < best) {
				best, bestEnd, found = start, end, true
			}
		}
	}
	if !found {
		return 0, false
	}
	// Take every free block of the run, then give back its tail.
	for q := best; q < bestEnd; {
		k, _ := a.freeAt(q)
		a.takeBlock(q, k)
		q += 1 << k
	}
	if rest := bestEnd - best - m; rest > 0 {
		a.release(best+m, rest)
	}
	return best, true
}

func (a *Arena) largestFree() uint64 {
	for k := a.l.maxLevel; k >= 0; k-- {
		if a.count[k] > 0 {
			return 1 << k
		}
	}
	return 0
}

// --- exact-fit lists ------------------------------------------------------------

func (a *Arena) cacheLimit() uint64 { return a.l.granules / 32 }

func (a *Arena) quickPop(m uint64) (uint64, bool) {
	if a.plain || m > quickSizes {
		return 0, false
	}
	q := a.quickList(m)
	if q[0] == 0 {
		return 0, false
	}
	q[0]--
	a.ctr[ctrCached] -= m
	return q[1+q[0]], true
}

func (a *Arena) quickPush(p, m uint64) bool {
	if a.plain || m > quickSizes || a.ctr[ctrCached]+m > a.cacheLimit() {
		return false
	}
	q := a.quickList(m)
	if q[0] == quickDepth {
		return false
	}
	q[1+q[0]] = p
	q[0]++
	a.ctr[ctrCached] += m
	return true
}

func (a *Arena) flushQuick() {
	for m := uint64(1); m <= quickSizes; m++ {
		q := a.quickList(m)
		for ; q[0] > 0; q[0]-- {
			a.release(q[q[0]], m)
			a.ctr[ctrCached] -= m
		}
	}
}

// AttachRegion attaches to the heap arena of a node's shared region (the
// node formats it with Init over the region's arena sections).
func AttachRegion(r *shm.Region) (*Arena, error) {
	l := r.Layout()
	return Attach(r.Slice(l.ArenaMetaOff, l.ArenaMetaSize), r.Slice(l.HeapOff, l.HeapSize))
}
