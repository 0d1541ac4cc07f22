package bench

import (
	"container/heap"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Allocation traces for the arena benchmark. A trace is a fixed list of
// operations generated from a seed before any allocator runs, so every
// allocator replays exactly the same requests in the same order and the only
// thing that differs between rows is the allocator.
//
// Both generators keep the live bytes, each rounded up to the 64-byte
// granule, at or below Fill × arena size at every step. A perfect allocator
// (one that can always place a request while the rounded live bytes fit)
// therefore never runs out of space; an allocator that does fail an
// allocation fails it because of its own rounding or fragmentation, which is
// what the benchmark is there to show.

// traceGranule is the unit the generators account in: arena.Granule. It is
// repeated here so that the generators (and their tests) do not depend on
// the package they measure.
const traceGranule = 64

// traceMaxLive bounds the allocations live at once in every trace. The arena
// has a handle table of 65536 entries by default; staying well below it keeps
// ErrNoHandles out of the measurement, which is about bytes.
const traceMaxLive = 40000

// OpKind is what one trace operation does.
type OpKind uint8

const (
	// OpAlloc allocates Size bytes and names the allocation ID.
	OpAlloc OpKind = iota
	// OpFree frees the allocation ID.
	OpFree
)

// Op is one trace operation. IDs are dense, 0, 1, 2… in allocation order,
// so replays can index plain slices with them.
type Op struct {
	Kind OpKind
	ID   uint32
	Size uint64 // OpAlloc only
}

// Trace is a generated allocation trace.
type Trace struct {
	Name       string // "realistic" or "adversarial"
	Seed       uint64
	ArenaBytes uint64
	// Target is the cap on granule-rounded live bytes (Fill × ArenaBytes,
	// granule-aligned); the generator never exceeds it.
	Target uint64
	Ops    []Op
	// IDs is the number of allocations in the trace (the highest ID + 1).
	IDs int
}

// TraceAccount is a perfect allocator's bookkeeping over a trace: exact
// byte counts, no placement. Tests use it to check the generators; the
// benchmark prints the mean fill beside the rows.
type TraceAccount struct {
	Allocs, Frees int
	// PeakLive and MeanLive are granule-rounded live bytes; MeanLive is over
	// every op after the first 1% (the same warm-up the benchmark skips).
	PeakLive, MeanLive uint64
	PeakCount          int
	// Requested is the sum of all allocation sizes.
	Requested uint64
}

// Account replays t against exact bookkeeping and reports an error if the
// trace frees an ID that is not live, allocates an ID twice or zero bytes, or
// lets the rounded live bytes exceed t.Target.
func (t *Trace) Account() (TraceAccount, error) {
	var a TraceAccount
	size := make([]uint64, t.IDs)
	live := make([]bool, t.IDs)
	seen := make([]bool, t.IDs)
	var cur uint64
	count := 0
	warm := len(t.Ops) / 100
	var sum float64
	for i, op := range t.Ops {
		if int(op.ID) >= t.IDs {
			return a, fmt.Errorf("op %d: id %d out of range (%d ids)", i, op.ID, t.IDs)
		}
		switch op.Kind {
		case OpAlloc:
			if seen[op.ID] {
				return a, fmt.Errorf("op %d: id %d allocated twice", i, op.ID)
			}
			if op.Size == 0 {
				return a, fmt.Errorf("op %d: id %d of 0 bytes", i, op.ID)
			}
			seen[op.ID], live[op.ID] = true, true
			size[op.ID] = roundGranule(op.Size)
			cur += size[op.ID]
			count++
			a.Allocs++
			a.Requested += op.Size
		case OpFree:
			if !live[op.ID] {
				return a, fmt.Errorf("op %d: free of id %d, which is not live", i, op.ID)
			}
			live[op.ID] = false
			cur -= size[op.ID]
			count--
			a.Frees++
		default:
			return a, fmt.Errorf("op %d: bad kind %d", i, op.Kind)
		}
		if cur > t.Target {
			return a, fmt.Errorf("op %d: %d live bytes exceed the target %d", i, cur, t.Target)
		}
		a.PeakLive = max(a.PeakLive, cur)
		a.PeakCount = max(a.PeakCount, count)
		if i >= warm {
			sum += float64(cur)
		}
	}
	if n := len(t.Ops) - warm; n > 0 {
		a.MeanLive = uint64(sum / float64(n))
	}
	return a, nil
}

func roundGranule(n uint64) uint64 { return (n + traceGranule - 1) &^ (traceGranule - 1) }

// traceTarget is the granule-aligned cap on live bytes for a fill fraction.
func traceTarget(arenaBytes uint64, fill float64) uint64 {
	fill = min(max(fill, 0.05), 1)
	return uint64(float64(arenaBytes)*fill) &^ (traceGranule - 1)
}

// traceRand is the generators' random source: PCG, whose output is fixed by
// its definition, so a seed names the same trace on every Go version.
func traceRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// logUniform draws from [lo, hi] with a uniform logarithm, the usual shape
// of payload sizes: as many 1–2 KiB payloads as 32–64 KiB ones.
func logUniform(r *rand.Rand, lo, hi uint64) uint64 {
	if hi <= lo {
		return lo
	}
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	v := uint64(math.Exp(l + r.Float64()*(h-l)))
	return min(max(v, lo), hi)
}

// meanLogUniform is the mean of logUniform(lo, hi).
func meanLogUniform(lo, hi uint64) float64 {
	if hi <= lo {
		return float64(lo)
	}
	return float64(hi-lo) / math.Log(float64(hi)/float64(lo))
}

// --- realistic ---------------------------------------------------------------

// realisticClass is one kind of allocation in the realistic trace.
type realisticClass struct {
	name   string
	lo, hi uint64  // size range, log-uniform
	weight float64 // share of allocations
	budget uint64  // cap on this class's rounded live bytes
	// Lifetimes in ops: exponential with mean life, or, when longLo > 0,
	// uniform in [longLo, longHi].
	life           float64
	longLo, longHi int
	live           uint64
	due            dueHeap
}

// due is a live allocation and the op index at which it is freed.
type due struct {
	at   int
	id   uint32
	size uint64
}

type dueHeap []due

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].id < h[j].id
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// RealisticTrace generates a job-like mix of n ops for an arena of
// arenaBytes, holding the rounded live bytes at or below fill × arenaBytes:
//
//   - envelopes, 150–300 B, 70% of allocations, freed 1–8 ops later (a
//     request or result header that lives for one dispatch);
//   - crypto payloads, 1–64 KiB log-uniform, 27%, lifetimes exponential with
//     a mean of thousands of ops (signatures, hashes, small ciphertexts that
//     wait for a job or two);
//   - short-lived images, 100 KiB–10 MiB log-uniform, ~2.5%, lifetimes like
//     the crypto payloads';
//   - long-lived images, same sizes, rare, each staying for 10–60% of the
//     trace (model weights, reference frames).
//
// Each class has a share of the fill target (1%, 15%, 30%, 54%) and the
// lifetimes are chosen so that each class on its own would settle at about
// 1.25 times its share; when an allocation would take a class over its
// share, the class's soonest-due allocations are freed first. So the trace
// runs in steady state at nearly the target fill, short-lived objects stay
// short-lived, and the total never exceeds the target. The long-lived images
// are allocated up front, because at their rate they would otherwise take a
// third of the trace to reach their share. Size ranges shrink with small
// arenas: an image is at most half its class's share, so no class has to
// empty itself to make room for one allocation.
func RealisticTrace(seed, arenaBytes uint64, fill float64, n int) *Trace {
	r := traceRand(seed, 1)
	target := traceTarget(arenaBytes, fill)
	t := &Trace{Name: "realistic", Seed: seed, ArenaBytes: arenaBytes, Target: target, Ops: make([]Op, 0, n)}
	share := func(f float64) uint64 { return uint64(float64(target)*f) &^ (traceGranule - 1) }
	env := &realisticClass{name: "envelope", lo: 150, hi: 300, weight: 0.70, budget: share(0.01)}
	cry := &realisticClass{name: "crypto", lo: 1 << 10, hi: 64 << 10, weight: 0.27, budget: share(0.15)}
	img := &realisticClass{name: "image", lo: 100 << 10, hi: 10 << 20, weight: 0.025, budget: share(0.30)}
	long := &realisticClass{name: "image-long", lo: 100 << 10, hi: 10 << 20, budget: share(0.54)}
	long.longLo, long.longHi = max(n/10, 1), max(n*6/10, 2)
	// Shrink the size ranges to the class budgets.
	cry.hi = max(min(cry.hi, cry.budget/4), traceGranule)
	cry.lo = max(min(cry.lo, cry.hi/4), traceGranule)
	img.hi = max(min(img.hi, img.budget/2, long.budget/2), traceGranule)
	img.lo = max(min(img.lo, img.hi/8), traceGranule)
	long.lo, long.hi = img.lo, img.hi
	// About half the ops allocate in steady state, so a class with weight w
	// allocates w/2 times per op; Little's law gives the mean lifetime that
	// settles it at 1.25 × its budget.
	const overshoot = 1.25
	cry.life = overshoot * float64(cry.budget) / (cry.weight / 2 * meanLogUniform(cry.lo, cry.hi))
	img.life = overshoot * float64(img.budget) / (img.weight / 2 * meanLogUniform(img.lo, img.hi))
	meanLong := float64(long.longLo+long.longHi) / 2
	long.weight = 2 * overshoot * float64(long.budget) / (meanLogUniform(long.lo, long.hi) * meanLong)
	long.weight = min(long.weight, 0.01)
	classes := []*realisticClass{env, cry, img, long}
	var liveCount int

	alloc := func(c *realisticClass, size uint64, life int) {
		id := uint32(t.IDs)
		t.IDs++
		t.Ops = append(t.Ops, Op{Kind: OpAlloc, ID: id, Size: size})
		rs := roundGranule(size)
		c.live += rs
		liveCount++
		heap.Push(&c.due, due{at: len(t.Ops) + life, id: id, size: rs})
	}
	free := func(c *realisticClass) {
		d := heap.Pop(&c.due).(due)
		t.Ops = append(t.Ops, Op{Kind: OpFree, ID: d.id})
		c.live -= d.size
		liveCount--
	}
	lifetime := func(c *realisticClass) int {
		if c.longLo > 0 {
			return c.longLo + r.IntN(c.longHi-c.longLo+1)
		}
		if c == env {
			return 1 + r.IntN(8)
		}
		return 1 + int(r.ExpFloat64()*c.life)
	}
	// The long-lived images, up front; their lifetimes start anywhere in
	// [1, longHi] so that they leave spread over the trace.
	for len(t.Ops) < n {
		s := logUniform(r, long.lo, long.hi)
		if long.live+roundGranule(s) > long.budget {
			break
		}
		alloc(long, s, 1+r.IntN(long.longHi))
	}
	for len(t.Ops) < n {
		// Frees that are due come first, oldest class deadline first.
		var soonest *realisticClass
		for _, c := range classes {
			if len(c.due) > 0 && c.due[0].at <= len(t.Ops) && (soonest == nil || c.due[0].at < soonest.due[0].at) {
				soonest = c
			}
		}
		if soonest != nil {
			free(soonest)
			continue
		}
		x := r.Float64() * (env.weight + cry.weight + img.weight + long.weight)
		c := long
		for _, k := range classes[:3] {
			if x < k.weight {
				c = k
				break
			}
			x -= k.weight
		}
		s := logUniform(r, c.lo, c.hi)
		rs := roundGranule(s)
		for c.live+rs > c.budget && len(c.due) > 0 && len(t.Ops) < n {
			free(c)
		}
		for liveCount >= traceMaxLive && len(cry.due) > 0 && len(t.Ops) < n {
			free(cry) // the only class that can have this many live
		}
		if len(t.Ops) >= n {
			break
		}
		if c.live+rs > c.budget || liveCount >= traceMaxLive {
			// Only in arenas too small for the class: make progress by
			// freeing whatever is due soonest, or give up when nothing lives.
			var first *realisticClass
			for _, k := range classes {
				if len(k.due) > 0 && (first == nil || k.due[0].at < first.due[0].at) {
					first = k
				}
			}
			if first == nil {
				break
			}
			free(first)
			continue
		}
		alloc(c, s, lifetime(c))
	}
	return t
}

// --- adversarial -------------------------------------------------------------

// adversarialSize returns a size that power-of-two rounding handles badly,
// near 2^k: either 2^k+1 (rounded to 2^(k+1), half of it wasted) or just
// above 3/4·2^k (rounded to 2^k, a quarter wasted).
func adversarialSize(r *rand.Rand, k int) uint64 {
	if r.IntN(2) == 0 {
		return 1<<k + 1
	}
	return 3<<(k-2) + 1 + r.Uint64N(uint64(1)<<(k-4))
}

// AdversarialTrace generates n ops that defeat a power-of-two buddy
// allocator, for an arena of arenaBytes, holding the rounded live bytes at
// or below fill × arenaBytes. It runs in rounds:
//
//  1. allocate many small blocks of sizes near 2^k (2^k+1 or just above
//     3/4·2^k; one k per round, drawn from 6..17 but raised where 8192
//     blocks would not fill the room) into the room left under the target;
//  2. free every other one, leaving holes between live blocks;
//  3. allocate larger blocks (2–8 times larger, again near a power of two)
//     up to the target: they fit only where the holes coalesce, which
//     they cannot while their neighbours live, unless the allocator moves
//     blocks;
//  4. free the previous round's large blocks and this round's remaining
//     small ones, except about 5% of the small ones, which live on for 2–8
//     more rounds and keep the address space from ever becoming clean.
//
// A round allocates at most 8192 blocks of each size; where the room is
// larger than that, the block size grows to fill it.
func AdversarialTrace(seed, arenaBytes uint64, fill float64, n int) *Trace {
	r := traceRand(seed, 2)
	target := traceTarget(arenaBytes, fill)
	t := &Trace{Name: "adversarial", Seed: seed, ArenaBytes: arenaBytes, Target: target, Ops: make([]Op, 0, n)}
	const perRound = 8192
	maxK := 20
	for maxK > 6 && uint64(1)<<(maxK+1) > target/4 {
		maxK--
	}
	var live uint64
	liveCount := 0
	size := make(map[uint32]uint64) // rounded sizes of live ids
	full := func() bool { return len(t.Ops) >= n }
	alloc := func(s uint64) (uint32, bool) {
		rs := roundGranule(s)
		if full() || live+rs > target || liveCount >= traceMaxLive {
			return 0, false
		}
		id := uint32(t.IDs)
		t.IDs++
		t.Ops = append(t.Ops, Op{Kind: OpAlloc, ID: id, Size: s})
		live += rs
		liveCount++
		size[id] = rs
		return id, true
	}
	free := func(id uint32) {
		if full() {
			return
		}
		t.Ops = append(t.Ops, Op{Kind: OpFree, ID: id})
		live -= size[id]
		liveCount--
		delete(size, id)
	}
	type survivor struct {
		id    uint32
		until int // round
	}
	var survivors []survivor
	var prevLarge []uint32
	// k at which perRound blocks near 2^k fill room.
	kFor := func(room uint64) int {
		if room/perRound < 1 {
			return 6
		}
		return bits.Len64(room/perRound) - 1
	}
	for round := 0; !full(); round++ {
		room := target - live
		k := min(max(6+r.IntN(12), kFor(room)), maxK-1)
		var small []uint32
		for len(small) < perRound {
			id, ok := alloc(adversarialSize(r, k))
			if !ok {
				break
			}
			small = append(small, id)
		}
		var kept []uint32
		for i, id := range small {
			if i%2 == 1 {
				free(id)
			} else {
				kept = append(kept, id)
			}
		}
		room = target - live
		k2 := min(max(k+1+r.IntN(3), kFor(room)), maxK)
		var large []uint32
		for len(large) < perRound {
			id, ok := alloc(adversarialSize(r, k2))
			if !ok {
				break
			}
			large = append(large, id)
		}
		for _, id := range prevLarge {
			free(id)
		}
		prevLarge = large
		for _, id := range kept {
			if r.IntN(20) == 0 {
				survivors = append(survivors, survivor{id, round + 2 + r.IntN(7)})
			} else {
				free(id)
			}
		}
		j := 0
		for _, s := range survivors {
			if s.until <= round {
				free(s.id)
			} else {
				survivors[j] = s
				j++
			}
		}
		survivors = survivors[:j]
		if len(small) == 0 && len(large) == 0 && !full() {
			if live == 0 {
				break // the arena is too small for the smallest size
			}
			// Nothing fitted beside what lives on: free it all and go on.
			for _, s := range survivors {
				free(s.id)
			}
			survivors = survivors[:0]
			for _, id := range prevLarge {
				free(id)
			}
			prevLarge = nil
		}
	}
	return t
}
