package cryptolib

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"

	"github.com/inos-node/node/guests/sdk"
)

// The GCM framing: the output of aes_encrypt and the input of aes_decrypt
// are nonce ‖ ciphertext ‖ tag.
const (
	gcmNonceSize = 12 // 96 bits: GCM's one nonce size without a GHASH step (SP 800-38D §8.2.1)
	gcmTagSize   = 16 // 128 bits: the full tag
	gcmOverhead  = gcmNonceSize + gcmTagSize
)

type encryptParams struct {
	Key   string  `json:"key"`
	Nonce *string `json:"nonce"`
	AAD   string  `json:"aad"`
}

type decryptParams struct {
	Key string `json:"key"`
	AAD string `json:"aad"`
}

// newGCM builds AES-GCM from the key param. 16, 24 and 32-byte keys are
// AES-128, -192 and -256 (the package doc says why 192 is accepted).
func newGCM(keyHex string) (cipher.AEAD, error) {
	key, err := hexParam("key", keyHex, 16, 24, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err // unreachable: the key size was checked
	}
	return cipher.NewGCM(block) // 12-byte nonce, 16-byte tag
}

func aesEncrypt(c *sdk.Call, p *encryptParams) (int, error) {
	gcm, err := newGCM(p.Key)
	if err != nil {
		return 0, err
	}
	var nonce []byte
	if p.Nonce != nil {
		if nonce, err = hexParam("nonce", *p.Nonce, gcmNonceSize); err != nil {
			return 0, err
		}
	}
	aad, err := hexParam("aad", p.AAD)
	if err != nil {
		return 0, err
	}
	n := len(c.Input) + gcmOverhead
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	// The nonce is written first, at the output's start, and sealed from
	// there; Seal then appends ciphertext and tag after it, in place (the
	// slice's capacity is exactly n). The nonce is not part of Seal's
	// destination range, and the input is another buffer: no overlap.
	out := c.Output[:gcmNonceSize:n]
	if nonce != nil {
		copy(out, nonce)
	} else {
		if _, err := io.ReadFull(sdk.Entropy, out); err != nil {
			return 0, fmt.Errorf("drawing a nonce: %w", err)
		}
	}
	return len(gcm.Seal(out, out, c.Input, aad)), nil
}

func aesDecrypt(c *sdk.Call, p *decryptParams) (int, error) {
	gcm, err := newGCM(p.Key)
	if err != nil {
		return 0, err
	}
	aad, err := hexParam("aad", p.AAD)
	if err != nil {
		return 0, err
	}
	if len(c.Input) < gcmOverhead {
		return 0, &sdk.InputError{Msg: fmt.Sprintf(
			"want nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes), at least 28 bytes, got %d", len(c.Input))}
	}
	n := len(c.Input) - gcmOverhead
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	nonce, sealed := c.Input[:gcmNonceSize], c.Input[gcmNonceSize:]
	// Open decrypts into the output in place (capacity exactly n) and, on
	// failure, clears what it wrote: no unauthenticated plaintext is left
	// in the producer's buffer.
	if _, err := gcm.Open(c.Output[:0:n], nonce, sealed, aad); err != nil {
		return 0, &sdk.InputError{Msg: "message authentication failed: wrong key, wrong aad, or the data was altered"}
	}
	return n, nil
}
