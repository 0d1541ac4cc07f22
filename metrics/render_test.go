package metrics_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
	"github.com/inos-node/node/schema"
)

// TestWritePercentiles checks the table against hdrhistogram-go's own
// PercentilesPrint: the same rows (value, percentile, count) and the same
// footer, in the Java layout.
func TestWritePercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	cases := []struct {
		name string
		h    *hdrhistogram.Histogram
	}{
		{"recorder geometry", metrics.NewHistogram()},
		{"1ns-1h", hdrhistogram.New(1, 3_600_000_000_000, 3)},
		{"2 digits", hdrhistogram.New(1000, 10_000_000_000, 2)},
		{"empty", metrics.NewHistogram()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name != "empty" {
				for range 10000 {
					tc.h.RecordValue(1000 + rng.Int64N(5_000_000))
				}
			}
			var got, ref bytes.Buffer
			if err := metrics.WritePercentiles(&got, tc.h, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := tc.h.PercentilesPrint(&ref, 5, metrics.UnitMs); err != nil {
				t.Fatal(err)
			}
			g, r := strings.Split(got.String(), "\n"), strings.Split(ref.String(), "\n")
			if !strings.HasPrefix(g[0], "       Value     Percentile TotalCount 1/(1-Percentile)") {
				t.Errorf("header %q", g[0])
			}
			if len(g) != len(r) {
				t.Fatalf("%d lines, PercentilesPrint has %d", len(g), len(r))
			}
			// Java prints values with as many decimals as the histogram has
			// significant digits (PercentilesPrint always 3), percentiles
			// with 12 (PercentilesPrint 6), and no inf on the 100% row.
			tol := 0.5*math.Pow10(-int(tc.h.SignificantFigures())) + 1e-9
			for i := 2; i < len(g); i++ {
				gf, rf := numbers(g[i]), numbers(r[i])
				if strings.HasPrefix(r[i], "#[Buckets") && g[i] != r[i] {
					t.Errorf("footer %q, want %q", g[i], r[i])
				}
				if len(gf) < 3 || len(rf) < 3 {
					if len(gf) != len(rf) {
						t.Errorf("line %d = %q, PercentilesPrint %q", i, g[i], r[i])
					}
					continue
				}
				vtol := []float64{tol, 1e-6, 0, 0.006}
				if strings.HasPrefix(r[i], "#") {
					vtol = []float64{tol, tol, 0, 0}
				}
				for j := range min(len(gf), len(rf), 4) {
					if math.Abs(gf[j]-rf[j]) > vtol[j] {
						t.Errorf("line %d = %q, PercentilesPrint %q", i, g[i], r[i])
						break
					}
				}
			}
			if n := len(g); len(strings.Fields(g[n-5])) != 3 {
				t.Errorf("100%% row %q should have 3 columns", g[n-5])
			}
		})
	}
}

// numbers returns the numbers on a line of the table, in order.
func numbers(line string) []float64 {
	var out []float64
	for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == ',' || r == '[' || r == ']' || r == '=' }) {
		if v, err := strconv.ParseFloat(f, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func TestWriteSummary(t *testing.T) {
	r := metrics.NewRecorder(testMethods)
	for i := range 100 {
		ev := kernel.JobEvent{Method: 0, ExecNs: uint64(i+1) * 10_000}
		if i%10 == 0 {
			ev.Kind = schema.ErrorDeadlineExceeded
		}
		r.Observe(&ev)
		ev = kernel.JobEvent{Method: 2, ExecNs: 1e6, QueueNs: 1e6, TotalNs: 2e6}
		r.Observe(&ev)
	}
	var b bytes.Buffer
	if err := metrics.WriteSummary(&b, r.Snapshot()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"crypto.blake3", "deadlineExceeded:10", "exec", "bench.empty", "total", "2.00ms", "1.00ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "image.invert") || strings.Contains(out, "-.-") {
		t.Errorf("summary shows methods without jobs:\n%s", out)
	}
}

func TestFormatNs(t *testing.T) {
	cases := []struct {
		ns   int64
		want string
	}{
		{850, "850ns"},
		{1000, "1.00µs"},
		{12_345, "12.3µs"},
		{4_560_000, "4.56ms"},
		{123_400_000, "123ms"},
		{1_230_000_000, "1.23s"},
		{3_600_000_000_000, "3600s"},
	}
	for _, tc := range cases {
		if got := metrics.FormatNs(tc.ns); got != tc.want {
			t.Errorf("FormatNs(%d) = %q, want %q", tc.ns, got, tc.want)
		}
	}
}
