package metrics_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/metrics"
)

// lognormal returns a histogram of n values around median ns.
func lognormal(seed uint64, n int, median, sigma float64) *hdrhistogram.Histogram {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	h := metrics.NewHistogram()
	for range n {
		v := int64(median * math.Exp(sigma*rng.NormFloat64()))
		h.RecordValue(min(max(v, metrics.HistMinNs), metrics.HistMaxNs))
	}
	return h
}

// sampleSeries is synthetic: a fast method, a slow one with a long tail
// and one with occasional stalls.
func sampleSeries() []metrics.Series {
	stalls := lognormal(21, 200_000, 400_000, 0.3)
	spikes := lognormal(22, 300, 40_000_000, 0.4)
	stalls.Merge(spikes)
	return []metrics.Series{
		{Name: "crypto.blake3 exec", Hist: lognormal(20, 200_000, 250_000, 0.5)},
		{Name: "image.invert total", Hist: lognormal(23, 100_000, 3_000_000, 0.8)},
		{Name: "bench.empty total (GC stalls)", Hist: stalls},
	}
}

// wellFormed decodes the whole document with encoding/xml.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
}

func TestWritePlot(t *testing.T) {
	cases := []struct {
		name   string
		series []metrics.Series
		logY   bool
	}{
		{"sample: five decades, log y", sampleSeries(), true},
		{"narrow: linear y", []metrics.Series{{Name: "a", Hist: lognormal(1, 10_000, 1e6, 0.2)}, {Name: "b", Hist: lognormal(2, 10_000, 1.5e6, 0.2)}}, false},
		{"names that need escaping", []metrics.Series{{Name: `lib<&>"q".m`, Hist: lognormal(3, 100, 1e6, 1)}}, true},
		{"empty and nil series", []metrics.Series{{Name: "nothing", Hist: metrics.NewHistogram()}, {Name: "nil"}}, false},
		{"no series", nil, false},
		{"one value", []metrics.Series{{Name: "single", Hist: lognormal(4, 1, 1e6, 0)}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := metrics.WritePlot(&b, "svg", tc.series); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, b.Bytes())
			all := textContent(t, b.Bytes())
			for _, s := range tc.series {
				if !strings.Contains(all, s.Name) {
					t.Errorf("plot lacks series %q", s.Name)
				}
			}
			for _, want := range []string{"Latency by percentile", "Percentile", "0%", "90%", "99%"} {
				if !strings.Contains(all, want) {
					t.Errorf("plot lacks %q", want)
				}
			}
			if got := strings.Contains(all, "log scale)"); got != tc.logY {
				t.Errorf("log y axis = %v, want %v", got, tc.logY)
			}
		})
	}
}

// textContent returns the document's character data, decoded.
func textContent(t *testing.T, doc []byte) string {
	var b strings.Builder
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
			b.WriteByte('\n')
		}
	}
}

func TestWritePlotFormat(t *testing.T) {
	var fe *metrics.FormatError
	if err := metrics.WritePlot(io.Discard, "png", nil); !errors.As(err, &fe) || fe.Format != "png" {
		t.Errorf("WritePlot(png) = %v, want *FormatError", err)
	}
}

// TestWritePlotSample writes the sample chart where INOS_PLOT_SAMPLE
// says (e.g. /tmp/inos-plot-sample.svg), to look at.
func TestWritePlotSample(t *testing.T) {
	path := os.Getenv("INOS_PLOT_SAMPLE")
	if path == "" {
		t.Skip("INOS_PLOT_SAMPLE not set")
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := metrics.WritePlot(f, "svg", sampleSeries()); err != nil {
		t.Fatal(err)
	}
}
