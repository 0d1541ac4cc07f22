package guestmem

import (
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"golang.org/x/sys/unix"

	"github.com/inos-node/node/sandbox/internal/guesttest"
)

// receiver is a Go reactor that owns a receive buffer (page-aligned inside
// a larger allocation), and can sum or fill any range of its memory.
const receiver = `package main

import "unsafe"

var keep [][]byte

//go:wasmexport recv
func recv(n int32) int32 {
	buf := make([]byte, int(n)+8192)
	keep = append(keep, buf)
	p := uintptr(unsafe.Pointer(&buf[0]))
	return int32((p + 4095) &^ 4095)
}

//go:wasmexport sum
func sum(p, n int32) int64 {
	var s int64
	for _, c := range unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n) {
		s += int64(c)
	}
	return s
}

//go:wasmexport fill
func fill(p, n, v int32) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n)
	for i := range b {
		b[i] = byte(v)
	}
}

func main() {}
`

// TestZeroCopyBothWays runs a real guest whose memory is a window of a
// shared file. Out: bytes the guest writes are read through a second
// mapping of that file, not copied. In: a page range of another shared file
// (standing for a producer's input in the node's region) is mapped over the
// guest's receive buffer; the guest reads the producer's bytes and its
// writes land in the producer's file.
func TestZeroCopyBothWays(t *testing.T) {
	wasm := guesttest.Source(t, receiver, guesttest.Reactor)
	ctx := context.Background()
	alloc, err := NewAllocator("test")
	if err != nil {
		t.Fatal(err)
	}
	defer alloc.Close()
	var last *Memory
	ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(c, max uint64) experimental.LinearMemory {
		m, err := alloc.New(max)
		if err != nil {
			return nil
		}
		last = m
		return m
	}))
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithMemoryLimitPages(1024))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatal(err)
	}
	if last == nil {
		t.Fatal("wazero did not use the allocator")
	}
	call := func(name string, args ...uint64) uint64 {
		t.Helper()
		r, err := mod.ExportedFunction(name).Call(ctx, args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r) == 0 {
			return 0
		}
		return r[0]
	}
	const n = 64 << 10
	p := call("recv", n)
	if p%uint64(pageSize) != 0 {
		t.Fatalf("receive buffer at %#x is not page-aligned", p)
	}
	if mem := mod.Memory().(api.Memory); uint64(mem.Size()) < p+n {
		t.Fatalf("memory %d bytes, buffer ends at %d", mem.Size(), p+n)
	}

	// Out: the guest writes, a second mapping of the file sees it.
	call("fill", p, n, 0x5a)
	view, err := unix.Mmap(int(alloc.File().Fd()), int64(last.FileOffset()), int(p+n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(view)
	for i := p; i < p+n; i++ {
		if view[i] != 0x5a {
			t.Fatalf("byte %d of the guest's output is %#x through the file", i, view[i])
		}
	}

	// In: a producer's pages mapped over the guest's receive buffer.
	pf, err := unix.MemfdCreate("producer", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	prod := os.NewFile(uintptr(pf), "producer")
	defer prod.Close()
	prod.Truncate(2 * n)
	pm, err := unix.Mmap(pf, 0, 2*n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(pm)
	var want int64
	for i := 0; i < n; i++ {
		pm[n+i] = byte(i * 7)
		want += int64(byte(i * 7))
	}
	if err := last.Remap(p, prod, n, n, Shared); err != nil {
		t.Fatal(err)
	}
	if got := int64(call("sum", p, n)); got != want {
		t.Fatalf("guest summed %d over the producer's pages, want %d", got, want)
	}
	call("fill", p, 16, 0xee)
	if pm[n] != 0xee || pm[n+15] != 0xee || pm[n+16] != byte(16*7) {
		t.Fatalf("guest's write did not land in the producer's pages: % x", pm[n:n+17])
	}
	// And back: the guest's own pages (still 0x5a) return.
	if err := last.Restore(p, n); err != nil {
		t.Fatal(err)
	}
	if got := call("sum", p, n); got != 0x5a*n {
		t.Fatalf("after Restore the guest sums %d, want %d", got, 0x5a*n)
	}
	if err := last.Remap(p+1, prod, 0, n, Shared); err == nil {
		t.Fatal("unaligned remap accepted")
	}
	if err := last.Remap(p, prod, 0, 1<<40, Shared); err == nil {
		t.Fatal("remap past the memory's end accepted")
	}
}

// TestFreeScrubs: a window given back reads as zeros to its next tenant.
func TestFreeScrubs(t *testing.T) {
	a, err := NewAllocator("scrub")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := a.New(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Reallocate(1 << 20)
	for i := range b {
		b[i] = 0xff
	}
	off := m.FileOffset()
	m.Free()
	view, err := unix.Mmap(int(a.File().Fd()), int64(off), 1<<20, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(view)
	for i, c := range view {
		if c != 0 {
			t.Fatalf("byte %d of a freed window is %#x", i, c)
		}
	}
	if m.Reallocate(1) != nil {
		t.Fatal("a freed memory handed out its old mapping")
	}
}
