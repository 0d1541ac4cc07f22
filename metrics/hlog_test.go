package metrics_test

import (
	"bufio"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/metrics"
)

// fill observes n jobs of lognormal latency (median ~ e^mu ns) on each of
// the given methods.
func fill(r *metrics.Recorder, rng *rand.Rand, n int, mu float64, methods ...kernel.MethodID) {
	for range n {
		for _, m := range methods {
			exec := uint64(math.Exp(mu + 1.2*rng.NormFloat64()))
			ev := kernel.JobEvent{Method: m, ExecNs: exec}
			if rng.IntN(2) == 0 {
				ev.QueueNs = uint64(math.Exp(9 + rng.NormFloat64()))
				ev.TotalNs = ev.QueueNs + exec + 3000
			}
			r.Observe(&ev)
		}
	}
}

// readLog reads every interval histogram of a log file with hdrhistogram-go's
// own reader.
func readLog(t *testing.T, path string) []*hdrhistogram.Histogram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lr := hdrhistogram.NewHistogramLogReader(f)
	var out []*hdrhistogram.Histogram
	for {
		h, err := lr.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h == nil {
			return out
		}
		out = append(out, h)
	}
}

func TestLogRoundTrip(t *testing.T) {
	clk := newClock()
	r := metrics.NewRecorderClock(testMethods, clk.Now)
	dir := t.TempDir()
	lw, err := metrics.NewLogWriterClock(dir, "node", metrics.LogOptions{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var written []*hdrhistogram.Histogram
	for i := range 4 {
		fill(r, rng, 500+200*i, 12+float64(i), 0, 2, kernel.NoMethod)
		clk.Advance(10*time.Second + 250*time.Millisecond)
		iv := r.Interval()
		if err := lw.Write(iv); err != nil {
			t.Fatal(err)
		}
		for _, st := range iv {
			for _, h := range st.Hist {
				if h != nil {
					written = append(written, h)
				}
			}
		}
	}
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	files, err := lw.Files()
	if err != nil || len(files) != 1 {
		t.Fatalf("files = %v, %v; want one", files, err)
	}
	head, _ := os.ReadFile(files[0])
	for _, want := range []string{"#[Histogram log format version 1.3]", "#[StartTime: ", "#[BaseTime: ",
		`"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`, "Tag=crypto.blake3.exec,", "Tag=-.-.total,"} {
		if !strings.Contains(string(head), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	read := readLog(t, files[0])
	if len(read) != len(written) {
		t.Fatalf("read %d histograms, wrote %d", len(read), len(written))
	}
	for i, w := range written {
		g := read[i]
		if g.Tag() != w.Tag() || g.TotalCount() != w.TotalCount() || g.Max() != w.Max() ||
			g.ValueAtQuantile(50) != w.ValueAtQuantile(50) || g.ValueAtQuantile(99) != w.ValueAtQuantile(99) || !g.Equals(w) {
			t.Errorf("histogram %d: read %s n=%d max=%d p50=%d p99=%d, wrote %s n=%d max=%d p50=%d p99=%d", i,
				g.Tag(), g.TotalCount(), g.Max(), g.ValueAtQuantile(50), g.ValueAtQuantile(99),
				w.Tag(), w.TotalCount(), w.Max(), w.ValueAtQuantile(50), w.ValueAtQuantile(99))
		}
		// Times pass through seconds with 6 decimals: equal to the ms, give or take float rounding.
		if d := g.StartTimeMs() - w.StartTimeMs(); d < -1 || d > 1 {
			t.Errorf("histogram %d starts at %d ms, wrote %d", i, g.StartTimeMs(), w.StartTimeMs())
		}
		if d := g.EndTimeMs() - w.EndTimeMs(); d < -1 || d > 1 {
			t.Errorf("histogram %d ends at %d ms, wrote %d", i, g.EndTimeMs(), w.EndTimeMs())
		}
	}
}

func TestLogRotation(t *testing.T) {
	cases := []struct {
		name      string
		opts      metrics.LogOptions
		step      time.Duration // clock advance per interval
		writes    int
		wantFiles int
		perFile   int // intervals per file, for all but the last file
	}{
		{"by age", metrics.LogOptions{RotateEvery: time.Minute}, 20 * time.Second, 10, 4, 3},
		{"by age, keep 2", metrics.LogOptions{RotateEvery: time.Minute, Keep: 2}, 20 * time.Second, 10, 2, 3},
		// Each interval's lines take a few KB: past 1 byte every write rotates.
		{"by size", metrics.LogOptions{MaxBytes: 1}, time.Millisecond, 6, 6, 1},
		{"by size, keep 3", metrics.LogOptions{MaxBytes: 1, Keep: 3}, time.Millisecond, 7, 3, 1},
		{"neither", metrics.LogOptions{}, time.Second, 5, 1, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			r := metrics.NewRecorderClock(testMethods, clk.Now)
			dir := t.TempDir()
			// Another writer's files, and names that only look alike, survive pruning.
			others := []string{"other-20260301T115900.000Z.hlog", "node-v2-20260301T115900.000Z.hlog", "node-notes.hlog"}
			for _, o := range others {
				if err := os.WriteFile(filepath.Join(dir, o), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lw, err := metrics.NewLogWriterClock(dir, "node", tc.opts, clk.Now)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 8))
			var paths []string // the file each write went to
			for range tc.writes {
				fill(r, rng, 50, 13, 1)
				clk.Advance(tc.step)
				if err := lw.Write(r.Interval()); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, lw.Path())
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			files, err := lw.Files()
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != tc.wantFiles {
				t.Fatalf("%d files %v, want %d", len(files), files, tc.wantFiles)
			}
			// The files kept are the newest, in order, and each reads back
			// with the intervals written to it (3 stages each).
			var distinct []string
			count := map[string]int{}
			for _, p := range paths {
				if len(distinct) == 0 || distinct[len(distinct)-1] != p {
					distinct = append(distinct, p)
				}
				count[p]++
			}
			kept := distinct[len(distinct)-tc.wantFiles:]
			for i, f := range files {
				if f != kept[i] {
					t.Errorf("file %d = %s, want %s", i, f, kept[i])
				}
				if got := len(readLog(t, f)); got != 3*count[f] {
					t.Errorf("%s holds %d histograms, want %d", f, got, 3*count[f])
				}
			}
			if count[distinct[0]] != tc.perFile {
				t.Errorf("first file took %d intervals, want %d", count[distinct[0]], tc.perFile)
			}
			for _, o := range others {
				if _, err := os.Stat(filepath.Join(dir, o)); err != nil {
					t.Errorf("pruning touched %s: %v", o, err)
				}
			}
		})
	}
}

func TestLogFileName(t *testing.T) {
	clk := newClock()
	dir := t.TempDir()
	lw, err := metrics.NewLogWriterClock(dir, "node", metrics.LogOptions{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	if err := lw.Write(nil); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "node-20260301T120000.000Z.hlog"); lw.Path() != want {
		t.Errorf("path = %s, want %s", lw.Path(), want)
	}
	f, _ := os.Open(lw.Path())
	defer f.Close()
	first, _ := bufio.NewReader(f).ReadString('\n')
	if first != "#[Histogram log format version 1.3]\n" {
		t.Errorf("first line %q", first)
	}
}

func TestNewLogWriterErrors(t *testing.T) {
	cases := []struct {
		name string
		want error
	}{
		{"", metrics.ErrBadName},
		{"a/b", metrics.ErrBadName},
		{"..", metrics.ErrBadName},
		{"node", nil},
	}
	for _, tc := range cases {
		lw, err := metrics.NewLogWriter(t.TempDir(), tc.name, metrics.LogOptions{})
		if !errors.Is(err, tc.want) {
			t.Errorf("NewLogWriter(%q) = %v, want %v", tc.name, err, tc.want)
		}
		if lw != nil {
			lw.Close()
			if err := lw.Write(nil); !errors.Is(err, metrics.ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
		}
	}
}
