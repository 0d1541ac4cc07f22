// Package imagelib is the "image" library: it decodes an image, transforms
// it and encodes the result. The guest (guests/image) serves Methods()
// through the SDK. The same code runs natively, where the benchmarks and
// tests call MethodsWith directly, and in the guest (GOOS=wasip1), where it
// runs about five times slower: the few loops of its own work on pixel
// slices, never through image.At and Set, and the filters are imaging's.
//
// # Input and output
//
// The input (the job's input bytes) is one encoded image; its format is
// found from its magic bytes: JPEG (baseline and progressive; gray, YCbCr,
// CMYK), PNG, GIF (its first frame, on its logical screen), BMP, TIFF and
// WebP (lossy and lossless). Each is decoded by its own package
// (image/jpeg, image/png, image/gif, golang.org/x/image/{bmp,tiff,webp}),
// never through image.RegisterFormat's registry. Or, with the raw param,
// the input is raw pixels (see Raw pixels below).
//
// Every method but info writes one encoded image into the job's output,
// straight from the encoder (no intermediate buffer), or with "rgba" the
// result's raw pixels. Params common to them all:
//
//	"format":  "jpeg" | "png" | "webp" | "gif" | "bmp" | "tiff" | "rgba";
//	           default: the input's ("rgba" for raw input)
//	"quality": 1..100, JPEG's quality; default 85 (taken and ignored by the other formats)
//	"raw":     {"width": W, "height": H}: the input is W×H raw RGBA pixels,
//	           not an encoded image (see Raw pixels)
//
// Every file format is both decoded and encoded, with these limits on output:
//
//   - jpeg: baseline, 4:2:0, 8-bit; no alpha (a transparent pixel becomes
//     black, as premultiplied); at most 65535 pixels a side.
//   - png: 8 bits a channel (a 16-bit input comes out 8-bit), default
//     compression.
//   - webp: lossless (VP8L, github.com/HugoSmits86/nativewebp) only: no
//     lossy WebP encoder is served here, so a photo comes out several times
//     larger than its JPEG; at most 16384 pixels a side.
//   - gif: one frame, at most 256 colors with one-bit transparency (alpha
//     under 128 is transparent). An image of at most 256 colors keeps them
//     exactly; any other is dithered (Floyd–Steinberg) onto a fixed
//     6×7×6 color cube. At most 65535 pixels a side.
//   - bmp: 24-bit, or 32-bit when the image has transparency (8-bit
//     paletted for a gray or paletted image passed through).
//   - tiff: Deflate with the horizontal predictor.
//   - rgba: raw pixels, not a file format: see Raw pixels.
//
// Metadata (EXIF, ICC profiles, XMP) is not carried over, and an EXIF
// orientation is not applied.
//
// An output that does not fit the job's output buffer fails the job with
// outputTooLarge and the size it needs (the encoder runs to the end, only
// counting past the buffer), so the producer can retry with that size.
//
// # Methods
//
// Sizes and coordinates are in pixels, from the image's top-left corner.
//
//	resize     width, height: integers ≥ 0, not both 0; 0 keeps the aspect
//	           ratio from the other side (rounded, at least 1).
//	           filter: "lanczos3" (default) | "catmullrom" | "gaussian" |
//	           "triangle" | "nearest".
//	           preserve_aspect: bool, default false: with both sides given,
//	           the result fits inside width×height keeping the aspect ratio
//	           (imaging.Fit's arithmetic: one side is met, the other rounded
//	           down, at least 1); it enlarges a smaller image (see below).
//	           if_larger_than: bool, default false: only shrink: an image
//	           already within width×height (a side of 0 is no bound) is not
//	           scaled, only re-encoded in the requested format.
//	           The result may not exceed the pixel limit.
//	crop       x, y: integers ≥ 0 (default 0); width, height: integers ≥ 1.
//	           The rectangle must lie inside the image.
//	blur       sigma: number, > 0 and ≤ 100, required: a Gaussian blur of
//	           that standard deviation in pixels (cost grows with sigma).
//	brighten   percent: number, −100..100, required (−100: black, 100: white).
//	contrast   percent: number, −100..100, required (−100: flat gray; 100:
//	           each channel black or white, split at the middle).
//	grayscale  no params: R = G = B (Rec. 601 luma); alpha kept.
//	rotate90   no params: 90° counter-clockwise (as imaging rotates).
//	rotate180  no params.
//	rotate270  no params: 270° counter-clockwise, i.e. 90° clockwise.
//	fliph      no params: mirror left to right.
//	flipv      no params: mirror top to bottom.
//	invert     no params: each color channel c → 255−c; alpha kept.
//	batch      operations: a list of 1..32 objects, each {"op": a method
//	           above, and that method's params but format and quality},
//	           applied in order to the one decoded image, whose result is
//	           encoded once with the batch's own format and quality (and
//	           read with its own raw: an operation takes none). Each
//	           operation's params are decoded as strictly as its method's;
//	           an error names the operation, e.g.
//	           "operations[2].sigma: must be > 0 and ≤ 100, got 0".
//	info       no params but raw: no transform: writes the JSON
//	           {"format":"jpeg","width":W,"height":H} read from the header
//	           alone (the pixels are neither decoded nor checked, and an
//	           image over the pixel limit is still described). With raw it
//	           writes {"format":"rgba","width":W,"height":H} once the
//	           input's length is W×H×4 (else invalidInput, as below).
//
// Transforms are those of github.com/disintegration/imaging, and their
// results are 8-bit NRGBA.
//
// # Raw pixels
//
// With "raw": {"width": W, "height": H} (integers, W, H ≥ 1, W×H within
// the pixel limit, below; else invalidParams naming raw.width or
// raw.height) the input is not sniffed or decoded: it is W×H pixels of
// 8-bit non-premultiplied RGBA (image.NRGBA's layout: 4 bytes a pixel, R,
// G, B, A; rows of W×4 bytes, top to bottom, no padding), exactly W×H×4
// bytes, else invalidInput saying the size expected and the size given.
// The input is not copied: the image the methods read is an image.NRGBA
// whose pixels are the input bytes themselves (the producer's pages,
// mapped copy-on-write; the methods only read them).
//
// "format": "rgba" writes the result the same way, W×H×4 bytes of its own
// size, into the job's output; an output too small fails with
// outputTooLarge and exactly that size. It is the default output format
// for raw input, and is taken for an encoded input as well (its decoded
// pixels, as 8-bit NRGBA). Raw input can be encoded in any other format.
//
// From raw input to rgba output, invert, grayscale, fliph, flipv and
// rotate180 are one pass from the input bytes to the output bytes, with no
// image in between (the same bytes as the transforms they replace: the
// same Rec. 601 arithmetic for grayscale). Every other method, and batch,
// on raw input runs its transforms on the wrapped input and writes the
// result's pixel rows into the output: one copy, of the result, by the
// guest producing its output, not a copy between producer and guest. (A
// result that is the input itself, a crop or an image that if_larger_than
// passes through, is copied before a JPEG encoder, which works in place.)
//
// # Errors
//
// Params are checked before the input is decoded, strictly: an unknown
// field, a value of the wrong JSON type (or null), a value out of its
// range (raw's size included), an unknown format, filter or op, a crop rectangle outside the
// image (the message says the image's size), a resize whose result would
// exceed the pixel limit, a result too large for the output format: each
// is an *sdk.ParamsError (the job's invalidParams) whose message starts
// with the field's name.
//
// Input the methods refuse is an *sdk.InputError (invalidInput): an unknown
// format (the message lists the formats), a header or pixel data that does
// not decode (the decoder's message; truncated data says "unexpected EOF"),
// a size of zero, a decompression bomb (below), raw input whose length is
// not W×H×4. A decoder that panics on
// malformed data is reported the same way, not as a library failure.
//
// # Pixel limit and memory
//
// Before any pixel is decoded the header is read (the format's
// DecodeConfig) and the image is refused if width×height exceeds
// Options.MaxPixels (default DefaultMaxPixels, 20,000,000: 80 MB as 8-bit
// NRGBA). The resize target and the raw param's W×H are bounded by the
// same limit (as params). Raw input is not held in the guest's heap (it is
// the input window), so a raw job holds at most its transforms' images.
//
// The limit is set by the guest's memory (sandbox.ImageLimits: 256 MiB, of
// which the job windows, 10 MB in and 50 MB out, take 60 MB). A job holds
// at most two images at a time, the one an operation reads and the one it
// writes (blur and resize read the second pass from their first's result,
// by when the source is garbage), so its images take up to 8 bytes a pixel
// at the limit: 160 MB, plus the windows and the runtime's own, is what
// fits (measured in wazero: a blur of a 4500×4500 JPEG peaks at 246 MiB;
// one of 5000×5000, 25 million pixels, runs out of memory). A wasm heap
// cannot grow past the guest's memory and Go fails an allocation it cannot
// map rather than collect first, so a job over a million pixels collects
// the previous job's garbage before decoding.
//
// An image whose decoder needs more than 4 bytes a pixel is also refused
// when decoding it and writing the first result would exceed those 8
// bytes a pixel at the limit: a progressive JPEG keeps its DCT
// coefficients until its last scan (4 bytes a pixel per full-resolution
// component: a 4:4:4 one is taken up to about half the limit, a 4:2:0 one
// to the limit), a 16-bit PNG or TIFF decodes to 8 bytes a pixel (taken up
// to two thirds of the limit).
//
// The header that was checked is the one decoded: the input is the
// producer's pages and may change while the guest reads it, so the bytes
// the header was read from are copied and the pixels decoded from that
// copy followed by the rest of the input.
package imagelib
