// Package abi is the wire format of the INOS guest ABI (../ABI.md), shared
// by the host (sandbox) and the Go SDK (guests/sdk): the version, the call
// frame's header and the status codes inos_call returns. All integers are
// little-endian; addresses are offsets in the guest's linear memory.
package abi

import "encoding/binary"

// Version is the ABI version a guest's inos_abi_version returns.
const Version = 1

// Status codes inos_call returns (ABI.md, "One call").
const (
	StatusOK             = 0
	StatusBadParams      = 1
	StatusUnknownMethod  = 2
	StatusOutputTooSmall = 3
	StatusFailed         = 4
	StatusBadInput       = 5
)

// HeaderSize is the size of a call frame's header; the method name and
// then the params follow it.
const HeaderSize = 64

// Header offsets.
const (
	offVersion    = 0
	offMethodLen  = 4
	offParamsLen  = 8
	offJobID      = 16
	offInputPtr   = 24
	offInputLen   = 28
	offOutputPtr  = 32
	offOutputCap  = 36
	offOutputLen  = 40
	offMessagePtr = 44
	offMessageLen = 48
)

// Request is the host's half of a frame header.
type Request struct {
	Version              uint32
	MethodLen, ParamsLen uint32
	JobID                uint64
	InputPtr, InputLen   uint32
	OutputPtr, OutputCap uint32
}

// Reply is the guest's half. OutputLen is the bytes needed when the status
// is StatusOutputTooSmall.
type Reply struct {
	OutputLen              uint32
	MessagePtr, MessageLen uint32
}

var le = binary.LittleEndian

// PutRequest writes a whole header: r (with Version set to this ABI's) and
// a zero reply.
func PutRequest(h []byte, r Request) {
	clear(h[:HeaderSize])
	le.PutUint32(h[offVersion:], Version)
	le.PutUint32(h[offMethodLen:], r.MethodLen)
	le.PutUint32(h[offParamsLen:], r.ParamsLen)
	le.PutUint64(h[offJobID:], r.JobID)
	le.PutUint32(h[offInputPtr:], r.InputPtr)
	le.PutUint32(h[offInputLen:], r.InputLen)
	le.PutUint32(h[offOutputPtr:], r.OutputPtr)
	le.PutUint32(h[offOutputCap:], r.OutputCap)
}

// ReadRequest reads the host's half of a header.
func ReadRequest(h []byte) Request {
	return Request{
		Version: le.Uint32(h[offVersion:]), MethodLen: le.Uint32(h[offMethodLen:]), ParamsLen: le.Uint32(h[offParamsLen:]),
		JobID:    le.Uint64(h[offJobID:]),
		InputPtr: le.Uint32(h[offInputPtr:]), InputLen: le.Uint32(h[offInputLen:]),
		OutputPtr: le.Uint32(h[offOutputPtr:]), OutputCap: le.Uint32(h[offOutputCap:]),
	}
}

// PutReply writes the guest's half of a header.
func PutReply(h []byte, r Reply) {
	le.PutUint32(h[offOutputLen:], r.OutputLen)
	le.PutUint32(h[offMessagePtr:], r.MessagePtr)
	le.PutUint32(h[offMessageLen:], r.MessageLen)
}

// ReadReply reads the guest's half of a header.
func ReadReply(h []byte) Reply {
	return Reply{OutputLen: le.Uint32(h[offOutputLen:]), MessagePtr: le.Uint32(h[offMessagePtr:]), MessageLen: le.Uint32(h[offMessageLen:])}
}
