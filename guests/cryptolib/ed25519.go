package cryptolib

import (
	"bytes"
	"crypto/ed25519"

	"github.com/inos-node/node/guests/sdk"
)

type privateKeyParams struct {
	PrivateKey string `json:"private_key"`
}

// privateKey decodes the private_key param: a 32-byte seed (RFC 8032) or a
// 64-byte crypto/ed25519 private key (seed ‖ public key).
func privateKey(p *privateKeyParams) (ed25519.PrivateKey, error) {
	b, err := hexParam("private_key", p.PrivateKey, ed25519.SeedSize, ed25519.PrivateKeySize)
	if err != nil {
		return nil, err
	}
	key := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
	// crypto/ed25519 signs with the public half as given, without checking
	// it. A mismatched half makes signatures that never verify and, with
	// two different halves over one seed and one message, gives away the
	// private scalar; so a 64-byte key must be consistent.
	if len(b) == ed25519.PrivateKeySize && !bytes.Equal(b[ed25519.SeedSize:], key[ed25519.SeedSize:]) {
		return nil, &sdk.ParamsError{Msg: "private_key: its last 32 bytes are not the public key of its first 32 (the seed)"}
	}
	return key, nil
}

func ed25519PublicKey(c *sdk.Call, p *privateKeyParams) (int, error) {
	key, err := privateKey(p)
	if err != nil {
		return 0, err
	}
	if err := c.NeedOutput(ed25519.PublicKeySize); err != nil {
		return 0, err
	}
	return copy(c.Output, key[ed25519.SeedSize:]), nil
}

// ed25519Sign signs the input where it lies. crypto/ed25519 has no
// append-style Sign, so the 64-byte signature is copied once.
func ed25519Sign(c *sdk.Call, p *privateKeyParams) (int, error) {
	key, err := privateKey(p)
	if err != nil {
		return 0, err
	}
	if err := c.NeedOutput(ed25519.SignatureSize); err != nil {
		return 0, err
	}
	return copy(c.Output, ed25519.Sign(key, c.Input)), nil
}

type verifyParams struct {
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
}

// The results of ed25519_verify: a bad signature is an answer, not an
// error.
const (
	validJSON   = `{"valid":true}`
	invalidJSON = `{"valid":false}`
)

func ed25519Verify(c *sdk.Call, p *verifyParams) (int, error) {
	pub, err := hexParam("public_key", p.PublicKey, ed25519.PublicKeySize)
	if err != nil {
		return 0, err
	}
	sig, err := hexParam("signature", p.Signature, ed25519.SignatureSize)
	if err != nil {
		return 0, err
	}
	out := invalidJSON
	if ed25519.Verify(ed25519.PublicKey(pub), c.Input, sig) {
		out = validJSON
	}
	if err := c.NeedOutput(len(out)); err != nil {
		return 0, err
	}
	return copy(c.Output, out), nil
}
