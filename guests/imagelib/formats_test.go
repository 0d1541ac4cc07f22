package imagelib

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"os"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/inos-node/node/guests/imagelib/sample"
)

// lossless reports whether format f keeps every pixel of an opaque 8-bit
// image of at most 256 colors.
func lossless(f format) bool { return f != formatJPEG }

// TestDecodeEachFormat decodes an input of every format (made by that
// format's own encoder) and checks the pixels through a lossless output.
func TestDecodeEachFormat(t *testing.T) {
	src := gridImage(9, 6)
	ms := Methods()
	for _, f := range formats() {
		t.Run(string(f), func(t *testing.T) {
			in := encodeAs(t, src, f)
			got := decodeAs(t, mustOK(t, ms, "rotate180", `{"format":"png"}`, in), formatPNG)
			want := imaging.Rotate180(src)
			tol := 0
			if !lossless(f) {
				tol = 24 // a 9×6 JPEG at q95, 4:2:0
			}
			if d := diff(got, want, tol); d != "" {
				t.Errorf("%s input: %s", f, d)
			}
		})
	}
}

// TestDecodeLossyWebP decodes a lossy (VP8) WebP, which nothing here can
// make, from x/image's test data.
func TestDecodeLossyWebP(t *testing.T) {
	in, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	ms := Methods()
	if info := string(mustOK(t, ms, "info", ``, in)); info != `{"format":"webp","width":150,"height":100}` {
		t.Errorf("info: %s", info)
	}
	got := decodeAs(t, mustOK(t, ms, "flipv", `{"format":"png"}`, in), formatPNG)
	if got.Rect.Dx() != 150 || got.Rect.Dy() != 100 {
		t.Fatalf("result is %v", got.Rect.Size())
	}
	// The default output is the input's format: lossless WebP.
	back := decodeAs(t, mustOK(t, ms, "flipv", ``, in), formatWebP)
	if d := diff(back, got, 0); d != "" {
		t.Errorf("WebP and PNG outputs of the same image differ: %s", d)
	}
}

// TestEncodeEachFormat encodes to every format and decodes the result back
// with that format's decoder, from an image with few colors (exact for
// every lossless format) and a photo.
func TestEncodeEachFormat(t *testing.T) {
	ms := Methods()
	grid := gridImage(10, 7)
	photo := sample.Photo(64, 48, 3)
	for _, f := range formats() {
		t.Run(string(f), func(t *testing.T) {
			got := decodeAs(t, mustOK(t, ms, "fliph", `{"format":"`+string(f)+`"}`, encodePNG(t, grid)), f)
			tol := 0
			if !lossless(f) {
				tol = 40
			}
			if d := diff(got, imaging.FlipH(grid), tol); d != "" {
				t.Errorf("few colors: %s", d)
			}

			got = decodeAs(t, mustOK(t, ms, "fliph", `{"quality":95,"format":"`+string(f)+`"}`, encodePNG(t, photo)), f)
			want := imaging.FlipH(photo)
			switch f {
			case formatJPEG:
				if m := meanAbsDiff(got, want); m > 6 {
					t.Errorf("photo: mean error %.1f", m)
				}
			case formatGIF:
				// Dithered onto 252 colors: each pixel is off, the
				// average over an area is close.
				if m := meanAbsDiff(imaging.Blur(got, 2), imaging.Blur(want, 2)); m > 6 {
					t.Errorf("photo, blurred: mean error %.1f", m)
				}
			default:
				if d := diff(got, want, 0); d != "" {
					t.Errorf("photo: %s", d)
				}
			}
		})
	}
}

// TestEncodeCrop encodes a crop, a view into the decoded image whose
// bounds do not start at (0, 0), in every format.
func TestEncodeCrop(t *testing.T) {
	ms := Methods()
	src := gridImage(12, 10)
	want := imaging.Crop(src, image.Rect(3, 2, 10, 7))
	for _, in := range []format{formatPNG, formatGIF, formatBMP} {
		for _, out := range formats() {
			got := decodeAs(t, mustOK(t, ms, "crop", `{"x":3,"y":2,"width":7,"height":5,"format":"`+string(out)+`"}`, encodeAs(t, src, in)), out)
			tol := 0
			if !lossless(out) {
				tol = 40
			}
			if d := diff(got, want, tol); d != "" {
				t.Errorf("%s → crop → %s: %s", in, out, d)
			}
		}
	}
	// A JPEG input is a YCbCr image, which the JPEG encoder reads
	// directly, sub-image offsets (odd ones, in chroma) included.
	jsrc := sample.Photo(64, 48, 1)
	jin := encodeAs(t, jsrc, formatJPEG)
	full := decodeAs(t, mustOK(t, ms, "crop", `{"width":64,"height":48,"format":"png"}`, jin), formatPNG)
	for _, tc := range []struct{ params string }{
		{`{"x":4,"y":2,"width":33,"height":21,"format":"jpeg","quality":100}`},
		{`{"x":5,"y":3,"width":33,"height":21,"format":"jpeg","quality":100}`},
	} {
		var p struct{ X, Y, Width, Height int }
		if err := json.Unmarshal([]byte(tc.params), &p); err != nil {
			t.Fatal(err)
		}
		want := imaging.Crop(full, image.Rect(p.X, p.Y, p.X+p.Width, p.Y+p.Height))
		got := decodeAs(t, mustOK(t, ms, "crop", tc.params, jin), formatJPEG)
		// At an odd offset chroma is subsampled anew at another phase,
		// which costs what it costs the encoder from the decoded pixels.
		var ref bytes.Buffer
		if err := jpeg.Encode(&ref, want, &jpeg.Options{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		base := meanAbsDiff(decodeAs(t, ref.Bytes(), formatJPEG), want)
		if m := meanAbsDiff(got, want); m > base+0.5 {
			t.Errorf("JPEG → crop %s → JPEG: mean error %.2f, the encoder's own from the decoded pixels %.2f", tc.params, m, base)
		}
	}
}

func TestQuality(t *testing.T) {
	ms := Methods()
	in := encodePNG(t, sample.Photo(96, 64, 2))
	low := mustOK(t, ms, "invert", `{"format":"jpeg","quality":20}`, in)
	def := mustOK(t, ms, "invert", `{"format":"jpeg"}`, in)
	at85 := mustOK(t, ms, "invert", `{"format":"jpeg","quality":85}`, in)
	high := mustOK(t, ms, "invert", `{"format":"jpeg","quality":100}`, in)
	if !bytes.Equal(def, at85) {
		t.Error("the default quality is not 85")
	}
	if !(len(low) < len(def) && len(def) < len(high)) {
		t.Errorf("sizes at q20, q85, q100: %d, %d, %d; want increasing", len(low), len(def), len(high))
	}
}

// TestTransparentToJPEG: JPEG has no alpha; a transparent pixel is
// premultiplied, so black, and an opaque one keeps its color.
func TestTransparentToJPEG(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(src.Pix); i += 4 {
		copy(src.Pix[i:], []uint8{200, 200, 200, 255})
		if i/4%16 >= 8 {
			src.Pix[i+3] = 0 // right half transparent
		}
	}
	got := decodeAs(t, mustOK(t, Methods(), "fliph", `{"format":"jpeg","quality":100}`, encodePNG(t, src)), formatJPEG)
	// Flipped: the left half is the transparent one.
	if c := px(got, 2, 8); c.R > 8 {
		t.Errorf("transparent pixel → %v, want black", c)
	}
	if c := px(got, 13, 8); c.R < 192 || c.R > 208 {
		t.Errorf("opaque pixel → %v, want about 200", c)
	}
}

func TestGIFTransparency(t *testing.T) {
	src := gridImage(6, 6)
	src.SetNRGBA(1, 1, color.NRGBA{})
	out := mustOK(t, Methods(), "flipv", `{"format":"gif"}`, encodePNG(t, src))
	got := decodeAs(t, out, formatGIF)
	if c := px(got, 1, 4); c.A != 0 {
		t.Errorf("transparent pixel → %v", c)
	}
	if c := px(got, 0, 0); c != px(src, 0, 5) {
		t.Errorf("opaque pixel → %v, want %v", c, px(src, 0, 5))
	}
}

// TestGIFFirstFrameOnItsScreen: a first frame smaller than the logical
// screen is shown at its offset on a transparent screen-sized canvas.
func TestGIFFirstFrameOnItsScreen(t *testing.T) {
	pal := color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 0, 255, 255}}
	frame := image.NewPaletted(image.Rect(2, 1, 5, 3), pal) // red
	second := image.NewPaletted(image.Rect(0, 0, 8, 6), pal)
	for i := range second.Pix {
		second.Pix[i] = 1 // blue: must not show
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{
		Image: []*image.Paletted{frame, second}, Delay: []int{10, 10},
		Config: image.Config{ColorModel: pal, Width: 8, Height: 6},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := Methods()
	if info := string(mustOK(t, ms, "info", ``, b.Bytes())); info != `{"format":"gif","width":8,"height":6}` {
		t.Errorf("info: %s", info)
	}
	got := decodeAs(t, mustOK(t, ms, "rotate180", `{"format":"png"}`, b.Bytes()), formatPNG)
	if got.Rect.Dx() != 8 || got.Rect.Dy() != 6 {
		t.Fatalf("result is %v, want the 8×6 screen", got.Rect.Size())
	}
	for y := 0; y < 6; y++ {
		for x := 0; x < 8; x++ {
			sx, sy := 7-x, 5-y
			want := color.NRGBA{}
			if sx >= 2 && sx < 5 && sy >= 1 && sy < 3 {
				want = color.NRGBA{255, 0, 0, 255}
			}
			if c := px(got, x, y); c != want && !(want.A == 0 && c.A == 0) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, c, want)
			}
		}
	}
}

// Test16BitPNG: 16-bit channels are decoded and written as 8-bit.
func Test16BitPNG(t *testing.T) {
	src := image.NewNRGBA64(image.Rect(0, 0, 3, 2))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 37)
	}
	for i := 6; i < len(src.Pix); i += 8 {
		src.Pix[i], src.Pix[i+1] = 0xff, 0xff // opaque
	}
	got := decodeAs(t, mustOK(t, Methods(), "invert", `{"format":"png"}`, encodePNG(t, src)), formatPNG)
	want := imaging.Invert(src)
	if d := diff(got, want, 0); d != "" {
		t.Error(d)
	}
}
