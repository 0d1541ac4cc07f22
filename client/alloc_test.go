package client

import (
	"math/rand/v2"
	"testing"
)

// TestSpanAllocModel allocates and frees at random against a byte map of
// the partition: no two live buffers overlap, everything stays inside, and
// once all is freed the allocator is one span again.
func TestSpanAllocModel(t *testing.T) {
	const base, size = 1 << 20, 64 << 10
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		a := newSpanAlloc(base, size)
		owner := make([]int, size) // 0 free, else id of the live buffer
		type live struct{ off, n uint64 }
		lives := map[int]live{}
		for id := 1; id < 3000; id++ {
			if len(lives) > 0 && rng.IntN(2) == 0 {
				for k, l := range lives {
					a.release(l.off, l.n)
					for i := l.off; i < l.off+l.n; i++ {
						owner[i-base] = 0
					}
					delete(lives, k)
					break
				}
				continue
			}
			n := uint64(1 + rng.IntN(4000))
			off, ok := a.alloc(n)
			if !ok {
				continue
			}
			if off < base || off+n > base+size || off%allocAlign != 0 {
				t.Fatalf("seed %d: alloc(%d) = %d outside [%d,+%d) or misaligned", seed, n, off, base, size)
			}
			for i := off; i < off+n; i++ {
				if owner[i-base] != 0 {
					t.Fatalf("seed %d: buffer %d overlaps buffer %d at %d", seed, id, owner[i-base], i)
				}
				owner[i-base] = id
			}
			lives[id] = live{off, n}
		}
		for _, l := range lives {
			a.release(l.off, l.n)
		}
		if len(a.free) != 1 || a.free[0] != (span{base, size}) {
			t.Fatalf("seed %d: after freeing everything: %v", seed, a.free)
		}
	}
}
