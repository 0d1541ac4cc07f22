//go:build wasip1

// Command bench is the guest of the "bench" library, which inos bench
// sandbox measures the sandbox with: an empty method (the call overhead), a
// method that reads every input byte and writes as many output bytes (the
// cost of getting bulk bytes in and out), and compute-bound methods (the
// cost of fuel metering).
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"unsafe"

	"github.com/inos-node/node/guests/sdk"
)

func init() {
	sdk.Serve(sdk.Methods{
		"empty":  func(*sdk.Call) (int, error) { return 0, nil },
		"xor":    sdk.Typed(xor),
		"work":   sdk.Typed(work),
		"sha256": hash,
	})
}

type xorParams struct {
	Key uint8 `json:"key"`
}

// xor writes input[i]^key to output[i] for every input byte.
func xor(c *sdk.Call, p *xorParams) (int, error) {
	n := len(c.Input)
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	k := uint64(p.Key) * 0x0101010101010101
	w := n / 8
	if w > 0 {
		in := unsafe.Slice((*uint64)(unsafe.Pointer(&c.Input[0])), w)
		out := unsafe.Slice((*uint64)(unsafe.Pointer(&c.Output[0])), w)
		for i, v := range in {
			out[i] = v ^ k
		}
	}
	for i := w * 8; i < n; i++ {
		c.Output[i] = c.Input[i] ^ p.Key
	}
	return n, nil
}

type workParams struct {
	Rounds int `json:"rounds"`
}

// work is a compute-bound loop (a 64-bit LCG with a xorshift), no memory.
func work(c *sdk.Call, p *workParams) (int, error) {
	if err := c.NeedOutput(8); err != nil {
		return 0, err
	}
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < p.Rounds; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		x ^= x >> 29
	}
	binary.LittleEndian.PutUint64(c.Output, x)
	return 8, nil
}

// hash writes the SHA-256 of the input.
func hash(c *sdk.Call) (int, error) {
	if err := c.NeedOutput(sha256.Size); err != nil {
		return 0, err
	}
	sum := sha256.Sum256(c.Input)
	return copy(c.Output, sum[:]), nil
}

func main() {}
