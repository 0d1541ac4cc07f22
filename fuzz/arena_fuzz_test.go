package fuzz

import (
	"errors"
	"testing"

	"github.com/inos-node/node/arena"
)

// FuzzArena drives an arena with a byte string of operations (alloc of a
// size taken from the input, free, double free, pin, unpin, compact, owner
// reclaim) against a map model. After every step the accounting must add
// up (free + held + cached = size), every live block must hold the bytes
// its owner wrote, and every misuse must get its typed error.
func FuzzArena(f *testing.F) {
	f.Add([]byte{0, 10, 0, 200, 1, 0, 5, 0, 0, 3, 2, 4})
	f.Add([]byte{0, 255, 0, 1, 0, 128, 6, 1, 1, 5, 5, 0, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const size = 256 << 10
		cfg := arena.Config{Size: size, MaxHandles: 64}
		ms, _ := arena.MetaSize(cfg)
		data := make([]byte, size)
		a, err := arena.Init(make([]byte, ms), data, cfg)
		if err != nil {
			t.Fatal(err)
		}
		type blk struct {
			owner arena.Owner
			n     uint64
			fill  byte
			pins  int
		}
		live := map[arena.Handle]*blk{}
		var order []arena.Handle
		var freed []arena.Handle
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%8, ops[i+1]
			var h arena.Handle
			var b *blk
			if len(order) > 0 {
				h = order[int(arg)%len(order)]
				b = live[h]
			}
			switch op {
			case 0, 1: // alloc: sizes from 1 byte to ~64 KiB, skewed small
				n := uint64(arg)*uint64(arg)*uint64(1+op*3) + 1
				nh, off, err := a.Alloc(arena.Owner(arg%3), n)
				if err != nil {
					if !errors.Is(err, arena.ErrNoSpace) && !errors.Is(err, arena.ErrNoHandles) {
						t.Fatalf("alloc %d: %v", n, err)
					}
					continue
				}
				nb := &blk{owner: arena.Owner(arg % 3), n: n, fill: byte(i)}
				for j := uint64(0); j < n; j++ {
					data[off+j] = nb.fill
				}
				live[nh] = nb
				order = append(order, nh)
			case 2: // free
				if b == nil {
					continue
				}
				err := a.Free(b.owner, h)
				if b.pins > 0 {
					if !errors.Is(err, arena.ErrPinned) {
						t.Fatalf("free of pinned block: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("free: %v", err)
				}
				delete(live, h)
				for k, x := range order {
					if x == h {
						order = append(order[:k], order[k+1:]...)
						break
					}
				}
				freed = append(freed, h)
			case 3: // misuse: a freed handle, or a foreign owner
				if len(freed) > 0 {
					fh := freed[int(arg)%len(freed)]
					if err := a.Free(0, fh); !errors.Is(err, arena.ErrDoubleFree) && !errors.Is(err, arena.ErrStaleHandle) && !errors.Is(err, arena.ErrForeign) {
						t.Fatalf("free of a freed handle: %v", err)
					}
				}
				if b != nil {
					if err := a.Free(b.owner+1, h); !errors.Is(err, arena.ErrForeign) {
						t.Fatalf("foreign free: %v", err)
					}
				}
			case 4: // pin
				if b == nil {
					continue
				}
				if _, err := a.Pin(h); err != nil {
					t.Fatal(err)
				}
				b.pins++
			case 5: // unpin
				if b == nil || b.pins == 0 {
					continue
				}
				if err := a.Unpin(h); err != nil {
					t.Fatal(err)
				}
				b.pins--
			case 6: // compact
				a.Compact(uint64(arg) << 12)
			case 7: // an owner dies
				o := arena.Owner(arg % 3)
				want := 0
				for k := 0; k < len(order); k++ {
					if live[order[k]].owner == o {
						delete(live, order[k])
						freed = append(freed, order[k])
						order = append(order[:k], order[k+1:]...)
						k--
						want++
					}
				}
				if got := a.ReclaimOwner(o); got != want {
					t.Fatalf("ReclaimOwner = %d, want %d", got, want)
				}
			}
			s := a.Stats()
			if s.Free+s.Held+s.Cached != size || s.Live != uint64(len(live)) {
				t.Fatalf("accounting: %+v with %d live", s, len(live))
			}
		}
		for h, b := range live {
			off, err := a.Pin(h)
			if err != nil {
				t.Fatal(err)
			}
			for j := uint64(0); j < b.n; j++ {
				if data[off+j] != b.fill {
					t.Fatalf("block %x byte %d changed", h, j)
				}
			}
		}
	})
}
