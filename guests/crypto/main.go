//go:build wasip1

// Command crypto is the guest of the "crypto" library: hashes (SHA-256,
// SHA-512, BLAKE3), Ed25519 keys and signatures, and AES-GCM. The methods
// live in guests/cryptolib, which the node's native path calls directly;
// this file only serves them over the guest ABI. The library must be
// served with a random source for inos.random_get (see cryptolib's package
// doc).
package main

import (
	"github.com/inos-node/node/guests/cryptolib"
	"github.com/inos-node/node/guests/sdk"
)

func init() {
	ms := cryptolib.Methods()
	sdk.Serve(ms)
	cryptolib.Warm(ms) // one-time set-up now, not in a first job
}

func main() {}
