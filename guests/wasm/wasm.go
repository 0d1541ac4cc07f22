// Package wasm holds the built library guests, embedded: scripts/guests.sh
// builds them from guests/<name> and `make test` checks that rebuilding
// gives the same bytes.
package wasm

import _ "embed"

// Bench is the guest of the "bench" library (guests/bench).
//
//go:embed bench.wasm
var Bench []byte

// Image is the guest of the "image" library (guests/image).
//
//go:embed image.wasm
var Image []byte

// Crypto is the guest of the "crypto" library (guests/crypto).
//
//go:embed crypto.wasm
var Crypto []byte
