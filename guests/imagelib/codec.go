package imagelib

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/HugoSmits86/nativewebp"
	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/inos-node/node/guests/sdk"
)

// format is an image file format, by the name params and info use.
type format string

const (
	formatJPEG format = "jpeg"
	formatPNG  format = "png"
	formatGIF  format = "gif"
	formatBMP  format = "bmp"
	formatTIFF format = "tiff"
	formatWebP format = "webp"
	// formatRGBA is raw 8-bit NRGBA pixels (image.NRGBA's Pix, rows
	// without padding): an output format, and the format of an input
	// described by the raw param (it has no magic bytes to sniff). See
	// raw.go.
	formatRGBA format = "rgba"
)

// formats lists every encoded format, which are all both decoded and
// encoded (rgba, raw pixels, is not one of them: see outputFormats).
func formats() []format {
	return []format{formatJPEG, formatPNG, formatWebP, formatGIF, formatBMP, formatTIFF}
}

func formatList() string {
	names := make([]string, 0, 6)
	for _, f := range formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// outputFormats lists the formats params.format takes: the encoded ones
// and rgba.
func outputFormats() []format { return append(formats(), formatRGBA) }

func outputFormatList() string { return formatList() + ", " + string(formatRGBA) }

// sniff returns the format whose magic bytes data starts with. Decoding by
// the magic bytes, with each format's own decoder, needs no registry of
// formats (image.RegisterFormat is package-level state this package does
// not rely on).
func sniff(data []byte) (format, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return formatJPEG, true
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return formatPNG, true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return formatGIF, true
	case bytes.HasPrefix(data, []byte("BM")):
		return formatBMP, true
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return formatTIFF, true
	case len(data) >= 12 && bytes.HasPrefix(data, []byte("RIFF")) && string(data[8:12]) == "WEBP":
		return formatWebP, true
	}
	return "", false
}

// recorder reads from r and keeps a copy of every byte it returned.
type recorder struct {
	r   io.Reader
	rec []byte
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.rec = append(r.rec, p[:n]...)
	return n, err
}

// header is what readHeader learned from the start of an input.
type header struct {
	format        format
	width, height int
	model         color.Model // the decoded image's, as DecodeConfig says
	// read is a copy of the input bytes the header was read from. The
	// input is the producer's pages and may change while the guest reads
	// them (ABI.md); decoding the pixels from this copy, then the rest of
	// the input, makes the decoder see the very header whose size was
	// checked, so a producer cannot swap in a larger one in between.
	read []byte
}

// readHeader sniffs data's format and reads its header (the format's
// DecodeConfig): no pixel is decoded. An unknown format, a header that does
// not decode or a size of zero is an *sdk.InputError.
func readHeader(data []byte) (h header, err error) {
	f, ok := sniff(data)
	if !ok {
		return h, &sdk.InputError{Msg: fmt.Sprintf("unknown image format (first bytes %q); formats: %s (raw RGBA pixels need the raw param)", excerptBytes(data), formatList())}
	}
	h.format = f
	defer recoverDecoder(f, &err)
	rr := &recorder{r: bytes.NewReader(data)}
	var cfg image.Config
	switch f {
	case formatJPEG:
		cfg, err = jpeg.DecodeConfig(rr)
	case formatPNG:
		cfg, err = png.DecodeConfig(rr)
	case formatGIF:
		cfg, err = gif.DecodeConfig(rr)
	case formatBMP:
		cfg, err = bmp.DecodeConfig(rr)
	case formatTIFF:
		// TIFF's directory may be anywhere: tiff buffers a reader that is
		// not an io.ReaderAt as far as it reads, so the copy runs to the
		// end of the directory and its values (often the whole file).
		cfg, err = tiff.DecodeConfig(rr)
	case formatWebP:
		cfg, err = webp.DecodeConfig(rr)
	}
	if err != nil {
		return h, &sdk.InputError{Msg: fmt.Sprintf("%s header: %v", f, err)}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return h, &sdk.InputError{Msg: fmt.Sprintf("%s header: the image is %d×%d pixels", f, cfg.Width, cfg.Height)}
	}
	h.width, h.height, h.model, h.read = cfg.Width, cfg.Height, cfg.ColorModel, rr.rec
	return h, nil
}

func excerptBytes(b []byte) []byte {
	return b[:min(len(b), 8)]
}

// recoverDecoder turns a decoder's panic on malformed data into an
// *sdk.InputError: the data is what is wrong, not the library (a bug of a
// decoder that panics is still reported, in the message).
func recoverDecoder(f format, err *error) {
	if p := recover(); p != nil {
		*err = &sdk.InputError{Msg: fmt.Sprintf("%s decoder failed on this data: %v", f, p)}
	}
}

// memoryBudget is the bytes a job may hold in images: two 8-bit NRGBA
// images at the pixel limit (see memory.go).
func memoryBudget(maxPixels int) int64 { return 2 * bytesPerPixel * int64(maxPixels) }

// checkSize refuses, before its pixels are allocated, an image over
// maxPixels or one whose decoding and first transform would not fit the
// memory budget.
func checkSize(h header, maxPixels int) error {
	px := int64(h.width) * int64(h.height)
	if px > int64(maxPixels) {
		return &sdk.InputError{Msg: fmt.Sprintf("the %s image is %d×%d = %d pixels, over the limit of %d pixels", h.format, h.width, h.height, px, maxPixels)}
	}
	peak, kept := memoryNeed(h, h.model)
	need := max(peak, kept+bytesPerPixel*px)
	if budget := memoryBudget(maxPixels); need > budget {
		return &sdk.InputError{Msg: fmt.Sprintf("the %d×%d %s image needs about %d MB to decode and transform (its decoder holds more than %d bytes a pixel), over the budget of %d MB (%d bytes a pixel at the limit of %d pixels)",
			h.width, h.height, h.format, need/1e6, bytesPerPixel, budget/1e6, 2*bytesPerPixel, maxPixels)}
	}
	return nil
}

// gcPixels is the image size from which decode collects garbage first.
const gcPixels = 1 << 20

// decode reads data's header, refuses it if it is over maxPixels, and
// decodes the pixels. A GIF gives its first frame. Any failure is an
// *sdk.InputError.
func decode(data []byte, maxPixels int) (image.Image, header, error) {
	h, err := readHeader(data)
	if err != nil {
		return nil, h, err
	}
	if err := checkSize(h, maxPixels); err != nil {
		return nil, h, err
	}
	if int64(h.width)*int64(h.height) >= gcPixels {
		// The previous job's images are garbage the collector has not
		// yet freed: a wasm heap cannot grow past the guest's memory, and
		// the Go runtime fails a large allocation it cannot map instead of
		// collecting first. Collecting now costs little (image buffers
		// hold no pointers to mark) and lets this job use all the memory;
		// it also starts every large job from the same heap, which keeps
		// its fuel the same on a fresh instance and a warm one.
		runtime.GC()
	}
	img, err := decodePixels(h, data)
	// The header's copy of the input is not needed past decoding; a TIFF's
	// is the whole file.
	h.read = nil
	if err != nil {
		return nil, h, err
	}
	return img, h, nil
}

func decodePixels(h header, data []byte) (img image.Image, err error) {
	defer recoverDecoder(h.format, &err)
	var r io.Reader
	if len(h.read) >= len(data) {
		r = bytes.NewReader(h.read)
	} else {
		r = io.MultiReader(bytes.NewReader(h.read), bytes.NewReader(data[len(h.read):]))
	}
	switch h.format {
	case formatJPEG:
		img, err = jpeg.Decode(r)
	case formatPNG:
		img, err = png.Decode(r)
	case formatGIF:
		img, err = gif.Decode(r)
	case formatBMP:
		img, err = bmp.Decode(r)
	case formatTIFF:
		img, err = tiff.Decode(r)
	case formatWebP:
		img, err = webp.Decode(r)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, &sdk.InputError{Msg: fmt.Sprintf("decoding %s: the data ends too soon (%v): truncated", h.format, err)}
	}
	if err != nil {
		return nil, &sdk.InputError{Msg: fmt.Sprintf("decoding %s: %v", h.format, err)}
	}
	b := img.Bounds()
	screen := image.Rect(0, 0, h.width, h.height)
	if h.format == formatGIF && b != screen && b.In(screen) {
		// A GIF's first frame may cover only part of its logical screen;
		// it is shown on a transparent screen-sized canvas.
		if p, ok := img.(*image.Paletted); ok {
			return paletteOnCanvas(p, screen), nil
		}
	}
	if b.Dx() != h.width || b.Dy() != h.height {
		return nil, &sdk.InputError{Msg: fmt.Sprintf("decoding %s: the header says %d×%d, the pixels are %d×%d", h.format, h.width, h.height, b.Dx(), b.Dy())}
	}
	return img, nil
}

// paletteOnCanvas draws a paletted frame on a transparent canvas.
func paletteOnCanvas(p *image.Paletted, canvas image.Rectangle) *image.NRGBA {
	dst := image.NewNRGBA(canvas)
	var lut [256][4]uint8
	for i, c := range p.Palette {
		n := color.NRGBAModel.Convert(c).(color.NRGBA)
		lut[i] = [4]uint8{n.R, n.G, n.B, n.A}
	}
	b := p.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		src := p.Pix[p.PixOffset(b.Min.X, y):][:b.Dx()]
		out := dst.Pix[dst.PixOffset(b.Min.X, y):][:4*b.Dx()]
		for i, ci := range src {
			copy(out[4*i:4*i+4], lut[ci][:])
		}
	}
	return dst
}

// encodeParams are the params every method but info takes: the input's
// layout (raw, for raw pixels; absent for an encoded image) and the
// output's format and quality.
type encodeParams struct {
	format     string
	quality    int
	qualitySet bool
	raw        rawParams
}

const defaultQuality = 85

func (p *encodeParams) fields() []field {
	return []field{{"format", &p.format, nil}, {"quality", &p.quality, &p.qualitySet}, p.raw.field()}
}

func (p *encodeParams) check(maxPixels int) *paramError {
	if p.format != "" && !slices.Contains(outputFormats(), format(p.format)) {
		return paramErrorf("format", "unknown format %q (formats: %s)", p.format, outputFormatList())
	}
	if p.qualitySet && (p.quality < 1 || p.quality > 100) {
		return paramErrorf("quality", "must be 1..100, got %d", p.quality)
	}
	if !p.qualitySet {
		p.quality = defaultQuality
	}
	return p.raw.check(maxPixels)
}

// output returns the format to encode in: the one asked for, else the
// input's (rgba for raw input).
func (p *encodeParams) output(in format) format {
	if p.format == "" {
		return in
	}
	return format(p.format)
}

// maxSide is the largest width or height each format can hold.
func maxSide(f format) int {
	switch f {
	case formatJPEG, formatGIF:
		return 1<<16 - 1
	case formatWebP:
		return 1 << 14
	}
	return 1<<31 - 1 // PNG, BMP and TIFF store sizes in 32 bits
}

// encode writes img in format f straight into c.Output and returns the
// method's result: the length written, or an *sdk.OutputTooSmallError with
// the size needed. img may be modified (it is the last use of the job's
// image: the JPEG encoder's input is premultiplied in place), so it must
// not be the raw input's pixels (see Options.run).
func encode(c *sdk.Call, img image.Image, f format, quality int) (int, error) {
	if f == formatRGBA {
		return writeRGBA(c, img)
	}
	b := img.Bounds()
	if m := maxSide(f); b.Dx() > m || b.Dy() > m {
		return 0, toSDK(paramErrorf("format", "%s holds at most %d pixels a side; the result is %d×%d", f, m, b.Dx(), b.Dy()))
	}
	w := c.OutputWriter()
	var err error
	switch f {
	case formatJPEG:
		err = jpeg.Encode(w, forJPEG(img), &jpeg.Options{Quality: quality})
	case formatPNG:
		err = (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(w, forEncoder(img))
	case formatGIF:
		err = gif.Encode(w, toPaletted(img), nil)
	case formatBMP:
		err = bmp.Encode(w, forEncoder(img))
	case formatTIFF:
		err = tiff.Encode(w, forEncoder(img), &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	case formatWebP:
		err = nativewebp.Encode(w, forEncoder(img), nil)
	}
	if err != nil {
		return 0, fmt.Errorf("encoding %s: %w", f, err)
	}
	return w.Result()
}

// forEncoder returns img as a type that the PNG, BMP, TIFF and WebP
// encoders read from its pixel slice; any other type they would read
// through At, an interface call and a color conversion a pixel, so it is
// converted (once) to NRGBA.
func forEncoder(img image.Image) image.Image {
	switch img.(type) {
	case *image.NRGBA, *image.RGBA, *image.Gray, *image.Paletted:
		return img
	}
	return imaging.Clone(img)
}

// forJPEG returns img as a type the JPEG encoder reads from its pixel
// slices (YCbCr, Gray, RGBA): an NRGBA, the result of every transform, is
// premultiplied in place and viewed as an RGBA. JPEG has no alpha: a
// transparent pixel becomes black, as it does with the encoder's own
// conversion.
func forJPEG(img image.Image) image.Image {
	switch img.(type) {
	case *image.YCbCr, *image.Gray, *image.RGBA:
		return img
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		n = imaging.Clone(img)
	}
	premultiply(n)
	return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
}

// premultiply turns n's non-premultiplied pixels into premultiplied ones,
// in place; opaque pixels (all of a photo's) are left as they are.
func premultiply(n *image.NRGBA) {
	w := 4 * n.Rect.Dx()
	for y := 0; y < n.Rect.Dy(); y++ {
		row := n.Pix[y*n.Stride : y*n.Stride+w]
		for i := 0; i+3 < len(row); i += 4 {
			a := uint32(row[i+3])
			if a == 255 {
				continue
			}
			row[i] = uint8(uint32(row[i]) * a / 255)
			row[i+1] = uint8(uint32(row[i+1]) * a / 255)
			row[i+2] = uint8(uint32(row[i+2]) * a / 255)
		}
	}
}
