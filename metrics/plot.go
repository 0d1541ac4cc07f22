package metrics

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Series is one line of a plot: a histogram of nanoseconds and its name.
type Series struct {
	Name string
	Hist *hdrhistogram.Histogram
}

// FormatError is WritePlot's answer to a format it cannot write.
type FormatError struct{ Format string }

func (e *FormatError) Error() string {
	return fmt.Sprintf("metrics: plot format %q not supported (only \"svg\")", e.Format)
}

// Plot geometry, in SVG user units (px).
const (
	plotW, plotH   = 960, 560
	marginL        = 88
	marginR        = 60 // room for the last percentile label
	marginT        = 72
	marginB        = 76
	plotTicks      = 20 // percentile ticks per half-distance: smooth lines
	logYAboveRatio = 30 // a y range wider than this (1.5 decades) is drawn on a log axis
)

// palette is Tableau 10: distinct hues that stay apart for the common
// kinds of colour blindness better than the rainbow.
var palette = [...]string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"}

// dashes tell apart series that share a colour (more than ten).
var dashes = [...]string{"", "7 4", "2 3"}

// legendInsideMax is the most series whose legend fits inside the plot
// area; more go in a legend below it, and the chart grows to hold it.
const legendInsideMax = 6

const fontFamily = `system-ui, -apple-system, &quot;Segoe UI&quot;, Roboto, Helvetica, Arial, sans-serif`

// WritePlot draws latency by percentile, HdrHistogram's plotter view: the x
// axis is the percentile on the 1/(1-p) log scale (0%, 90%, 99%, 99.9%, …,
// as far as the largest series' count reaches), the y axis latency in ms,
// one line per series from its minimum to its maximum, with a legend that
// gives each series' count, p50, p99 and max.
//
// The y axis is linear, as the HdrHistogram plotter's, while the values
// span less than 1.5 decades, and logarithmic beyond: a linear axis then
// flattens the body of the distribution (p50 to p99) of every series
// against the x axis to show one tail, and series of different scales
// stop being comparable. The axis label says which.
//
// Only "svg" is supported; other formats return a *FormatError.
func WritePlot(w io.Writer, format string, series []Series) error {
	if format != "svg" {
		return &FormatError{Format: format}
	}
	p := layoutPlot(series)
	bw := bufio.NewWriter(w)
	p.svg(bw)
	return bw.Flush()
}

type point struct{ x, y float64 } // x: log10(1/(1-p)); y: ms

type line struct {
	name   string
	color  string
	dash   string // stroke-dasharray: palette colours repeat with another dash pattern
	pts    []point
	count  int64
	p50    int64
	p99    int64
	max    int64
	noData bool
}

type plot struct {
	lines      []line
	xmax       float64 // decades of nines shown
	ylo, yhi   float64 // ms
	logY       bool
	yticks     []float64
	yminor     []float64
	plotLeft   float64
	plotRight  float64
	plotTop    float64
	plotBottom float64
}

func layoutPlot(series []Series) *plot {
	p := &plot{plotLeft: marginL, plotRight: plotW - marginR, plotTop: marginT, plotBottom: plotH - marginB}
	var maxCount int64
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		l := line{name: s.Name, color: palette[i%len(palette)], dash: dashes[(i/len(palette))%len(dashes)]}
		h := s.Hist
		if h == nil || h.TotalCount() == 0 {
			l.noData = true
			p.lines = append(p.lines, l)
			continue
		}
		l.count, l.p50, l.p99, l.max = h.TotalCount(), h.ValueAtQuantile(50), h.ValueAtQuantile(99), h.Max()
		maxCount = max(maxCount, l.count)
		p.lines = append(p.lines, l)
	}
	// Show as many nines as the largest series resolves: with n values,
	// the last one sits at 1-1/n.
	p.xmax = 2
	if maxCount > 0 {
		p.xmax = math.Min(6, math.Max(2, math.Ceil(math.Log10(float64(maxCount))-1e-9)))
	}
	for i, s := range series {
		l := &p.lines[i]
		if l.noData {
			continue
		}
		for _, b := range s.Hist.CumulativeDistributionWithTicks(plotTicks) {
			if b.Quantile >= 100 {
				break
			}
			x := -math.Log10(1 - b.Quantile/100)
			if x > p.xmax {
				break
			}
			l.pts = append(l.pts, point{x, float64(b.ValueAt) / UnitMs})
		}
		// End the line at the maximum, where its last value sits.
		lastX := math.Min(p.xmax, math.Log10(float64(l.count)))
		if n := len(l.pts); n == 0 || l.pts[n-1].x < lastX {
			l.pts = append(l.pts, point{lastX, float64(l.max) / UnitMs})
		} else {
			l.pts[n-1].y = math.Max(l.pts[n-1].y, float64(l.max)/UnitMs)
		}
		for _, pt := range l.pts {
			ylo, yhi = math.Min(ylo, pt.y), math.Max(yhi, pt.y)
		}
	}
	if math.IsInf(ylo, 1) { // no data at all: an empty linear frame
		ylo, yhi = 0, 1
	}
	p.logY = yhi/math.Max(ylo, HistMinNs/UnitMs) > logYAboveRatio && ylo > 0
	ylo = math.Max(ylo, HistMinNs/UnitMs)
	if p.logY {
		p.ylo = math.Pow(10, math.Floor(math.Log10(ylo)))
		p.yhi = math.Pow(10, math.Ceil(math.Log10(yhi)))
		decades := int(math.Round(math.Log10(p.yhi / p.ylo)))
		for v := p.ylo; v <= p.yhi*1.0001; v *= 10 {
			p.yticks = append(p.yticks, v)
			if v < p.yhi*0.999 {
				if decades <= 2 { // few decades: label 2 and 5 too
					p.yticks = append(p.yticks, 2*v, 5*v)
				} else {
					p.yminor = append(p.yminor, 2*v, 5*v)
				}
			}
		}
	} else {
		step := niceStep(yhi / 8)
		p.ylo, p.yhi = 0, math.Ceil(yhi*1.04/step)*step
		for v := 0.0; v <= p.yhi+step/2; v += step {
			p.yticks = append(p.yticks, v)
		}
	}
	return p
}

// niceStep returns the 1, 2 or 5 × 10^k at or above v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= v*0.999 {
			return m * mag
		}
	}
	return 10 * mag
}

func (p *plot) px(x float64) float64 {
	return p.plotLeft + x/p.xmax*(p.plotRight-p.plotLeft)
}

func (p *plot) py(ms float64) float64 {
	var f float64
	if p.logY {
		ms = math.Max(ms, p.ylo)
		f = math.Log10(ms/p.ylo) / math.Log10(p.yhi/p.ylo)
	} else {
		f = (ms - p.ylo) / (p.yhi - p.ylo)
	}
	return p.plotBottom - f*(p.plotBottom-p.plotTop)
}

// percentLabel names the x position of n nines: 0%, 90%, 99%, 99.9%, ...
func percentLabel(n int) string {
	if n == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*(1-math.Pow(10, -float64(n))), 'f', max(n-2, 0), 64) + "%"
}

// msLabel renders a tick value in ms without float noise.
func msLabel(v float64) string {
	if v >= 1e5 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

func (p *plot) svg(w *bufio.Writer) {
	f := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	const rowH, pad = 19.0, 10.0
	below := len(p.lines) > legendInsideMax
	height := float64(plotH)
	if below {
		height += rowH*float64(len(p.lines)+1) + pad + 16
	}
	f(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%.0f" viewBox="0 0 %d %.0f" font-family="%s">`+"\n",
		plotW, height, plotW, height, fontFamily)
	f(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	// Title and subtitle.
	f(`<text x="%d" y="32" font-size="20" font-weight="600" fill="#222">Latency by percentile distribution</text>`+"\n", marginL)
	scale := "linear"
	if p.logY {
		scale = "log"
	}
	f(`<text x="%d" y="54" font-size="13" fill="#666">HdrHistogram view: x is the percentile on a 1/(1-p) log scale, y is latency (%s scale)</text>`+"\n", marginL, scale)

	// Plot area and grid.
	f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#fbfbfc" stroke="none"/>`+"\n",
		p.plotLeft, p.plotTop, p.plotRight-p.plotLeft, p.plotBottom-p.plotTop)
	f(`<g stroke="#ececf0" stroke-width="1">` + "\n")
	for _, v := range p.yminor {
		y := p.py(v)
		f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", p.plotLeft, y, p.plotRight, y)
	}
	// 50% is worth a faint line of its own: the median is read off it.
	x50 := p.px(math.Log10(2))
	f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke-dasharray="3 4"/>`+"\n", x50, p.plotTop, x50, p.plotBottom)
	f("</g>\n")
	f(`<g stroke="#d9d9df" stroke-width="1">` + "\n")
	for _, v := range p.yticks {
		y := p.py(v)
		f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", p.plotLeft, y, p.plotRight, y)
	}
	for n := 0; n <= int(p.xmax); n++ {
		x := p.px(float64(n))
		f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x, p.plotTop, x, p.plotBottom)
	}
	f("</g>\n")

	// Tick labels.
	f(`<g font-size="13" fill="#444">` + "\n")
	for _, v := range p.yticks {
		f(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", p.plotLeft-8, p.py(v), msLabel(v))
	}
	for n := 0; n <= int(p.xmax); n++ {
		f(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", p.px(float64(n)), p.plotBottom+20, percentLabel(n))
	}
	f(`<text x="%.1f" y="%.1f" text-anchor="middle" fill="#999" font-size="11">50%%</text>`+"\n", x50, p.plotBottom+20)
	f("</g>\n")
	// Axes and their labels.
	f(`<path d="M%.1f %.1f V%.1f H%.1f" fill="none" stroke="#555" stroke-width="1.2"/>`+"\n",
		p.plotLeft, p.plotTop, p.plotBottom, p.plotRight)
	f(`<text x="%.1f" y="%d" text-anchor="middle" font-size="15" fill="#222">Percentile</text>`+"\n",
		(p.plotLeft+p.plotRight)/2, plotH-22)
	ylabel := "Latency (ms)"
	if p.logY {
		ylabel = "Latency (ms, log scale)"
	}
	cy := (p.plotTop + p.plotBottom) / 2
	f(`<text x="24" y="%.1f" text-anchor="middle" font-size="15" fill="#222" transform="rotate(-90 24 %.1f)">%s</text>`+"\n", cy, cy, ylabel)

	// Lines, clipped to the plot area.
	f(`<clipPath id="plotarea"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n",
		p.plotLeft, p.plotTop-4, p.plotRight-p.plotLeft+4, p.plotBottom-p.plotTop+8)
	f(`<g clip-path="url(#plotarea)" fill="none" stroke-width="2.2" stroke-linejoin="round" stroke-linecap="round">` + "\n")
	for _, l := range p.lines {
		if len(l.pts) == 0 {
			continue
		}
		if l.dash != "" {
			f(`<polyline stroke="%s" stroke-dasharray="%s" points="`, l.color, l.dash)
		} else {
			f(`<polyline stroke="%s" points="`, l.color)
		}
		for i, pt := range l.pts {
			if i > 0 {
				f(" ")
			}
			f("%.1f,%.1f", p.px(pt.x), p.py(pt.y))
		}
		f("\"><title>%s</title></polyline>\n", esc(l.name))
		last := l.pts[len(l.pts)-1]
		f(`<circle cx="%.1f" cy="%.1f" r="3.2" fill="%s" stroke="none"/>`+"\n", p.px(last.x), p.py(last.y), l.color)
	}
	f("</g>\n")

	// Legend: top left inside the plot, where percentile curves, rising
	// to the right, leave room, or below the plot when there are many. It
	// is a small table: name, then count, p50, p99 and max right-aligned
	// in columns.
	if len(p.lines) > 0 {
		const charW, swatch = 6.9, 22.0
		cols := [...]string{"n", "p50", "p99", "max"}
		const colW = 64.0
		nameW := 0.0
		cells := make([][4]string, len(p.lines))
		for i, l := range p.lines {
			nameW = math.Max(nameW, float64(len([]rune(l.name)))*charW)
			if l.noData {
				cells[i] = [4]string{"no data", "", "", ""}
				continue
			}
			cells[i] = [4]string{strconv.FormatInt(l.count, 10), FormatNs(l.p50), FormatNs(l.p99), FormatNs(l.max)}
		}
		lx, ly := p.plotLeft+14, p.plotTop+12
		if below {
			lx, ly = p.plotLeft, float64(plotH)+4
		}
		nameX := lx + pad + swatch + 8
		colX := nameX + nameW + 12 // left edge of the first number column
		width := colX + colW*float64(len(cols)) + pad - lx
		height := rowH*float64(len(p.lines)+1) + pad
		f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4" fill="#ffffff" fill-opacity="0.93" stroke="#d0d0d8"/>`+"\n",
			lx, ly, width, height)
		f(`<g font-size="12.5" fill="#222">` + "\n")
		hy := ly + pad/2 + rowH/2
		for j, c := range cols {
			f(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="#777">%s</text>`+"\n", colX+colW*float64(j+1), hy, c)
		}
		for i, l := range p.lines {
			y := hy + rowH*float64(i+1)
			f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="3" stroke-linecap="round" stroke-dasharray="%s"/>`+"\n",
				lx+pad, y, lx+pad+swatch, y, l.color, cmp.Or(l.dash, "none"))
			f(`<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", nameX, y, esc(l.name))
			for j, c := range cells[i] {
				if c != "" {
					f(`<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", colX+colW*float64(j+1), y, esc(c))
				}
			}
		}
		f("</g>\n")
	}
	f("</svg>\n")
}
