package cryptolib

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"

	"github.com/inos-node/node/guests/sdk"
	"github.com/zeebo/blake3"
)

func sha256Sum(c *sdk.Call, _ *noParams) (int, error) { return sum(c, sha256.New()) }

func sha512Sum(c *sdk.Call, _ *noParams) (int, error) { return sum(c, sha512.New()) }

// sum hashes the input where it lies and writes the digest straight into
// the output: Sum appends to a slice of the output whose capacity is
// exactly the digest size, so the append happens in place.
func sum(c *sdk.Call, h hash.Hash) (int, error) {
	n := h.Size()
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	h.Write(c.Input)
	return len(h.Sum(c.Output[:0:n])), nil
}

// BLAKE3's output length is bounded so that a job's output stays a
// reasonable size; 64 KiB covers key derivation and any digest size in use.
const (
	blake3DefaultLength = 32
	blake3MaxLength     = 65536
	blake3KeySize       = 32
)

type blake3Params struct {
	Length *int    `json:"length"`
	Key    *string `json:"key"`
}

func blake3Sum(c *sdk.Call, p *blake3Params) (int, error) {
	n := blake3DefaultLength
	if p.Length != nil {
		n = *p.Length
		if n < 1 || n > blake3MaxLength {
			return 0, &sdk.ParamsError{Msg: fmt.Sprintf("length: want 1 to %d bytes, got %d", blake3MaxLength, n)}
		}
	}
	h := blake3.New()
	if p.Key != nil {
		key, err := hexParam("key", *p.Key, blake3KeySize)
		if err != nil {
			return 0, err
		}
		// NewKeyed fails only for a key that is not 32 bytes, checked above.
		if h, err = blake3.NewKeyed(key); err != nil {
			return 0, err
		}
	}
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	h.Write(c.Input)
	// The digest reader writes the extended output in place, whatever its
	// length; its first 32 bytes are the default-length digest.
	h.Digest().Read(c.Output[:n])
	return n, nil
}
