package abi

import (
	"bytes"
	"testing"
)

// TestHeaderLayout pins the header to the table in ABI.md: each field at
// its documented offset, little-endian, and PutRequest zeroing the guest's
// half.
func TestHeaderLayout(t *testing.T) {
	h := bytes.Repeat([]byte{0xFF}, HeaderSize)
	PutRequest(h, Request{MethodLen: 0x11, ParamsLen: 0x22, JobID: 0x0102030405060708,
		InputPtr: 0x33, InputLen: 0x44, OutputPtr: 0x55, OutputCap: 0x66})
	want := make([]byte, HeaderSize)
	want[0], want[4], want[8] = 1, 0x11, 0x22
	copy(want[16:], []byte{8, 7, 6, 5, 4, 3, 2, 1})
	want[24], want[28], want[32], want[36] = 0x33, 0x44, 0x55, 0x66
	if !bytes.Equal(h, want) {
		t.Fatalf("header\n got %x\nwant %x", h, want)
	}
	PutReply(h, Reply{OutputLen: 0x77, MessagePtr: 0x88, MessageLen: 0x99})
	want[40], want[44], want[48] = 0x77, 0x88, 0x99
	if !bytes.Equal(h, want) {
		t.Fatalf("header with reply\n got %x\nwant %x", h, want)
	}
	if r := ReadRequest(h); r != (Request{Version: 1, MethodLen: 0x11, ParamsLen: 0x22, JobID: 0x0102030405060708,
		InputPtr: 0x33, InputLen: 0x44, OutputPtr: 0x55, OutputCap: 0x66}) {
		t.Fatalf("ReadRequest: %+v", r)
	}
	if r := ReadReply(h); r != (Reply{OutputLen: 0x77, MessagePtr: 0x88, MessageLen: 0x99}) {
		t.Fatalf("ReadReply: %+v", r)
	}
}
