// Package metrics keeps the node's per-method latency histograms and job
// counters, and writes them out: as HdrHistogram interval logs, as a
// snapshot for `inos stats`, as text tables and as an SVG chart.
//
// # Recording
//
// A Recorder is a kernel.Observer. It keeps, per method (a slice indexed by
// kernel.MethodID, plus one entry, library "-" method "-", for jobs that
// named no known method) and per Stage, an HdrHistogram of nanoseconds
// from 1 µs to 1 h at 3 significant digits, and counters: jobs, successes
// (schema.ErrorNone), failures by schema.ErrorKind, fuel, input and output
// bytes.
//
// The stages are StageQueue (submit to start of execution), StageExec (the
// execution, validation included) and StageTotal (submit to the result's
// publication). A stage whose JobEvent field is 0 is not recorded: 0 means
// "not known" (QueueNs and TotalNs are 0 when the producer gave no submit
// time), so a method's stages may hold fewer values than it has jobs.
// Values are clamped into [1 µs, 1 h] rather than dropped. The lowest
// discernible value being 1 µs, values below about 1 ms are resolved to
// 512 ns; above, to 3 significant digits.
//
// # Cost and concurrency
//
// Observe runs on the node's single dispatcher goroutine. It takes the
// method's own mutex, records up to three histogram values and a few
// counters into that method's live set, and never allocates:
// BenchmarkObserve measures about 20 ns on the development machine.
//
// Readers never copy or merge under that mutex. Snapshot and Interval first
// drain each method: they allocate empty histograms, then take the
// method's mutex only to swap them for the live ones and move the counters
// (a fraction of a µs that Observe may wait), and merge what they took
// into the cumulative set and the pending interval under the recorder's
// own lock, which Observe never takes. Both may be called from any
// goroutine; they serialize on that lock. Interval is for one consumer (the
// node's metrics loop): each call ends the previous interval.
//
// Both return values the caller owns; a stage with no values in the period
// has a nil histogram. Memory: six dense histograms of about 200 KB per
// method (live and cumulative), plus the pending interval's between
// Interval calls; Snapshot allocates a copy of every non-empty cumulative
// histogram.
//
// # Intervals
//
// Interval returns what was recorded since the previous call (the first:
// since NewRecorder), for the methods that answered at least one job in it;
// methods without jobs are left out. Intervals tile time: each job is
// counted in exactly one, its counters and histogram values in the same
// one, whether or not a Snapshot drained it first. Start and End are the
// two calls' times.
//
// # Interval logs
//
// LogWriter writes intervals in the HdrHistogram interval log format 1.3
// (hdrhistogram-go's HistogramLogWriter): a header of the format version, a
// comment, #[StartTime: …], #[BaseTime: …] and the legend line, then one
// line per method and stage with values:
//
//	Tag=<library>.<method>.<stage>,<start s from BaseTime>,<length s>,<max ms>,<base64 compressed histogram>
//
// Values are nanoseconds (Interval_Max is in ms, the format's convention).
// Files are <dir>/<name>-<UTC yyyymmddThhmmss.mmmZ>.hlog; a new one is started
// when the current one has been open LogOptions.RotateEvery (default 1 h)
// or has grown past LogOptions.MaxBytes (default 64 MiB), checked before
// each Write, and only the newest LogOptions.Keep (default 24) files of that
// name are kept. HdrHistogram's tools (HistogramLogReader,
// HistogramLogAnalyzer, HdrHistogram's plotter) read them.
//
// # Snapshot wire form
//
// EncodeSnapshot / DecodeSnapshot carry a snapshot and an Extra (node name,
// uptime, SLO lines, breaker states) as JSON, each histogram in
// HdrHistogram's V2 compressed base64 encoding (a few KB at most), so that
// 40 busy methods fit in well under 1 MiB. The format is versioned
// (WireVersion); another version is refused with a *VersionError.
//
// # Rendering
//
// WritePercentiles prints the classic HdrHistogram percentile table,
// WriteSummary one row per method, and WritePlot an SVG of latency by
// percentile for several histograms.
package metrics
