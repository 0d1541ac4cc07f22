//go:build wasip1

package sdk

import (
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/inos-node/node/guests/abi"
)

// The guest's state: the table its exports serve, and memory the host was
// given (which must stay reachable so the Go runtime never reuses it).
var (
	served   Methods
	names    []byte
	reserved [][]byte
	message  []byte
)

// Serve makes ms the method table of this guest. Call it from init.
func Serve(ms Methods) {
	served = ms
	names = []byte(strings.Join(ms.Names(), "\n"))
}

// mem returns n bytes of the guest's linear memory at address p.
func mem(p, n uint32) []byte {
	if n == 0 {
		return nil
	}
	// Linear memory starts at address 0 of the guest's address space.
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), uintptr(p))), n)
}

func addr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

//go:wasmexport inos_abi_version
func abiVersion() int32 { return abi.Version }

//go:wasmexport inos_methods
func methodNames() int64 { return int64(addr(names))<<32 | int64(len(names)) }

//go:wasmexport inos_reserve
func reserve(size int32, memoryLimit int64) int32 {
	const page = 4096
	if size <= 0 {
		return 0
	}
	// The reserved area is a live object of the Go heap, so with the
	// default GOGC the runtime would let garbage grow to about its size
	// again: past the limit of a guest whose windows are most of its
	// memory. A soft memory limit makes the GC collect before that.
	if memoryLimit > 0 {
		debug.SetMemoryLimit(memoryLimit - memoryLimit/8)
	}
	// Fresh memory from the runtime is already zero and is not touched:
	// reserving costs address space, not pages.
	b := make([]byte, int(size)+page)
	reserved = append(reserved, b)
	return int32((addr(b) + page - 1) &^ (page - 1))
}

//go:wasmexport inos_call
func call(frame int32) int32 {
	h := mem(uint32(frame), abi.HeaderSize)
	req := abi.ReadRequest(h)
	if req.Version != abi.Version {
		return abi.StatusFailed
	}
	strs := mem(uint32(frame)+abi.HeaderSize, req.MethodLen+req.ParamsLen)
	c := Call{
		JobID:  req.JobID,
		Method: string(strs[:req.MethodLen]),
		Params: strs[req.MethodLen:],
		Input:  mem(req.InputPtr, req.InputLen),
		Output: mem(req.OutputPtr, req.OutputCap),
	}
	status, n, msg := served.Dispatch(&c)
	message = append(message[:0], msg...)
	abi.PutReply(h, abi.Reply{OutputLen: uint32(n), MessagePtr: addr(message), MessageLen: uint32(len(message))})
	return status
}
