package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/inos-node/node/bench/copyprobe"
	"github.com/inos-node/node/client"
	"github.com/inos-node/node/shm"
)

// ZeroCopyOptions configure RunZeroCopy.
type ZeroCopyOptions struct {
	// Quick runs fewer jobs per row (and the 64 MiB payload fewer still);
	// Jobs overrides the count.
	Quick bool
	Jobs  int
	// Payloads are the payload sizes; default 4 KiB, 64 KiB, 1 MiB,
	// 16 MiB, 64 MiB.
	Payloads []int
	Log      *slog.Logger
	// NodeCommand starts the node (SandboxNode) in a child process; the
	// region name is appended. NodeBinary is its executable, which the
	// probe attaches to (as it does to this process's).
	NodeCommand []string
	NodeBinary  string
}

// ZeroCopyRow is one payload size on one path of one job.
type ZeroCopyRow struct {
	Path         string `json:"path"` // shm | copy
	Job          string `json:"job"`  // library.method (the copy path's library is <library>-copy)
	PayloadBytes int    `json:"payload_bytes"`
	Jobs         int64  `json:"jobs"`
	// Bulk copies (≥ 4 KiB) per job and their bytes, in the node and the
	// producer together, as the eBPF probe counted them.
	CopiesPerJob      float64 `json:"copies_per_job"`
	BytesCopiedPerJob float64 `json:"bytes_copied_per_job"`
	CopiedOverPayload float64 `json:"bytes_copied_over_payload"`
	NodeCopiesPerJob  float64 `json:"node_copies_per_job"`
	ProdCopiesPerJob  float64 `json:"producer_copies_per_job"`
	// GuestCopiesPerJob are the bulk copies a guest makes within its own
	// memory (wasm memory.copy: a library's internal buffering), and their
	// bytes: not between the producer and the guest.
	GuestCopiesPerJob      float64 `json:"guest_copies_per_job"`
	GuestBytesCopiedPerJob float64 `json:"guest_bytes_copied_per_job"`
	// EngineCopiesPerJob are the bulk copies wazero makes moving a guest's
	// machine stack to a larger one (its call frames, not job data: a few
	// times in an instance's life, at whichever job first goes deeper),
	// and their bytes; not in CopiesPerJob.
	EngineCopiesPerJob      float64 `json:"engine_copies_per_job"`
	EngineBytesCopiedPerJob float64 `json:"engine_bytes_copied_per_job"`
	// SmallCopiesPerJob are the copies under 4 KiB (envelopes, params,
	// the runtime's own), for the record.
	SmallCopiesPerJob float64 `json:"small_copies_per_job"`
	P50               int64   `json:"p50_ns"`
	P99               int64   `json:"p99_ns"`
	Max               int64   `json:"max_ns"`
}

// ZeroCopyReporter prints zero-copy rows as JSON lines or a table.
type ZeroCopyReporter struct{ rowLog[ZeroCopyRow] }

// NewZeroCopyReporter writes to w, as JSON lines when asJSON is set.
func NewZeroCopyReporter(w io.Writer, asJSON bool) *ZeroCopyReporter {
	return &ZeroCopyReporter{rowLog[ZeroCopyRow]{w: w, json: asJSON}}
}

// Flush prints the table (text mode only).
func (p *ZeroCopyReporter) Flush() {
	if p.json {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "job\tpath\tpayload\tjobs\tcopies/job\tbytes copied/job\tcopied/payload\tnode\tproducer\tguest copies/job\tguest bytes/job\tstack moves/job\tsmall/job\tp50\tp99\tmax\t")
	for _, r := range p.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%.2f\t%.1f\t%s\t%s\t%s\t\n", r.Job, r.Path, bytesStr(r.PayloadBytes), r.Jobs,
			r.CopiesPerJob, bytesStr(int(r.BytesCopiedPerJob)), r.CopiedOverPayload, r.NodeCopiesPerJob, r.ProdCopiesPerJob,
			r.GuestCopiesPerJob, bytesStr(int(r.GuestBytesCopiedPerJob)), r.EngineCopiesPerJob, r.SmallCopiesPerJob, ns(r.P50), ns(r.P99), ns(r.Max))
	}
	tw.Flush()
	fmt.Fprintln(p.w, "\ncopies/job: memory copies of 4 KiB or more per job by the node's and the producer's own code")
	fmt.Fprintln(p.w, "(runtime.memmove and libc memcpy/memmove, counted by eBPF uprobes), split into node and producer;")
	fmt.Fprintln(p.w, "guest copies: those the guest's compiled wasm makes within its own memory (memory.copy), not between")
	fmt.Fprintln(p.w, "producer and guest; stack moves: wazero moving a guest's call stack to a larger one when a call")
	fmt.Fprintln(p.w, "first goes deeper (10 KiB, doubling; a few times per instance); small/job: copies under 4 KiB.")
	fmt.Fprintln(p.w, "shm: the producer's pages are mapped into the guest; copy: the same guest with its input copied in")
	fmt.Fprintln(p.w, "and its output out, as copy-in/copy-out hosts do. Latency is measured with the probe detached.")
}

// zeroCopyPayloads are the payload sizes: each is a square RGBA image for
// the image job (32², 128², 512², 2048², 4096² pixels).
var zeroCopyPayloads = []int{4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20}

// zeroCopyJob is a job the benchmark runs at every payload size.
type zeroCopyJob struct {
	library, method string
	params          func(payload int) string
	outBytes        func(payload int) int
}

var zeroCopyJobs = []zeroCopyJob{
	// Reads every input byte.
	{"crypto", "blake3", func(int) string { return `{}` }, func(int) int { return 32 }},
	// Reads every input byte and writes as many: raw RGBA in, raw out.
	{"image", "invert", func(n int) string {
		side := isqrt(n / 4)
		return fmt.Sprintf(`{"raw":{"width":%d,"height":%d},"format":"rgba"}`, side, side)
	}, func(n int) int { return n }},
	// Touches nothing: the transport alone, input and output mapped.
	{"bench", "empty", func(int) string { return `{}` }, func(n int) int { return n }},
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}

// RunZeroCopy runs jobs through the whole path — this process (the
// producer) → shared memory → the node → a guest → shared memory → this
// process — with an eBPF probe counting every memory copy of 4 KiB or
// more in both processes, for each payload size, on the mapped path and
// on the copy-in/copy-out path. The probe must be permitted
// (copyprobe.ErrNotPermitted otherwise).
func RunZeroCopy(ctx context.Context, o ZeroCopyOptions, rep *ZeroCopyReporter) error {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(o.Payloads) == 0 {
		o.Payloads = zeroCopyPayloads
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bins := []string{self}
	if o.NodeBinary != "" && o.NodeBinary != self {
		bins = append(bins, o.NodeBinary)
	}
	region := fmt.Sprintf("bench-zerocopy-%d", os.Getpid())
	if len(o.NodeCommand) == 0 {
		return fmt.Errorf("bench: the zero-copy benchmark runs the node as a child process (NodeCommand)")
	}
	pid, stop, err := startChildPID(append(append([]string{}, o.NodeCommand...), region))
	if err != nil {
		return err
	}
	defer stop()
	wait := shm.WaitPolicy{Spin: shm.DefaultSpin, Park: shm.DefaultPark}
	c, err := AttachRetry(ctx, region, client.Options{Wait: wait}, 60*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()

	// The probe is attached only while copies are counted: a uprobe on
	// memmove slows every process running the file (the node's start-up,
	// compiling and warming its guests, would take minutes), and latency
	// is measured with it detached.
	probe, err := copyprobe.New(bins...)
	if err != nil {
		return err
	}
	defer probe.Close()
	if err := probe.Detach(); err != nil {
		return err
	}
	o.Log.Info("probe loaded", "on", probe.Attached, "libc", probe.LibcErr)
	const nodeSlot, prodSlot = 0, 1
	if err := probe.Watch(pid, nodeSlot); err != nil {
		return err
	}
	if err := probe.Watch(os.Getpid(), prodSlot); err != nil {
		return err
	}

	for _, n := range o.Payloads {
		in, err := c.Alloc(n)
		if err != nil {
			return err
		}
		for i := range in.Bytes {
			in.Bytes[i] = byte(i*7 + i>>12)
		}
		out, err := c.Alloc(n)
		if err != nil {
			return err
		}
		for _, j := range zeroCopyJobs {
			jobs := o.Jobs
			if jobs == 0 {
				jobs = 40
				if o.Quick {
					jobs = 10
				}
				if n >= 64<<20 {
					jobs = max(jobs/4, 3)
				}
			}
			outRef := out.Ref
			outRef.Length = uint64(j.outBytes(n))
			job := client.Job{Library: j.library, Method: j.method, Params: []byte(j.params(n)), Input: in.Ref, Output: outRef}
			for _, path := range []string{"shm", "copy"} {
				jb := job
				if path == "copy" {
					jb.Library += "-copy"
				}
				row, err := zeroCopyRow(ctx, c, probe, jb, path, n, jobs, nodeSlot, prodSlot)
				if err != nil {
					return fmt.Errorf("%s.%s %s %d B: %w", j.library, j.method, path, n, err)
				}
				rep.Add(row)
			}
		}
		c.Free(in)
		c.Free(out)
	}
	return nil
}

// zeroCopyRow runs a warm-up job, then jobs jobs with the probe attached,
// reading its counts around them, then jobs jobs with it detached, timing
// each.
func zeroCopyRow(ctx context.Context, c *client.Client, probe *copyprobe.Probe, job client.Job, path string, payload, jobs, nodeSlot, prodSlot int) (ZeroCopyRow, error) {
	call := func() (time.Duration, error) {
		t0 := time.Now()
		r, err := c.Call(ctx, job)
		d := time.Since(t0)
		if err == nil {
			err = r.Err()
		}
		return d, err
	}
	if _, err := call(); err != nil {
		return ZeroCopyRow{}, err
	}
	read := func() (copyprobe.Counts, copyprobe.Counts, error) {
		a, err := probe.Read(nodeSlot)
		if err != nil {
			return a, a, err
		}
		b, err := probe.Read(prodSlot)
		return a, b, err
	}
	if err := probe.Attach(); err != nil {
		return ZeroCopyRow{}, err
	}
	n0, p0, err := read()
	if err != nil {
		probe.Detach()
		return ZeroCopyRow{}, err
	}
	for i := 0; i < jobs; i++ {
		if _, err := call(); err != nil {
			probe.Detach()
			return ZeroCopyRow{}, err
		}
	}
	n1, p1, err := read()
	if derr := probe.Detach(); err == nil {
		err = derr
	}
	if err != nil {
		return ZeroCopyRow{}, err
	}
	h := NewHistogram()
	for i := 0; i < jobs; i++ {
		d, err := call()
		if err != nil {
			return ZeroCopyRow{}, err
		}
		_ = h.RecordValue(int64(d))
	}
	node, prod := n1.Sub(n0), p1.Sub(p0)
	per := func(v uint64) float64 { return float64(v) / float64(jobs) }
	row := ZeroCopyRow{
		Path: path, Job: job.Library + "." + job.Method, PayloadBytes: payload, Jobs: int64(jobs),
		CopiesPerJob:            per(node.Bulk + prod.Bulk),
		BytesCopiedPerJob:       per(node.BulkBytes + prod.BulkBytes),
		NodeCopiesPerJob:        per(node.Bulk),
		ProdCopiesPerJob:        per(prod.Bulk),
		GuestCopiesPerJob:       per(node.GuestBulk + prod.GuestBulk),
		GuestBytesCopiedPerJob:  per(node.GuestBulkBytes + prod.GuestBulkBytes),
		EngineCopiesPerJob:      per(node.EngineBulk + prod.EngineBulk),
		EngineBytesCopiedPerJob: per(node.EngineBulkBytes + prod.EngineBulkBytes),
		SmallCopiesPerJob: per(node.Copies() + prod.Copies() - node.Bulk - prod.Bulk - node.GuestBulk - prod.GuestBulk -
			node.EngineBulk - prod.EngineBulk),
		P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99), Max: h.Max(),
	}
	row.CopiedOverPayload = row.BytesCopiedPerJob / float64(payload)
	return row, nil
}
