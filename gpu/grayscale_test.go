package gpu

import (
	"fmt"
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/imagelib"
	"github.com/inos-node/node/guests/sdk"
)

// TestGrayLuma: the integer luma with its exceptions (what the WGSL
// computes) equals imaging's float64 expression for every one of the 2^24
// colors.
func TestGrayLuma(t *testing.T) {
	t.Logf("%d exceptions", len(grayExceptions()))
	for c := 0; c < 1<<24; c++ {
		r, g, b := uint8(c>>16), uint8(c>>8), uint8(c)
		if got, want := grayLuma(r, g, b), imagingLuma(r, g, b); got != want {
			t.Fatalf("luma(%d, %d, %d) = %d, imaging gives %d", r, g, b, got, want)
		}
	}
}

// AllColors is a 4096×4096 raw RGBA image holding every color once, with
// alpha varying.
func AllColors() []byte {
	img := make([]byte, 4<<24)
	for c := 0; c < 1<<24; c++ {
		img[4*c], img[4*c+1], img[4*c+2], img[4*c+3] = byte(c>>16), byte(c>>8), byte(c), byte(c*7)
	}
	return img
}

// ImagelibGrayscale is the image library's grayscale of raw RGBA pixels
// (its one-pass fast path), run natively.
func ImagelibGrayscale(pix []byte, w, h int) ([]byte, error) {
	c := &sdk.Call{
		Method: "grayscale",
		Params: []byte(fmt.Sprintf(`{"raw":{"width":%d,"height":%d},"format":"rgba"}`, w, h)),
		Input:  pix,
		Output: make([]byte, len(pix)),
	}
	status, n, msg := imagelib.Methods().Dispatch(c)
	if status != abi.StatusOK {
		return nil, fmt.Errorf("imagelib grayscale: status %d: %s", status, msg)
	}
	return c.Output[:n], nil
}

// TestGrayLumaIsImagelib: the image library's grayscale, on every color,
// is grayLuma (with alpha kept).
func TestGrayLumaIsImagelib(t *testing.T) {
	img := AllColors()
	got, err := ImagelibGrayscale(img, 4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 1<<24; c++ {
		y := grayLuma(img[4*c], img[4*c+1], img[4*c+2])
		if p := got[4*c : 4*c+4]; p[0] != y || p[1] != y || p[2] != y || p[3] != img[4*c+3] {
			t.Fatalf("color %06x: imagelib gives %v, grayLuma %d", c, p, y)
		}
	}
}
