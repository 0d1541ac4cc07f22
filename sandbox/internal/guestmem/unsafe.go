package guestmem

import "unsafe"

func unsafePointer(b []byte, off uint64) unsafe.Pointer { return unsafe.Pointer(&b[off]) }
