package arena

import (
	"errors"
	"math/rand/v2"
	"os/exec"
	"testing"
)

func TestCompactionDefragments(t *testing.T) {
	a, _ := newArena(t, Config{Size: 1 << 20})
	// Fill with 4 KiB blocks, free every other one: half the arena free in
	// 4 KiB holes, nothing larger.
	var hs []Handle
	for {
		h, off, err := a.Alloc(1, 4096)
		if err != nil {
			break
		}
		for i := 0; i < 4096; i++ {
			a.data[off+uint64(i)] = byte(h)
		}
		hs = append(hs, h)
	}
	for i := 0; i < len(hs); i += 2 {
		if err := a.Free(1, hs[i]); err != nil {
			t.Fatal(err)
		}
	}
	pinned := hs[len(hs)-1]
	pinOff, _ := a.Pin(pinned)
	s := a.Stats()
	if !a.NeedsCompaction() || s.ExternalFrag < 0.9 {
		t.Fatalf("after freeing every other block: %+v, NeedsCompaction %v", s, a.NeedsCompaction())
	}
	if _, _, err := a.Alloc(1, 64<<10); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("64 KiB in 4 KiB holes: %v", err)
	}
	st := a.Compact(1 << 30)
	checkInvariants(t, a)
	s2 := a.Stats()
	t.Logf("before %.2f external fragmentation, after %.2f; %+v", s.ExternalFrag, s2.ExternalFrag, st)
	if st.Moved == 0 || s2.ExternalFrag > 0.5 || s2.Compactions != uint64(st.Moved) || s2.BytesMoved != st.BytesMoved {
		t.Fatalf("compaction did little: %+v -> %+v", st, s2)
	}
	if off, _ := a.Pin(pinned); off != pinOff {
		t.Fatalf("pinned block moved from %d to %d", pinOff, off)
	}
	for i := 1; i < len(hs); i += 2 {
		off, err := a.Pin(hs[i])
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 4096; j++ {
			if a.data[off+uint64(j)] != byte(hs[i]) {
				t.Fatalf("block %d corrupted by the move", i)
			}
		}
		a.Unpin(hs[i])
	}
	if _, _, err := a.Alloc(1, 64<<10); err != nil {
		t.Fatalf("64 KiB after compaction: %v", err)
	}
}

func TestTrimmingKeepsEfficiency(t *testing.T) {
	for _, plain := range []bool{false, true} {
		a, _ := newArena(t, Config{Size: 64 << 20, Plain: plain})
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 2000; i++ {
			if _, _, err := a.Alloc(1, uint64(1+rng.IntN(16<<10))); err != nil {
				t.Fatal(err)
			}
		}
		s := a.Stats()
		t.Logf("plain=%v: efficiency %.3f", plain, s.Efficiency)
		if plain && (s.Efficiency > 0.8 || s.Efficiency < 0.6) || !plain && s.Efficiency < 0.98 {
			t.Fatalf("plain=%v: efficiency %.3f", plain, s.Efficiency)
		}
	}
}

func TestExactFitReuse(t *testing.T) {
	a, _ := newArena(t, Config{Size: 1 << 20})
	h, off, _ := a.Alloc(1, 200)
	a.Free(1, h)
	h2, off2, _ := a.Alloc(2, 250) // the same 4 granules
	if off2 != off || a.Stats().QuickHits != 1 {
		t.Fatalf("exact-fit list not used: %d vs %d, %+v", off2, off, a.Stats())
	}
	if err := a.Free(1, h); !errors.Is(err, ErrStaleHandle) {
		t.Fatalf("old handle after reuse of its entry: %v", err)
	}
	if err := a.Free(1, h2); !errors.Is(err, ErrForeign) {
		t.Fatalf("free by another owner: %v", err)
	}
	if err := a.Free(2, h2); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(2, h2); !errors.Is(err, ErrDoubleFree) {
		t.Fatalf("second free: %v", err)
	}
	for _, h := range []Handle{0, 1 << 32, Handle(1<<32 | 1<<31)} {
		if err := a.Free(0, h); !errors.Is(err, ErrStaleHandle) {
			t.Errorf("free of forged handle %x: %v", h, err)
		}
	}
}

// TestDeadLockHolderRecovered: a process that died holding the lock
// mid-operation (simulated: the lock names a dead pid and the free
// structures are scrambled) is taken over, and the arena rebuilt from the
// handle table.
func TestDeadLockHolderRecovered(t *testing.T) {
	a, meta := newArena(t, Config{Size: 1 << 20})
	keep, off, _ := a.Alloc(1, 10000)
	a.data[off] = 42
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := uint32(cmd.Process.Pid)
	a.lock.Store(dead)
	// Half an operation: a block taken from the bitmaps, no entry for it.
	a.acquire(100, false)
	b, err := Attach(meta, a.data)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := b.Alloc(2, 5000)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b)
	if s := b.Stats(); s.Recoveries != 1 || s.Live != 2 {
		t.Fatalf("after recovery: %+v", s)
	}
	if o, _ := b.Pin(keep); b.data[o] != 42 {
		t.Fatal("live block lost in recovery")
	}
	_ = h
}

func BenchmarkAllocFree(b *testing.B) {
	for _, tc := range []struct {
		name  string
		plain bool
		size  uint64
	}{{"arena-200B", false, 200}, {"arena-64KiB", false, 64 << 10}, {"arena-1MiB+1", false, 1<<20 + 1}, {"buddy-64KiB", true, 64 << 10}} {
		b.Run(tc.name, func(b *testing.B) {
			a, _ := newArena(b, Config{Size: 256 << 20, Plain: tc.plain})
			// Some live blocks so the structures are not trivial.
			rng := rand.New(rand.NewPCG(1, 1))
			for i := 0; i < 1000; i++ {
				a.Alloc(1, uint64(1+rng.IntN(100<<10)))
			}
			b.ReportAllocs()
			for b.Loop() {
				h, _, err := a.Alloc(1, tc.size)
				if err != nil {
					b.Fatal(err)
				}
				a.Free(1, h)
			}
		})
	}
}

// TestRunOfAdjacentPieces: free space that no single buddy block covers (a
// run of smaller blocks side by side, as trimming leaves them) still holds
// an allocation.
func TestRunOfAdjacentPieces(t *testing.T) {
	a, _ := newArena(t, Config{Size: 64 * Granule})
	hs := make([]Handle, 64)
	for i := range hs {
		h, off, err := a.Alloc(1, Granule)
		if err != nil || off != uint64(i)*Granule {
			t.Fatalf("fill %d: off %d, %v", i, off, err)
		}
		hs[i] = h
	}
	for _, i := range []int{15, 16, 17} { // blocks [15], [16,18): no aligned 4
		a.Free(1, hs[i])
	}
	a.Compact(0) // flush exact-fit lists into the buddy structure
	checkInvariants(t, a)
	if a.Stats().LargestFree != 2*Granule {
		t.Fatalf("setup: largest free %d", a.Stats().LargestFree)
	}
	h, off, err := a.Alloc(2, 3*Granule)
	if err != nil || off != 15*Granule {
		t.Fatalf("3 granules over a run of 1+2: off %d, %v", off, err)
	}
	checkInvariants(t, a)
	if err := a.Free(2, h); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, a)
	if _, _, err := a.Alloc(2, 4*Granule); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("4 granules in a 3-granule hole: %v", err)
	}
}
