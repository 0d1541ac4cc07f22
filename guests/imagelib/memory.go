package imagelib

import (
	"encoding/binary"
	"image/color"
)

// The guest's memory is bounded (sandbox.ImageLimits: 256 MiB, of which the
// job windows take up to 60 MB), and running out traps the guest: the job
// fails with resourceExhausted and the instance is discarded. So an image
// is refused, from its header, before it is decoded when decoding and
// transforming it would not fit.
//
// The model: a job holds at most two images at a time, the one an
// operation reads and the one it writes (a two-pass operation, blur or a
// resize, reads from its intermediate, by when the source is garbage), and
// transforms write 8-bit NRGBA, 4 bytes a pixel. The budget is thus 8 bytes
// a pixel at the pixel limit. An 8-bit image of any format within the pixel
// limit fits it; what does not is a decoder that holds more than 4 bytes a
// pixel: a progressive JPEG keeps every DCT coefficient until its last scan
// (4 bytes a pixel per component at full resolution), a 16-bit PNG or TIFF
// decodes to 8 bytes a pixel.

// bytesPerPixel is the budget's unit: a transform's result is 8-bit NRGBA.
const bytesPerPixel = 4

// memoryNeed estimates the bytes that decoding an image of header h holds
// at the decoder's peak and the bytes the decoded image keeps while the
// first transform writes its result.
func memoryNeed(h header, model color.Model) (peak, kept int64) {
	px := int64(h.width) * int64(h.height)
	switch h.format {
	case formatJPEG:
		if p, k, ok := jpegMemory(h); ok {
			return p, k
		}
		return 3 * px, 3 * px
	case formatWebP:
		// A lossless (VP8L) image is decoded to NRGBA, with a second
		// buffer as large for its color-indexing transform; lossy is
		// 4:2:0 YCbCr, with its alpha plane (itself decoded as NRGBA)
		// when it has one. 8 bytes a pixel bounds both.
		return 8 * px, 4 * px
	}
	b := modelBytes(model)
	kept = int64(b * float64(px))
	// TIFF keeps a copy of the file while decoding (its directory can be
	// anywhere); the others read the header copy and stream the rest.
	return kept + int64(len(h.read)), kept
}

// modelBytes is the bytes a pixel of a decoded image of the color model.
func modelBytes(m color.Model) float64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.YCbCrModel:
		return 3
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4
}

// jpegMemory reads the frame header (SOF) in the copy of the JPEG's first
// bytes and returns what image/jpeg allocates for it (see its scan.go: the
// image in whole MCUs; a CMYK image's black plane and its conversion to
// image.CMYK; a progressive image's coefficients, a 256-byte block per
// 8×8 pixels per component).
func jpegMemory(h header) (peak, kept int64, ok bool) {
	sof, progressive, adobeRGB, ok := findSOF(h.read)
	if !ok || len(sof) < 6 {
		return 0, 0, false
	}
	n := int(sof[5])
	if n != 1 && n != 3 && n != 4 || len(sof) < 6+3*n {
		return 0, 0, false
	}
	var hs, vs [4]int64
	for i := 0; i < n; i++ {
		hv := sof[6+3*i+1]
		hs[i], vs[i] = max(1, int64(hv>>4)), max(1, int64(hv&0x0f))
	}
	if n == 1 {
		// One component is not interleaved: image/jpeg uses 1×1.
		hs[0], vs[0] = 1, 1
	}
	w, ht := int64(h.width), int64(h.height)
	mxx := (w + 8*hs[0] - 1) / (8 * hs[0])
	myy := (ht + 8*vs[0] - 1) / (8 * vs[0])
	mcu := 64 * mxx * myy // pixels of a 1×1 component's plane
	var img, coeffs int64
	switch n {
	case 1:
		img = mcu
	default:
		img = mcu * (hs[0]*vs[0] + 2*hs[1]*vs[1])
	}
	kept = img
	peak = img
	if n == 3 && (adobeRGB || sof[6] == 'R' && sof[9] == 'G' && sof[12] == 'B') {
		// Stored as RGB: converted to an image.RGBA at the end.
		rgba := 4 * w * ht
		peak += rgba
		kept = rgba
	}
	if n == 4 {
		black := mcu * hs[3] * vs[3]
		cmyk := 4 * w * ht
		peak += black + cmyk
		kept = cmyk
	}
	if progressive {
		for i := 0; i < n; i++ {
			coeffs += mcu * hs[i] * vs[i] * 4 // [64]int32 per 64 pixels
		}
		peak += coeffs
	}
	return peak + int64(len(h.read)), kept, true
}

// findSOF returns the payload of the first start-of-frame segment in b (a
// JPEG's first bytes), whether it is progressive (SOF2), and whether an
// Adobe segment before it says the components are RGB (transform 0).
func findSOF(b []byte) (sof []byte, progressive, adobeRGB, ok bool) {
	i := 2 // after SOI
	for i+4 <= len(b) {
		if b[i] != 0xff {
			return nil, false, false, false
		}
		m := b[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd9: // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, false, false, false
		}
		seg := b[i+4 : i+2+n]
		switch {
		case m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc:
			return seg, m == 0xc2, adobeRGB, true
		case m == 0xee && len(seg) >= 12 && string(seg[:5]) == "Adobe":
			adobeRGB = seg[11] == 0
		}
		i += 2 + n
	}
	return nil, false, false, false
}
