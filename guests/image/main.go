//go:build wasip1

// Command image is the guest of the "image" library: decode, transform and
// encode images (see package imagelib, which holds all of it, so that the
// same code runs natively in tests and benchmarks).
package main

import (
	"github.com/inos-node/node/guests/imagelib"
	"github.com/inos-node/node/guests/sdk"
)

func init() {
	ms := imagelib.Methods()
	sdk.Serve(ms)
	imagelib.Warm(ms) // one-time set-up now, not in a first job
}

func main() {}
