package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/schema"
)

// UnitMs is the unitNs that prints nanosecond histograms in milliseconds.
const UnitMs = 1e6

// percentileTicks is the classic table's ticks per half-distance.
const percentileTicks = 5

// WritePercentiles prints h's percentile distribution as HdrHistogram's
// outputPercentileDistribution does (the Java layout, which the plotters
// and HistogramLogAnalyzer read): columns Value, Percentile, TotalCount,
// 1/(1-Percentile), 5 ticks per half-distance, then the Mean/StdDeviation,
// Max/Total count and Buckets/SubBuckets footer. Values are divided by
// unitNs (UnitMs, the default when unitNs <= 0, prints milliseconds). A nil
// h prints as an empty histogram of the Recorder's geometry.
func WritePercentiles(w io.Writer, h *hdrhistogram.Histogram, unitNs float64) error {
	if unitNs <= 0 {
		unitNs = UnitMs
	}
	if h == nil {
		h = NewHistogram()
	}
	bw := bufio.NewWriter(w)
	digits := int(h.SignificantFigures())
	fmt.Fprintf(bw, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	for _, b := range h.CumulativeDistributionWithTicks(percentileTicks) {
		q := b.Quantile / 100
		if b.Quantile != 100 {
			fmt.Fprintf(bw, "%12.*f %2.12f %10d %14.2f\n", digits, float64(b.ValueAt)/unitNs, q, b.Count, 1/(1-q))
		} else {
			fmt.Fprintf(bw, "%12.*f %2.12f %10d\n", digits, float64(b.ValueAt)/unitNs, q, b.Count)
		}
	}
	buckets, subBuckets := geometry(h)
	fmt.Fprintf(bw, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", digits, h.Mean()/unitNs, digits, h.StdDev()/unitNs)
	fmt.Fprintf(bw, "#[Max     = %12.*f, Total count    = %12d]\n", digits, float64(h.Max())/unitNs, h.TotalCount())
	fmt.Fprintf(bw, "#[Buckets = %12d, SubBuckets     = %12d]\n", buckets, subBuckets)
	return bw.Flush()
}

// geometry recomputes h's bucket and sub-bucket counts (unexported in
// hdrhistogram-go) from its public parameters, as its constructor does.
func geometry(h *hdrhistogram.Histogram) (buckets, subBuckets int64) {
	largestSingleUnit := 2 * math.Pow10(int(h.SignificantFigures()))
	subBucketMag := int64(math.Ceil(math.Log2(largestSingleUnit)))
	if subBucketMag < 1 {
		subBucketMag = 1
	}
	subBuckets = 1 << subBucketMag
	unitMag := int64(0)
	if low := h.LowestTrackableValue(); low > 1 {
		unitMag = int64(math.Floor(math.Log2(float64(low))))
	}
	untrackable := subBuckets << unitMag
	buckets = 1
	for untrackable <= h.HighestTrackableValue() {
		if untrackable > math.MaxInt64/2 {
			return buckets + 1, subBuckets
		}
		untrackable <<= 1
		buckets++
	}
	return buckets, subBuckets
}

// summaryQuantiles are WriteSummary's columns.
var summaryQuantiles = [...]float64{50, 95, 99, 99.9}

// WriteSummary prints one row per library.method that answered jobs: jobs,
// failures, errors by kind, which stage the latency columns are (total, or
// exec when no job carried a submit time), its p50, p95, p99, p99.9 and
// max. Methods with no jobs are left out.
func WriteSummary(w io.Writer, stats []MethodStats) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tJOBS\tFAILED\tERRORS\tSTAGE\tP50\tP95\tP99\tP99.9\tMAX")
	for i := range stats {
		st := &stats[i]
		if st.Jobs == 0 {
			continue
		}
		h, stage := st.Latency()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s", st.Name(), st.Jobs, st.Failed(), errorList(st.Errors), stage)
		if h == nil || h.TotalCount() == 0 {
			fmt.Fprint(tw, "\t-\t-\t-\t-\t-\n")
			continue
		}
		for _, q := range summaryQuantiles {
			fmt.Fprintf(tw, "\t%s", FormatNs(h.ValueAtQuantile(q)))
		}
		fmt.Fprintf(tw, "\t%s\n", FormatNs(h.Max()))
	}
	return tw.Flush()
}

// errorList renders errors as "kind:n kind:n", kinds in numeric order, or
// "-".
func errorList(errs map[schema.ErrorKind]uint64) string {
	if len(errs) == 0 {
		return "-"
	}
	kinds := make([]schema.ErrorKind, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var b strings.Builder
	for i, k := range kinds {
		if i > 0 {
			b.WriteByte(' ')
		}
		name := k.String()
		if name == "" {
			name = fmt.Sprintf("kind%d", uint16(k))
		}
		fmt.Fprintf(&b, "%s:%d", name, errs[k])
	}
	return b.String()
}

// FormatNs renders nanoseconds with three significant digits in the unit
// that reads best: 850ns, 12.3µs, 4.56ms, 1.23s.
func FormatNs(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", ns)
	case d < time.Millisecond:
		return sig3(float64(ns)/1e3) + "µs"
	case d < time.Second:
		return sig3(float64(ns)/1e6) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

// sig3 formats v (>= 1) with three significant digits.
func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
