package imagelib

import (
	"image"
	"math"
	"strings"

	"github.com/disintegration/imaging"
)

// transform is one image operation: a method of its own, or a step of a
// batch. Its params are checked twice: alone, before the input is decoded
// (check), and against the image (apply).
type transform interface {
	// fields are the transform's params.
	fields() []field
	// check validates the params alone.
	check(o Options) *paramError
	// apply returns the transformed image. img is not modified; the result
	// may share img's pixels (crop) or be img itself (a resize that passes
	// the image through).
	apply(img image.Image, o Options) (image.Image, *paramError)
}

// transformNames lists the transforms, sorted.
func transformNames() []string {
	return []string{
		"blur", "brighten", "contrast", "crop", "fliph", "flipv", "grayscale",
		"invert", "resize", "rotate180", "rotate270", "rotate90",
	}
}

// newTransform returns a transform with zero params, ready for its fields
// to be decoded into.
func newTransform(name string) (transform, bool) {
	switch name {
	case "resize":
		return &resizeOp{}, true
	case "crop":
		return &cropOp{}, true
	case "blur":
		return &blurOp{}, true
	case "brighten":
		return &adjustOp{f: imaging.AdjustBrightness}, true
	case "contrast":
		return &adjustOp{f: imaging.AdjustContrast}, true
	case "grayscale":
		return plainOp(imaging.Grayscale), true
	case "invert":
		return plainOp(imaging.Invert), true
	case "fliph":
		return plainOp(imaging.FlipH), true
	case "flipv":
		return plainOp(imaging.FlipV), true
	case "rotate90":
		return plainOp(imaging.Rotate90), true
	case "rotate180":
		return plainOp(imaging.Rotate180), true
	case "rotate270":
		return plainOp(imaging.Rotate270), true
	}
	return nil, false
}

// plainOp is a transform without params.
type plainOp func(image.Image) *image.NRGBA

func (plainOp) fields() []field           { return nil }
func (plainOp) check(Options) *paramError { return nil }
func (f plainOp) apply(img image.Image, _ Options) (image.Image, *paramError) {
	return f(img), nil
}

// resizeOp is resize: see doc.go.
type resizeOp struct {
	width, height  int
	filter         string
	preserveAspect bool
	ifLargerThan   bool
}

func (p *resizeOp) fields() []field {
	return []field{
		{"width", &p.width, nil}, {"height", &p.height, nil}, {"filter", &p.filter, nil},
		{"preserve_aspect", &p.preserveAspect, nil}, {"if_larger_than", &p.ifLargerThan, nil},
	}
}

func filterNames() string { return "lanczos3, catmullrom, gaussian, triangle, nearest" }

func resampleFilter(name string) (imaging.ResampleFilter, bool) {
	switch name {
	case "", "lanczos3":
		return imaging.Lanczos, true
	case "catmullrom":
		return imaging.CatmullRom, true
	case "gaussian":
		return imaging.Gaussian, true
	case "triangle":
		return imaging.Linear, true
	case "nearest":
		return imaging.NearestNeighbor, true
	}
	return imaging.ResampleFilter{}, false
}

func (p *resizeOp) check(o Options) *paramError {
	for _, s := range []struct {
		name string
		v    int
	}{{"width", p.width}, {"height", p.height}} {
		if s.v < 0 {
			return paramErrorf(s.name, "must be ≥ 0, got %d", s.v)
		}
		// Bounding each side first keeps width×height from overflowing.
		if s.v > o.MaxPixels {
			return paramErrorf(s.name, "%d is over the limit of %d pixels", s.v, o.MaxPixels)
		}
	}
	if p.width == 0 && p.height == 0 {
		return paramErrorf("width", "width and height are both 0: give at least one (0 keeps the aspect ratio from the other)")
	}
	if _, ok := resampleFilter(p.filter); !ok {
		return paramErrorf("filter", "unknown filter %q (filters: %s)", p.filter, filterNames())
	}
	return nil
}

// target returns the size a sw×sh image is resized to.
func (p *resizeOp) target(sw, sh int) (int, int) {
	switch {
	case p.width == 0:
		return max(1, int(math.Floor(float64(p.height)*float64(sw)/float64(sh)+0.5))), p.height
	case p.height == 0:
		return p.width, max(1, int(math.Floor(float64(p.width)*float64(sh)/float64(sw)+0.5)))
	case p.preserveAspect:
		// imaging.Fit's arithmetic, without its refusal to enlarge (that
		// is if_larger_than's business).
		srcAspect := float64(sw) / float64(sh)
		if srcAspect > float64(p.width)/float64(p.height) {
			return p.width, max(1, int(float64(p.width)/srcAspect))
		}
		return max(1, int(float64(p.height)*srcAspect)), p.height
	}
	return p.width, p.height
}

func (p *resizeOp) apply(img image.Image, o Options) (image.Image, *paramError) {
	b := img.Bounds()
	if p.ifLargerThan && (p.width == 0 || b.Dx() <= p.width) && (p.height == 0 || b.Dy() <= p.height) {
		return img, nil
	}
	w, h := p.target(b.Dx(), b.Dy())
	if int64(w)*int64(h) > int64(o.MaxPixels) {
		return nil, paramErrorf("width", "the result would be %d×%d = %d pixels, over the limit of %d", w, h, int64(w)*int64(h), o.MaxPixels)
	}
	f, _ := resampleFilter(p.filter)
	sw, sh := b.Dx(), b.Dy()
	if f.Support > 0 && w != sw && h != sh && int64(w)*int64(sh) > int64(sw)*int64(h) {
		// imaging resizes the width first, through a w×sh intermediate:
		// for a result wider and shorter than the source (1000×20000 to
		// 20000×1000) that is far larger than either image. Resizing the
		// height first goes through sw×h, which is never larger than both.
		return imaging.Resize(imaging.Resize(img, sw, h, f), w, h, f), nil
	}
	return imaging.Resize(img, w, h, f), nil
}

// cropOp is crop: see doc.go.
type cropOp struct{ x, y, width, height int }

func (p *cropOp) fields() []field {
	return []field{{"x", &p.x, nil}, {"y", &p.y, nil}, {"width", &p.width, nil}, {"height", &p.height, nil}}
}

func (p *cropOp) check(Options) *paramError {
	switch {
	case p.x < 0:
		return paramErrorf("x", "must be ≥ 0, got %d", p.x)
	case p.y < 0:
		return paramErrorf("y", "must be ≥ 0, got %d", p.y)
	case p.width < 1:
		return paramErrorf("width", "must be ≥ 1, got %d", p.width)
	case p.height < 1:
		return paramErrorf("height", "must be ≥ 1, got %d", p.height)
	}
	return nil
}

func (p *cropOp) apply(img image.Image, _ Options) (image.Image, *paramError) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	// Each comparison is against what is left of the image, so that huge
	// values cannot overflow x+width.
	switch {
	case p.x >= w:
		return nil, paramErrorf("x", "%d is outside the %d×%d image", p.x, w, h)
	case p.y >= h:
		return nil, paramErrorf("y", "%d is outside the %d×%d image", p.y, w, h)
	case p.width > w-p.x:
		return nil, paramErrorf("width", "x+width = %d is past the right edge of the %d×%d image", p.x+p.width, w, h)
	case p.height > h-p.y:
		return nil, paramErrorf("height", "y+height = %d is past the bottom edge of the %d×%d image", p.y+p.height, w, h)
	}
	r := image.Rect(p.x, p.y, p.x+p.width, p.y+p.height).Add(b.Min)
	// Every decoder's and transform's image type has SubImage: a view of
	// the region, no copy.
	if s, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	}); ok {
		return s.SubImage(r), nil
	}
	return imaging.Crop(img, r), nil
}

// blurOp is blur: see doc.go.
type blurOp struct {
	sigma     float64
	sigmaSeen bool
}

func (p *blurOp) fields() []field { return []field{{"sigma", &p.sigma, &p.sigmaSeen}} }

// maxSigma bounds blur's cost: imaging's kernel is 6σ+1 taps a pass.
const maxSigma = 100

func (p *blurOp) check(Options) *paramError {
	if !p.sigmaSeen {
		return paramErrorf("sigma", "required: the Gaussian's standard deviation in pixels, > 0 and ≤ %d", maxSigma)
	}
	if !(p.sigma > 0 && p.sigma <= maxSigma) {
		return paramErrorf("sigma", "must be > 0 and ≤ %d, got %g", maxSigma, p.sigma)
	}
	return nil
}

func (p *blurOp) apply(img image.Image, _ Options) (image.Image, *paramError) {
	return imaging.Blur(img, p.sigma), nil
}

// adjustOp is brighten or contrast: see doc.go.
type adjustOp struct {
	f           func(image.Image, float64) *image.NRGBA
	percent     float64
	percentSeen bool
}

func (p *adjustOp) fields() []field { return []field{{"percent", &p.percent, &p.percentSeen}} }

func (p *adjustOp) check(Options) *paramError {
	if !p.percentSeen {
		return paramErrorf("percent", "required: −100..100")
	}
	if !(p.percent >= -100 && p.percent <= 100) {
		return paramErrorf("percent", "must be −100..100, got %g", p.percent)
	}
	return nil
}

func (p *adjustOp) apply(img image.Image, _ Options) (image.Image, *paramError) {
	return p.f(img, p.percent), nil
}

// opList is the transform names for a message.
func opList() string { return strings.Join(transformNames(), ", ") }
