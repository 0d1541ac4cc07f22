package guestmem

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkRemap measures mapping n bytes of another file over a guest
// memory, touching every page the way a guest reading (Private) or writing
// (Shared) them would, and restoring the memory's own pages.
func BenchmarkRemap(b *testing.B) {
	for _, n := range []int{4 << 10, 1 << 20, 64 << 20} {
		for _, mode := range []Mode{Private, Shared} {
			b.Run(fmt.Sprintf("%s/%d", map[Mode]string{Private: "private", Shared: "shared"}[mode], n), func(b *testing.B) {
				a, err := NewAllocator("bench")
				if err != nil {
					b.Fatal(err)
				}
				defer a.Close()
				m, err := a.New(128 << 20)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Free()
				m.Reallocate(128 << 20)
				fd, _ := unix.MemfdCreate("prod", 0)
				f := os.NewFile(uintptr(fd), "prod")
				defer f.Close()
				f.Truncate(int64(n))
				unix.Fallocate(fd, 0, 0, int64(n))
				mem := m.Bytes()
				b.SetBytes(int64(n))
				for i := 0; i < b.N; i++ {
					if err := m.Remap(1<<20, f, 0, uint64(n), mode); err != nil {
						b.Fatal(err)
					}
					var s byte
					for p := 1 << 20; p < 1<<20+n; p += 4096 {
						if mode == Shared {
							mem[p] = byte(i)
						} else {
							s += mem[p]
						}
					}
					_ = s
					if err := m.Restore(1<<20, uint64(n)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	b.Run("memmove/64MiB", func(b *testing.B) {
		src, dst := make([]byte, 64<<20), make([]byte, 64<<20)
		b.SetBytes(64 << 20)
		for i := 0; i < b.N; i++ {
			copy(dst, src)
		}
	})
}
