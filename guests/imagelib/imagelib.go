package imagelib

import (
	"encoding/json"
	"fmt"
	"image"
	"runtime"

	"github.com/disintegration/imaging"

	"github.com/inos-node/node/guests/sdk"
)

// DefaultMaxPixels is the default of Options.MaxPixels: 20 million pixels,
// 80 MB as 8-bit NRGBA. A job holds two such images at its peak; with the
// job windows (60 MB) and the Go runtime's own, that is what fits the
// guest's 256 MiB (measured: a blur of a 4500×4500 JPEG peaks at 246 MiB,
// one of 5000×5000 runs out of memory). See doc.go.
const DefaultMaxPixels = 20_000_000

// MaxBatchOperations is the most operations one batch takes.
const MaxBatchOperations = 32

// Options configure the library's methods. The zero value is the default.
type Options struct {
	// MaxPixels is the largest width×height of an input image, and of a
	// resize's result, that the methods take. 0 (or less) means
	// DefaultMaxPixels.
	MaxPixels int
}

// Methods returns the library's methods with the default options.
func Methods() sdk.Methods { return MethodsWith(Options{}) }

// MethodsWith returns the library's methods with options o.
func MethodsWith(o Options) sdk.Methods {
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	ms := sdk.Methods{"batch": o.batch, "info": o.info}
	for _, name := range transformNames() {
		ms[name] = o.method(name)
	}
	warmParams()
	return ms
}

// method returns the method that runs transform name alone.
func (o Options) method(name string) sdk.Method {
	return func(c *sdk.Call) (int, error) {
		t, _ := newTransform(name)
		var enc encodeParams
		if err := o.decodeParams(c.Params, append(enc.fields(), t.fields()...), &enc); err != nil {
			return 0, toSDK(err)
		}
		if err := t.check(o); err != nil {
			return 0, toSDK(err)
		}
		if f := fastPath(name); f != nil && enc.raw.set && enc.output(formatRGBA) == formatRGBA {
			return runFast(c, &enc.raw, f)
		}
		return o.run(c, &enc, []transform{t}, false)
	}
}

// decodeParams decodes a method's params into fs and checks the encoder's.
func (o Options) decodeParams(params []byte, fs []field, enc *encodeParams) *paramError {
	obj, err := parseObject(params)
	if err != nil {
		return err
	}
	if err := decodeFields(obj, fs); err != nil {
		return err
	}
	return enc.check(o.MaxPixels)
}

// run decodes c.Input (or wraps it, raw input), applies ts in order and
// encodes the result into c.Output (or writes its pixels, rgba output).
// The params have been checked: the only errors left are the input's and
// those params that depend on the image (a crop outside it, a resize past
// the pixel limit), named by their operation's index in a batch.
func (o Options) run(c *sdk.Call, enc *encodeParams, ts []transform, batch bool) (int, error) {
	var img image.Image
	var in format
	if enc.raw.set {
		n, err := enc.raw.wrap(c.Input)
		if err != nil {
			return 0, err
		}
		if enc.raw.width*enc.raw.height >= gcPixels {
			runtime.GC() // as decode does, before the transforms allocate
		}
		img, in = n, formatRGBA
	} else {
		m, h, err := decode(c.Input, o.MaxPixels)
		if err != nil {
			return 0, err
		}
		img, in = m, h.format
	}
	for i, t := range ts {
		var perr *paramError
		img, perr = t.apply(img, o)
		if perr != nil {
			if batch {
				perr = perr.in(fmt.Sprintf("operations[%d]", i))
			}
			return 0, toSDK(perr)
		}
	}
	out := enc.output(in)
	if out == formatJPEG && enc.raw.set && inBuffer(img, c.Input) {
		// The result is (part of) the raw input itself (crop, a resize
		// that passes it through), and the JPEG path premultiplies it in
		// place: it gets a copy, so that nothing writes the input.
		img = imaging.Clone(img)
	}
	return encode(c, img, out, enc.quality)
}

// batch applies a list of transforms to one decoded image and encodes the
// result once.
func (o Options) batch(c *sdk.Call) (int, error) {
	var enc encodeParams
	var ops []json.RawMessage
	var opsSeen bool
	fs := append(enc.fields(), field{"operations", &ops, &opsSeen})
	if err := o.decodeParams(c.Params, fs, &enc); err != nil {
		return 0, toSDK(err)
	}
	if !opsSeen || len(ops) == 0 || len(ops) > MaxBatchOperations {
		return 0, toSDK(paramErrorf("operations", "want a list of 1..%d operations, got %d", MaxBatchOperations, len(ops)))
	}
	ts := make([]transform, len(ops))
	for i, raw := range ops {
		t, err := o.parseOperation(raw)
		if err != nil {
			return 0, toSDK(err.in(fmt.Sprintf("operations[%d]", i)))
		}
		ts[i] = t
	}
	return o.run(c, &enc, ts, true)
}

// parseOperation decodes and checks one batch operation: {"op": name, and
// the transform's params}, as strictly as the transform's own method.
func (o Options) parseOperation(raw json.RawMessage) (transform, *paramError) {
	obj, err := parseObject(raw)
	if err != nil {
		return nil, err
	}
	var name string
	if r, ok := obj["op"]; !ok {
		return nil, paramErrorf("op", "required (ops: %s)", opList())
	} else if json.Unmarshal(r, &name) != nil {
		return nil, paramErrorf("op", "got %s, want a string (ops: %s)", excerpt(r), opList())
	}
	t, ok := newTransform(name)
	if !ok {
		return nil, paramErrorf("op", "unknown op %q (ops: %s)", name, opList())
	}
	if err := decodeFields(obj, append([]field{{"op", &name, nil}}, t.fields()...)); err != nil {
		return nil, err
	}
	if err := t.check(o); err != nil {
		return nil, err
	}
	return t, nil
}

// info writes {"format":…,"width":…,"height":…} read from the input's
// header; for raw input, the raw param's size once the input's length
// matches it.
func (o Options) info(c *sdk.Call) (int, error) {
	var raw rawParams
	obj, err := parseObject(c.Params)
	if err == nil {
		err = decodeFields(obj, []field{raw.field()})
	}
	if err == nil {
		err = raw.check(o.MaxPixels)
	}
	if err != nil {
		return 0, toSDK(err)
	}
	var h header
	if raw.set {
		if err := raw.checkInput(c.Input); err != nil {
			return 0, err
		}
		h = header{format: formatRGBA, width: raw.width, height: raw.height}
	} else {
		var herr error
		if h, herr = readHeader(c.Input); herr != nil {
			return 0, herr
		}
	}
	w := c.OutputWriter()
	fmt.Fprintf(w, `{"format":%q,"width":%d,"height":%d}`, h.format, h.width, h.height)
	return w.Result()
}
