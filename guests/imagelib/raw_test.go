package imagelib

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/inos-node/node/guests/abi"
)

// noiseImage is a w×h image of pseudo-random bytes, alpha included (some
// pixels transparent, some opaque, most neither), so that every channel of
// every pixel is seen to go where it should.
func noiseImage(w, h int, seed uint64) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		seed = seed*6364136223846793005 + 1442695040888963407
		m.Pix[i] = uint8(seed >> 56)
	}
	for i := 3; i < len(m.Pix); i += 4 {
		switch i / 4 % 5 {
		case 0:
			m.Pix[i] = 0
		case 1:
			m.Pix[i] = 255
		}
	}
	return m
}

func rawParam(w, h int) string { return fmt.Sprintf(`"raw":{"width":%d,"height":%d}`, w, h) }

// withParams adds the fields extra to the JSON object params.
func withParams(params, extra string) string {
	if params == "{}" {
		return "{" + extra + "}"
	}
	return "{" + extra + "," + params[1:]
}

// everyMethod is every method but info, with params it accepts on a w×h
// image (w, h ≥ 4).
func everyMethod(w, h int) []struct{ method, params string } {
	return []struct{ method, params string }{
		{"invert", `{}`},
		{"grayscale", `{}`},
		{"fliph", `{}`},
		{"flipv", `{}`},
		{"rotate180", `{}`},
		{"rotate90", `{}`},
		{"rotate270", `{}`},
		{"resize", `{"width":5,"height":3}`},
		{"resize", `{"width":3,"filter":"nearest"}`},
		{"resize", fmt.Sprintf(`{"width":%d,"if_larger_than":true}`, w)},
		{"crop", `{"x":1,"y":2,"width":3,"height":2}`},
		{"crop", fmt.Sprintf(`{"width":%d,"height":%d}`, w, h)},
		{"blur", `{"sigma":1.2}`},
		{"brighten", `{"percent":-30}`},
		{"contrast", `{"percent":40}`},
		{"batch", `{"operations":[{"op":"invert"},{"op":"fliph"},{"op":"rotate90"},{"op":"grayscale"}]}`},
		{"batch", `{"operations":[{"op":"crop","x":1,"y":1,"width":3,"height":3}]}`},
	}
}

// TestRawEqualsEncoded: every method on raw input with rgba output gives
// the pixels the same method gives through PNG input and PNG output. For
// the methods with a one-pass fast path (invert, grayscale, fliph, flipv,
// rotate180) this checks it against the transform it replaces, byte for
// byte; for the others, the wrapped input and the row copy out.
func TestRawEqualsEncoded(t *testing.T) {
	ms := Methods()
	for _, src := range []*image.NRGBA{
		noiseImage(16, 12, 1),
		noiseImage(7, 5, 2), // odd row and odd pixel count: the fast paths' tails
		noiseImage(4, 9, 3),
		gridImage(9, 4), // opaque: the PNG decodes as RGBA, not NRGBA
	} {
		w, h := src.Rect.Dx(), src.Rect.Dy()
		in := encodePNG(t, src)
		for _, tc := range everyMethod(w, h) {
			t.Run(fmt.Sprintf("%dx%d/%s%s", w, h, tc.method, tc.params), func(t *testing.T) {
				want := decodeAs(t, mustOK(t, ms, tc.method, withParams(tc.params, `"format":"png"`), in), formatPNG)
				raw := bytes.Clone(src.Pix)
				got := mustOK(t, ms, tc.method, withParams(tc.params, rawParam(w, h)), raw)
				if len(got) != len(want.Pix) {
					t.Fatalf("rgba output is %d bytes, want %d (%v)", len(got), len(want.Pix), want.Rect.Size())
				}
				if !bytes.Equal(got, want.Pix) {
					g := &image.NRGBA{Pix: got, Stride: want.Stride, Rect: want.Rect}
					t.Fatalf("raw→rgba differs from png→png: %s", diff(g, want, 0))
				}
				// "format":"rgba" is the default for raw input.
				explicit := mustOK(t, ms, tc.method, withParams(tc.params, rawParam(w, h)+`,"format":"rgba"`), raw)
				if !bytes.Equal(explicit, got) {
					t.Errorf(`"format":"rgba" differs from the default`)
				}
				if !bytes.Equal(raw, src.Pix) {
					t.Errorf("the method wrote its raw input")
				}
			})
		}
	}
}

// TestRawGrayscaleEveryColor: the fast grayscale gives imaging.Grayscale's
// byte for every one of the 2²⁴ colors (alpha varied along).
func TestRawGrayscaleEveryColor(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB of pixels")
	}
	src := image.NewNRGBA(image.Rect(0, 0, 4096, 4096))
	for c := range 1 << 24 {
		p := src.Pix[4*c : 4*c+4]
		p[0], p[1], p[2], p[3] = uint8(c>>16), uint8(c>>8), uint8(c), uint8(c*7)
	}
	want := imaging.Grayscale(src)
	got := make([]byte, len(src.Pix))
	grayscaleRGBA(got, src.Pix, 4096, 4096)
	if !bytes.Equal(got, want.Pix) {
		g := &image.NRGBA{Pix: got, Stride: want.Stride, Rect: want.Rect}
		t.Fatalf("fast grayscale differs from imaging.Grayscale: %s", diff(g, want, 0))
	}
}

// TestRawToEncoded: raw input encoded in every format.
func TestRawToEncoded(t *testing.T) {
	ms := Methods()
	src := gridImage(10, 6)
	for _, f := range formats() {
		for _, method := range []string{"invert", "crop", "resize"} {
			params := map[string]string{
				"invert": `{}`,
				"crop":   `{"width":10,"height":6}`, // the whole input, passed through
				"resize": `{"width":10,"if_larger_than":true}`,
			}[method]
			t.Run(string(f)+"/"+method, func(t *testing.T) {
				raw := bytes.Clone(src.Pix)
				out := mustOK(t, ms, method, withParams(params, rawParam(10, 6)+`,"format":"`+string(f)+`"`), raw)
				want := src
				if method == "invert" {
					want = imaging.Invert(src)
				}
				tol := 0
				if !lossless(f) {
					tol = 24
				}
				if d := diff(decodeAs(t, out, f), want, tol); d != "" {
					t.Errorf("%s", d)
				}
			})
		}
	}
	// JPEG premultiplies its input in place: a result that is the raw
	// input itself (crop, if_larger_than) must be copied first.
	src = noiseImage(8, 8, 4)
	for _, tc := range []struct{ method, params string }{
		{"crop", `{"width":8,"height":8}`},
		{"crop", `{"x":2,"width":3,"height":5}`},
		{"resize", `{"width":100,"if_larger_than":true}`},
		{"batch", `{"operations":[{"op":"crop","width":4,"height":4},{"op":"crop","x":1,"width":2,"height":2}]}`},
	} {
		raw := bytes.Clone(src.Pix)
		mustOK(t, ms, tc.method, withParams(tc.params, rawParam(8, 8)+`,"format":"jpeg"`), raw)
		if !bytes.Equal(raw, src.Pix) {
			t.Errorf("%s %s to jpeg wrote its raw input", tc.method, tc.params)
		}
	}
}

// TestEncodedToRGBA: an encoded input written as rgba is its decoded
// pixels, as NRGBA, whatever the decoder's image type (a passed-through
// Gray or RGBA is converted).
func TestEncodedToRGBA(t *testing.T) {
	ms := Methods()
	src := gridImage(6, 5)
	gray := image.NewGray(image.Rect(0, 0, 6, 5))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 9)
	}
	for _, tc := range []struct {
		name   string
		in     []byte
		method string
		params string
		want   *image.NRGBA
	}{
		{"png invert", encodePNG(t, src), "invert", `{"format":"rgba"}`, imaging.Invert(src)},
		{"png crop", encodePNG(t, src), "crop", `{"x":1,"width":4,"height":5,"format":"rgba"}`, imaging.Crop(src, image.Rect(1, 0, 5, 5))},
		{"gray png crop", encodePNG(t, gray), "crop", `{"width":6,"height":5,"format":"rgba"}`, imaging.Clone(gray)},
		{"bmp fliph", encodeAs(t, src, formatBMP), "fliph", `{"format":"rgba"}`, imaging.FlipH(src)},
	} {
		out := mustOK(t, ms, tc.method, tc.params, tc.in)
		if !bytes.Equal(out, tc.want.Pix) {
			t.Errorf("%s: rgba output %v, want %v", tc.name, out, tc.want.Pix)
		}
	}
}

func TestRawInfo(t *testing.T) {
	ms := Methods()
	out := mustOK(t, ms, "info", `{`+rawParam(3, 2)+`}`, make([]byte, 24))
	if want := `{"format":"rgba","width":3,"height":2}`; string(out) != want {
		t.Errorf("info: %s, want %s", out, want)
	}
}

// TestRawBadSize: raw input that is not W×H×4 bytes is StatusBadInput
// saying both sizes, on the fast path, the slow one, batch and info.
func TestRawBadSize(t *testing.T) {
	ms := Methods()
	for _, tc := range []struct{ method, params string }{
		{"invert", `{}`},
		{"rotate180", `{}`},
		{"flipv", `{"format":"png"}`},
		{"resize", `{"width":2}`},
		{"batch", `{"operations":[{"op":"fliph"}]}`},
		{"info", `{}`},
	} {
		for _, n := range []int{0, 1, 47, 49, 96} {
			r := dispatch(ms, tc.method, withParams(tc.params, rawParam(4, 3)), make([]byte, n), 1024)
			want := fmt.Sprintf("must be 48 bytes (width×height×4), got %d", n)
			if r.status != abi.StatusBadInput || !strings.Contains(r.msg, want) {
				t.Errorf("%s with %d bytes: status %d (%s), want %d saying %q", tc.method, n, r.status, r.msg, abi.StatusBadInput, want)
			}
		}
	}
}

// TestRawBadParams: a bad raw param is StatusBadParams naming its field,
// before the input is looked at.
func TestRawBadParams(t *testing.T) {
	ms := Methods()
	for _, tc := range []struct {
		method, params, want string
	}{
		{"invert", `{"raw":1}`, `raw: got 1, want an object`},
		{"invert", `{"raw":null}`, `raw: got null, want an object`},
		{"invert", `{"raw":[4,4]}`, `raw: got [4,4], want an object`},
		{"invert", `{"raw":{}}`, `raw.width: required`},
		{"invert", `{"raw":{"width":4}}`, `raw.height: required`},
		{"invert", `{"raw":{"height":4}}`, `raw.width: required`},
		{"invert", `{"raw":{"width":0,"height":4}}`, `raw.width: must be ≥ 1, got 0`},
		{"invert", `{"raw":{"width":4,"height":-1}}`, `raw.height: must be ≥ 1, got -1`},
		{"invert", `{"raw":{"width":"4","height":4}}`, `raw.width: got "4", want an integer`},
		{"invert", `{"raw":{"width":4,"height":4.5}}`, `raw.height: got 4.5, want an integer`},
		{"invert", `{"raw":{"width":4,"height":4,"depth":8}}`, `raw.depth: unknown field (fields: width, height)`},
		{"invert", `{"raw":{"width":5000,"height":5000}}`, `raw.width: 5000×5000 = 25000000 pixels is over the limit of 20000000 pixels`},
		{"invert", `{"raw":{"width":20000001,"height":1}}`, `raw.width: 20000001×1 = 20000001 pixels is over the limit`},
		{"grayscale", `{"raw":{"width":9223372036854775807,"height":9223372036854775807}}`, `raw.width: 9223372036854775807×9223372036854775807 pixels is over the limit`},
		{"resize", `{"width":2,"raw":{"width":4}}`, `raw.height: required`},
		{"blur", `{"sigma":1,"raw":{"width":-4,"height":4}}`, `raw.width: must be ≥ 1, got -4`},
		{"invert", `{"raw":{"width":4,"height":4},"format":"raw"}`, `format: unknown format "raw"`},
		{"batch", `{"raw":{"width":0,"height":1},"operations":[{"op":"fliph"}]}`, `raw.width: must be ≥ 1, got 0`},
		{"batch", `{"operations":[{"op":"fliph","raw":{"width":4,"height":4}}]}`, `operations[0].raw: unknown field (fields: op)`},
		{"info", `{"raw":{"width":4}}`, `raw.height: required`},
		{"info", `{"raw":{"width":4,"height":4},"format":"rgba"}`, `format: unknown field (fields: raw)`},
	} {
		t.Run(tc.method+tc.params, func(t *testing.T) {
			r := dispatch(ms, tc.method, tc.params, []byte("not pixels"), 1024)
			if r.status != abi.StatusBadParams {
				t.Fatalf("status %d (%s), want %d", r.status, r.msg, abi.StatusBadParams)
			}
			if !strings.HasPrefix(r.msg, "params: "+tc.want) {
				t.Errorf("message %q, want it to start with %q", r.msg, "params: "+tc.want)
			}
		})
	}
	// The limit is MaxPixels.
	small := MethodsWith(Options{MaxPixels: 100})
	if r := dispatch(small, "invert", `{`+rawParam(10, 11)+`}`, make([]byte, 440), 1024); r.status != abi.StatusBadParams || !strings.Contains(r.msg, "raw.width: 10×11 = 110 pixels is over the limit of 100 pixels") {
		t.Errorf("10×11 with a limit of 100: status %d (%s)", r.status, r.msg)
	}
	if r := dispatch(small, "invert", `{`+rawParam(10, 10)+`}`, make([]byte, 400), 1024); r.status != abi.StatusOK {
		t.Errorf("10×10 with a limit of 100: status %d (%s)", r.status, r.msg)
	}
}

// TestRGBAOutputTooSmall: rgba output that does not fit is
// StatusOutputTooSmall with exactly W×H×4, and a retry with that succeeds.
func TestRGBAOutputTooSmall(t *testing.T) {
	ms := Methods()
	src := noiseImage(6, 4, 5)
	for _, tc := range []struct {
		method, params string
		in             []byte
		need           int
	}{
		{"invert", `{` + rawParam(6, 4) + `}`, src.Pix, 96},   // fast path
		{"fliph", `{` + rawParam(6, 4) + `}`, src.Pix, 96},    // fast path
		{"rotate90", `{` + rawParam(6, 4) + `}`, src.Pix, 96}, // slow path
		{"resize", `{"width":3,` + rawParam(6, 4) + `}`, src.Pix, 24},
		{"crop", `{"width":5,"height":1,` + rawParam(6, 4) + `}`, src.Pix, 20},
		{"batch", `{"operations":[{"op":"crop","width":2,"height":3}],` + rawParam(6, 4) + `}`, src.Pix, 24},
		{"invert", `{"format":"rgba"}`, encodePNG(t, src), 96}, // encoded input
	} {
		for _, have := range []int{1, 4, tc.need - 1} {
			r := dispatch(ms, tc.method, tc.params, tc.in, have)
			if r.status != abi.StatusOutputTooSmall || r.n != tc.need {
				t.Errorf("%s %s with %d bytes: status %d, needed %d (%s); want %d and %d", tc.method, tc.params, have, r.status, r.n, r.msg, abi.StatusOutputTooSmall, tc.need)
			}
		}
		exact := dispatch(ms, tc.method, tc.params, tc.in, tc.need)
		roomy := dispatch(ms, tc.method, tc.params, tc.in, 0)
		if exact.status != abi.StatusOK || exact.n != tc.need || !bytes.Equal(exact.out, roomy.out) {
			t.Errorf("%s %s with the %d bytes asked for: status %d, length %d (%s)", tc.method, tc.params, tc.need, exact.status, exact.n, exact.msg)
		}
	}
}

// TestRawFastPathsSizes: the fast paths, against imaging's transforms, on
// sizes that take every step of their loops (16-pixel blocks, then two
// pixels, then one) alone and together, in a row and in the whole image.
func TestRawFastPathsSizes(t *testing.T) {
	for _, size := range []image.Point{
		{1, 1}, {2, 1}, {3, 1}, {1, 3}, {5, 2}, {16, 1}, {17, 1}, {18, 3}, {19, 2}, {33, 5}, {32, 3}, {1, 35},
	} {
		src := noiseImage(size.X, size.Y, uint64(size.X*10+size.Y))
		src.SetNRGBA(0, 0, color.NRGBA{1, 2, 3, 4})
		for name, want := range map[string]func(image.Image) *image.NRGBA{
			"invert": imaging.Invert, "grayscale": imaging.Grayscale, "fliph": imaging.FlipH,
			"flipv": imaging.FlipV, "rotate180": imaging.Rotate180,
		} {
			got := make([]byte, len(src.Pix))
			fastPath(name)(got, src.Pix, size.X, size.Y)
			if w := want(src); !bytes.Equal(got, w.Pix) {
				g := &image.NRGBA{Pix: got, Stride: w.Stride, Rect: w.Rect}
				t.Errorf("%s of %v: %s", name, size, diff(g, w, 0))
			}
		}
	}
}
