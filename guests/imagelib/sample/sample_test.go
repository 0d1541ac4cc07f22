package sample

import (
	"bytes"
	"image/jpeg"
	"testing"
)

func TestJPEGIsDeterministic(t *testing.T) {
	a, err := JPEG(320, 240, 7, 85)
	if err != nil {
		t.Fatal(err)
	}
	b, err := JPEG(320, 240, 7, 85)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two JPEGs of the same seed differ")
	}
	c, err := JPEG(320, 240, 8, 85)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, c) {
		t.Fatal("seeds 7 and 8 give the same JPEG")
	}
}

// TestJPEGSize pins the property the benchmarks rely on: a sample costs
// about what a camera photo does, not what a flat test card does (which
// would make decode and encode look several times cheaper).
func TestJPEGSize(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		const w, h = 640, 480
		b, err := JPEG(w, h, seed, 85)
		if err != nil {
			t.Fatal(err)
		}
		perPixel := float64(len(b)) / (w * h)
		if perPixel < 0.2 || perPixel > 1.5 {
			t.Errorf("seed %d: %.2f bytes a pixel at q85, want 0.2..1.5", seed, perPixel)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != w || cfg.Height != h {
			t.Errorf("seed %d: DecodeConfig = %+v, %v; want %d×%d", seed, cfg, err, w, h)
		}
	}
}

func TestPhotoOddSizes(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 7}, {17, 2}, {0, 5}} {
		img := Photo(sz[0], sz[1], 1)
		if b := img.Bounds(); b.Dx() != sz[0] || b.Dy() != sz[1] {
			t.Errorf("Photo(%d, %d) is %v", sz[0], sz[1], b)
		}
	}
}
