package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/guests/abi"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/sandbox/internal/guestmem"
	"github.com/inos-node/node/schema"
)

// Host-side bounds of the guest ABI (guests/ABI.md; the wire format is
// guests/abi).
const (
	maxMethodName = 256
	maxMessage    = 4096
)

// LibraryConfig describes a wasm-backed library.
type LibraryConfig struct {
	Name   string
	Wasm   []byte
	Limits Limits
	// MaxParamsBytes is the largest params object a job may carry (the
	// node's own limit; default 1 MiB). It sizes the call frame.
	MaxParamsBytes int
	// Warm is how many initialized instances are kept (default 1).
	Warm int
	// CopyBuffers makes the library copy each job's input into the guest
	// and its output out of it, as copy-in/copy-out hosts (Extism's Go SDK)
	// do, instead of mapping the producer's pages. It exists to measure
	// that baseline (inos bench sandbox, path "copy").
	CopyBuffers bool
	// Unmetered loads the guest without the fuel pass: no fuel is counted
	// and no timeout can stop it. It exists to measure what metering costs
	// (inos bench sandbox, path "nofuel"); never serve untrusted jobs so.
	Unmetered bool
	// Random is what the guest's inos.random_get reads (the SDK's
	// sdk.Entropy): crypto/rand.Reader for a library that makes keys or
	// nonces; nil for one that needs none (random_get then fails with
	// ENOSYS). WASI's random_get, which seeds the guest runtime's hash
	// maps and math/rand, is wazero's deterministic source for every
	// library, so that a job's fuel does not depend on random seeds.
	Random io.Reader
}

// Library is a guest served to the node through the same kernel.Library
// interface as host-side libraries. Each job runs on a warm instance: the
// producer's input pages are mapped (copy-on-write) over the instance's
// input window, its output buffer (shared) over the output window, the
// call frame is written, and inos_call runs under the job's timeout and
// fuel; then the windows get the guest's own pages back. See guests/ABI.md.
type Library struct {
	name    string
	pool    *Pool
	lim     Limits
	methods []string
	copy    bool

	frameBytes uint64 // the frame's part of the reserved area
	inWin      uint64 // the input window's size
	outWin     uint64 // the output window's size

	stats libraryStats
}

type libraryStats struct {
	jobs, failed, mapped, copied, kept, bulk atomic.Uint64
}

// LibraryStats counts a library's jobs and the bytes of their buffers that
// were mapped into guests and that were copied (partial edge pages, or
// everything on the CopyBuffers path).
type LibraryStats struct {
	Jobs, Failed             uint64
	BytesMapped, BytesCopied uint64
	// BulkBytesCopied is the part of BytesCopied copied 4 KiB or more at a
	// time: zero on the mapped path, whose copies are the sub-page edges
	// of buffers that do not start or end on a page (at most 4095 bytes
	// each); all of a CopyBuffers library's copies.
	BulkBytesCopied uint64
	// OutputMapsKept counts jobs whose output buffer was the one already
	// mapped in the instance's output window by its previous job: nothing
	// was mapped again (see Library).
	OutputMapsKept uint64
}

// Stats returns the library's counters.
func (l *Library) Stats() LibraryStats {
	return LibraryStats{Jobs: l.stats.jobs.Load(), Failed: l.stats.failed.Load(),
		BytesMapped: l.stats.mapped.Load(), BytesCopied: l.stats.copied.Load(), OutputMapsKept: l.stats.kept.Load(),
		BulkBytesCopied: l.stats.bulk.Load()}
}

// PoolStats returns the library's instance pool's counters.
func (l *Library) PoolStats() PoolStats { return l.pool.Stats() }

// Errors of NewLibrary, compare with errors.Is.
var ErrNotAGuest = errors.New("sandbox: module does not implement the INOS guest ABI")

// NewLibrary loads cfg.Wasm (see Load for the checks), makes its warm
// instances, and asks the guest for its ABI version and method names.
func (e *Engine) NewLibrary(ctx context.Context, cfg LibraryConfig) (*Library, error) {
	page := guestmem.PageSize()
	if cfg.MaxParamsBytes <= 0 {
		cfg.MaxParamsBytes = 1 << 20
	}
	if cfg.Warm <= 0 {
		cfg.Warm = 1
	}
	l := &Library{
		name: cfg.Name, lim: cfg.Limits, copy: cfg.CopyBuffers,
		frameBytes: alignUp(abi.HeaderSize+maxMethodName+uint64(cfg.MaxParamsBytes), page),
		inWin:      alignUp(cfg.Limits.MaxInputBytes, page) + page,
		outWin:     alignUp(cfg.Limits.MaxOutputBytes, page) + page,
	}
	if area := l.frameBytes + l.inWin + l.outWin; area >= 1<<31 || uint64(cfg.Limits.MaxMemoryPages)*65536 < area {
		return nil, fmt.Errorf("sandbox: library %q: input (%d) and output (%d) windows and call frame need %d bytes of guest memory, its limit is %d pages",
			cfg.Name, cfg.Limits.MaxInputBytes, cfg.Limits.MaxOutputBytes, area, cfg.Limits.MaxMemoryPages)
	}
	m, err := e.load(ctx, cfg.Name, cfg.Wasm, cfg.Limits, !cfg.Unmetered)
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"inos_abi_version", "inos_methods", "inos_reserve", "inos_call"} {
		if _, ok := m.Compiled.ExportedFunctions()[f]; !ok {
			m.Compiled.Close(ctx)
			return nil, fmt.Errorf("%w: library %q exports no %s", ErrNotAGuest, cfg.Name, f)
		}
	}
	l.pool, err = e.newPool(ctx, m, cfg.Warm, l.prepare, cfg.Random)
	if err != nil {
		m.Compiled.Close(ctx)
		return nil, err
	}
	if err := l.readMethods(ctx); err != nil {
		l.Close(ctx)
		return nil, err
	}
	return l, nil
}

// prepare checks a new instance's ABI version and reserves its area.
func (l *Library) prepare(ctx context.Context, inst *instance) error {
	lim := initLimits(l.lim)
	vals, _, err := l.pool.call(ctx, inst, inst.mod.ExportedFunction("inos_abi_version"), lim)
	if err != nil {
		return fmt.Errorf("sandbox: library %q: inos_abi_version: %w", l.name, err)
	}
	if v := uint32(vals[0]); v != abi.Version {
		return fmt.Errorf("%w: library %q speaks ABI version %d, the node %d", ErrNotAGuest, l.name, v, abi.Version)
	}
	size := l.frameBytes + l.inWin + l.outWin
	vals, _, err = l.pool.call(ctx, inst, inst.mod.ExportedFunction("inos_reserve"), lim, size, inst.maxMem)
	if err != nil {
		return fmt.Errorf("sandbox: library %q: inos_reserve(%d): %w", l.name, size, err)
	}
	area := uint64(uint32(vals[0]))
	if area == 0 || area%guestmem.PageSize() != 0 || area+size > uint64(len(inst.mem.Bytes())) {
		return fmt.Errorf("%w: library %q: inos_reserve(%d) returned %#x, not a page-aligned range inside its %d bytes of memory",
			ErrNotAGuest, l.name, size, area, len(inst.mem.Bytes()))
	}
	inst.area = area
	inst.entry = inst.mod.ExportedFunction("inos_call")
	return nil
}

// readMethods asks a warm instance for the guest's method names.
func (l *Library) readMethods(ctx context.Context) error {
	inst, err := l.pool.get(ctx)
	if err != nil {
		return err
	}
	vals, _, err := l.pool.call(ctx, inst, inst.mod.ExportedFunction("inos_methods"), initLimits(l.lim))
	if err != nil {
		l.pool.discard(ctx, inst)
		return fmt.Errorf("sandbox: library %q: inos_methods: %w", l.name, err)
	}
	defer l.pool.put(inst)
	ptr, n := uint32(vals[0]>>32), uint32(vals[0])
	b, ok := inst.mod.Memory().Read(ptr, n)
	if !ok || n > 64<<10 {
		return fmt.Errorf("%w: library %q: inos_methods returned [%#x,+%d), outside its memory", ErrNotAGuest, l.name, ptr, n)
	}
	for _, name := range strings.Split(string(b), "\n") {
		if name == "" || len(name) > maxMethodName {
			return fmt.Errorf("%w: library %q: bad method name %q", ErrNotAGuest, l.name, name)
		}
		l.methods = append(l.methods, name)
	}
	return nil
}

// Name implements kernel.Library.
func (l *Library) Name() string { return l.name }

// Methods implements kernel.Library: every method the guest names runs
// through the same call path.
func (l *Library) Methods() map[string]kernel.Method {
	out := make(map[string]kernel.Method, len(l.methods))
	for _, m := range l.methods {
		out[m] = l.run
	}
	return out
}

// MethodNames returns the methods the guest serves.
func (l *Library) MethodNames() []string { return append([]string(nil), l.methods...) }

// Limits returns the library's limits.
func (l *Library) Limits() Limits { return l.lim }

// Close closes the library's instances.
func (l *Library) Close(ctx context.Context) {
	l.pool.Close(ctx)
	l.pool.m.Compiled.Close(ctx)
}

// window is one buffer (input or output) placed in an instance for a job:
// the producer's byte range [off, end) of the region appears at guest
// address gaddr(off); the whole pages [ms, me) of it that lie inside the
// producer's block are mapped, the rest (at most a page at each end) is
// copied.
type window struct {
	base     uint64 // guest address of the window
	off, end uint64 // the producer's range, region offsets
	floor    uint64 // off rounded down to a page: what base shows
	ms, me   uint64 // mapped part, region offsets (ms == me: none)
}

func (w *window) guest(x uint64) uint64 { return w.base + x - w.floor }

// place computes how the range [off, off+n) of block b goes into the window
// at base.
func place(base, off, n uint64, b schema.Ref, copyAll bool) window {
	page := guestmem.PageSize()
	w := window{base: base, off: off, end: off + n, floor: off &^ (page - 1)}
	if n == 0 || copyAll {
		return w
	}
	lo := alignUp(b.Offset, page)             // first whole page of the block
	hi := (b.Offset + b.Length) &^ (page - 1) // end of its last whole page
	w.ms = max(w.floor, lo)
	w.me = min(alignUp(w.end, page), hi)
	if w.ms >= w.me {
		w.ms, w.me = 0, 0
	}
	return w
}

// edges returns the parts of [from, to) outside the mapped range.
func (w *window) edges(from, to uint64) (a0, a1, b0, b1 uint64) {
	if w.ms == w.me {
		return from, to, 0, 0
	}
	a0, a1 = from, min(to, w.ms)
	b0, b1 = max(from, w.me), to
	if a1 < a0 {
		a1 = a0
	}
	if b1 < b0 {
		b1 = b0
	}
	return
}

func (l *Library) countCopy(total, bulk uint64) {
	l.stats.copied.Add(total)
	l.stats.bulk.Add(bulk)
}

// copyEdges copies the unmapped parts of [from, to) between the region and
// the guest's memory (in: into the guest) and returns the bytes copied.
func (w *window) copyEdges(from, to uint64, mem, region []byte, in bool) (total, bulk uint64) {
	a0, a1, b0, b1 := w.edges(from, to)
	for _, r := range [2][2]uint64{{a0, a1}, {b0, b1}} {
		if r[1] <= r[0] {
			continue
		}
		g := mem[w.guest(r[0]) : w.guest(r[0])+r[1]-r[0]]
		if in {
			copy(g, region[r[0]:r[1]])
		} else {
			copy(region[r[0]:r[1]], g)
		}
		if n := r[1] - r[0]; n >= 4096 {
			bulk += n
		}
	}
	return a1 - a0 + b1 - b0, bulk
}

// run is every method of the library.
func (l *Library) run(ctx context.Context, job *kernel.Job) (schema.Ref, error) {
	l.stats.jobs.Add(1)
	out, err := l.runJob(ctx, job)
	if err != nil {
		l.stats.failed.Add(1)
	}
	return out, err
}

func (l *Library) runJob(ctx context.Context, job *kernel.Job) (schema.Ref, error) {
	// Limits first, before any guest code runs.
	if n := uint64(len(job.Input)); n > l.lim.MaxInputBytes {
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInputTooLarge,
			Msg: fmt.Sprintf("%s: input is %d bytes, the library's limit is %d", l.name, n, l.lim.MaxInputBytes)}
	}
	outCap := min(uint64(len(job.Output)), l.lim.MaxOutputBytes)
	if job.Limits.MaxOutputBytes > 0 {
		outCap = min(outCap, job.Limits.MaxOutputBytes)
	}
	if len(job.Params) > int(l.frameBytes)-abi.HeaderSize-len(job.Method) {
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInvalidParams,
			Msg: fmt.Sprintf("%s: params are %d bytes, the library's frame holds %d", l.name, len(job.Params), l.frameBytes-abi.HeaderSize-uint64(len(job.Method)))}
	}
	lim := l.lim
	if f := job.Limits.MaxFuel; f > 0 && (lim.MaxFuel == 0 || f < lim.MaxFuel) {
		lim.MaxFuel = f
	}
	if t := time.Duration(job.Limits.TimeoutNs); t > 0 && (lim.Timeout <= 0 || t < lim.Timeout) {
		lim.Timeout = t
	}
	if !job.Deadline.IsZero() {
		left := time.Until(job.Deadline)
		if left <= 0 {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorDeadlineExceeded, Msg: "deadline passed before the guest ran"}
		}
		if lim.Timeout <= 0 || left < lim.Timeout {
			lim.Timeout = left
		}
	}

	inst, err := l.pool.get(ctx)
	if err != nil {
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInternal, Msg: err.Error()}
	}
	mem := inst.mem.Bytes()
	frame := inst.area
	in := place(inst.area+l.frameBytes, job.InputRef.Offset, uint64(len(job.Input)), job.InputBlock, l.copy)
	out := place(inst.area+l.frameBytes+l.inWin, job.OutputRef.Offset, outCap, job.OutputBlock, l.copy)
	region := job.Region.Bytes()

	// Place the buffers: map the whole pages, copy the edges.
	if err := l.mapWindow(inst, &in, job, guestmem.Private); err != nil {
		l.pool.discard(ctx, inst)
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInternal, Msg: err.Error()}
	}
	if err := l.mapOutput(inst, &out, job); err != nil {
		l.pool.discard(ctx, inst) // its memory goes, with the input's mapping
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInternal, Msg: err.Error()}
	}
	l.countCopy(in.copyEdges(in.off, in.end, mem, region, true))

	// The frame.
	h := mem[frame : frame+abi.HeaderSize]
	req := abi.Request{MethodLen: uint32(len(job.Method)), ParamsLen: uint32(len(job.Params)), JobID: job.ID}
	if len(job.Input) > 0 {
		req.InputPtr, req.InputLen = uint32(in.guest(in.off)), uint32(len(job.Input))
	}
	if outCap > 0 {
		req.OutputPtr, req.OutputCap = uint32(out.guest(out.off)), uint32(outCap)
	}
	abi.PutRequest(h, req)
	s := frame + abi.HeaderSize
	s += uint64(copy(mem[s:], job.Method))
	copy(mem[s:], job.Params)

	vals, used, cerr := l.pool.call(ctx, inst, inst.entry, lim, frame)
	job.FuelUsed = used

	// Read the guest's answer before the windows go.
	var status uint32
	var outLen uint64
	var msg string
	if cerr == nil {
		status = uint32(vals[0])
		rep := abi.ReadReply(h)
		outLen = uint64(rep.OutputLen)
		msg = guestMessage(inst, rep.MessagePtr, rep.MessageLen)
		if status == abi.StatusOK && outLen <= outCap {
			l.countCopy(out.copyEdges(out.off, out.off+outLen, mem, region, false))
		}
	}
	rerr := errors.Join(l.unmapWindow(inst, &in), l.scrubEdges(inst, &out))
	if cerr != nil {
		cerr = l.callError(inst, cerr) // before the instance goes
	}
	switch {
	case rerr != nil:
		l.pool.discard(ctx, inst)
		if cerr == nil {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInternal, Msg: rerr.Error()}
		}
	case cerr != nil:
		l.pool.discard(ctx, inst)
	default:
		l.pool.put(inst)
	}
	if cerr != nil {
		return schema.Ref{}, cerr
	}
	switch status {
	case abi.StatusOK:
		if outLen > outCap {
			return schema.Ref{}, &kernel.Error{Kind: schema.ErrorOutputTooLarge,
				Msg: fmt.Sprintf("%s.%s reported %d output bytes, its capacity was %d", l.name, job.Method, outLen, outCap)}
		}
		if outLen == 0 {
			return schema.Ref{}, nil
		}
		return schema.Ref{Offset: out.off, Length: outLen}, nil
	case abi.StatusBadParams:
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInvalidParams, Msg: msg}
	case abi.StatusUnknownMethod:
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorUnknownMethod, Msg: msg}
	case abi.StatusOutputTooSmall:
		why := fmt.Sprintf("%s.%s: %s", l.name, job.Method, msg)
		if outLen > l.lim.MaxOutputBytes {
			why += fmt.Sprintf(" (the library's limit is %d bytes)", l.lim.MaxOutputBytes)
		}
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorOutputTooLarge, Msg: why, OutputNeeded: outLen}
	case abi.StatusFailed:
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorLibraryFailed, Msg: fmt.Sprintf("%s.%s: %s", l.name, job.Method, msg)}
	case abi.StatusBadInput:
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorInvalidInput, Msg: fmt.Sprintf("%s.%s: %s", l.name, job.Method, msg)}
	default:
		return schema.Ref{}, &kernel.Error{Kind: schema.ErrorLibraryFailed, Msg: fmt.Sprintf("%s.%s returned status %d: %s", l.name, job.Method, status, msg)}
	}
}

// callError gives a failed call its job error kind.
func (l *Library) callError(inst *instance, err error) error {
	kind := schema.ErrorLibraryFailed
	switch {
	case errors.Is(err, ErrTimeout):
		kind = schema.ErrorDeadlineExceeded
	case errors.Is(err, ErrOutOfFuel):
		kind = schema.ErrorResourceExhausted
	case errors.Is(err, ErrTrap) && uint64(len(inst.mem.Bytes()))+1<<20 > inst.maxMem:
		// Trapped with its memory grown to the limit: it ran out.
		kind = schema.ErrorResourceExhausted
		err = fmt.Errorf("%w (memory at its limit of %d pages)", err, inst.maxMem/65536)
	}
	return &kernel.Error{Kind: kind, Msg: err.Error()}
}

// guestMessage reads a message the guest left, bounded.
func guestMessage(inst *instance, ptr, n uint32) string {
	if n == 0 {
		return ""
	}
	b, ok := inst.mod.Memory().Read(ptr, min(n, maxMessage))
	if !ok {
		return fmt.Sprintf("(message at [%#x,+%d) is outside the guest's memory)", ptr, n)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// mapWindow maps the whole pages of w from the region over the instance's
// window.
func (l *Library) mapWindow(inst *instance, w *window, job *kernel.Job, mode guestmem.Mode) error {
	if w.ms == w.me {
		return nil
	}
	if err := inst.mem.Remap(w.guest(w.ms), job.Region.File(), w.ms, w.me-w.ms, mode); err != nil {
		w.ms, w.me = 0, 0
		return err
	}
	l.stats.mapped.Add(w.me - w.ms)
	return nil
}

// mapOutput maps the whole pages of the output window, unless the
// instance's previous job left exactly these pages mapped there: the
// output mapping is kept after a job (a producer reusing its output buffer
// then pays no mapping, no page faults and no unmapping: a job's
// transport cost does not grow with its output's size), and whatever
// mapping the next job does not reuse is replaced or given back before the
// guest runs, so a guest never sees another job's output buffer.
func (l *Library) mapOutput(inst *instance, w *window, job *kernel.Job) error {
	want := mapping{guest: w.guest(w.ms), file: w.ms, n: w.me - w.ms}
	if w.ms == w.me {
		want = mapping{}
	}
	if inst.outMap == want && (want.n == 0 || inst.outFile == job.Region.File()) {
		if want.n > 0 {
			l.stats.kept.Add(1)
			l.stats.mapped.Add(want.n)
		}
		return nil
	}
	if old := inst.outMap; old.n > 0 {
		inst.outMap = mapping{}
		if err := inst.mem.Restore(old.guest, old.n); err != nil {
			return err
		}
	}
	if err := l.mapWindow(inst, w, job, guestmem.Shared); err != nil {
		return err
	}
	inst.outMap, inst.outFile = want, job.Region.File()
	return nil
}

// unmapWindow gives the window the guest's own pages back and scrubs its
// edges (scrubEdges).
func (l *Library) unmapWindow(inst *instance, w *window) error {
	if inst.mem.Freed() {
		return nil // the guest exited: its memory and our mappings are gone
	}
	var err error
	if w.ms != w.me {
		err = inst.mem.Restore(w.guest(w.ms), w.me-w.ms)
	}
	return errors.Join(err, l.scrubEdges(inst, w))
}

// scrubEdges zeroes the edge pages of w that held a producer's bytes, so
// nothing of this job stays in the instance for the next one.
func (l *Library) scrubEdges(inst *instance, w *window) error {
	page := guestmem.PageSize()
	if inst.mem.Freed() || w.end == w.off || l.copy {
		return nil // gone; or the copy baseline, which does what copying hosts do: no scrub
	}
	var err error
	mem := inst.mem.Bytes()
	a0, a1, b0, b1 := w.edges(w.off, w.end)
	if a1 > a0 {
		p := w.guest(a0) &^ (page - 1)
		clear(mem[p : w.guest(a1-1)&^(page-1)+page])
	}
	if b1 > b0 {
		p := w.guest(b0) &^ (page - 1)
		clear(mem[p : w.guest(b1-1)&^(page-1)+page])
	}
	return err
}

func alignUp(x, a uint64) uint64 { return (x + a - 1) &^ (a - 1) }
