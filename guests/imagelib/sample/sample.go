// Package sample makes deterministic photo-like test images for the image
// library's tests, demo and benchmarks, so that none of them ships a large
// binary photo. A sample has what makes a real photo cost what it costs to
// decode, filter and encode: smooth gradients (sky, ground), shapes with hard
// edges, mid-frequency texture and fine sensor-like noise. At JPEG quality 85
// it takes about 0.3 bytes a pixel (a 4000×3000 sample is 4 MB), as a
// camera photo does.
//
// The same seed and size always give the same pixels (and so, with the same
// Go version's encoder, the same JPEG bytes).
package sample

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
)

// rng is xorshift64*: tiny, fast and the same on every platform.
type rng uint64

func newRNG(seed uint64) *rng {
	r := rng(seed*0x9e3779b97f4a7c15 + 0x2545f4914f6cdd1d)
	if r == 0 {
		r = 1
	}
	return &r
}

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 0x2545f4914f6cdd1d
}

// intn returns a value in [0, n).
func (r *rng) intn(n int) int { return int(r.next()>>33) % n }

// valueNoise is a grid of random values, one per cell corner, read back
// bilinearly interpolated: smooth variation at the scale of its cell.
type valueNoise struct {
	cell, cols int
	amp        int32
	grid       []int32 // (rows+2)×cols values in [-amp, amp]
}

func newValueNoise(r *rng, w, h, cell int, amp int32) *valueNoise {
	cols := w/cell + 2
	rows := h/cell + 2
	g := make([]int32, cols*rows)
	for i := range g {
		g[i] = int32(r.intn(int(2*amp+1))) - amp
	}
	return &valueNoise{cell: cell, cols: cols, amp: amp, grid: g}
}

// addRow adds row y of the noise to dst (one value a pixel), interpolating
// in 8-bit fixed point: two multiplies a pixel.
func (n *valueNoise) addRow(dst []int32, y int) {
	c := int32(n.cell)
	gy := y / n.cell
	fy := int32(y%n.cell) * 256 / c
	r0 := n.grid[gy*n.cols : (gy+1)*n.cols]
	r1 := n.grid[(gy+1)*n.cols : (gy+2)*n.cols]
	for x0 := 0; x0 < len(dst); x0 += n.cell {
		i := x0 / n.cell
		a := r0[i]*(256-fy) + r1[i]*fy // ×256
		b := r0[i+1]*(256-fy) + r1[i+1]*fy
		end := min(x0+n.cell, len(dst))
		for x := x0; x < end; x++ {
			fx := int32(x-x0) * 256 / c
			dst[x] += (a*(256-fx) + b*fx) >> 16
		}
	}
}

type shape struct {
	circle         bool
	cx, cy, rx, ry int // centre and radii (half sizes for a rectangle)
	col            [3]int32
	slope          int32 // brightness change across the shape, per 256 px
}

// span returns the columns [x0, x1) the shape covers on row y.
func (s *shape) span(y int) (int, int, bool) {
	dy := y - s.cy
	if dy < -s.ry || dy >= s.ry {
		return 0, 0, false
	}
	if !s.circle {
		return s.cx - s.rx, s.cx + s.rx, true
	}
	t := float64(dy) / float64(s.ry)
	hw := int(float64(s.rx) * math.Sqrt(1-t*t))
	return s.cx - hw, s.cx + hw, true
}

// Photo returns a w×h opaque image, the same for the same (w, h, seed).
// It runs in one goroutine at about 15 ns a pixel natively (0.15 s for
// 4000×3000).
func Photo(w, h int, seed uint64) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w <= 0 || h <= 0 {
		return img
	}
	r := newRNG(seed)
	horizon := h/2 + r.intn(h/5+1) - h/10
	pick := func() [3]int32 {
		return [3]int32{int32(r.intn(200) + 30), int32(r.intn(200) + 30), int32(r.intn(200) + 30)}
	}
	skyTop, skyLow := [3]int32{40, 90, 190}, [3]int32{190, 210, 235}
	groundNear, groundFar := pick(), pick()

	unit := max(1, min(w, h))
	// A few large objects, then many small ones (details with edges).
	large := 4 + r.intn(5)
	shapes := make([]shape, large+40+r.intn(40))
	for i := range shapes {
		s := &shapes[i]
		s.circle = r.intn(2) == 0
		s.cx, s.cy = r.intn(w), horizon/2+r.intn(h-horizon/2)
		if i < large {
			s.rx, s.ry = unit/20+r.intn(unit/6+1), unit/20+r.intn(unit/6+1)
		} else {
			s.rx, s.ry = unit/100+r.intn(unit/30+1), unit/100+r.intn(unit/30+1)
		}
		s.col = pick()
		s.slope = int32(r.intn(61) - 30)
	}
	// Coarse light falloff everywhere, texture (foliage, fabric) that is
	// strong on the ground and faint in the sky, and a finer grain.
	light := newValueNoise(r, w, h, max(8, unit/6), 28)
	texture := newValueNoise(r, w, h, 3, 36)
	grain := newValueNoise(r, w, h, 2, 24)

	base := make([][3]int32, w)
	lum := make([]int32, w)
	tex := make([]int32, w)
	for y := 0; y < h; y++ {
		// The background: a sky gradient above the horizon, the ground's
		// below, with a hard edge between them.
		var top, bot [3]int32
		var t, span int32
		if y < horizon {
			top, bot, t, span = skyTop, skyLow, int32(y), int32(max(1, horizon))
		} else {
			top, bot, t, span = groundFar, groundNear, int32(y-horizon), int32(max(1, h-horizon))
		}
		var row [3]int32
		for c := range row {
			row[c] = top[c] + (bot[c]-top[c])*t/span
		}
		for x := range base {
			base[x] = row
		}
		for i := range shapes {
			s := &shapes[i]
			x0, x1, ok := s.span(y)
			if !ok {
				continue
			}
			x0, x1 = max(x0, 0), min(x1, w)
			for x := x0; x < x1; x++ {
				d := int32(x-s.cx) * s.slope / 256
				base[x] = [3]int32{s.col[0] + d, s.col[1] + d, s.col[2] + d}
			}
		}

		clear(lum)
		light.addRow(lum, y)
		clear(tex)
		texture.addRow(tex, y)
		grain.addRow(tex, y)
		texScale := int32(256)
		if y < horizon {
			texScale = 110
		}
		pix := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			noise := int32(r.next()>>59) - 16 // −16..15: sensor noise
			d := lum[x] + tex[x]*texScale/256 + noise
			p := pix[4*x : 4*x+4 : 4*x+4]
			p[0] = clamp(base[x][0] + d)
			p[1] = clamp(base[x][1] + d)
			p[2] = clamp(base[x][2] + d)
			p[3] = 255
		}
	}
	return img
}

func clamp(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// JPEG returns Photo(w, h, seed) encoded as a baseline JPEG at quality.
func JPEG(w, h int, seed uint64, quality int) ([]byte, error) {
	img := Photo(w, h, seed)
	// An opaque NRGBA has the same bytes as an RGBA, which the encoder
	// reads directly instead of through At per pixel.
	rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, rgba, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
