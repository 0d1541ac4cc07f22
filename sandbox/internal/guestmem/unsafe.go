package guestmem

import (
	"sync/atomic"
	"unsafe"
)

func unsafePointer(b []byte, off uint64) unsafe.Pointer { return unsafe.Pointer(&b[off]) }

// loadWord reads the 4-byte word at b[off] (off 4-aligned).
func loadWord(b []byte, off uint64) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[off])))
}
