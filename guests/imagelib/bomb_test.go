package imagelib

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/image/tiff"

	"github.com/inos-node/node/guests/abi"
)

// Hand-made headers: a few bytes that claim a huge image, the shape of a
// decompression bomb (whose pixels, compressed, would be tiny too).

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// pngHeader is a PNG of IHDR and IEND only, with valid CRCs.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, depth, colorType, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr)...)
	return append(out, pngChunk("IEND", nil)...)
}

// jpegHeader is SOI, a JFIF APP0, a start of frame (sof: 0xc0 baseline,
// 0xc2 progressive) of three components with luma sampling hv (0x11 4:4:4,
// 0x22 4:2:0), and EOI: no tables, no scan.
func jpegHeader(sof byte, w, h uint16, hv byte) []byte {
	b := []byte{0xff, 0xd8}
	b = append(b, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0)
	b = append(b, 0xff, sof, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, hv, 0, 2, 0x11, 1, 3, 0x11, 1)
	return append(b, 0xff, 0xd9)
}

func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, ';')
}

func bmpHeader(w, h int32) []byte {
	b := []byte("BM")
	b = binary.LittleEndian.AppendUint32(b, 54)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 54) // pixels' offset
	b = binary.LittleEndian.AppendUint32(b, 40) // BITMAPINFOHEADER
	b = binary.LittleEndian.AppendUint32(b, uint32(w))
	b = binary.LittleEndian.AppendUint32(b, uint32(h))
	b = binary.LittleEndian.AppendUint16(b, 1)  // planes
	b = binary.LittleEndian.AppendUint16(b, 24) // bits a pixel
	return append(b, make([]byte, 24)...)       // no compression, sizes 0
}

// webpHeader is a RIFF WEBP with a VP8X chunk (the extended format's
// canvas size) and nothing else.
func webpHeader(w, h uint32) []byte {
	chunk := []byte("VP8X")
	chunk = binary.LittleEndian.AppendUint32(chunk, 10)
	chunk = append(chunk, 0, 0, 0, 0)
	chunk = append(chunk, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+len(chunk)))
	b = append(b, "WEBP"...)
	return append(b, chunk...)
}

// tiffHeader is a real 1×1 TIFF whose directory is patched to claim w×h.
func tiffHeader(t *testing.T, w, h uint32) []byte {
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)), nil); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	le := binary.LittleEndian
	if string(b[:4]) != "II*\x00" {
		t.Fatalf("tiff header %q", b[:4])
	}
	ifd := le.Uint32(b[4:])
	n := int(le.Uint16(b[ifd:]))
	for i := 0; i < n; i++ {
		e := b[int(ifd)+2+12*i:]
		switch le.Uint16(e) {
		case 256, 257: // ImageWidth, ImageLength
			v := w
			if le.Uint16(e) == 257 {
				v = h
			}
			le.PutUint16(e[2:], 4) // LONG
			le.PutUint32(e[4:], 1)
			le.PutUint32(e[8:], v)
		}
	}
	return b
}

// TestDecompressionBombs: a header claiming more pixels than the limit is
// StatusBadInput at once, naming the size and the limit, without the
// pixels being allocated; info still describes it.
func TestDecompressionBombs(t *testing.T) {
	ms := Methods()
	for _, tc := range []struct {
		name  string
		in    []byte
		size  string
		infoJ string
	}{
		{"png", pngHeader(100000, 100000, 8, 6), "100000×100000", `{"format":"png","width":100000,"height":100000}`},
		{"jpeg", jpegHeader(0xc0, 65000, 65000, 0x22), "65000×65000", `{"format":"jpeg","width":65000,"height":65000}`},
		{"jpeg progressive", jpegHeader(0xc2, 65000, 65000, 0x11), "65000×65000", `{"format":"jpeg","width":65000,"height":65000}`},
		{"gif", gifHeader(65535, 65535), "65535×65535", `{"format":"gif","width":65535,"height":65535}`},
		{"bmp", bmpHeader(100000, 100000), "100000×100000", `{"format":"bmp","width":100000,"height":100000}`},
		{"bmp top-down", bmpHeader(100000, -100000), "100000×100000", `{"format":"bmp","width":100000,"height":100000}`},
		{"tiff", tiffHeader(t, 100000, 100000), "100000×100000", `{"format":"tiff","width":100000,"height":100000}`},
		{"webp", webpHeader(16384, 16384), "16384×16384", `{"format":"webp","width":16384,"height":16384}`},
		{"just over", pngHeader(5000, 4001, 8, 2), "5000×4001", `{"format":"png","width":5000,"height":4001}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, call := range []struct{ method, params string }{{"invert", `{}`}, {"resize", `{"width":10}`}} {
				method := call.method
				var r result
				start := time.Now()
				alloc := allocated(func() { r = dispatch(ms, method, call.params, tc.in, 1024) })
				took := time.Since(start)
				if r.status != abi.StatusBadInput {
					t.Fatalf("%s: status %d (%s), want %d", method, r.status, r.msg, abi.StatusBadInput)
				}
				if !strings.Contains(r.msg, tc.size) || !strings.Contains(r.msg, "over the limit of 20000000 pixels") {
					t.Errorf("%s: message %q, want the size %s and the limit", method, r.msg, tc.size)
				}
				if alloc > 1<<20 || took > time.Second {
					t.Errorf("%s: refusing took %v and allocated %d bytes", method, took, alloc)
				}
			}
			if r := dispatch(ms, "info", ``, tc.in, 1024); r.status != abi.StatusOK || string(r.out) != tc.infoJ {
				t.Errorf("info: status %d (%s), %s; want %s", r.status, r.msg, r.out, tc.infoJ)
			}
		})
	}
}

// allocated returns the bytes f allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestZeroSize(t *testing.T) {
	ms := Methods()
	for name, in := range map[string][]byte{
		"gif": gifHeader(0, 10), "bmp": bmpHeader(0, 10), "jpeg": jpegHeader(0xc0, 10, 0, 0x11),
	} {
		r := dispatch(ms, "info", ``, in, 1024)
		if r.status != abi.StatusBadInput {
			t.Errorf("%s of zero size: status %d (%s), want %d", name, r.status, r.msg, abi.StatusBadInput)
		}
	}
}

// TestMemoryBudget: within the pixel limit, an image whose decoder holds
// more than 4 bytes a pixel is refused when decoding it and writing a
// result would not fit 8 bytes a pixel at the limit.
func TestMemoryBudget(t *testing.T) {
	ms := MethodsWith(Options{MaxPixels: 1_000_000})
	for _, tc := range []struct {
		name   string
		in     []byte
		refuse bool
	}{
		// Coefficients 3×4 bytes a pixel and the 3-byte image: 15.
		{"progressive 4:4:4 jpeg", jpegHeader(0xc2, 1000, 1000, 0x11), true},
		// Coefficients (4+1+1) and the 1.5-byte image: 7.5.
		{"progressive 4:2:0 jpeg", jpegHeader(0xc2, 1000, 1000, 0x22), false},
		{"baseline 4:4:4 jpeg", jpegHeader(0xc0, 1000, 1000, 0x11), false},
		// 8 bytes a pixel kept, and the 4-byte result.
		{"16-bit png", pngHeader(1000, 1000, 16, 6), true},
		{"16-bit png, two thirds the limit", pngHeader(1000, 666, 16, 6), false},
		{"8-bit png", pngHeader(1000, 1000, 8, 6), false},
	} {
		r := dispatch(ms, "invert", `{}`, tc.in, 1024)
		// The headers have no pixels: those not refused fail decoding.
		if r.status != abi.StatusBadInput {
			t.Fatalf("%s: status %d (%s), want %d", tc.name, r.status, r.msg, abi.StatusBadInput)
		}
		if refused := strings.Contains(r.msg, "over the budget of 8 MB"); refused != tc.refuse {
			t.Errorf("%s: refused for memory %v, want %v (%s)", tc.name, refused, tc.refuse, r.msg)
		}
	}
}

// TestHeaderCheckedIsHeaderDecoded: the pixels are decoded from the copy of
// the bytes the checked header was read from, so an input whose header
// changes after the check (the producer's pages can) cannot make the
// decoder allocate a larger image.
func TestHeaderCheckedIsHeaderDecoded(t *testing.T) {
	in := encodePNG(t, gridImage(2, 2))
	h, err := readHeader(in)
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Clone(in)
	// The IHDR's width and height, and its CRC, now say 30000×30000.
	copy(changed[8:], pngChunk("IHDR", append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 30000), 30000), in[24:29]...)))
	if h2, _ := readHeader(changed); h2.width != 30000 {
		t.Fatalf("the changed header reads as %d×%d", h2.width, h2.height)
	}
	img, err := decodePixels(h, changed)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 2 || b.Dy() != 2 {
		t.Errorf("decoded %v", b)
	}
}

// TestResizePastTheLimit: a resize whose result is over the pixel limit is
// refused as params before any pixel is made.
func TestResizePastTheLimit(t *testing.T) {
	ms := MethodsWith(Options{MaxPixels: 10_000})
	in := encodePNG(t, gridImage(10, 10))
	for _, params := range []string{`{"width":101,"height":100}`, `{"width":1000}`, `{"height":10001}`} {
		r := dispatch(ms, "resize", params, in, 1024)
		if r.status != abi.StatusBadParams || !strings.Contains(r.msg, "10000") {
			t.Errorf("%s: status %d (%s)", params, r.status, r.msg)
		}
	}
	if r := dispatch(ms, "resize", `{"width":100,"height":100}`, in, 1<<20); r.status != abi.StatusOK {
		t.Errorf("a result of exactly the limit: status %d (%s)", r.status, r.msg)
	}
}

// TestResizeIntermediate: a resize to a wider and shorter shape does not go
// through an intermediate larger than its source and result.
func TestResizeIntermediate(t *testing.T) {
	ms := Methods()
	in := encodePNG(t, image.NewGray(image.Rect(0, 0, 10, 3000)))
	var r result
	alloc := allocated(func() { r = dispatch(ms, "resize", `{"width":3000,"height":10,"format":"png"}`, in, 1<<20) })
	if r.status != abi.StatusOK {
		t.Fatalf("status %d (%s)", r.status, r.msg)
	}
	// Width first would make a 3000×3000 NRGBA: 36 MB.
	if alloc > 8<<20 {
		t.Errorf("the resize allocated %d bytes", alloc)
	}
	if got := decodeAs(t, r.out, formatPNG); got.Rect.Dx() != 3000 || got.Rect.Dy() != 10 {
		t.Errorf("result %v", got.Rect.Size())
	}
}
