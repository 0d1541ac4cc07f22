package imagelib

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/sdk"
)

// Warm runs every method of ms (a table from Methods or MethodsWith) on a
// tiny image, encoding to and decoding from every format, and on raw
// pixels (the fast paths, and rgba output): the guest runs it at
// initialization so that the codecs' and filters' one-time set-up is not
// charged to a first job, which then costs the fuel every later run of it
// does. It returns the calls that failed.
func Warm(ms sdk.Methods) error {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 12))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	img.Set(0, 0, color.NRGBA{255, 0, 0, 128})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	var errs []error
	call := func(method, params string, in []byte) []byte {
		c := &sdk.Call{Method: method, Params: []byte(params), Input: in, Output: make([]byte, 64<<10)}
		status, n, msg := ms.Dispatch(c)
		if status != abi.StatusOK {
			errs = append(errs, fmt.Errorf("warming %s %s: status %d: %s", method, params, status, msg))
			return nil
		}
		return c.Output[:n]
	}
	for _, f := range formats() {
		enc := call("invert", `{"format":"`+string(f)+`"}`, b.Bytes())
		if enc == nil {
			continue
		}
		call("info", `{}`, enc)
		for _, m := range []string{"grayscale", "rotate90", "rotate180", "rotate270", "fliph", "flipv"} {
			call(m, `{}`, enc)
		}
		for _, filter := range []string{"lanczos3", "catmullrom", "gaussian", "triangle", "nearest"} {
			call("resize", `{"width":8,"filter":"`+filter+`"}`, enc)
		}
		call("crop", `{"width":4,"height":4}`, enc)
		call("blur", `{"sigma":1}`, enc)
		call("brighten", `{"percent":10}`, enc)
		call("contrast", `{"percent":10}`, enc)
		call("batch", `{"operations":[{"op":"invert"}]}`, enc)
	}
	// Raw pixels: the one-pass fast paths, raw input through a transform,
	// a batch and an encoder, and an encoded input written as rgba.
	raw := `"raw":{"width":16,"height":12}`
	for _, m := range []string{"invert", "grayscale", "fliph", "flipv", "rotate180", "rotate90"} {
		call(m, `{`+raw+`}`, img.Pix)
	}
	call("batch", `{`+raw+`,"operations":[{"op":"crop","width":4,"height":4}]}`, img.Pix)
	call("invert", `{`+raw+`,"format":"png"}`, img.Pix)
	call("info", `{`+raw+`}`, img.Pix)
	call("invert", `{"format":"rgba"}`, b.Bytes())
	return errors.Join(errs...)
}
