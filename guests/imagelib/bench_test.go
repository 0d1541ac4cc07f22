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
