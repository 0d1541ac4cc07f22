package imagelib

import (
	"image"
	"image/color"

	"github.com/disintegration/imaging"
)

// GIF holds at most 256 colors, one of which may be transparent. The
// standard encoder's own conversion (Floyd–Steinberg onto the Plan 9
// palette) reads every pixel through At and searches all 256 colors for
// each: slow, and five times slower again in the guest. toPaletted does it
// on the pixel slice instead, in two ways:
//
//   - an image of at most 256 colors (a GIF that was flipped, cropped,
//     rotated; a chart; a logo) keeps exactly its colors;
//   - any other (a photo) is dithered, Floyd–Steinberg, onto a fixed
//     6×7×6 color cube, whose nearest color is arithmetic, not a search.
//
// Alpha is one bit: a pixel under half opaque is transparent.

// Levels of the color cube: green, which the eye sees best, gets one more.
const cubeR, cubeG, cubeB = 6, 7, 6

// toPaletted returns img as a paletted image whose bounds start at (0, 0),
// as the GIF encoder needs.
func toPaletted(img image.Image) *image.Paletted {
	if p, ok := img.(*image.Paletted); ok && len(p.Palette) <= 256 {
		// A sub-image's Pix already starts at its first pixel.
		return &image.Paletted{Pix: p.Pix, Stride: p.Stride, Rect: image.Rect(0, 0, p.Rect.Dx(), p.Rect.Dy()), Palette: p.Palette}
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		n = imaging.Clone(img)
	}
	dst := image.NewPaletted(image.Rect(0, 0, n.Rect.Dx(), n.Rect.Dy()), nil)
	if exactPalette(n, dst) {
		return dst
	}
	ditherToCube(n, dst)
	return dst
}

// colorKey is a pixel as the GIF will show it: opaque RGB with 0xff in the
// low byte, or 0 for transparent.
func colorKey(p []uint8) uint32 {
	if p[3] < 128 {
		return 0
	}
	return uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | 0xff
}

// exactPalette fills dst with n's pixels if n has at most 256 distinct
// colors (as colorKey sees them), and reports whether it did. It gives up
// at the 257th color, which for a photo comes within its first rows.
func exactPalette(n *image.NRGBA, dst *image.Paletted) bool {
	// An open-addressed table of 1024 slots for at most 256 keys: short
	// probes, no map, no allocation per pixel.
	const slots = 1024
	var keys [slots]uint32
	var idx [slots]uint16 // index+1; 0 is an empty slot
	pal := make(color.Palette, 0, 256)
	w, h := n.Rect.Dx(), n.Rect.Dy()
	lastKey, lastIdx := uint32(1), uint8(0) // 1 is no key
	for y := 0; y < h; y++ {
		row := n.Pix[y*n.Stride : y*n.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		for x := range out {
			k := colorKey(row[4*x : 4*x+4])
			if k == lastKey {
				out[x] = lastIdx
				continue
			}
			s := (k * 2654435761) >> 22 // Fibonacci hash to 10 bits
			for idx[s] != 0 && keys[s] != k {
				s = (s + 1) % slots
			}
			if idx[s] == 0 {
				if len(pal) == 256 {
					return false
				}
				keys[s] = k
				pal = append(pal, color.NRGBA{R: uint8(k >> 24), G: uint8(k >> 16), B: uint8(k >> 8), A: uint8(k)})
				idx[s] = uint16(len(pal))
			}
			lastKey, lastIdx = k, uint8(idx[s]-1)
			out[x] = lastIdx
		}
	}
	dst.Palette = pal
	return true
}

// ditherToCube fills dst with n's pixels dithered onto the color cube, with
// index cubeR*cubeG*cubeB as transparent.
func ditherToCube(n *image.NRGBA, dst *image.Paletted) {
	levels := [3]int{cubeR, cubeG, cubeB}
	pal := make(color.Palette, 0, cubeR*cubeG*cubeB+1)
	for r := 0; r < cubeR; r++ {
		for g := 0; g < cubeG; g++ {
			for b := 0; b < cubeB; b++ {
				pal = append(pal, color.NRGBA{R: uint8(r * 255 / (cubeR - 1)), G: uint8(g * 255 / (cubeG - 1)), B: uint8(b * 255 / (cubeB - 1)), A: 255})
			}
		}
	}
	transparent := uint8(len(pal))
	pal = append(pal, color.NRGBA{})
	dst.Palette = pal

	// For each channel and value: the nearest level and its value.
	var level, value [3][256]int32
	for c, l := range levels {
		for v := range 256 {
			i := (v*(l-1) + 127) / 255
			level[c][v], value[c][v] = int32(i), int32(i*255/(l-1))
		}
	}
	w, h := n.Rect.Dx(), n.Rect.Dy()
	// Errors carried to this row and the next, in 1/16ths, per channel,
	// with a pixel of padding at each end.
	cur := make([]int32, 3*(w+2))
	next := make([]int32, 3*(w+2))
	for y := 0; y < h; y++ {
		row := n.Pix[y*n.Stride : y*n.Stride+4*w]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+w]
		clear(next)
		for x := range out {
			p := row[4*x : 4*x+4]
			if p[3] < 128 {
				out[x] = transparent
				continue
			}
			e := 3 * (x + 1)
			var li [3]int32
			for c := 0; c < 3; c++ {
				v := int32(p[c]) + (cur[e+c]+8)>>4
				v = max(0, min(255, v))
				li[c] = level[c][v]
				d := v - value[c][v]
				cur[e+3+c] += d * 7
				next[e-3+c] += d * 3
				next[e+c] += d * 5
				next[e+3+c] += d
			}
			out[x] = uint8((li[0]*cubeG+li[1])*cubeB + li[2])
		}
		cur, next = next, cur
	}
}
