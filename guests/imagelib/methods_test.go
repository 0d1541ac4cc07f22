package imagelib

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"testing"

	"github.com/inos-node/node/guests/abi"
)

// TestGeometry checks that the transforms that move pixels move each one
// where they should, on an image whose every pixel has its own color.
func TestGeometry(t *testing.T) {
	const w, h = 7, 4
	src := gridImage(w, h)
	in := encodePNG(t, src)
	ms := Methods()
	for _, tc := range []struct {
		method, params string
		w, h           int
		// from returns the source pixel of result pixel (x, y).
		from func(x, y int) (int, int)
	}{
		{"fliph", `{}`, w, h, func(x, y int) (int, int) { return w - 1 - x, y }},
		{"flipv", `{}`, w, h, func(x, y int) (int, int) { return x, h - 1 - y }},
		// Counter-clockwise: the top-right corner becomes the top-left.
		{"rotate90", `{}`, h, w, func(x, y int) (int, int) { return w - 1 - y, x }},
		{"rotate180", `{}`, w, h, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y }},
		// 270° counter-clockwise is 90° clockwise: the top-left corner
		// becomes the top-right.
		{"rotate270", `{}`, h, w, func(x, y int) (int, int) { return y, h - 1 - x }},
		{"crop", `{"x":2,"y":1,"width":3,"height":2}`, 3, 2, func(x, y int) (int, int) { return x + 2, y + 1 }},
		{"crop", `{"width":7,"height":4}`, w, h, func(x, y int) (int, int) { return x, y }},
		{"crop", `{"x":6,"y":3,"width":1,"height":1}`, 1, 1, func(x, y int) (int, int) { return 6, 3 }},
		// Nearest-neighbour at an integer scale repeats each pixel.
		{"resize", `{"width":14,"height":8,"filter":"nearest"}`, 14, 8, func(x, y int) (int, int) { return x / 2, y / 2 }},
	} {
		t.Run(tc.method+tc.params, func(t *testing.T) {
			got := decodeAs(t, mustOK(t, ms, tc.method, tc.params, in), formatPNG)
			if got.Rect.Dx() != tc.w || got.Rect.Dy() != tc.h {
				t.Fatalf("result is %v, want %d×%d", got.Rect.Size(), tc.w, tc.h)
			}
			for y := 0; y < tc.h; y++ {
				for x := 0; x < tc.w; x++ {
					sx, sy := tc.from(x, y)
					if g, want := px(got, x, y), px(src, sx, sy); g != want {
						t.Fatalf("pixel (%d,%d) = %v, want source pixel (%d,%d) = %v", x, y, g, sx, sy, want)
					}
				}
			}
		})
	}
}

// TestColor checks the transforms that change values, pixel by pixel,
// against what each should do to a channel value.
func TestColor(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	colors := []color.NRGBA{
		{0, 0, 0, 255}, {255, 255, 255, 255}, {10, 100, 200, 255}, {128, 64, 32, 128},
		{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {90, 160, 220, 0},
	}
	for i, c := range colors {
		src.SetNRGBA(i%4, i/4, c)
	}
	in := encodePNG(t, src)
	ms := Methods()
	luma := func(c color.NRGBA) uint8 {
		return uint8(0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B) + 0.5)
	}
	for _, tc := range []struct {
		method, params string
		want           func(c color.NRGBA) color.NRGBA
	}{
		{"invert", `{}`, func(c color.NRGBA) color.NRGBA { return color.NRGBA{255 - c.R, 255 - c.G, 255 - c.B, c.A} }},
		{"grayscale", `{}`, func(c color.NRGBA) color.NRGBA { l := luma(c); return color.NRGBA{l, l, l, c.A} }},
		// 20% of 255 is 51.
		{"brighten", `{"percent":20}`, func(c color.NRGBA) color.NRGBA {
			return color.NRGBA{sat(int(c.R) + 51), sat(int(c.G) + 51), sat(int(c.B) + 51), c.A}
		}},
		{"brighten", `{"percent":-20}`, func(c color.NRGBA) color.NRGBA {
			return color.NRGBA{sat(int(c.R) - 51), sat(int(c.G) - 51), sat(int(c.B) - 51), c.A}
		}},
		{"brighten", `{"percent":0}`, func(c color.NRGBA) color.NRGBA { return c }},
		{"contrast", `{"percent":-100}`, func(c color.NRGBA) color.NRGBA { return color.NRGBA{128, 128, 128, c.A} }},
	} {
		t.Run(tc.method+tc.params, func(t *testing.T) {
			got := decodeAs(t, mustOK(t, ms, tc.method, tc.params, in), formatPNG)
			for i, c := range colors {
				want := tc.want(c)
				if want.A == 0 {
					continue // a transparent pixel's color is not kept by PNG round trips
				}
				if g := px(got, i%4, i/4); g != want {
					t.Errorf("%v → %v, want %v", c, g, want)
				}
			}
		})
	}
}

func sat(v int) uint8 { return uint8(max(0, min(255, v))) }

// TestContrastDirection: more contrast moves values away from the middle,
// less toward it.
func TestContrastDirection(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	src.SetNRGBA(0, 0, color.NRGBA{60, 60, 60, 255})
	src.SetNRGBA(1, 0, color.NRGBA{200, 200, 200, 255})
	in := encodePNG(t, src)
	ms := Methods()
	more := decodeAs(t, mustOK(t, ms, "contrast", `{"percent":50}`, in), formatPNG)
	less := decodeAs(t, mustOK(t, ms, "contrast", `{"percent":-50}`, in), formatPNG)
	if d, b := px(more, 0, 0).R, px(more, 1, 0).R; d >= 60 || b <= 200 {
		t.Errorf("contrast +50: 60 → %d, 200 → %d; want darker and brighter", d, b)
	}
	if d, b := px(less, 0, 0).R, px(less, 1, 0).R; d <= 60 || d >= 128 || b >= 200 || b <= 128 {
		t.Errorf("contrast −50: 60 → %d, 200 → %d; want both nearer 128", d, b)
	}
}

func TestBlurSmoothsAnEdge(t *testing.T) {
	const w, h = 20, 3
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := uint8(0)
			if x >= w/2 {
				v = 255
			}
			src.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	got := decodeAs(t, mustOK(t, Methods(), "blur", `{"sigma":1.5}`, encodePNG(t, src)), formatPNG)
	row := make([]uint8, w)
	for x := range row {
		row[x] = px(got, x, 1).R
	}
	if row[0] != 0 || row[w-1] != 255 {
		t.Errorf("far from the edge the blur changed the image: %v", row)
	}
	if row[w/2-1] == 0 || row[w/2] == 255 {
		t.Errorf("next to the edge the blur left it hard: %v", row)
	}
	for x := 1; x < w; x++ {
		if row[x] < row[x-1] {
			t.Fatalf("the blurred edge is not monotonic: %v", row)
		}
	}
}

func TestResize(t *testing.T) {
	src := gridImage(16, 8)
	in := encodePNG(t, src)
	ms := Methods()
	for _, tc := range []struct {
		params string
		w, h   int
	}{
		{`{"width":8,"height":4}`, 8, 4},
		{`{"width":8,"height":4,"filter":"lanczos3"}`, 8, 4},
		{`{"width":5,"height":3,"filter":"catmullrom"}`, 5, 3},
		{`{"width":30,"height":9,"filter":"gaussian"}`, 30, 9},
		{`{"width":3,"height":20,"filter":"triangle"}`, 3, 20},
		{`{"width":4,"height":4,"filter":"nearest"}`, 4, 4},
		// One side 0: the other keeps the aspect ratio (16:8).
		{`{"width":6}`, 6, 3},
		{`{"height":2}`, 4, 2},
		{`{"width":1}`, 1, 1},
		// preserve_aspect fits inside the box, one side met.
		{`{"width":10,"height":10,"preserve_aspect":true}`, 10, 5},
		{`{"width":32,"height":4,"preserve_aspect":true}`, 8, 4},
		{`{"width":64,"height":64,"preserve_aspect":true}`, 64, 32},
		// if_larger_than: only shrink.
		{`{"width":10,"height":10,"if_larger_than":true}`, 10, 10},
		{`{"width":20,"height":10,"if_larger_than":true}`, 16, 8},
		{`{"width":16,"if_larger_than":true}`, 16, 8},
		{`{"width":8,"if_larger_than":true}`, 8, 4},
		{`{"width":100,"height":100,"preserve_aspect":true,"if_larger_than":true}`, 16, 8},
		{`{"width":8,"height":8,"preserve_aspect":true,"if_larger_than":true}`, 8, 4},
	} {
		t.Run(tc.params, func(t *testing.T) {
			got := decodeAs(t, mustOK(t, ms, "resize", tc.params, in), formatPNG)
			if got.Rect.Dx() != tc.w || got.Rect.Dy() != tc.h {
				t.Fatalf("result is %v, want %d×%d", got.Rect.Size(), tc.w, tc.h)
			}
		})
	}
	// An image passed through by if_larger_than is the same pixels.
	got := decodeAs(t, mustOK(t, ms, "resize", `{"width":100,"height":100,"if_larger_than":true}`, in), formatPNG)
	if d := diff(got, src, 0); d != "" {
		t.Errorf("passed-through image: %s", d)
	}
}

// TestBatchEqualsOneByOne: a batch gives the image the same operations one
// method call at a time (with lossless PNG between them) give.
func TestBatchEqualsOneByOne(t *testing.T) {
	ms := Methods()
	in := encodePNG(t, gridImage(12, 9))
	ops := []struct{ method, params string }{
		{"crop", `"x":1,"y":2,"width":10,"height":6`},
		{"rotate90", ``},
		{"invert", ``},
		{"resize", `"width":12,"filter":"nearest"`},
		{"fliph", ``},
		{"brighten", `"percent":10`},
		{"grayscale", ``},
		{"flipv", ``},
		{"rotate270", ``},
		{"contrast", `"percent":30`},
		{"rotate180", ``},
		{"blur", `"sigma":0.8`},
	}
	step := in
	var list bytes.Buffer
	for i, op := range ops {
		step = mustOK(t, ms, op.method, "{"+op.params+"}", step)
		if i > 0 {
			list.WriteString(",")
		}
		if op.params == "" {
			fmt.Fprintf(&list, `{"op":%q}`, op.method)
		} else {
			fmt.Fprintf(&list, `{"op":%q,%s}`, op.method, op.params)
		}
	}
	batch := mustOK(t, ms, "batch", `{"format":"png","operations":[`+list.String()+`]}`, in)
	if d := diff(decodeAs(t, batch, formatPNG), decodeAs(t, step, formatPNG), 0); d != "" {
		t.Errorf("batch differs from the operations one by one: %s", d)
	}
}

func TestBatchEncodesOnceInItsFormat(t *testing.T) {
	in := encodePNG(t, gridImage(8, 8))
	out := mustOK(t, Methods(), "batch", `{"format":"jpeg","quality":90,"operations":[{"op":"fliph"},{"op":"resize","width":4}]}`, in)
	if got := decodeAs(t, out, formatJPEG); got.Rect.Dx() != 4 || got.Rect.Dy() != 4 {
		t.Errorf("batch result is %v, want 4×4", got.Rect.Size())
	}
}

func TestInfo(t *testing.T) {
	ms := Methods()
	for _, f := range formats() {
		in := encodeAs(t, gridImage(13, 5), f)
		out := mustOK(t, ms, "info", ``, in)
		if want := fmt.Sprintf(`{"format":%q,"width":13,"height":5}`, f); string(out) != want {
			t.Errorf("info of a %s: %s, want %s", f, out, want)
		}
	}
}

// TestOutputTooSmall: the status says how many bytes the output needs, and
// a retry with that many succeeds with the same bytes.
func TestOutputTooSmall(t *testing.T) {
	ms := Methods()
	in := encodePNG(t, gridImage(16, 16))
	for _, tc := range []struct{ method, params string }{
		{"resize", `{"width":10,"height":10,"format":"jpeg"}`},
		{"invert", `{"format":"png"}`},
		{"info", ``},
	} {
		small := dispatch(ms, tc.method, tc.params, in, 10)
		if small.status != abi.StatusOutputTooSmall || small.n <= 10 {
			t.Fatalf("%s with 10 bytes: status %d, needed %d (%s); want %d and the size needed", tc.method, small.status, small.n, small.msg, abi.StatusOutputTooSmall)
		}
		exact := dispatch(ms, tc.method, tc.params, in, small.n)
		if exact.status != abi.StatusOK || exact.n != small.n {
			t.Fatalf("%s with the %d bytes asked for: status %d, length %d (%s)", tc.method, small.n, exact.status, exact.n, exact.msg)
		}
		roomy := dispatch(ms, tc.method, tc.params, in, 0)
		if !bytes.Equal(roomy.out, exact.out) {
			t.Errorf("%s: the output written with exactly the size needed differs from the one with room to spare", tc.method)
		}
	}
}

func TestMethodNames(t *testing.T) {
	want := "batch blur brighten contrast crop fliph flipv grayscale info invert resize rotate180 rotate270 rotate90"
	if got := fmt.Sprint(Methods().Names()); got != "["+want+"]" {
		t.Errorf("methods %s, want [%s]", got, want)
	}
}
