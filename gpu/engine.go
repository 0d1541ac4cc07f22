//go:build cgo

package gpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inos-node/node/gpu/internal/wgpu"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// engine owns the device: the current generation (instance, adapter,
// device, cached pipelines), replaced when a job times out or the device is
// lost.
type engine struct {
	lim         Limits
	backend     wgpu.Backend
	openTimeout time.Duration
	info        AdapterInfo
	devLim      wgpu.Limits // the first device's
	// stagedUploads: uploads go through the staging ring (transfer.go);
	// not on a CPU adapter, where wgpuQueueWriteBuffer is faster.
	stagedUploads bool
	gen           *generation // nil after an abandon, until the next job
	closed        bool

	// Counters, read without the library's lock.
	jobs, failed, timedOut, recreated atomic.Uint64
	abandoned                         atomic.Int64 // generations being released in the background
}

// generation is one instance, adapter and device, with what is kept across
// jobs: the built-in kernels' pipelines and resident buffers.
type generation struct {
	in       *wgpu.Instance
	ad       *wgpu.Adapter
	dev      *wgpu.Device
	pipes    map[string]*wgpu.ComputePipeline
	resident map[string]*wgpu.Buffer
	up, down ring // staging buffers for uploads and read-backs (transfer.go)
	broken   bool // abandon it when the job ends
}

// kept is the number of the device's objects kept across jobs.
func (g *generation) kept() int {
	return len(g.pipes) + len(g.resident) + g.up.count() + g.down.count()
}

// loadLibrary loads the first webgpu.h implementation found.
func loadLibrary(path string) (string, error) {
	if path == "" {
		path = os.Getenv("WEBGPU_LIB")
	}
	if path != "" {
		if err := wgpu.Load(path); err != nil {
			return "", &UnavailableError{Reason: "cannot load the webgpu library: " + err.Error()}
		}
		return path, nil
	}
	var why []string
	for _, name := range []string{"libwebgpu_dawn.so", "libwgpu_native.so"} {
		err := wgpu.Load(name)
		if err == nil {
			return name, nil
		}
		why = append(why, err.Error())
	}
	return "", &UnavailableError{Reason: "no webgpu library: WEBGPU_LIB is not set (scripts/webgpu.sh installs Dawn's into .tools/webgpu/lib) and none is on the library path (" +
		strings.Join(why, "; ") + ")"}
}

func parseBackend(s string) (wgpu.Backend, error) {
	switch strings.ToLower(s) {
	case "", "vulkan":
		return wgpu.BackendVulkan, nil
	case "metal":
		return wgpu.BackendMetal, nil
	case "d3d12":
		return wgpu.BackendD3D12, nil
	case "any":
		return wgpu.BackendUndefined, nil
	}
	return 0, fmt.Errorf("gpu: unknown backend %q (want vulkan, metal, d3d12 or any)", s)
}

func openEngine(o Options, lim Limits) (*engine, error) {
	backend, err := parseBackend(o.Backend)
	if err != nil {
		return nil, err
	}
	path, err := loadLibrary(o.LibPath)
	if err != nil {
		return nil, err
	}
	e := &engine{lim: lim, backend: backend, openTimeout: o.OpenTimeout}
	g, err := e.newGeneration()
	if err != nil {
		return nil, &UnavailableError{Reason: err.Error()}
	}
	info, err := g.ad.Info()
	if err == nil {
		e.devLim, err = g.dev.Limits()
	}
	if err != nil {
		g.release()
		return nil, &UnavailableError{Reason: err.Error()}
	}
	e.gen = g
	e.stagedUploads = info.Type != wgpu.AdapterCPU
	e.info = AdapterInfo{
		Vendor: info.Vendor, Architecture: info.Architecture, Device: info.Device, Description: info.Description,
		Backend: info.Backend.String(), Type: info.Type.String(), VendorID: info.VendorID, DeviceID: info.DeviceID,
		MaxBufferSize:                     e.devLim.MaxBufferSize,
		MaxStorageBufferBindingSize:       e.devLim.MaxStorageBufferBindingSize,
		MaxComputeWorkgroupsPerDimension:  e.devLim.MaxComputeWorkgroupsPerDimension,
		MaxComputeInvocationsPerWorkgroup: e.devLim.MaxComputeInvocationsPerWorkgroup,
		LibPath:                           path,
	}
	return e, nil
}

// newGeneration makes an instance, an adapter (the high-performance one,
// which is the discrete GPU when there is one; never Dawn's Null backend)
// and a device with the adapter's limits.
func (e *engine) newGeneration() (*generation, error) {
	in, err := wgpu.NewInstance()
	if err != nil {
		return nil, err
	}
	ad, err := in.RequestAdapter(wgpu.AdapterOptions{Backend: e.backend, Power: wgpu.PowerHighPerformance}, e.openTimeout)
	if err != nil {
		in.Release()
		return nil, fmt.Errorf("no %s adapter: %w", backendName(e.backend), err)
	}
	info, err := ad.Info()
	if err != nil {
		ad.Release()
		in.Release()
		return nil, err
	}
	if info.Backend == wgpu.BackendNull {
		ad.Release()
		in.Release()
		return nil, fmt.Errorf("the only adapter is Dawn's Null backend (%q), which computes nothing", info.Device)
	}
	dev, err := ad.RequestDevice("inos gpu", e.openTimeout)
	if err != nil {
		ad.Release()
		in.Release()
		return nil, fmt.Errorf("adapter %q: %w", info.Device, err)
	}
	return &generation{in: in, ad: ad, dev: dev, pipes: map[string]*wgpu.ComputePipeline{}, resident: map[string]*wgpu.Buffer{},
		up:   ring{usage: wgpu.UsageMapWrite | wgpu.UsageCopySrc},
		down: ring{usage: wgpu.UsageMapRead | wgpu.UsageCopyDst}}, nil
}

func backendName(b wgpu.Backend) string {
	if b == wgpu.BackendUndefined {
		return "WebGPU"
	}
	return b.String()
}

// release releases everything the generation holds. The device's release
// waits for its work: for a device whose shader never ends, forever.
func (g *generation) release() {
	for _, p := range g.pipes {
		p.Release()
	}
	for _, b := range g.resident {
		b.Release()
	}
	g.up.release()
	g.down.release()
	g.dev.Release()
	g.ad.Release()
	g.in.Release()
}

// current returns the generation to run a job on, making a new one if the
// last was abandoned or its device was lost.
//
// The caller holds its OS thread (runtime.LockOSThread) until the job ends:
// Dawn keeps error scopes per thread, and a goroutine that moved between
// threads would push a scope on one and pop it on another.
func (e *engine) current() (*generation, error) {
	if e.closed {
		return nil, &kernel.Error{Kind: schema.ErrorUnavailable, Msg: "gpu: closed"}
	}
	if g := e.gen; g != nil {
		if reason, _ := g.dev.Lost(); reason == 0 {
			return g, nil
		}
		e.abandon(g)
	}
	if n := e.abandoned.Load(); n >= int64(e.lim.MaxAbandoned) {
		return nil, &kernel.Error{Kind: schema.ErrorUnavailable,
			Msg: fmt.Sprintf("gpu: %d devices abandoned after a timeout are still busy (the limit is %d); no new device until one is released", n, e.lim.MaxAbandoned)}
	}
	g, err := e.newGeneration()
	if err != nil {
		return nil, &kernel.Error{Kind: schema.ErrorUnavailable, Msg: "gpu: cannot make a new device: " + err.Error()}
	}
	e.gen = g
	e.recreated.Add(1)
	return g, nil
}

// abandon drops g, releasing it in the background: that returns when its
// device's work ends, which for a shader that never ends is never.
func (e *engine) abandon(g *generation) {
	if e.gen == g {
		e.gen = nil
	}
	e.abandoned.Add(1)
	go func() {
		g.release()
		e.abandoned.Add(-1)
	}()
}

func (e *engine) close() {
	if e.closed {
		return
	}
	e.closed = true
	if e.gen != nil {
		e.gen.release()
		e.gen = nil
	}
}

func (e *engine) count(err error) {
	e.jobs.Add(1)
	if err != nil {
		e.failed.Add(1)
	}
}

func (e *engine) statsNow() Stats {
	return Stats{Jobs: e.jobs.Load(), Failed: e.failed.Load(), TimedOut: e.timedOut.Load(),
		Recreated: e.recreated.Load(), Abandoned: int(e.abandoned.Load())}
}

func (e *engine) maxBuffer(l Limits) uint64 {
	return min(l.MaxBufferBytes, e.devLim.MaxStorageBufferBindingSize, e.devLim.MaxBufferSize)
}

func (e *engine) maxWorkgroupsPerDim() uint32 { return e.devLim.MaxComputeWorkgroupsPerDimension }

func (e *engine) maxStorageBuffers() uint32 { return e.devLim.MaxStorageBuffersPerShaderStage }

// hostWait bounds the waits that run no GPU work (compilation info, error
// scopes): they complete at once, whatever is left of the job's time.
const hostWait = 10 * time.Second

// waitError turns a failed wait into the job's error, and marks the
// generation broken when the wait timed out or the device was lost.
func (e *engine) waitError(g *generation, err error, timeout time.Duration) error {
	if errors.Is(err, wgpu.ErrTimeout) {
		g.broken = true
		e.timedOut.Add(1)
		return &kernel.Error{Kind: schema.ErrorDeadlineExceeded, Msg: fmt.Sprintf(
			"gpu: the job did not finish within its %v; its device was abandoned (GPU work cannot be cancelled) and the next job gets a new one",
			timeout.Round(time.Millisecond))}
	}
	if reason, msg := g.dev.Lost(); reason != 0 {
		g.broken = true
		return &kernel.Error{Kind: schema.ErrorLibraryFailed, Msg: fmt.Sprintf("gpu: device lost (%v): %s; the next job gets a new one", reason, msg)}
	}
	return &kernel.Error{Kind: schema.ErrorLibraryFailed, Msg: "gpu: " + err.Error()}
}

func compileMessages(ms []wgpu.CompilationMessage) []CompileMessage {
	out := make([]CompileMessage, len(ms))
	for i, m := range ms {
		out[i] = CompileMessage{Type: m.Type, Line: m.Line, Column: m.Column, Offset: m.Offset, Length: m.Length, Message: m.Message}
	}
	return out
}

// compile returns the compilation messages of a WGSL source.
func (e *engine) compile(src string, deadline time.Time) ([]CompileMessage, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g, err := e.current()
	if err != nil {
		return nil, err
	}
	defer e.endJob(g)
	g.dev.PushErrorScope(wgpu.FilterValidation)
	mod := g.dev.CreateShaderModule(src)
	defer mod.Release()
	msgs, err := mod.CompilationInfo(hostWait)
	// An invalid module is also a validation error: the scope takes it.
	if _, perr := g.dev.PopErrorScope(hostWait); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return nil, e.waitError(g, err, hostWait)
	}
	return compileMessages(msgs), nil
}

// endJob clears the device's uncaptured errors (none expected: a job's
// calls are in error scopes) and abandons the generation if the job broke
// it; after that g is the background release's.
func (e *engine) endJob(g *generation) {
	g.dev.TakeUncapturedError()
	if g.broken {
		e.abandon(g)
	}
}

// pipeline returns a built-in kernel's pipeline, compiling it on first use.
func (g *generation) pipeline(name string) (*wgpu.ComputePipeline, error) {
	if p, ok := g.pipes[name]; ok {
		return p, nil
	}
	var code string
	switch name {
	case "saxpy":
		code = saxpyWGSL
	case "matmul":
		code = matmulWGSL
	case "grayscale":
		code = grayscaleWGSL
	case "empty":
		code = emptyWGSL
	default:
		return nil, fmt.Errorf("no built-in kernel %q", name)
	}
	g.dev.PushErrorScope(wgpu.FilterValidation)
	mod := g.dev.CreateShaderModule(code)
	defer mod.Release()
	p := g.dev.CreateComputePipeline(mod, "main")
	verr, err := g.dev.PopErrorScope(hostWait)
	if err == nil && verr != nil {
		err = verr
	}
	if err != nil {
		p.Release()
		return nil, fmt.Errorf("built-in kernel %s: %w", name, err)
	}
	g.pipes[name] = p
	return p, nil
}

// residentBuffer returns a buffer kept across jobs, made on first use.
func (g *generation) residentBuffer(name string) (*wgpu.Buffer, error) {
	if b, ok := g.resident[name]; ok {
		return b, nil
	}
	switch name {
	case "gray-exceptions":
		exc := grayExceptions()
		data := make([]byte, 4*max(len(exc), 1))
		for i, v := range exc {
			putU32(data[4*i:], v)
		}
		b := g.dev.CreateBuffer(uint64(len(data)), wgpu.UsageStorage|wgpu.UsageCopyDst)
		g.dev.Queue().WriteBuffer(b, 0, data)
		g.resident[name] = b
		return b, nil
	}
	return nil, fmt.Errorf("no resident buffer %q", name)
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// writePadded writes data at off (a multiple of 4), padding its tail to a
// multiple of 4 bytes with zeros.
func writePadded(q *wgpu.Queue, b *wgpu.Buffer, off uint64, data []byte) {
	n := len(data) &^ 3
	q.WriteBuffer(b, off, data[:n])
	if n < len(data) {
		var tail [4]byte
		copy(tail[:], data[n:])
		q.WriteBuffer(b, off+uint64(n), tail[:])
	}
}

type releaser interface{ Release() }

// run runs one dispatch and reads its output back into d.dst.
func (e *engine) run(d *dispatch) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g, err := e.current()
	if err != nil {
		return err
	}
	defer e.endJob(g) // after runOn's releases: the background release must not race them
	return e.runOn(g, d)
}

func (e *engine) runOn(g *generation, d *dispatch) (err error) {
	dev, q := g.dev, g.dev.Queue()
	timeout := time.Until(d.deadline)
	var objs []releaser
	defer func() {
		for i := len(objs) - 1; i >= 0; i-- {
			objs[i].Release()
		}
	}()
	// Two scopes around everything but the wait: out-of-memory, then
	// validation; both are popped on every path.
	dev.PushErrorScope(wgpu.FilterOutOfMemory)
	dev.PushErrorScope(wgpu.FilterValidation)
	scopes := 2
	pop := func() (*wgpu.Error, error) {
		var first *wgpu.Error
		for ; scopes > 0; scopes-- {
			verr, err := dev.PopErrorScope(hostWait)
			if err != nil {
				return nil, err
			}
			if first == nil {
				first = verr
			}
		}
		return first, nil
	}
	defer func() {
		if scopes > 0 {
			if _, perr := pop(); perr != nil && err == nil {
				err = e.waitError(g, perr, hostWait)
			}
		}
	}()

	var pipe *wgpu.ComputePipeline
	if d.code != "" {
		mod := dev.CreateShaderModule(d.code)
		objs = append(objs, mod)
		msgs, err := mod.CompilationInfo(hostWait)
		if err != nil {
			return e.waitError(g, err, hostWait)
		}
		cm := compileMessages(msgs)
		for _, m := range cm {
			if m.Type == "error" {
				return &kernel.Error{Kind: schema.ErrorInvalidParams, Msg: "gpu: code: " + describeCompile(cm)}
			}
		}
		pipe = dev.CreateComputePipeline(mod, d.entry)
		objs = append(objs, pipe)
	} else {
		if pipe, err = g.pipeline(d.builtin); err != nil {
			return e.waitError(g, err, hostWait)
		}
	}
	layout := pipe.BindGroupLayout(0)
	objs = append(objs, layout)

	var entries []wgpu.BufferBinding
	bind := func(b *wgpu.Buffer) {
		entries = append(entries, wgpu.BufferBinding{Binding: uint32(len(entries)), Buffer: b})
	}
	var segs []segment
	for _, in := range d.inputs {
		b := dev.CreateBuffer(in.size, wgpu.UsageStorage|wgpu.UsageCopyDst)
		objs = append(objs, b)
		for _, p := range in.pieces {
			segs = append(segs, segment{dst: b, off: p.off, data: p.data})
		}
		bind(b)
	}
	out := dev.CreateBuffer(d.outSize, wgpu.UsageStorage|wgpu.UsageCopySrc) // zeroed
	objs = append(objs, out)
	bind(out)
	for _, name := range d.resident {
		b, err := g.residentBuffer(name)
		if err != nil {
			return e.waitError(g, err, hostWait)
		}
		bind(b)
	}
	if d.uniform != nil {
		u := dev.CreateBuffer(align4(uint64(len(d.uniform))), wgpu.UsageUniform|wgpu.UsageCopyDst)
		objs = append(objs, u)
		writePadded(q, u, 0, d.uniform)
		bind(u)
	}
	group := dev.CreateBindGroup(layout, entries)
	objs = append(objs, group)

	x := &xfer{e: e, g: g, deadline: d.deadline, timeout: timeout}
	if err := x.upload(segs); err != nil {
		return err
	}
	dispatch := func(enc *wgpu.CommandEncoder) {
		pass := enc.BeginComputePass()
		pass.SetPipeline(pipe)
		pass.SetBindGroup(0, group)
		pass.DispatchWorkgroups(d.groups[0], d.groups[1], d.groups[2])
		pass.End()
		pass.Release()
	}
	check := func() error {
		gerr, err := pop()
		if err != nil {
			return e.waitError(g, err, hostWait)
		}
		if gerr != nil {
			switch {
			case gerr.Type == wgpu.ErrorOutOfMemory:
				return &kernel.Error{Kind: schema.ErrorResourceExhausted, Msg: "gpu: " + gerr.Error()}
			case d.code != "" && gerr.Type == wgpu.ErrorValidation:
				return &kernel.Error{Kind: schema.ErrorInvalidParams, Msg: fmt.Sprintf(
					"gpu: the shader does not fit the job (entry point %q; it must bind the inputs at @group(0) @binding(0..%d) and the output at @binding(%d)): %s",
					d.entry, len(d.inputs)-1, len(d.inputs), strings.TrimSpace(gerr.Msg))}
			}
			return &kernel.Error{Kind: schema.ErrorLibraryFailed, Msg: "gpu: " + gerr.Error()}
		}
		return nil
	}
	return x.download(out, d.dst, dispatch, check)
}
