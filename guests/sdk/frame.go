package sdk

import "encoding/binary"

// Frame header offsets (ABI.md, "One call").
const (
	FrameHeaderSize = 64
	offVersion      = 0
	offMethodLen    = 4
	offParamsLen    = 8
	offJobID        = 16
	offInputPtr     = 24
	offInputLen     = 28
	offOutputPtr    = 32
	offOutputCap    = 36
	offOutputLen    = 40
	offMessagePtr   = 44
	offMessageLen   = 48
)

// frameHeader is the host's half of a frame header.
type frameHeader struct {
	version, methodLen, paramsLen uint32
	jobID                         uint64
	inputPtr, inputLen            uint32
	outputPtr, outputCap          uint32
}

func readFrameHeader(h []byte) frameHeader {
	le := binary.LittleEndian
	return frameHeader{
		version: le.Uint32(h[offVersion:]), methodLen: le.Uint32(h[offMethodLen:]), paramsLen: le.Uint32(h[offParamsLen:]),
		jobID:    le.Uint64(h[offJobID:]),
		inputPtr: le.Uint32(h[offInputPtr:]), inputLen: le.Uint32(h[offInputLen:]),
		outputPtr: le.Uint32(h[offOutputPtr:]), outputCap: le.Uint32(h[offOutputCap:]),
	}
}

// writeFrameResult writes the guest's half of a frame header.
func writeFrameResult(h []byte, outLen, msgPtr, msgLen uint32) {
	le := binary.LittleEndian
	le.PutUint32(h[offOutputLen:], outLen)
	le.PutUint32(h[offMessagePtr:], msgPtr)
	le.PutUint32(h[offMessageLen:], msgLen)
}
