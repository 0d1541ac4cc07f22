package imagelib

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/bits"

	"github.com/disintegration/imaging"

	"github.com/inos-node/node/guests/sdk"
)

// Raw pixels. With the raw param the input is not an encoded image but
// width×height pixels of 8-bit non-premultiplied RGBA, image.NRGBA's
// layout without padding; with "format":"rgba" the output is the same.
// Raw input is wrapped, not copied (rawParams.wrap); the methods of
// fastPath go from raw input to rgba output in one pass over the bytes,
// with no image in between.

// rawParams is the "raw" param: {"width": W, "height": H}.
type rawParams struct {
	obj           map[string]json.RawMessage
	set           bool
	width, height int
}

func (p *rawParams) field() field { return field{"raw", &p.obj, &p.set} }

// check decodes and checks raw's fields, if raw was given: W, H ≥ 1 and
// W×H within the pixel limit. Errors name raw.width or raw.height.
func (p *rawParams) check(maxPixels int) *paramError {
	if !p.set {
		return nil
	}
	var wSeen, hSeen bool
	if err := decodeFields(p.obj, []field{{"width", &p.width, &wSeen}, {"height", &p.height, &hSeen}}); err != nil {
		return err.in("raw")
	}
	switch {
	case !wSeen:
		return paramErrorf("raw.width", "required: the raw image's width in pixels, ≥ 1")
	case !hSeen:
		return paramErrorf("raw.height", "required: the raw image's height in pixels, ≥ 1")
	case p.width < 1:
		return paramErrorf("raw.width", "must be ≥ 1, got %d", p.width)
	case p.height < 1:
		return paramErrorf("raw.height", "must be ≥ 1, got %d", p.height)
	case p.width > maxPixels/p.height:
		if p.width > math.MaxInt/p.height {
			return paramErrorf("raw.width", "%d×%d pixels is over the limit of %d pixels", p.width, p.height, maxPixels)
		}
		return paramErrorf("raw.width", "%d×%d = %d pixels is over the limit of %d pixels", p.width, p.height, p.width*p.height, maxPixels)
	}
	return nil
}

// size is the bytes of the raw image: W×H×4 (W×H is within the pixel
// limit, so this does not overflow).
func (p *rawParams) size() int { return 4 * p.width * p.height }

// checkInput refuses an input that is not exactly the raw image's size.
func (p *rawParams) checkInput(in []byte) error {
	if len(in) != p.size() {
		return &sdk.InputError{Msg: fmt.Sprintf("raw RGBA input of %d×%d pixels must be %d bytes (width×height×4), got %d",
			p.width, p.height, p.size(), len(in))}
	}
	return nil
}

// wrap returns the raw input as an image without copying it: its Pix is
// the input itself.
//
// The input pages are the producer's, mapped copy-on-write into the guest:
// a write here would only change the guest's view of them, never the
// producer's data, but nothing writes: transforms only read their source
// (their results are new images, or sub-images of it: crop), and the one
// encoder that works in place, JPEG's premultiplication, is given a copy
// (Options.run). The producer may still change the pages while the guest
// reads them: that changes the pixels read, nothing else (there is no
// header to trust here: the size is the params').
func (p *rawParams) wrap(in []byte) (*image.NRGBA, error) {
	if err := p.checkInput(in); err != nil {
		return nil, err
	}
	n := p.size()
	return &image.NRGBA{Pix: in[:n:n], Stride: 4 * p.width, Rect: image.Rect(0, 0, p.width, p.height)}, nil
}

// inBuffer reports whether img's pixels are buf's memory: img is buf
// wrapped, or a sub-image of it (whose Pix is a reslice of buf's, ending
// where it ends).
func inBuffer(img image.Image, buf []byte) bool {
	n, ok := img.(*image.NRGBA)
	if !ok || cap(n.Pix) == 0 || len(buf) == 0 {
		return false
	}
	return &n.Pix[:cap(n.Pix)][cap(n.Pix)-1] == &buf[len(buf)-1]
}

// writeRGBA writes img's pixels as raw NRGBA rows (W×H×4 bytes) into
// c.Output. It is one copy of the result, the guest writing its output;
// an image that is not NRGBA (an encoded input passed through, by crop or
// if_larger_than) is converted first.
func writeRGBA(c *sdk.Call, img image.Image) (int, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	size := 4 * w * h
	if err := c.NeedOutput(size); err != nil {
		return 0, err
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		n = imaging.Clone(img)
	}
	out := c.Output[:size]
	row := 4 * w
	if n.Stride == row {
		// A sub-image's Pix starts at its first pixel.
		copy(out, n.Pix[:size])
		return size, nil
	}
	for y := 0; y < h; y++ {
		copy(out[y*row:(y+1)*row], n.Pix[y*n.Stride:y*n.Stride+row])
	}
	return size, nil
}

// fastFunc writes into dst (W×H×4 bytes) the transform of the raw image
// src (the same size), in one pass.
type fastFunc func(dst, src []byte, w, h int)

// fastPath returns the one-pass raw→rgba version of transform name, or
// nil. Each gives the bytes its transform (imaging's) gives for an NRGBA
// source.
func fastPath(name string) fastFunc {
	switch name {
	case "invert":
		return invertRGBA
	case "grayscale":
		return grayscaleRGBA
	case "fliph":
		return flipHRGBA
	case "flipv":
		return flipVRGBA
	case "rotate180":
		return rotate180RGBA
	}
	return nil
}

// runFast runs f from the raw input straight into the output.
func runFast(c *sdk.Call, raw *rawParams, f fastFunc) (int, error) {
	if err := raw.checkInput(c.Input); err != nil {
		return 0, err
	}
	n := raw.size()
	if err := c.NeedOutput(n); err != nil {
		return 0, err
	}
	f(c.Output[:n:n], c.Input[:n:n], raw.width, raw.height)
	return n, nil
}

// The loops below are written for the guest, where Go's wasm code makes
// every bounds check and loop test a branch between blocks, which costs
// more than the work of a pixel: they walk src and dst by shrinking them
// (so len(src) ≥ 64 proves every index in the block), 64 bytes (16 pixels)
// a step with constant indices, then 8 and 4 bytes for the tail. Measured
// in wazero on 64 MiB, against plain loops (8 bytes, or one pixel, a step,
// slicing by index): invert 3.1 → 11.4 GB/s, pixel reversal 3.0 → 12.1
// GB/s, grayscale (4 pixels a step, float-bound) 1.05 → 1.28 GB/s;
// natively they run at about memory speed either way.

// invertRGBA: 255−c is c XOR 0xff, so two pixels are inverted at a time
// by one XOR of a little-endian uint64 whose alpha bytes (3 and 7) are
// masked out.
func invertRGBA(dst, src []byte, _, _ int) {
	const mask = 0x00ffffff_00ffffff
	le := binary.LittleEndian
	for len(src) >= 64 && len(dst) >= 64 {
		s, d := src[:64], dst[:64]
		le.PutUint64(d[0:], le.Uint64(s[0:])^mask)
		le.PutUint64(d[8:], le.Uint64(s[8:])^mask)
		le.PutUint64(d[16:], le.Uint64(s[16:])^mask)
		le.PutUint64(d[24:], le.Uint64(s[24:])^mask)
		le.PutUint64(d[32:], le.Uint64(s[32:])^mask)
		le.PutUint64(d[40:], le.Uint64(s[40:])^mask)
		le.PutUint64(d[48:], le.Uint64(s[48:])^mask)
		le.PutUint64(d[56:], le.Uint64(s[56:])^mask)
		src, dst = src[64:], dst[64:]
	}
	for len(src) >= 8 && len(dst) >= 8 {
		le.PutUint64(dst, le.Uint64(src)^mask)
		src, dst = src[8:], dst[8:]
	}
	if len(src) >= 4 && len(dst) >= 4 { // an odd number of pixels: the last one
		dst[0], dst[1], dst[2], dst[3] = ^src[0], ^src[1], ^src[2], src[3]
	}
}

// grayscaleRGBA sets R = G = B to the Rec. 601 luma, alpha kept, with
// imaging.Grayscale's very arithmetic (float64, the same expression,
// rounded half up), so the bytes are the same.
func grayscaleRGBA(dst, src []byte, _, _ int) {
	for len(src) >= 16 && len(dst) >= 16 {
		s, d := src[:16], dst[:16]
		y0 := uint8(0.299*float64(s[0]) + 0.587*float64(s[1]) + 0.114*float64(s[2]) + 0.5)
		y1 := uint8(0.299*float64(s[4]) + 0.587*float64(s[5]) + 0.114*float64(s[6]) + 0.5)
		y2 := uint8(0.299*float64(s[8]) + 0.587*float64(s[9]) + 0.114*float64(s[10]) + 0.5)
		y3 := uint8(0.299*float64(s[12]) + 0.587*float64(s[13]) + 0.114*float64(s[14]) + 0.5)
		d[0], d[1], d[2], d[3] = y0, y0, y0, s[3]
		d[4], d[5], d[6], d[7] = y1, y1, y1, s[7]
		d[8], d[9], d[10], d[11] = y2, y2, y2, s[11]
		d[12], d[13], d[14], d[15] = y3, y3, y3, s[15]
		src, dst = src[16:], dst[16:]
	}
	for len(src) >= 4 && len(dst) >= 4 {
		y := uint8(0.299*float64(src[0]) + 0.587*float64(src[1]) + 0.114*float64(src[2]) + 0.5)
		dst[0], dst[1], dst[2], dst[3] = y, y, y, src[3]
		src, dst = src[4:], dst[4:]
	}
}

// reversePixels writes src's pixels into dst (as long) in reverse order:
// src is read from its start, dst written from its end. A little-endian
// uint64 holds two pixels, whose halves a rotation by 32 bits swaps.
func reversePixels(dst, src []byte) {
	le := binary.LittleEndian
	for len(src) >= 64 && len(dst) >= 64 {
		s, d := src[:64], dst[len(dst)-64:]
		le.PutUint64(d[56:], bits.RotateLeft64(le.Uint64(s[0:]), 32))
		le.PutUint64(d[48:], bits.RotateLeft64(le.Uint64(s[8:]), 32))
		le.PutUint64(d[40:], bits.RotateLeft64(le.Uint64(s[16:]), 32))
		le.PutUint64(d[32:], bits.RotateLeft64(le.Uint64(s[24:]), 32))
		le.PutUint64(d[24:], bits.RotateLeft64(le.Uint64(s[32:]), 32))
		le.PutUint64(d[16:], bits.RotateLeft64(le.Uint64(s[40:]), 32))
		le.PutUint64(d[8:], bits.RotateLeft64(le.Uint64(s[48:]), 32))
		le.PutUint64(d[0:], bits.RotateLeft64(le.Uint64(s[56:]), 32))
		src, dst = src[64:], dst[:len(dst)-64]
	}
	for len(src) >= 8 && len(dst) >= 8 {
		le.PutUint64(dst[len(dst)-8:], bits.RotateLeft64(le.Uint64(src), 32))
		src, dst = src[8:], dst[:len(dst)-8]
	}
	if len(src) >= 4 && len(dst) >= 4 { // an odd number of pixels: the middle one
		copy(dst[len(dst)-4:], src[:4])
	}
}

// flipHRGBA mirrors each row, left to right.
func flipHRGBA(dst, src []byte, w, h int) {
	row := 4 * w
	for y := 0; y < h; y++ {
		o := y * row
		reversePixels(dst[o:o+row], src[o:o+row])
	}
}

// flipVRGBA copies the rows in reverse order.
func flipVRGBA(dst, src []byte, w, h int) {
	row := 4 * w
	for y := 0; y < h; y++ {
		copy(dst[(h-1-y)*row:(h-y)*row], src[y*row:(y+1)*row])
	}
}

// rotate180RGBA reverses the order of all the pixels.
func rotate180RGBA(dst, src []byte, _, _ int) { reversePixels(dst, src) }
