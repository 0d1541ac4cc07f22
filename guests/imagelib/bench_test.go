package imagelib

import (
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/guests/sdk"
)

// BenchmarkResizeJPEG is the library's reference job, natively: a
// 4000×3000 photo-like JPEG (q85, ~0.3 bytes a pixel) resized with
// Lanczos-3 to 1920×1080 and encoded as JPEG at q85. The guest runs the
// same code (compare with the sandbox's figures for the image library).
func BenchmarkResizeJPEG(b *testing.B) {
	in, err := sample.JPEG(4000, 3000, 1, 85)
	if err != nil {
		b.Fatal(err)
	}
	ms := Methods()
	out := make([]byte, 8<<20)
	params := []byte(`{"width":1920,"height":1080,"filter":"lanczos3","format":"jpeg","quality":85}`)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := sdkCall("resize", params, in, out)
		if st, n, msg := ms.Dispatch(c); st != abi.StatusOK || n == 0 {
			b.Fatalf("status %d: %s", st, msg)
		}
	}
}

func sdkCall(method string, params, in, out []byte) *sdk.Call {
	return &sdk.Call{JobID: 1, Method: method, Params: params, Input: in, Output: out}
}

// rawBench runs method on a 4096×4096 raw image (64 MiB) with rgba output
// (64 MiB): a fast path touches every input byte and writes every output
// byte, with no codec. The rate is of input bytes.
func rawBench(b *testing.B, method string) {
	const w, h = 4096, 4096
	in := make([]byte, 4*w*h)
	for i := range in {
		in[i] = uint8(i*7 + i>>12)
	}
	out := make([]byte, len(in))
	for i := range out {
		out[i] = 1 // mapped before the timer, as the producer's pages are
	}
	ms := Methods()
	params := []byte(`{"raw":{"width":4096,"height":4096}}`)
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for b.Loop() {
		c := sdkCall(method, params, in, out)
		if st, n, msg := ms.Dispatch(c); st != abi.StatusOK || n != len(in) {
			b.Fatalf("status %d, %d bytes: %s", st, n, msg)
		}
	}
}

// BenchmarkRawInvert: invert's one-pass fast path, raw RGBA to rgba, over
// 64 MiB.
func BenchmarkRawInvert(b *testing.B) { rawBench(b, "invert") }

// BenchmarkRawFastPaths: the other one-pass fast paths, over 64 MiB.
func BenchmarkRawFastPaths(b *testing.B) {
	for _, m := range []string{"grayscale", "fliph", "flipv", "rotate180"} {
		b.Run(m, func(b *testing.B) { rawBench(b, m) })
	}
}
