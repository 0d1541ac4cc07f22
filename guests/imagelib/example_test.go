package imagelib_test

import (
	"fmt"
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/imagelib"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/guests/sdk"
)

// Natively, the library's methods are called as the guest's dispatcher
// calls them: a method, JSON params, the input bytes and an output buffer.
func Example() {
	photo, err := sample.JPEG(640, 480, 1, 90)
	if err != nil {
		panic(err)
	}
	ms := imagelib.Methods()

	// Make a 160-pixel-wide PNG thumbnail, then ask its size.
	c := &sdk.Call{
		Method: "batch",
		Params: []byte(`{"format":"png","operations":[{"op":"resize","width":160},{"op":"grayscale"}]}`),
		Input:  photo,
		Output: make([]byte, 1<<20),
	}
	status, n, _ := ms.Dispatch(c)
	fmt.Println(status == abi.StatusOK)

	info := &sdk.Call{Method: "info", Input: c.Output[:n], Output: make([]byte, 100)}
	_, n, _ = ms.Dispatch(info)
	fmt.Println(string(info.Output[:n]))

	// A crop outside the image is refused, naming the field.
	bad := &sdk.Call{Method: "crop", Params: []byte(`{"x":600,"width":100,"height":10}`), Input: photo, Output: make([]byte, 1<<20)}
	status, _, msg := ms.Dispatch(bad)
	fmt.Println(status == abi.StatusBadParams, msg)
	// Output:
	// true
	// {"format":"png","width":160,"height":120}
	// true params: width: x+width = 700 is past the right edge of the 640×480 image
}

// TestWarm: every warm-up call the guest makes at initialization succeeds
// (a failing one would leave its set-up to the first job).
func TestWarm(t *testing.T) {
	if err := imagelib.Warm(imagelib.Methods()); err != nil {
		t.Fatal(err)
	}
}
