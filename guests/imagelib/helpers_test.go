package imagelib

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/HugoSmits86/nativewebp"
	"github.com/disintegration/imaging"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/sdk"
)

// result is one dispatched call.
type result struct {
	status int32
	n      int // output length, or bytes needed for StatusOutputTooSmall
	out    []byte
	msg    string
}

// dispatch runs method on input through the SDK's dispatcher, as the guest
// does, with an output buffer of outCap bytes (0: 4 MB).
func dispatch(ms sdk.Methods, method, params string, input []byte, outCap int) result {
	if outCap == 0 {
		outCap = 4 << 20
	}
	c := &sdk.Call{JobID: 1, Method: method, Params: []byte(params), Input: input, Output: make([]byte, outCap)}
	st, n, msg := ms.Dispatch(c)
	r := result{status: st, n: n, msg: msg}
	if st == abi.StatusOK {
		r.out = c.Output[:n]
	}
	return r
}

// mustOK dispatches and fails the test unless the call succeeded.
func mustOK(t testing.TB, ms sdk.Methods, method, params string, input []byte) []byte {
	t.Helper()
	r := dispatch(ms, method, params, input, 0)
	if r.status != abi.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, params, r.status, r.msg)
	}
	return r.out
}

// gridImage is a w×h opaque image whose every pixel (w, h ≤ 16) has its
// own color, so that where a pixel went is visible.
func gridImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{R: uint8(16*x + 5), G: uint8(16*y + 9), B: uint8(200 - 7*x - 3*y), A: 255})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodeAs encodes m with the standard (or x/image, or nativewebp) encoder
// of format f: test inputs made independently of the code under test.
func encodeAs(t testing.TB, m image.Image, f format) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch f {
	case formatPNG:
		err = png.Encode(&b, m)
	case formatJPEG:
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: 95})
	case formatGIF:
		// The encoder's own conversion dithers; a test input keeps its
		// colors (at most 256).
		err = gif.Encode(&b, exactPaletted(t, m), nil)
	case formatBMP:
		err = bmp.Encode(&b, m)
	case formatTIFF:
		err = tiff.Encode(&b, m, nil)
	case formatWebP:
		err = nativewebp.Encode(&b, m, nil)
	default:
		t.Fatalf("no encoder for %q", f)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// decodeAs decodes b, which must be in format f, with that format's
// decoder, as NRGBA.
func decodeAs(t testing.TB, b []byte, f format) *image.NRGBA {
	t.Helper()
	if got, ok := sniff(b); !ok || got != f {
		t.Fatalf("output is %q, want %q (first bytes %q)", got, f, excerptBytes(b))
	}
	var m image.Image
	var err error
	r := bytes.NewReader(b)
	switch f {
	case formatPNG:
		m, err = png.Decode(r)
	case formatJPEG:
		m, err = jpeg.Decode(r)
	case formatGIF:
		m, err = gif.Decode(r)
	case formatBMP:
		m, err = bmp.Decode(r)
	case formatTIFF:
		m, err = tiff.Decode(r)
	case formatWebP:
		m, err = webp.Decode(r)
	}
	if err != nil {
		t.Fatalf("decoding the %s output: %v", f, err)
	}
	return imaging.Clone(m)
}

// diff returns the first pixel where a and b differ by more than tol in a
// channel, or "" if none (and the sizes match).
func diff(a, b *image.NRGBA, tol int) string {
	if a.Rect.Size() != b.Rect.Size() {
		return fmt.Sprintf("size %v, want %v", a.Rect.Size(), b.Rect.Size())
	}
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			i, j := a.PixOffset(a.Rect.Min.X+x, a.Rect.Min.Y+y), b.PixOffset(b.Rect.Min.X+x, b.Rect.Min.Y+y)
			for c := 0; c < 4; c++ {
				if d := int(a.Pix[i+c]) - int(b.Pix[j+c]); d > tol || d < -tol {
					return fmt.Sprintf("pixel (%d,%d) is %v, want %v", x, y, a.Pix[i:i+4], b.Pix[j:j+4])
				}
			}
		}
	}
	return ""
}

// meanAbsDiff is the mean absolute difference of a and b's color channels.
func meanAbsDiff(a, b *image.NRGBA) float64 {
	var sum, n int
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			i, j := a.PixOffset(x, y), b.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				d := int(a.Pix[i+c]) - int(b.Pix[j+c])
				sum += max(d, -d)
				n++
			}
		}
	}
	return float64(sum) / float64(n)
}

func px(m *image.NRGBA, x, y int) color.NRGBA { return m.NRGBAAt(m.Rect.Min.X+x, m.Rect.Min.Y+y) }

// exactPaletted returns m, of at most 256 colors, as a paletted image.
func exactPaletted(t testing.TB, m image.Image) *image.Paletted {
	b := m.Bounds()
	p := image.NewPaletted(b, nil)
	index := map[color.Color]uint8{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := m.At(x, y)
			i, ok := index[c]
			if !ok {
				if len(p.Palette) == 256 {
					t.Fatal("more than 256 colors")
				}
				i = uint8(len(p.Palette))
				index[c] = i
				p.Palette = append(p.Palette, c)
			}
			p.SetColorIndex(x, y, i)
		}
	}
	return p
}
