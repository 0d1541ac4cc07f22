package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Row is one measurement: a scenario on one transport with one payload size,
// idle gap and mode.
type Row struct {
	Scenario     string  `json:"scenario"`
	Transport    string  `json:"transport"`
	Mode         string  `json:"mode"`
	PayloadBytes int     `json:"payload_bytes"`
	IdleUs       int     `json:"idle_us"`
	RateHz       float64 `json:"rate_hz,omitempty"`
	Count        int64   `json:"count"`
	P50          int64   `json:"p50_ns"`
	P99          int64   `json:"p99_ns"`
	P999         int64   `json:"p999_ns"`
	Max          int64   `json:"max_ns"`
	OpsPerS      float64 `json:"ops_per_s"`
	// FloorP50 is the machine's core-to-core round trip (transport "line")
	// measured just before this row, on shm rows: the part of P50 that no
	// shared-memory protocol can avoid. It moves with where the host runs
	// the two vCPUs, so it is measured beside every shm row.
	FloorP50 int64 `json:"floor_p50_ns,omitempty"`
	// VsShm is this row's p50 over the shm row's p50 of the same
	// scenario, payload and gap (how many times slower than shm).
	VsShm float64 `json:"p50_vs_shm,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// NewHistogram returns a histogram of nanoseconds from 1 ns to 1 h with 3
// significant digits.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(time.Hour), 3)
}

// fill sets the row's percentiles from h.
func (r *Row) fill(h *hdrhistogram.Histogram, elapsed time.Duration) {
	r.Count = h.TotalCount()
	r.P50 = h.ValueAtQuantile(50)
	r.P99 = h.ValueAtQuantile(99)
	r.P999 = h.ValueAtQuantile(99.9)
	r.Max = h.Max()
	if elapsed > 0 {
		r.OpsPerS = float64(r.Count) / elapsed.Seconds()
	}
}

// Reporter prints rows as they come, as JSON lines or as a table.
type Reporter struct{ rowLog[Row] }

// rowLog keeps a scenario's rows and prints each as a JSON line as it comes
// when asked to; each reporter adds its own text table.
type rowLog[T any] struct {
	w    io.Writer
	json bool
	rows []T
}

// NewReporter writes to w, as JSON lines when asJSON is set.
func NewReporter(w io.Writer, asJSON bool) *Reporter {
	return &Reporter{rowLog[Row]{w: w, json: asJSON}}
}

// Add records a row and prints it at once when printing JSON.
func (p *rowLog[T]) Add(r T) {
	p.rows = append(p.rows, r)
	if p.json {
		b, _ := json.Marshal(r)
		fmt.Fprintf(p.w, "%s\n", b)
	}
}

// Rows returns every row added so far.
func (p *rowLog[T]) Rows() []T { return p.rows }

// Flush prints the table (text mode only), with each baseline's p50 ratio
// to shm's.
func (p *Reporter) Flush() {
	if p.json {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\ttransport\tmode\tpayload\tidle\tcount\tp50\tp99\tp99.9\tmax\tops/s\tfloor p50\tp50 vs shm\t")
	for _, r := range p.rows {
		ratio := ""
		if r.VsShm > 0 {
			ratio = fmt.Sprintf("%.1fx", r.VsShm)
		}
		floor := ""
		if r.FloorP50 > 0 {
			floor = ns(r.FloorP50)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%dµs\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Scenario, r.Transport, r.Mode,
			bytesStr(r.PayloadBytes), r.IdleUs, r.Count, ns(r.P50), ns(r.P99), ns(r.P999), ns(r.Max), rate(r.OpsPerS), floor, ratio)
	}
	tw.Flush()
	fmt.Fprintln(p.w, "\nfloor p50: two threads handing one word back and forth through shared cache lines, measured just")
	fmt.Fprintln(p.w, "before each shm row; no shared-memory round trip can beat it, and it moves with vCPU placement.")
}

func ns(v int64) string {
	d := time.Duration(v)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", v)
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fµs", float64(v)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(v)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func bytesStr(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
