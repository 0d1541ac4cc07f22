// Package guestmem backs guest linear memories with MAP_SHARED mappings of
// a file, so that the host (and, through the same file, other processes)
// sees a guest's memory without copying it, and pages of another shared
// file — a producer's input in the node's region — can be mapped into a
// guest's memory in place of its own, which is how bulk bytes reach a
// guest without being copied.
//
// Contract (wazero's experimental.LinearMemory): a memory is reserved at
// its maximum size up front and never moves; Reallocate only changes the
// length of the slice it returns, and the bytes beyond the old length are
// zero (fresh file pages are). A memory's window of the file is given back
// to the file system on Free (the pages are punched out, so a later tenant
// of the same window reads zeros, never the previous guest's heap).
//
// Remap replaces a page-aligned range of a memory with a MAP_SHARED view of
// another file's pages. The guest must own that range (it allocated it and
// told the host where it is): a Go guest's heap grows by sbrk from the end
// of its data and ignores anything the host maps elsewhere.
package guestmem

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tetratelabs/wazero/experimental"
)

// pageSize is the host page size Remap works in.
var pageSize = uint64(os.Getpagesize()) // fixed for the life of the process

// Allocator hands out guest memories, each a window of one backing file.
type Allocator struct {
	mu   sync.Mutex
	file *os.File
	next uint64 // file offset of the next window
}

// NewAllocator creates the backing file (an anonymous memfd).
func NewAllocator(name string) (*Allocator, error) {
	fd, err := unix.MemfdCreate("inos-guest-"+name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("guestmem: memfd: %w", err)
	}
	return &Allocator{file: os.NewFile(uintptr(fd), "inos-guest-"+name)}, nil
}

// Close closes the backing file; memories still mapped stay valid until
// freed.
func (a *Allocator) Close() error { return a.file.Close() }

// File returns the backing file, for views of guest memory.
func (a *Allocator) File() *os.File { return a.file }

// Memory is one guest's linear memory.
type Memory struct {
	a      *Allocator
	off    uint64 // window offset in the backing file
	mem    []byte // the whole reserved window
	length uint64
}

// Allocate implements experimental.MemoryAllocator.
func (a *Allocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	m, err := a.New(max)
	if err != nil {
		return nil // wazero reports the failed allocation
	}
	return m
}

// New reserves a memory of at most max bytes.
func (a *Allocator) New(max uint64) (*Memory, error) {
	size := (max + pageSize - 1) &^ (pageSize - 1)
	if size == 0 {
		size = pageSize
	}
	a.mu.Lock()
	off := a.next
	a.next += size
	a.mu.Unlock()
	if err := a.file.Truncate(int64(off + size)); err != nil {
		return nil, fmt.Errorf("guestmem: grow backing file: %w", err)
	}
	mem, err := unix.Mmap(int(a.file.Fd()), int64(off), int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("guestmem: map %d bytes: %w", size, err)
	}
	return &Memory{a: a, off: off, mem: mem}, nil
}

// Reallocate implements experimental.LinearMemory: the memory never moves.
func (m *Memory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.mem)) {
		return nil
	}
	m.length = size
	return m.mem[:size:size]
}

// Free implements experimental.LinearMemory: unmap, and punch the window
// out of the file so that no later tenant sees these bytes.
func (m *Memory) Free() {
	if m.mem == nil {
		return
	}
	_ = unix.Munmap(m.mem)
	_ = unix.Fallocate(int(m.a.file.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(m.off), int64(len(m.mem)))
	m.mem = nil
}

// FileOffset returns where the memory's byte 0 lies in the backing file.
func (m *Memory) FileOffset() uint64 { return m.off }

// ErrUnaligned is returned by Remap for ranges not on page boundaries.
var ErrUnaligned = errors.New("guestmem: range is not page-aligned")

// Mode is how Remap shares the pages it maps.
type Mode int

const (
	// Shared: the guest's writes go to the file (an output buffer).
	Shared Mode = iota
	// Private: copy-on-write; the guest reads the file's pages in place and
	// a write gives it a private copy of that page only (an input, which
	// the guest must not change under its producer or another guest).
	Private
)

// Remap maps n bytes of file f at fileOff over the memory's bytes
// [guestOff, guestOff+n): the guest then reads (and, Shared, writes) f's
// pages directly. All three numbers must be multiples of the page size and
// the range must lie inside the memory's current length.
//
// Shared mappings are pre-faulted (see prefault), so the guest takes few
// page faults on them; Private ones are not, because pre-faulting a
// writable private mapping (MAP_POPULATE) breaks copy-on-write, copying
// every page, and the guest's own read faults map 64 KiB each.
func (m *Memory) Remap(guestOff uint64, f *os.File, fileOff, n uint64, mode Mode) error {
	if fileOff%pageSize != 0 {
		return fmt.Errorf("%w: file offset %#x (page %d)", ErrUnaligned, fileOff, pageSize)
	}
	flags := unix.MAP_SHARED
	if mode == Private {
		flags = unix.MAP_PRIVATE
	}
	if err := m.mapFixed(guestOff, f, fileOff, n, flags); err != nil {
		return fmt.Errorf("guestmem: remap: %w", err)
	}
	if mode == Shared {
		m.prefault(guestOff, n)
	}
	return nil
}

// mapFixed maps n bytes of f at fileOff over [guestOff, guestOff+n), which
// must be whole pages inside the memory's current length.
func (m *Memory) mapFixed(guestOff uint64, f *os.File, fileOff, n uint64, flags int) error {
	if guestOff%pageSize != 0 || n%pageSize != 0 || n == 0 {
		return fmt.Errorf("%w: guest %#x, %d bytes (page %d)", ErrUnaligned, guestOff, n, pageSize)
	}
	if guestOff+n > m.length || guestOff+n < guestOff {
		return fmt.Errorf("range [%#x,+%d) outside the memory's %d bytes", guestOff, n, m.length)
	}
	_, err := unix.MmapPtr(int(f.Fd()), int64(fileOff), unsafePointer(m.mem, guestOff), uintptr(n),
		unix.PROT_READ|unix.PROT_WRITE, flags|unix.MAP_FIXED)
	return err
}

// faultAround is the span one read fault maps on a file mapping (the
// kernel's fault_around_bytes, 64 KiB by default).
const faultAround = 64 << 10

// prefault reads one word per fault-around span, so that the kernel maps
// the span's pages in one fault each; on a shared mapping of tmpfs pages
// that were written before, they come in writable and the guest's writes
// then take no fault. Measured here (BenchmarkRemap, 64 MiB mapped,
// written and restored): 8.7 ms, against 10.8 ms with MAP_POPULATE (which
// faults page by page) and 13.5 ms with MADV_POPULATE_WRITE.
func (m *Memory) prefault(off, n uint64) {
	for p := off; p < off+n; p += faultAround {
		loadWord(m.mem, p) // an atomic load: the compiler keeps it
	}
}

// Restore puts the memory's own pages back over [guestOff, guestOff+n)
// after a Remap. The memory's own pages there are whatever they were
// before the Remap (zero, if the guest never wrote them).
func (m *Memory) Restore(guestOff, n uint64) error {
	if m.mem == nil {
		return nil // freed: the whole window is unmapped already
	}
	if err := m.mapFixed(guestOff, m.a.file, m.off+guestOff, n, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("guestmem: restore: %w", err)
	}
	return nil
}

// Bytes returns the memory's current contents (its length grows with the
// guest's memory.grow; the backing never moves), or nil once it is freed.
func (m *Memory) Bytes() []byte {
	if m.mem == nil {
		return nil
	}
	return m.mem[:m.length:m.length]
}

// Cap returns the most bytes the memory can grow to.
func (m *Memory) Cap() uint64 { return uint64(len(m.mem)) }

// Freed reports whether the memory was freed (its module closed, e.g. by
// the guest calling proc_exit).
func (m *Memory) Freed() bool { return m.mem == nil }

// PageSize returns the host page size, the unit of Remap.
func PageSize() uint64 { return pageSize }
