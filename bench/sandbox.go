package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/inos-node/node/client"
	"github.com/inos-node/node/guests/builtin"
	"github.com/inos-node/node/guests/imagelib/sample"
	"github.com/inos-node/node/guests/wasm"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/sandbox"
	"github.com/inos-node/node/schema"
	"github.com/inos-node/node/shm"
)

// SandboxOptions configure RunSandbox.
type SandboxOptions struct {
	// Duration of each measurement (a pair of paths, interleaved); default
	// 2 s, quick 400 ms.
	Duration time.Duration
	Quick    bool
	// CacheDir holds wazero's compiled code across runs ("" for none).
	CacheDir string
	Log      *slog.Logger
	// NodeCommand starts the node (SandboxNode) in a child process; the
	// region name is appended. Empty: the node runs in this process.
	NodeCommand []string
	// Scenarios, if not empty, are the scenarios to run (empty_call,
	// payload, fuel, image_pipeline, blake3, sha256); default all.
	Scenarios []string
}

func (o *SandboxOptions) wants(scenario string) bool {
	return len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, scenario)
}

// SandboxRow is one measurement of jobs through the node into a guest.
type SandboxRow struct {
	Scenario     string `json:"scenario"` // empty_call | payload | fuel
	Path         string `json:"path"`     // shm | copy | fuel | nofuel | host
	Job          string `json:"job"`      // library.method
	PayloadBytes int    `json:"payload_bytes"`
	Count        int64  `json:"count"`
	P50          int64  `json:"p50_ns"`
	P99          int64  `json:"p99_ns"`
	P999         int64  `json:"p999_ns"`
	Max          int64  `json:"max_ns"`
	// Fuel is the fuel one job used (the same for every job of the row).
	Fuel uint64 `json:"fuel,omitempty"`
	// MappedPerJob and CopiedPerJob are the buffer bytes mapped into and
	// copied to or from the guest per job.
	MappedPerJob uint64 `json:"mapped_bytes_per_job"`
	CopiedPerJob uint64 `json:"copied_bytes_per_job"`
	// VsBase is this row's p50 over the p50 of the row it is measured
	// against, interleaved job by job: copy over shm, fuel over nofuel.
	VsBase float64 `json:"p50_vs_base,omitempty"`
	// MBPerS is the payload over p50 (the hashing scenarios), 10^6 B/s.
	MBPerS float64 `json:"mb_per_s,omitempty"`
	Note   string  `json:"note,omitempty"`
}

// fuelOverhead summarizes the fuel scenario's rows: the geometric mean of
// their p50 ratios over nofuel, how many there are, and the highest.
func fuelOverhead(rows []SandboxRow) (geomean float64, n int, worst SandboxRow) {
	sum := 0.0
	for _, r := range rows {
		if r.Scenario != "fuel" || r.Path != "fuel" || r.VsBase <= 0 {
			continue
		}
		sum += math.Log(r.VsBase)
		n++
		if r.VsBase > worst.VsBase {
			worst = r
		}
	}
	if n == 0 {
		return 0, 0, worst
	}
	return math.Exp(sum / float64(n)), n, worst
}

// SandboxReporter prints sandbox rows as JSON lines or a table.
type SandboxReporter struct{ rowLog[SandboxRow] }

// NewSandboxReporter writes to w, as JSON lines when asJSON is set.
func NewSandboxReporter(w io.Writer, asJSON bool) *SandboxReporter {
	return &SandboxReporter{rowLog[SandboxRow]{w: w, json: asJSON}}
}

// Flush prints the table (text mode only).
func (p *SandboxReporter) Flush() {
	if p.json {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tpath\tjob\tpayload\tcount\tp50\tp99\tp99.9\tmax\tfuel\tmapped/job\tcopied/job\tMB/s\tp50 vs base\t")
	for _, r := range p.rows {
		ratio, rate := "", ""
		if r.VsBase > 0 {
			ratio = fmt.Sprintf("%.2fx", r.VsBase)
		}
		if r.MBPerS > 0 {
			rate = fmt.Sprintf("%.0f", r.MBPerS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Path, r.Job, bytesStr(r.PayloadBytes),
			r.Count, ns(r.P50), ns(r.P99), ns(r.P999), ns(r.Max), r.Fuel, bytesStr(int(r.MappedPerJob)), bytesStr(int(r.CopiedPerJob)), rate, ratio)
	}
	tw.Flush()
	if g, n, worst := fuelOverhead(p.rows); n > 0 {
		fmt.Fprintf(p.w, "\nfuel over nofuel: geometric mean %.3fx over %d jobs, highest %.2fx (%s)\n", g, n, worst.VsBase, worst.Job)
	}
	fmt.Fprintln(p.w, "\np50 vs base: copy over shm (the same job, input copied into the guest and output out of it, as")
	fmt.Fprintln(p.w, "copy-in/copy-out hosts do), fuel over nofuel (the same guest without the fuel pass), shm over")
	fmt.Fprintln(p.w, "native (the library's Go code run natively in the benchmark's process) and native over vips")
	fmt.Fprintln(p.w, "(libvips' command, a process per job); the paths of a scenario run job by job, interleaved.")
}

// sandboxPayloads are the payload sizes of the payload scenario.
var sandboxPayloads = []int{4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20}

// sandboxMaxPayload is the largest payload, and the bench libraries' input
// and output limit.
const sandboxMaxPayload = 64 << 20

// SandboxNode runs, until ctx ends, a node serving region with the
// libraries the sandbox benchmark measures: "bench" (the bench guest, its
// buffers mapped), "bench-copy" (copied in and out), "bench-nofuel" (no
// fuel pass), the built-in "image" and "crypto" guests with their product
// limits (the image library's input and output raised to 64 MiB), their
// copy-in/copy-out twins "image-copy" and "crypto-copy" and their twins
// without the fuel pass "image-nofuel" and "crypto-nofuel", the host-side
// "noop", and "benchstats" (method "get": the guest libraries' counters as
// JSON, written to the job's output).
func SandboxNode(ctx context.Context, region, cacheDir string, log *slog.Logger) error {
	lim := sandbox.Limits{
		MaxInputBytes: sandboxMaxPayload, MaxOutputBytes: sandboxMaxPayload, MaxMemoryPages: 4096,
		Timeout: 30 * time.Second, Imports: sandbox.GoGuestImports(), // fuel: no limit
	}
	eng, err := sandbox.NewEngine(ctx, cacheDir, builtin.MaxMemoryPages())
	if err != nil {
		return err
	}
	defer eng.Close(context.Background())
	reg, _ := kernel.NewRegistry(kernel.Noop{})
	stats := benchStats{}
	cfgs := []sandbox.LibraryConfig{
		{Name: "bench", Wasm: wasm.Bench, Limits: lim},
		{Name: "bench-copy", Wasm: wasm.Bench, Limits: lim, CopyBuffers: true},
		{Name: "bench-nofuel", Wasm: wasm.Bench, Limits: lim, Unmetered: true},
	}
	for _, g := range builtin.Guests() {
		if g.Name != "image" && g.Name != "crypto" {
			continue
		}
		// The limits a node serves them with, except that the image
		// library takes the zero-copy benchmark's payloads, up to 64 MiB
		// of raw RGBA, and the memory for them.
		lim := g.Limits
		if g.Name == "image" {
			lim.MaxInputBytes, lim.MaxOutputBytes = sandboxMaxPayload, sandboxMaxPayload
			lim.MaxMemoryPages = 6144
		}
		cfgs = append(cfgs,
			sandbox.LibraryConfig{Name: g.Name, Wasm: g.Wasm, Limits: lim, Random: g.Random},
			sandbox.LibraryConfig{Name: g.Name + "-copy", Wasm: g.Wasm, Limits: lim, Random: g.Random, CopyBuffers: true})
		cfgs = append(cfgs, sandbox.LibraryConfig{Name: g.Name + "-nofuel", Wasm: g.Wasm, Limits: lim, Random: g.Random, Unmetered: true})
	}
	for _, cfg := range cfgs {
		l, err := eng.NewLibrary(ctx, cfg)
		if err != nil {
			return err
		}
		defer l.Close(context.Background())
		stats[cfg.Name] = l
		if err := reg.Add(l); err != nil {
			return err
		}
	}
	if err := reg.Add(stats); err != nil {
		return err
	}
	node, err := kernel.New(kernel.Config{
		Region: region, HeapBytes: 2*sandboxMaxPayload + hashPayload + 64<<20, MaxProducers: 4,
		Wait: shm.WaitPolicy{Spin: shm.DefaultSpin, Park: shm.DefaultPark}, Libraries: reg, Logger: log,
	})
	if err != nil {
		return err
	}
	defer node.Close()
	return node.Run(ctx)
}

// benchStats is the host-side library "benchstats".
type benchStats map[string]*sandbox.Library

func (benchStats) Name() string { return "benchstats" }
func (s benchStats) Methods() map[string]kernel.Method {
	return map[string]kernel.Method{"get": func(_ context.Context, j *kernel.Job) (schema.Ref, error) {
		all := map[string]sandbox.LibraryStats{}
		for n, l := range s {
			all[n] = l.Stats()
		}
		b, _ := json.Marshal(all)
		if len(b) > len(j.Output) {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorOutputTooLarge, Msg: fmt.Sprintf("stats need %d bytes", len(b))}
		}
		copy(j.Output, b)
		return schema.Ref{Offset: j.OutputRef.Offset, Length: uint64(len(b))}, nil
	}}
}

// RunSandbox measures jobs through a node over the shared-memory rings into
// the bench guest: the empty call; a job that reads every input byte and
// writes as many output bytes, on the mapped path and on a
// copy-in/copy-out path; and compute-bound jobs with and without the fuel
// pass. The node runs as a child process (o.NodeCommand, given the region
// name) as in production, or in this process if NodeCommand is empty.
func RunSandbox(ctx context.Context, o SandboxOptions, rep *SandboxReporter) error {
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
		if o.Quick {
			o.Duration = 400 * time.Millisecond
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	region := fmt.Sprintf("bench-sandbox-%d", os.Getpid())
	if len(o.NodeCommand) > 0 {
		stop, err := startChild(append(append([]string{}, o.NodeCommand...), region))
		if err != nil {
			return err
		}
		defer stop()
	} else {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- SandboxNode(runCtx, region, o.CacheDir, o.Log) }()
		defer func() {
			cancel()
			<-done
		}()
	}
	wait := shm.WaitPolicy{Spin: shm.DefaultSpin, Park: shm.DefaultPark}
	c, err := AttachRetry(ctx, region, client.Options{Wait: wait}, 60*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	statsBuf, err := c.Alloc(4096)
	if err != nil {
		return err
	}
	defer c.Free(statsBuf)
	s := &sandboxRun{c: c, o: o, rep: rep, statsOut: statsBuf.Ref}

	// Empty call: the whole path through the node and a guest and back,
	// against the node's host-side noop (the transport alone).
	empty := client.Job{Library: "bench", Method: "empty"}
	if o.wants("empty_call") {
		if err := s.pair("empty_call", 0, "shm", empty, "host", client.Job{Library: "noop", Method: "noop"}, false); err != nil {
			return err
		}
	}
	// Payloads, mapped against copied.
	for _, n := range sandboxPayloads {
		if !o.wants("payload") {
			break
		}
		in, err := c.Alloc(n)
		if err != nil {
			return err
		}
		out, err := c.Alloc(n)
		if err != nil {
			return err
		}
		for i := range in.Bytes {
			in.Bytes[i] = byte(i * 7)
		}
		job := client.Job{Library: "bench", Method: "xor", Params: []byte(`{"key":90}`), Input: in.Ref, Output: out.Ref}
		cp := job
		cp.Library = "bench-copy"
		err = s.pair("payload", n, "shm", job, "copy", cp, true)
		c.Free(in)
		c.Free(out)
		if err != nil {
			return err
		}
	}
	// Fuel: compute-bound jobs metered and not.
	out, err := c.Alloc(64)
	if err != nil {
		return err
	}
	defer c.Free(out)
	in, err := c.Alloc(1 << 20)
	if err != nil {
		return err
	}
	defer c.Free(in)
	for i := range in.Bytes {
		in.Bytes[i] = byte(i)
	}
	// A real workload beside the micro-loop and the hash: a 1600×1200
	// photo resized to 800×600 (Lanczos3, JPEG q85) by the image guest.
	photo, err := sample.JPEG(1600, 1200, 2, 90)
	if err != nil {
		return err
	}
	pin, err := c.Alloc(len(photo))
	if err != nil {
		return err
	}
	defer c.Free(pin)
	copy(pin.Bytes, photo)
	pout, err := c.Alloc(8 << 20)
	if err != nil {
		return err
	}
	defer c.Free(pout)
	// The fuel pass's cost depends on where the compiler puts each
	// function's code as much as on the charges (the same loop moves by
	// ±10% between builds that only differ elsewhere), so the scenario
	// measures several guests' methods and reports their geometric mean.
	for _, job := range []client.Job{
		{Library: "bench", Method: "work", Params: []byte(`{"rounds":1000000}`), Output: out.Ref},
		{Library: "bench", Method: "sha256", Input: in.Ref, Output: out.Ref},
		{Library: "crypto", Method: "blake3", Input: in.Ref, Output: out.Ref},
		{Library: "crypto", Method: "sha512", Input: in.Ref, Output: out.Ref},
		{Library: "crypto", Method: "ed25519_sign", Params: []byte(`{"private_key":"` + strings.Repeat("ab", 32) + `"}`), Input: in.Ref, Output: out.Ref},
		{Library: "image", Method: "resize", Params: []byte(`{"width":800,"height":600,"filter":"lanczos3","format":"jpeg","quality":85}`), Input: pin.Ref, Output: pout.Ref},
		{Library: "image", Method: "blur", Params: []byte(`{"sigma":1,"format":"rgba"}`), Input: pin.Ref, Output: pout.Ref},
		{Library: "image", Method: "grayscale", Params: []byte(`{"format":"jpeg"}`), Input: pin.Ref, Output: pout.Ref},
	} {
		if !o.wants("fuel") {
			break
		}
		nf := job
		nf.Library += "-nofuel"
		if err := s.pair("fuel", len(c.View(job.Input)), "fuel", job, "nofuel", nf, false); err != nil {
			return err
		}
	}
	return s.libraryScenarios(ctx)
}

type sandboxRun struct {
	c        *client.Client
	o        SandboxOptions
	rep      *SandboxReporter
	statsOut schema.Ref
}

// stats asks the node for its guest libraries' counters.
func (s *sandboxRun) stats(ctx context.Context) (map[string]sandbox.LibraryStats, error) {
	r, err := s.c.Call(ctx, client.Job{Library: "benchstats", Method: "get", Output: s.statsOut})
	if err == nil {
		err = r.Err()
	}
	if err != nil {
		return nil, err
	}
	all := map[string]sandbox.LibraryStats{}
	return all, json.Unmarshal(s.c.View(r.Output.Ref), &all)
}

// pair measures two paths of a job, interleaved job by job for the
// options' duration (and at least 20 jobs each), and adds a row for each.
func (s *sandboxRun) pair(scenario string, payload int, pa string, a client.Job, pb string, b client.Job, check bool) error {
	ctx := context.Background()
	jobs := [2]client.Job{a, b}
	var hs [2]*hdrhistogram.Histogram
	var fuel [2]uint64
	for i := range jobs {
		hs[i] = NewHistogram()
		// Warm up, and check the output once.
		for k := 0; k < 3; k++ {
			r, err := s.c.Call(ctx, jobs[i])
			if err == nil {
				err = r.Err()
			}
			if err != nil {
				return fmt.Errorf("%s %s.%s: %w", scenario, jobs[i].Library, jobs[i].Method, err)
			}
			if check && k == 0 {
				if err := checkXor(s.c.View(jobs[i].Input), s.c.View(r.Output.Ref), 90); err != nil {
					return fmt.Errorf("%s %s: %w", scenario, jobs[i].Library, err)
				}
			}
			fuel[i] = r.FuelUsed
		}
	}
	before, err := s.stats(ctx)
	if err != nil {
		return err
	}
	end := time.Now().Add(s.o.Duration)
	minCount := int64(20)
	if s.o.Quick {
		minCount = 5
	}
	for time.Now().Before(end) || hs[0].TotalCount() < minCount {
		for i := range jobs {
			t0 := time.Now()
			r, err := s.c.Call(ctx, jobs[i])
			d := time.Since(t0)
			if err == nil {
				err = r.Err()
			}
			if err != nil {
				return fmt.Errorf("%s %s.%s: %w", scenario, jobs[i].Library, jobs[i].Method, err)
			}
			hs[i].RecordValue(int64(d))
		}
		if hs[0].TotalCount() >= 1_000_000 {
			break
		}
	}
	after, err := s.stats(ctx)
	if err != nil {
		return err
	}
	paths := [2]string{pa, pb}
	rows := [2]SandboxRow{}
	for i := range jobs {
		r := SandboxRow{Scenario: scenario, Path: paths[i], Job: jobs[i].Library + "." + jobs[i].Method, PayloadBytes: payload, Fuel: fuel[i]}
		r.Count = hs[i].TotalCount()
		r.P50, r.P99, r.P999, r.Max = hs[i].ValueAtQuantile(50), hs[i].ValueAtQuantile(99), hs[i].ValueAtQuantile(99.9), hs[i].Max()
		if a, ok := after[jobs[i].Library]; ok && r.Count > 0 {
			b := before[jobs[i].Library]
			r.MappedPerJob = (a.BytesMapped - b.BytesMapped) / uint64(r.Count)
			r.CopiedPerJob = (a.BytesCopied - b.BytesCopied) / uint64(r.Count)
		}
		rows[i] = r
	}
	switch pb {
	case "host":
		rows[1].Note = "the node's host-side noop: rings and dispatch without a guest"
	case "copy":
		rows[1].VsBase = float64(rows[1].P50) / float64(rows[0].P50)
		rows[1].Note = "p50 over shm's"
	case "nofuel":
		rows[0].VsBase = float64(rows[0].P50) / float64(rows[1].P50)
		rows[0].Note = "p50 over nofuel's"
	}
	s.rep.Add(rows[0])
	s.rep.Add(rows[1])
	return nil
}

func checkXor(in, out []byte, key byte) error {
	if len(in) != len(out) {
		return fmt.Errorf("output of %d bytes for %d in", len(out), len(in))
	}
	for i := range in {
		if out[i] != in[i]^key {
			return fmt.Errorf("output byte %d is %#x, want %#x", i, out[i], in[i]^key)
		}
	}
	return nil
}
