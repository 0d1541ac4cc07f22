package arena

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func newArena(t testing.TB, cfg Config) (*Arena, []byte) {
	t.Helper()
	ms, err := MetaSize(cfg)
	if err != nil {
		t.Fatal(err)
	}
	meta, data := make([]byte, ms), make([]byte, cfg.Size)
	a, err := Init(meta, data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, meta
}

// checkInvariants walks the free structures and the handle table: every
// granule is exactly one of free (in one buddy block), cached (on one
// exact-fit list) or held (by one live entry); no two free buddies are both
// free (they would have been merged); the counters match.
func checkInvariants(t testing.TB, a *Arena) {
	t.Helper()
	owner := make([]int8, a.l.granules) // 0 unknown, 1 free, 2 cached, 3 held
	mark := func(p, n uint64, v int8, what string) {
		for i := p; i < p+n; i++ {
			if i >= a.l.granules {
				t.Fatalf("%s block [%d,+%d) outside %d granules", what, p, n, a.l.granules)
			}
			if owner[i] != 0 {
				t.Fatalf("granule %d is both %d and %s", i, owner[i], what)
			}
			owner[i] = v
		}
	}
	var free, cached, held, requested, live uint64
	for k := 0; k <= a.l.maxLevel; k++ {
		var n uint64
		for i := uint64(0); i < a.l.granules>>k; i++ {
			if !a.lvl[k].test(i) {
				continue
			}
			n++
			p := i << k
			mark(p, 1<<k, 1, "free")
			free += 1 << k
			if b := p ^ 1<<k; k < a.l.maxLevel && b+1<<k <= a.l.granules && a.lvl[k].test(b>>k) {
				t.Fatalf("free buddies %d and %d at level %d not merged", p, b, k)
			}
		}
		if n != a.count[k] {
			t.Fatalf("level %d: %d free blocks, count says %d", k, n, a.count[k])
		}
		if f, ok := a.lvl[k].first(); ok != (n > 0) || (ok && !a.lvl[k].test(f)) {
			t.Fatalf("level %d: first() = %d, %v with %d blocks", k, f, ok, n)
		}
	}
	for m := uint64(1); m <= quickSizes; m++ {
		q := a.quickList(m)
		for j := uint64(1); j <= q[0]; j++ {
			mark(q[j], m, 2, "cached")
			cached += m
		}
	}
	for i := uint32(0); uint64(i) < a.l.handles; i++ {
		e := a.entry(i)
		if wState(atomicU64(&e[0]).Load()) == stFree {
			continue
		}
		h := e[3] & (1<<48 - 1)
		mark(e[1], h, 3, "held")
		held += h
		requested += e[2]
		live++
		if want := (e[2] + Granule - 1) / Granule; h < want {
			t.Fatalf("entry %d holds %d granules for %d bytes", i, h, e[2])
		}
	}
	for i, v := range owner {
		if v == 0 {
			t.Fatalf("granule %d is lost: neither free, cached nor held", i)
		}
	}
	if free != a.ctr[ctrFree] || cached != a.ctr[ctrCached] || held != a.ctr[ctrHeld] || requested != a.ctr[ctrRequested] || live != a.ctr[ctrLive] {
		t.Fatalf("counters free %d/%d cached %d/%d held %d/%d requested %d/%d live %d/%d",
			a.ctr[ctrFree], free, a.ctr[ctrCached], cached, a.ctr[ctrHeld], held, a.ctr[ctrRequested], requested, a.ctr[ctrLive], live)
	}
	if a.l.handles-a.ctr[ctrHandleTop] != live {
		t.Fatalf("%d handles in use, %d live entries", a.l.handles-a.ctr[ctrHandleTop], live)
	}
}

type modelAlloc struct {
	owner Owner
	n     uint64
	fill  byte
	pins  int
}

// TestModel runs random operations against the arena and a map of what
// should be live, checking contents, errors and every invariant.
func TestModel(t *testing.T) {
	for _, plain := range []bool{false, true} {
		for seed := uint64(0); seed < 12; seed++ {
			runModel(t, seed, plain, 3000)
		}
	}
}

func runModel(t *testing.T, seed uint64, plain bool, ops int) {
	rng := rand.New(rand.NewPCG(seed, 99))
	size := uint64(Granule) * uint64(1000+rng.IntN(3000))
	a, _ := newArena(t, Config{Size: size, MaxHandles: 200, Plain: plain})
	model := map[Handle]*modelAlloc{}
	var freed []Handle
	verify := func(h Handle, m *modelAlloc) {
		off, err := a.Pin(h)
		if err != nil {
			t.Fatalf("seed %d: pin live %x: %v", seed, h, err)
		}
		for i := uint64(0); i < m.n; i++ {
			if a.data[off+i] != m.fill {
				t.Fatalf("seed %d: handle %x byte %d is %d, want %d", seed, h, i, a.data[off+i], m.fill)
			}
		}
		if err := a.Unpin(h); err != nil {
			t.Fatal(err)
		}
	}
	pick := func() (Handle, *modelAlloc) {
		for h, m := range model {
			return h, m
		}
		return 0, nil
	}
	for op := 0; op < ops; op++ {
		switch r := rng.IntN(100); {
		case r < 45: // alloc
			n := uint64(1 + rng.IntN(int(size/8)))
			if rng.IntN(3) == 0 {
				n = uint64(1 + rng.IntN(300))
			}
			o := Owner(rng.IntN(3))
			h, off, err := a.Alloc(o, n)
			if err != nil {
				if !errors.Is(err, ErrNoSpace) && !errors.Is(err, ErrNoHandles) {
					t.Fatalf("seed %d: alloc %d: %v", seed, n, err)
				}
				continue
			}
			if off%Granule != 0 || off+n > size {
				t.Fatalf("seed %d: alloc %d at %d", seed, n, off)
			}
			m := &modelAlloc{owner: o, n: n, fill: byte(op)}
			for i := uint64(0); i < n; i++ {
				a.data[off+i] = m.fill
			}
			model[h] = m
		case r < 80: // free
			h, m := pick()
			if m == nil {
				continue
			}
			if m.pins > 0 {
				if err := a.Free(m.owner, h); !errors.Is(err, ErrPinned) {
					t.Fatalf("seed %d: free of pinned: %v", seed, err)
				}
				continue
			}
			if err := a.Free(m.owner+1, h); !errors.Is(err, ErrForeign) {
				t.Fatalf("seed %d: free by another owner: %v", seed, err)
			}
			verify(h, m)
			if err := a.Free(m.owner, h); err != nil {
				t.Fatalf("seed %d: free: %v", seed, err)
			}
			delete(model, h)
			freed = append(freed, h)
		case r < 85: // a freed handle must be refused
			if len(freed) == 0 {
				continue
			}
			h := freed[rng.IntN(len(freed))]
			err := a.Free(0, h)
			if !errors.Is(err, ErrDoubleFree) && !errors.Is(err, ErrStaleHandle) && !errors.Is(err, ErrForeign) {
				t.Fatalf("seed %d: free of freed handle: %v", seed, err)
			}
			if _, ok := model[h]; ok {
				t.Fatalf("seed %d: freed handle %x reissued", seed, h)
			}
		case r < 92: // pin or unpin
			h, m := pick()
			if m == nil {
				continue
			}
			if m.pins > 0 && rng.IntN(2) == 0 {
				if err := a.Unpin(h); err != nil {
					t.Fatal(err)
				}
				m.pins--
			} else {
				if _, err := a.Pin(h); err != nil {
					t.Fatal(err)
				}
				m.pins++
			}
		case r < 97: // compact
			st := a.Compact(uint64(rng.IntN(int(size))))
			if plain && st.Moved != 0 {
				t.Fatalf("plain arena compacted")
			}
		default: // an owner dies
			o := Owner(rng.IntN(3))
			want := 0
			for h, m := range model {
				if m.owner == o {
					delete(model, h)
					freed = append(freed, h)
					want++
				}
			}
			if got := a.ReclaimOwner(o); got != want {
				t.Fatalf("seed %d: ReclaimOwner(%d) = %d, want %d", seed, o, got, want)
			}
		}
		checkInvariants(t, a)
	}
	for h, m := range model {
		verify(h, m)
	}
	// Rebuilding from the handle table gives an equivalent arena.
	before := a.Stats()
	a.rebuild()
	checkInvariants(t, a)
	after := a.Stats()
	if after.Requested != before.Requested || after.Held != before.Held || after.Free != before.Free+before.Cached {
		t.Fatalf("seed %d: rebuild changed the accounting: %+v -> %+v", seed, before, after)
	}
}
