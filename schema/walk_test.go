package schema

import (
	"encoding/binary"
	"errors"
	"testing"

	capnp "capnproto.org/go/capnp/v3"
)

// chain builds a message whose root struct (one pointer) starts a chain of
// depth structs, each pointing to the next.
func chain(depth int) []byte {
	msg := make([]byte, 8+8*(depth+1))
	binary.LittleEndian.PutUint32(msg[4:], uint32(depth+1))
	for i := 0; i < depth; i++ {
		binary.LittleEndian.PutUint64(msg[8+8*i:], 1<<48) // struct, offset 0, 0 data, 1 pointer
	}
	return msg
}

// fanout is a root struct with a pointer list of n entries that all point
// at the same list of size words: a few bytes that would make a reader visit
// n*size words.
func fanout(n, size int) []byte {
	words := 1 + 1 + n + 1 + size
	seg := make([]uint64, words)
	seg[0] = 1 << 48                                  // root: struct at word 1, one pointer
	seg[1] = uint64(0)<<2 | 1 | 6<<32 | uint64(n)<<35 // pointer list at word 2
	shared := 2 + n                                   // the list of size words
	seg[shared] = 0                                   // unused padding word
	for i := 0; i < n; i++ {
		off := shared + 1 - (2 + i + 1)
		seg[2+i] = uint64(uint32(off))<<2 | 1 | 5<<32 | uint64(size)<<35
	}
	msg := make([]byte, 8+8*words)
	binary.LittleEndian.PutUint32(msg[4:], uint32(words))
	for i, w := range seg {
		binary.LittleEndian.PutUint64(msg[8+8*i:], w)
	}
	return msg
}

func TestWalk(t *testing.T) {
	canonical := AppendRequest(nil, &Request{JobID: 1, Library: []byte("echo"), Method: []byte("echo"), Params: []byte(`{"a":1}`)})

	// A multi-segment message with far pointers, written by capnp-go.
	arena := capnp.MultiSegment(nil)
	m, seg, err := capnp.NewMessage(arena)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := NewRootJobRequest(seg)
	req.SetLibrary("echo")
	req.SetParams(string(make([]byte, 20000)))
	multi, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	capPtr := append([]byte(nil), canonical...)
	binary.LittleEndian.PutUint64(capPtr[8:], 3) // root pointer becomes a capability

	// A composite list of 2^29-1 empty structs: one tag word.
	empties := make([]byte, 8+8*4)
	binary.LittleEndian.PutUint32(empties[4:], 4)
	binary.LittleEndian.PutUint64(empties[8:], 1<<48)                         // root: struct at word 1, one pointer
	binary.LittleEndian.PutUint64(empties[16:], 1|7<<32|1<<35)                // composite list at word 2, 1 word
	binary.LittleEndian.PutUint64(empties[24:], uint64(uint32((1<<29-1)<<2))) // tag: 2^29-1 elements of size 0

	tests := []struct {
		name string
		msg  []byte
		want error
	}{
		{"canonical request", canonical, nil},
		{"capnp-go message", multi, nil},
		{"chain within the depth limit", chain(7), nil},
		{"chain deeper than the limit", chain(100), ErrLimit},
		{"pointer fan-out over the traversal limit", fanout(1000, 1000), ErrLimit},
		{"capability pointer", capPtr, ErrMalformed},
		{"2^29 empty structs (regression: must not loop)", empties, nil},
		{"truncated", canonical[:len(canonical)-16], ErrMalformed},
	}
	lim := DecodeLimits{MaxDepth: 8, TraverseWords: 100_000}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Walk(tc.msg, lim)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("Walk = %v, want %v", err, tc.want)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { _ = Walk(canonical, lim) }); n != 0 {
		t.Fatalf("Walk of a canonical request allocates %v times", n)
	}
}

func BenchmarkWalk(b *testing.B) {
	msg := AppendRequest(nil, &Request{JobID: 1, Library: []byte("echo"), Method: []byte("echo"), Params: []byte(`{"a":1}`)})
	lim := DefaultDecodeLimits()
	for b.Loop() {
		if err := Walk(msg, lim); err != nil {
			b.Fatal(err)
		}
	}
}
