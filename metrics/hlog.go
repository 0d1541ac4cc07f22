package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// LogOptions configure a LogWriter; zero fields take the defaults.
type LogOptions struct {
	// RotateEvery starts a new file once the current one has been open this
	// long; default 1 h.
	RotateEvery time.Duration
	// MaxBytes starts a new file once the current one has grown past it;
	// default 64 MiB. A file overshoots it by at most one interval's lines.
	MaxBytes int64
	// Keep is how many files of this name to keep, the current one
	// included; older ones are deleted on rotation. Default 24.
	Keep int
}

const (
	defaultRotateEvery = time.Hour
	defaultMaxBytes    = 64 << 20
	defaultKeep        = 24
	// fileTime is the UTC timestamp in file names: sortable as text, with
	// milliseconds so that size-driven rotations rarely collide.
	fileTime = "20060102T150405.000Z"
	logExt   = ".hlog"
)

// Errors from LogWriter.
var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("metrics: log writer closed")
	// ErrBadName is returned by NewLogWriter for an empty name or one
	// holding a path separator.
	ErrBadName = errors.New("metrics: bad log name")
)

// LogWriter writes interval histograms as HdrHistogram interval logs (format
// 1.3, read by HdrHistogram's HistogramLogReader, HistogramLogAnalyzer and
// hdr-plot) to <dir>/<name>-<UTC time>.hlog, rotating and pruning the
// files. One goroutine at a time may use it.
type LogWriter struct {
	dir, name string
	opts      LogOptions
	now       func() time.Time

	f      *os.File
	bw     *bufio.Writer
	cw     countingWriter
	hw     *hdrhistogram.HistogramLogWriter
	path   string
	opened time.Time
	baseMs int64
	closed bool
}

// NewLogWriter returns a writer of files <dir>/<name>-<UTC time>.hlog,
// creating dir if need be. The first file is opened by the first Write, so
// that its base time can precede that interval's start.
func NewLogWriter(dir, name string, opts LogOptions) (*LogWriter, error) {
	return newLogWriter(dir, name, opts, time.Now)
}

func newLogWriter(dir, name string, opts LogOptions, now func() time.Time) (*LogWriter, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if opts.RotateEvery <= 0 {
		opts.RotateEvery = defaultRotateEvery
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.Keep <= 0 {
		opts.Keep = defaultKeep
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("metrics: log dir: %w", err)
	}
	return &LogWriter{dir: dir, name: name, opts: opts, now: now}, nil
}

// Path returns the file being written, "" before the first Write.
func (w *LogWriter) Path() string { return w.path }

// Write appends one line per method and stage that has values, tagged
// library.method.stage, timed by the histogram's StartTimeMs/EndTimeMs (set
// by Recorder.Interval; Write sets them from st.Start/End when they
// differ), then flushes. It first rotates if the current file is old or
// large enough.
func (w *LogWriter) Write(interval []MethodStats) error {
	if w.closed {
		return ErrClosed
	}
	now := w.now()
	if w.f != nil && (now.Sub(w.opened) >= w.opts.RotateEvery || w.cw.n >= w.opts.MaxBytes) {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.f == nil {
		first := now
		for i := range interval {
			if s := interval[i].Start; !s.IsZero() && s.Before(first) {
				first = s
			}
		}
		if err := w.open(now, first); err != nil {
			return err
		}
	}
	for i := range interval {
		st := &interval[i]
		for s, h := range st.Hist {
			if h == nil || h.TotalCount() == 0 {
				continue
			}
			stampHist(h, Tag(st.Library, st.Method, Stage(s)), st.Start, st.End, w.baseMs)
			if err := w.hw.OutputIntervalHistogram(h); err != nil {
				return fmt.Errorf("metrics: log %s: %w", w.path, err)
			}
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("metrics: log %s: %w", w.path, err)
	}
	return nil
}

// stampHist sets h's tag and times where they differ (so that histograms
// from Recorder.Interval, already stamped, are only read: another consumer
// may be reading them). A start before the file's base time is moved up to
// it: the log format has no negative times.
func stampHist(h *hdrhistogram.Histogram, tag string, start, end time.Time, baseMs int64) {
	if h.Tag() != tag {
		h.SetTag(tag)
	}
	if !start.IsZero() && h.StartTimeMs() != start.UnixMilli() {
		h.SetStartTimeMs(start.UnixMilli())
	}
	if !end.IsZero() && h.EndTimeMs() != end.UnixMilli() {
		h.SetEndTimeMs(end.UnixMilli())
	}
	if h.StartTimeMs() < baseMs {
		h.SetStartTimeMs(baseMs)
	}
	if h.EndTimeMs() < h.StartTimeMs() {
		h.SetEndTimeMs(h.StartTimeMs())
	}
}

// Close flushes and closes the current file.
func (w *LogWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f == nil {
		return nil
	}
	return w.closeFile()
}

func (w *LogWriter) closeFile() error {
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.bw, w.hw = nil, nil, nil
	if err != nil {
		return fmt.Errorf("metrics: log %s: %w", w.path, err)
	}
	return nil
}

// open starts a new file named by now, with its base time the whole second
// at or before first, writes the header and prunes old files.
func (w *LogWriter) open(now, first time.Time) error {
	stem := w.name + "-" + now.UTC().Format(fileTime)
	var f *os.File
	var path string
	for seq := 1; ; seq++ {
		path = filepath.Join(w.dir, stem+logExt)
		if seq > 1 {
			path = filepath.Join(w.dir, stem+"-"+strconv.Itoa(seq)+logExt)
		}
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || seq >= 1000 {
			return fmt.Errorf("metrics: log: %w", err)
		}
	}
	w.f, w.path, w.opened = f, path, now
	w.cw = countingWriter{w: f}
	w.bw = bufio.NewWriterSize(&w.cw, 64<<10)
	w.hw = hdrhistogram.NewHistogramLogWriter(w.bw)
	// Interval lines carry times relative to BaseTime, as the Java
	// writer's do; BaseTime is logged in whole seconds, so it is floored.
	w.baseMs = first.Unix() * 1000
	w.hw.SetBaseTime(w.baseMs)
	err := errors.Join(
		w.hw.OutputLogFormatVersion(),
		w.hw.OutputComment("[Logged with github.com/inos-node/node/metrics: values in ns, Interval_Max in ms; tag library.method.stage]"),
		w.hw.OutputStartTime(now.UnixMilli()),
		w.hw.OutputBaseTime(w.baseMs),
		w.hw.OutputLegend(),
		w.bw.Flush(),
	)
	if err != nil {
		return fmt.Errorf("metrics: log %s: %w", path, err)
	}
	return w.prune()
}

// prune deletes all but the newest Keep files of this writer's name.
func (w *LogWriter) prune() error {
	files, err := w.Files()
	if err != nil {
		return err
	}
	var errs []error
	for len(files) > w.opts.Keep {
		if err := os.Remove(files[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		files = files[1:]
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metrics: log prune: %w", err)
	}
	return nil
}

// Files returns the paths of this writer's name in its directory, oldest
// first. Files of other names, including names that merely begin with this
// one, are not included.
func (w *LogWriter) Files() ([]string, error) {
	ents, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("metrics: log dir: %w", err)
	}
	type file struct {
		path string
		at   time.Time
		seq  int
	}
	var fs []file
	for _, e := range ents {
		at, seq, ok := w.parseName(e.Name())
		if ok && e.Type().IsRegular() {
			fs = append(fs, file{filepath.Join(w.dir, e.Name()), at, seq})
		}
	}
	slices.SortFunc(fs, func(a, b file) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.path
	}
	return out, nil
}

// parseName reads "<name>-<fileTime>[-seq].hlog".
func (w *LogWriter) parseName(base string) (at time.Time, seq int, ok bool) {
	rest, ok := strings.CutPrefix(base, w.name+"-")
	if !ok {
		return time.Time{}, 0, false
	}
	if rest, ok = strings.CutSuffix(rest, logExt); !ok || len(rest) < len(fileTime) {
		return time.Time{}, 0, false
	}
	ts, tail := rest[:len(fileTime)], rest[len(fileTime):]
	at, err := time.Parse(fileTime, ts)
	if err != nil {
		return time.Time{}, 0, false
	}
	seq = 1
	if tail != "" {
		n, ok := strings.CutPrefix(tail, "-")
		if !ok {
			return time.Time{}, 0, false
		}
		if seq, err = strconv.Atoi(n); err != nil || seq < 2 {
			return time.Time{}, 0, false
		}
	}
	return at, seq, true
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
