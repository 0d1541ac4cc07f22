package imagelib

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"strings"
	"testing"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/guests/imagelib/sample"
)

// TestBadParams: every refused param is StatusBadParams with a message
// that starts with the field's path (after the SDK's "params: ").
func TestBadParams(t *testing.T) {
	ms := Methods()
	in := encodePNG(t, gridImage(8, 8))
	ops33 := "[" + strings.Repeat(`{"op":"fliph"},`, 32) + `{"op":"fliph"}]`
	for _, tc := range []struct {
		method, params, want string
	}{
		{"resize", `{"width":"10"}`, `width: got "10", want an integer`},
		{"resize", `{"width":10.5}`, `width: got 10.5, want an integer`},
		{"resize", `{"width":null}`, `width: got null`},
		{"resize", `{"width":10,"bogus":1}`, `bogus: unknown field (fields: format, quality, raw, width, height, filter, preserve_aspect, if_larger_than)`},
		{"resize", `{"width":-1}`, `width: must be ≥ 0`},
		{"resize", `{"height":-5,"width":3}`, `height: must be ≥ 0`},
		{"resize", `{}`, `width: width and height are both 0`},
		{"resize", `{"width":0,"height":0}`, `width: width and height are both 0`},
		{"resize", `{"width":10,"filter":"bicubic"}`, `filter: unknown filter "bicubic" (filters: lanczos3,`},
		{"resize", `{"width":10,"preserve_aspect":"yes"}`, `preserve_aspect: got "yes", want true or false`},
		{"resize", `{"width":30000000}`, `width: 30000000 is over the limit of 20000000 pixels`},
		{"resize", `{"width":6000,"height":6000}`, `width: the result would be 6000×6000 = 36000000 pixels, over the limit of 20000000`},
		{"resize", `{"width":5001}`, `width: the result would be 5001×5001`},
		{"resize", `{"width":70000,"height":1,"format":"jpeg"}`, `format: jpeg holds at most 65535 pixels a side`},
		{"resize", `{"width":10,"format":"heic"}`, `format: unknown format "heic" (formats: jpeg, png, webp, gif, bmp, tiff, rgba)`},
		{"resize", `{"width":10,"format":"JPEG"}`, `format: unknown format "JPEG"`},
		{"resize", `{"width":10,"quality":0}`, `quality: must be 1..100, got 0`},
		{"resize", `{"width":10,"quality":101}`, `quality: must be 1..100, got 101`},
		{"resize", `{"width":10,"quality":85.5}`, `quality: got 85.5, want an integer`},
		{"resize", `[1]`, `must be a JSON object`},
		{"crop", `{"x":10,"width":1,"height":1}`, `x: 10 is outside the 8×8 image`},
		{"crop", `{"y":8,"width":1,"height":1}`, `y: 8 is outside the 8×8 image`},
		{"crop", `{"x":4,"width":5,"height":1}`, `width: x+width = 9 is past the right edge of the 8×8 image`},
		{"crop", `{"y":7,"width":1,"height":2}`, `height: y+height = 9 is past the bottom edge of the 8×8 image`},
		{"crop", `{"x":1,"width":9223372036854775807,"height":1}`, `width: x+width = `},
		{"crop", `{"height":1}`, `width: must be ≥ 1, got 0`},
		{"crop", `{"width":1}`, `height: must be ≥ 1, got 0`},
		{"crop", `{"x":-1,"width":1,"height":1}`, `x: must be ≥ 0, got -1`},
		{"crop", `{"y":-2,"width":1,"height":1}`, `y: must be ≥ 0, got -2`},
		{"blur", `{}`, `sigma: required`},
		{"blur", `{"sigma":0}`, `sigma: must be > 0 and ≤ 100, got 0`},
		{"blur", `{"sigma":-1}`, `sigma: must be > 0 and ≤ 100, got -1`},
		{"blur", `{"sigma":100.5}`, `sigma: must be > 0 and ≤ 100, got 100.5`},
		{"blur", `{"sigma":"1"}`, `sigma: got "1", want a number`},
		{"brighten", `{}`, `percent: required`},
		{"brighten", `{"percent":101}`, `percent: must be −100..100, got 101`},
		{"contrast", `{"percent":-100.5}`, `percent: must be −100..100, got -100.5`},
		{"contrast", `{"percent":true}`, `percent: got true, want a number`},
		{"grayscale", `{"x":1}`, `x: unknown field (fields: format, quality, raw)`},
		{"invert", `{"format":7}`, `format: got 7, want a string`},
		{"info", `{"format":"png"}`, `format: unknown field (fields: raw)`},
		{"batch", `{}`, `operations: want a list of 1..32 operations, got 0`},
		{"batch", `{"operations":[]}`, `operations: want a list of 1..32 operations, got 0`},
		{"batch", `{"operations":` + ops33 + `}`, `operations: want a list of 1..32 operations, got 33`},
		{"batch", `{"operations":{}}`, `operations: got {}, want a list`},
		{"batch", `{"operations":[1]}`, `operations[0]: must be a JSON object`},
		{"batch", `{"operations":[{}]}`, `operations[0].op: required (ops: blur, brighten,`},
		{"batch", `{"operations":[{"op":3}]}`, `operations[0].op: got 3, want a string`},
		{"batch", `{"operations":[{"op":"fliph"},{"op":"nope"}]}`, `operations[1].op: unknown op "nope" (ops: blur,`},
		{"batch", `{"operations":[{"op":"batch"}]}`, `operations[0].op: unknown op "batch"`},
		{"batch", `{"operations":[{"op":"info"}]}`, `operations[0].op: unknown op "info"`},
		{"batch", `{"operations":[{"op":"fliph"},{"op":"blur"}]}`, `operations[1].sigma: required`},
		{"batch", `{"operations":[{"op":"fliph"},{"op":"fliph"},{"op":"blur","sigma":-1}]}`, `operations[2].sigma: must be > 0 and ≤ 100, got -1`},
		{"batch", `{"operations":[{"op":"fliph","format":"png"}]}`, `operations[0].format: unknown field (fields: op)`},
		{"batch", `{"operations":[{"op":"resize","width":10,"widht":5}]}`, `operations[0].widht: unknown field (fields: op, width, height,`},
		{"batch", `{"operations":[{"op":"resize","width":"a"}]}`, `operations[0].width: got "a", want an integer`},
		{"batch", `{"operations":[{"op":"fliph"},{"op":"crop","x":100,"width":1,"height":1}]}`, `operations[1].x: 100 is outside the 8×8 image`},
		{"batch", `{"operations":[{"op":"resize","width":4},{"op":"crop","width":5,"height":1}]}`, `operations[1].width: x+width = 5 is past the right edge of the 4×4 image`},
		{"batch", `{"format":"xx","operations":[{"op":"fliph"}]}`, `format: unknown format "xx"`},
		{"batch", `{"operations":[{"op":"fliph"}],"quality":-3}`, `quality: must be 1..100, got -3`},
	} {
		t.Run(tc.method+tc.params, func(t *testing.T) {
			r := dispatch(ms, tc.method, tc.params, in, 1024)
			if r.status != abi.StatusBadParams {
				t.Fatalf("status %d (%s), want %d", r.status, r.msg, abi.StatusBadParams)
			}
			if !strings.HasPrefix(r.msg, "params: "+tc.want) {
				t.Errorf("message %q, want it to start with %q", r.msg, "params: "+tc.want)
			}
		})
	}
}

// TestParamsBeforeInput: params are refused before the input is looked at.
func TestParamsBeforeInput(t *testing.T) {
	r := dispatch(Methods(), "blur", `{"sigma":0}`, []byte("not an image"), 1024)
	if r.status != abi.StatusBadParams {
		t.Errorf("status %d (%s), want %d", r.status, r.msg, abi.StatusBadParams)
	}
}

// validInputs returns a small photo in every format.
func validInputs(t *testing.T) map[format][]byte {
	photo := sample.Photo(48, 32, 5)
	in := map[format][]byte{}
	for _, f := range formats() {
		if f == formatGIF {
			var b bytes.Buffer
			if err := gif.Encode(&b, photo, nil); err != nil {
				t.Fatal(err)
			}
			in[f] = b.Bytes()
			continue
		}
		in[f] = encodeAs(t, photo, f)
	}
	return in
}

// TestTruncated: an input cut short is StatusBadInput, never a failure of
// the library. Only a cut in what the decoder does not read may still
// decode: GIF's trailer (the first frame is complete before it), the end of
// a TIFF's last directory (the offset of a next one); and info, which reads
// the header only, succeeds once the header is complete.
func TestTruncated(t *testing.T) {
	ms := Methods()
	unread := map[format]int{formatGIF: 1, formatTIFF: 16}
	for f, full := range validInputs(t) {
		n := len(full)
		for _, cut := range []int{0, 1, 2, 3, 5, 8, 11, 12, 16, 20, 26, 30, 33, 40, 54, 64, 100, n / 4, n / 2, 3 * n / 4, n - 16, n - 2, n - 1} {
			if cut < 0 || cut >= n {
				continue
			}
			r := dispatch(ms, "invert", `{}`, full[:cut], 1<<20)
			if r.status != abi.StatusBadInput && !(r.status == abi.StatusOK && cut >= n-unread[f]) {
				t.Errorf("%s cut to %d of %d bytes: status %d (%s), want %d", f, cut, n, r.status, r.msg, abi.StatusBadInput)
			}
			r = dispatch(ms, "info", ``, full[:cut], 1024)
			if r.status != abi.StatusBadInput && !(r.status == abi.StatusOK && cut >= 26) {
				t.Errorf("info of a %s cut to %d of %d bytes: status %d (%s), want %d", f, cut, n, r.status, r.msg, abi.StatusBadInput)
			}
		}
	}
}

// TestCorrupt flips bytes all over valid inputs: the result is decoded
// garbage or StatusBadInput, never a failure (a decoder's panic included).
func TestCorrupt(t *testing.T) {
	ms := Methods()
	seed := uint64(1)
	rnd := func(n int) int {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int(seed>>33) % n
	}
	counts := map[int32]int{}
	for f, full := range validInputs(t) {
		for i := 0; i < 150; i++ {
			b := bytes.Clone(full)
			for k := 0; k <= rnd(4); k++ {
				// Mostly the first bytes, where the headers and tables are.
				pos := rnd(len(b))
				if rnd(2) == 0 {
					pos = rnd(min(len(b), 200))
				}
				b[pos] ^= byte(1 + rnd(255))
			}
			r := dispatch(ms, "fliph", `{"format":"png"}`, b, 1<<20)
			counts[r.status]++
			if r.status != abi.StatusOK && r.status != abi.StatusBadInput {
				t.Errorf("%s with flipped bytes: status %d (%s)", f, r.status, r.msg)
			}
		}
	}
	t.Logf("statuses: %v", counts)
}

func TestNotAnImage(t *testing.T) {
	ms := Methods()
	for _, in := range [][]byte{nil, []byte("hello, world"), []byte("RIFF\x00\x00\x00\x00WAVE"), {0xff, 0xd8}} {
		r := dispatch(ms, "invert", `{}`, in, 1024)
		if r.status != abi.StatusBadInput || !strings.Contains(r.msg, "unknown image format") || !strings.Contains(r.msg, "jpeg, png, webp, gif, bmp, tiff") {
			t.Errorf("%q: status %d (%s), want %d naming the formats", in, r.status, r.msg, abi.StatusBadInput)
		}
	}
	// A known magic with nothing behind it is that format's error.
	r := dispatch(ms, "invert", `{}`, []byte("\x89PNG\r\n\x1a\n"), 1024)
	if r.status != abi.StatusBadInput || !strings.Contains(r.msg, "png header") {
		t.Errorf("a bare PNG signature: status %d (%s)", r.status, r.msg)
	}
}

// TestDecoderPanicIsBadInput: a decoder that panics on its data is the
// data's fault (StatusBadInput), and the library stays usable.
func TestDecoderPanicIsBadInput(t *testing.T) {
	var err error
	func() {
		defer recoverDecoder(formatTIFF, &err)
		var m image.Image
		_ = m.Bounds() // nil interface: a runtime panic
	}()
	if err == nil || !strings.Contains(err.Error(), "tiff decoder failed on this data") {
		t.Errorf("recovered error %v", err)
	}
	_ = fmt.Sprint(err)
}
