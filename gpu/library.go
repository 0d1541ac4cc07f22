package gpu

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/inos-node/node/guests/sdk"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// Library is the host-side library "gpu" (see the package documentation).
type Library struct {
	mu  sync.Mutex // one job (or benchmark) at a time
	lim Limits
	eng *engine
}

// Open loads the webgpu.h implementation and makes a device. It returns an
// *UnavailableError when there is none to be had.
func Open(ctx context.Context, o Options) (*Library, error) {
	lim := o.Limits.withDefaults()
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = defaultOpenTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < o.OpenTimeout {
		o.OpenTimeout = max(time.Until(dl), time.Millisecond)
	}
	eng, err := openEngine(o, lim)
	if err != nil {
		return nil, err
	}
	return &Library{lim: lim, eng: eng}, nil
}

// Close releases the device. Devices abandoned after a timeout are left to
// their background release.
func (l *Library) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.eng.close()
	return nil
}

// Name is "gpu".
func (l *Library) Name() string { return "gpu" }

// Info describes the adapter and device (the first device's: a device made
// after a timeout is the same adapter's).
func (l *Library) Info() AdapterInfo { return l.eng.info }

// Limits are the library's limits (defaults filled in).
func (l *Library) Limits() Limits { return l.lim }

// Stats returns the library's counters (without waiting for a job).
func (l *Library) Stats() Stats { return l.eng.statsNow() }

// Methods returns the library's methods.
func (l *Library) Methods() map[string]kernel.Method {
	return map[string]kernel.Method{
		"compile_wgsl":   l.method(l.compileWGSL),
		"execute_shader": l.method(l.executeShader),
		"saxpy":          l.method(l.saxpy),
		"matmul":         l.method(l.matmul),
		"grayscale":      l.method(l.grayscale),
	}
}

// method wraps a method body: one job at a time, its time limit, and the
// output reference.
func (l *Library) method(body func(j *kernel.Job, deadline time.Time) (int, error)) kernel.Method {
	return func(ctx context.Context, j *kernel.Job) (schema.Ref, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		timeout := l.lim.Timeout
		if t := time.Duration(j.Limits.TimeoutNs); t > 0 && t < timeout {
			timeout = t
		}
		now := time.Now()
		deadline := now.Add(timeout)
		if !j.Deadline.IsZero() && j.Deadline.Before(deadline) {
			if !j.Deadline.After(now) {
				return schema.Ref{}, &kernel.Error{Kind: schema.ErrorDeadlineExceeded, Msg: "gpu: deadline passed before the job started"}
			}
			deadline = j.Deadline
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		n, err := body(j, deadline)
		l.eng.count(err)
		if err != nil {
			return schema.Ref{}, err
		}
		if n == 0 {
			return schema.Ref{}, nil
		}
		return schema.Ref{Offset: j.OutputRef.Offset, Length: uint64(n)}, nil
	}
}

func paramsError(format string, args ...any) *kernel.Error {
	return &kernel.Error{Kind: schema.ErrorInvalidParams, Msg: "gpu: params: " + fmt.Sprintf(format, args...)}
}

func inputError(format string, args ...any) *kernel.Error {
	return &kernel.Error{Kind: schema.ErrorInvalidInput, Msg: "gpu: input: " + fmt.Sprintf(format, args...)}
}

// decode decodes params strictly (sdk.DecodeParams).
func decode(params []byte, v any) error {
	if err := sdk.DecodeParams(params, v); err != nil {
		return &kernel.Error{Kind: schema.ErrorInvalidParams, Msg: "gpu: " + err.Error()}
	}
	return nil
}

// outputCap is what the job may write: its output buffer, within its own
// limit.
func outputCap(j *kernel.Job) uint64 {
	c := uint64(len(j.Output))
	if m := j.Limits.MaxOutputBytes; m > 0 && m < c {
		c = m
	}
	return c
}

// needOutput checks an output bound as a GPU buffer of gpuBytes, of which
// the job's output gets outBytes, against the library's buffer limit and
// the output the job reserved.
func (l *Library) needOutput(j *kernel.Job, gpuBytes, outBytes uint64) error {
	if lim := l.eng.maxBuffer(l.lim); gpuBytes > lim || outBytes > lim {
		return &kernel.Error{Kind: schema.ErrorOutputTooLarge,
			Msg: fmt.Sprintf("gpu: an output of %d bytes is over the library's buffer limit of %d bytes", max(gpuBytes, outBytes), lim)}
	}
	if c := outputCap(j); outBytes > c {
		return &kernel.Error{Kind: schema.ErrorOutputTooLarge, OutputNeeded: outBytes,
			Msg: fmt.Sprintf("gpu: the output needs %d bytes, %d reserved", outBytes, c)}
	}
	return nil
}

// needInput checks a buffer of n bytes taken from the input.
func (l *Library) needInput(n uint64, what string) error {
	if lim := l.eng.maxBuffer(l.lim); n > lim {
		return &kernel.Error{Kind: schema.ErrorInputTooLarge,
			Msg: fmt.Sprintf("gpu: %s of %d bytes is over the library's buffer limit of %d bytes", what, n, lim)}
	}
	return nil
}

// CompileMessage is one diagnostic of compile_wgsl.
type CompileMessage struct {
	Type    string `json:"type"` // "error", "warning" or "info"
	Line    uint64 `json:"line"` // 1-based; 0: no position
	Column  uint64 `json:"column"`
	Offset  uint64 `json:"offset"` // in bytes from the source's start
	Length  uint64 `json:"length"`
	Message string `json:"message"`
}

// CompileResult is compile_wgsl's output.
type CompileResult struct {
	OK       bool             `json:"ok"`
	Messages []CompileMessage `json:"messages"`
}

func (l *Library) compileWGSL(j *kernel.Job, deadline time.Time) (int, error) {
	if err := decode(j.Params, &struct{}{}); err != nil {
		return 0, err
	}
	if len(j.Input) > l.lim.MaxSourceBytes {
		return 0, &kernel.Error{Kind: schema.ErrorInputTooLarge,
			Msg: fmt.Sprintf("gpu: WGSL source of %d bytes is over the limit of %d", len(j.Input), l.lim.MaxSourceBytes)}
	}
	msgs, err := l.eng.compile(string(j.Input), deadline)
	if err != nil {
		return 0, err
	}
	res := CompileResult{OK: true, Messages: msgs}
	if res.Messages == nil {
		res.Messages = []CompileMessage{}
	}
	for _, m := range msgs {
		if m.Type == "error" {
			res.OK = false
		}
	}
	out, err := json.Marshal(res)
	if err != nil {
		return 0, err
	}
	if err := l.needOutput(j, 0, uint64(len(out))); err != nil {
		return 0, err
	}
	return copy(j.Output, out), nil
}

// describeCompile renders compile errors for a job error.
func describeCompile(msgs []CompileMessage) string {
	var b strings.Builder
	b.WriteString("WGSL does not compile:")
	for _, m := range msgs {
		if m.Type != "error" {
			continue
		}
		fmt.Fprintf(&b, " %s at line %d, column %d: %s;", m.Type, m.Line, m.Column, strings.TrimSpace(m.Message))
	}
	return strings.TrimSuffix(b.String(), ";")
}

// ByteRange is a range of the job's input.
type ByteRange struct {
	Offset uint64 `json:"offset"`
	Length uint64 `json:"length"`
}

// ExecuteParams are execute_shader's params.
type ExecuteParams struct {
	Code       string      `json:"code"`
	EntryPoint string      `json:"entry_point"`
	Workgroups []uint32    `json:"workgroups"`
	Inputs     []ByteRange `json:"inputs"`
	OutputSize uint64      `json:"output_size"`
}

// upload is a storage buffer of size bytes made from pieces of the input.
type upload struct {
	size   uint64
	pieces []piece
}

// piece is data written at off in its buffer.
type piece struct {
	off  uint64
	data []byte
}

// dispatch is one job for the engine: a pipeline, its buffers, bound in
// order (inputs, output, resident buffers, the uniform params), and the
// workgroups.
type dispatch struct {
	code     string // execute_shader's WGSL; "" for a built-in
	entry    string
	builtin  string // "saxpy", "matmul", "grayscale"
	inputs   []upload
	outSize  uint64 // bytes bound (a multiple of 4)
	resident []string
	uniform  []byte
	groups   [3]uint32
	dst      []byte // the output read back (len ≤ outSize)
	deadline time.Time
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

func (l *Library) executeShader(j *kernel.Job, deadline time.Time) (int, error) {
	var p ExecuteParams
	if err := decode(j.Params, &p); err != nil {
		return 0, err
	}
	if strings.TrimSpace(p.Code) == "" {
		return 0, paramsError("code: required: the WGSL source")
	}
	if p.EntryPoint == "" {
		p.EntryPoint = "main"
	}
	if len(p.Workgroups) == 0 || len(p.Workgroups) > 3 {
		return 0, paramsError("workgroups: want 1 to 3 counts [x, y, z], got %d", len(p.Workgroups))
	}
	groups := [3]uint32{1, 1, 1}
	perDim := min(l.lim.MaxWorkgroupsPerDim, l.eng.maxWorkgroupsPerDim())
	total := uint64(1)
	for i, g := range p.Workgroups {
		if g == 0 {
			return 0, paramsError("workgroups[%d]: must be ≥ 1", i)
		}
		if g > perDim {
			return 0, paramsError("workgroups[%d]: %d is over the limit of %d workgroups per dimension", i, g, perDim)
		}
		groups[i] = g
		total *= uint64(g)
	}
	if total > l.lim.MaxWorkgroups {
		return 0, paramsError("workgroups: %d×%d×%d = %d workgroups is over the limit of %d", groups[0], groups[1], groups[2], total, l.lim.MaxWorkgroups)
	}
	if maxBind := l.eng.maxStorageBuffers(); uint64(len(p.Inputs))+1 > uint64(maxBind) {
		return 0, paramsError("inputs: %d buffers and the output are over the device's %d storage buffers per shader", len(p.Inputs), maxBind)
	}
	d := dispatch{code: p.Code, entry: p.EntryPoint, groups: groups, deadline: deadline}
	for i, in := range p.Inputs {
		if in.Length == 0 {
			return 0, paramsError("inputs[%d].length: must be ≥ 1", i)
		}
		if in.Offset > uint64(len(j.Input)) || in.Length > uint64(len(j.Input))-in.Offset {
			return 0, paramsError("inputs[%d]: bytes [%d, %d+%d) are past the input's %d bytes", i, in.Offset, in.Offset, in.Length, len(j.Input))
		}
		if err := l.needInput(align4(in.Length), fmt.Sprintf("inputs[%d]", i)); err != nil {
			return 0, err
		}
		d.inputs = append(d.inputs, upload{size: align4(in.Length), pieces: []piece{{0, j.Input[in.Offset : in.Offset+in.Length]}}})
	}
	if p.OutputSize == 0 {
		return 0, paramsError("output_size: required, ≥ 1")
	}
	if err := l.needOutput(j, align4(p.OutputSize), p.OutputSize); err != nil {
		return 0, err
	}
	d.outSize = align4(p.OutputSize)
	d.dst = j.Output[:p.OutputSize]
	if err := l.eng.run(&d); err != nil {
		return 0, err
	}
	return int(p.OutputSize), nil
}

// SaxpyParams are saxpy's params.
type SaxpyParams struct {
	A *float32 `json:"a"`
}

func (l *Library) saxpy(j *kernel.Job, deadline time.Time) (int, error) {
	var p SaxpyParams
	if err := decode(j.Params, &p); err != nil {
		return 0, err
	}
	if p.A == nil {
		return 0, paramsError("a: required: the scalar of a·x + y")
	}
	if len(j.Input)%8 != 0 {
		return 0, inputError("saxpy takes x then y, n f32 each: %d bytes is not a multiple of 8", len(j.Input))
	}
	n := uint64(len(j.Input) / 8)
	if n == 0 {
		return 0, nil
	}
	n4 := (n + 3) / 4
	if err := l.needInput(32*n4, "x and y"); err != nil {
		return 0, err
	}
	if err := l.needOutput(j, 16*n4, 4*n); err != nil {
		return 0, err
	}
	groups := uint32(min((n4+255)/256, 65535))
	u := make([]byte, 16)
	binary.LittleEndian.PutUint32(u[0:], math.Float32bits(*p.A))
	binary.LittleEndian.PutUint32(u[4:], uint32(n4))
	binary.LittleEndian.PutUint32(u[8:], groups*256)
	d := dispatch{
		builtin: "saxpy",
		inputs:  []upload{{size: 32 * n4, pieces: []piece{{0, j.Input[:4*n]}, {16 * n4, j.Input[4*n:]}}}},
		outSize: 16 * n4, uniform: u, groups: [3]uint32{groups, 1, 1},
		dst: j.Output[:4*n], deadline: deadline,
	}
	if err := l.eng.run(&d); err != nil {
		return 0, err
	}
	return int(4 * n), nil
}

// MatmulParams are matmul's params.
type MatmulParams struct {
	M uint32 `json:"m"`
	N uint32 `json:"n"`
	K uint32 `json:"k"`
}

func (l *Library) matmul(j *kernel.Job, deadline time.Time) (int, error) {
	var p MatmulParams
	if err := decode(j.Params, &p); err != nil {
		return 0, err
	}
	for _, f := range []struct {
		name string
		v    uint32
	}{{"m", p.M}, {"n", p.N}, {"k", p.K}} {
		if f.v == 0 {
			return 0, paramsError("%s: required, ≥ 1", f.name)
		}
	}
	m, n, k := uint64(p.M), uint64(p.N), uint64(p.K)
	if m > 65535*64 || n > 65535*64 {
		return 0, paramsError("m and n must be at most %d (65535 tiles of 64)", 65535*64)
	}
	// Element counts fit in 64 bits (each side < 2^32); bytes only below the limit.
	lim := l.eng.maxBuffer(l.lim)
	for _, b := range []struct {
		what  string
		elems uint64
	}{{"A (m×k)", m * k}, {"B (k×n)", k * n}} {
		if b.elems > lim/4 {
			return 0, &kernel.Error{Kind: schema.ErrorInputTooLarge,
				Msg: fmt.Sprintf("gpu: %s of %d f32 is over the library's buffer limit of %d bytes", b.what, b.elems, lim)}
		}
	}
	if m*n > lim/4 {
		return 0, &kernel.Error{Kind: schema.ErrorOutputTooLarge,
			Msg: fmt.Sprintf("gpu: C (m×n) of %d f32 is over the library's buffer limit of %d bytes", m*n, lim)}
	}
	aBytes, bBytes, cBytes := 4*m*k, 4*k*n, 4*m*n
	if uint64(len(j.Input)) != aBytes+bBytes {
		return 0, inputError("matmul of m=%d n=%d k=%d takes A (m×k) then B (k×n) f32: %d bytes, got %d", m, n, k, aBytes+bBytes, len(j.Input))
	}
	if err := l.needOutput(j, cBytes, cBytes); err != nil {
		return 0, err
	}
	u := make([]byte, 16)
	binary.LittleEndian.PutUint32(u[0:], p.M)
	binary.LittleEndian.PutUint32(u[4:], p.N)
	binary.LittleEndian.PutUint32(u[8:], p.K)
	d := dispatch{
		builtin: "matmul",
		inputs: []upload{
			{size: aBytes, pieces: []piece{{0, j.Input[:aBytes]}}},
			{size: bBytes, pieces: []piece{{0, j.Input[aBytes:]}}},
		},
		outSize: cBytes, uniform: u,
		groups: [3]uint32{uint32((n + 63) / 64), uint32((m + 63) / 64), 1},
		dst:    j.Output[:cBytes], deadline: deadline,
	}
	if err := l.eng.run(&d); err != nil {
		return 0, err
	}
	return int(cBytes), nil
}

// GrayscaleParams are grayscale's params.
type GrayscaleParams struct {
	Width  uint32 `json:"width"`
	Height uint32 `json:"height"`
}

func (l *Library) grayscale(j *kernel.Job, deadline time.Time) (int, error) {
	var p GrayscaleParams
	if err := decode(j.Params, &p); err != nil {
		return 0, err
	}
	if p.Width == 0 {
		return 0, paramsError("width: required, ≥ 1")
	}
	if p.Height == 0 {
		return 0, paramsError("height: required, ≥ 1")
	}
	pixels := uint64(p.Width) * uint64(p.Height)
	if lim := l.eng.maxBuffer(l.lim); pixels > lim/4 {
		return 0, &kernel.Error{Kind: schema.ErrorInputTooLarge,
			Msg: fmt.Sprintf("gpu: an image of %d×%d pixels is over the library's buffer limit of %d bytes", p.Width, p.Height, lim)}
	}
	size := 4 * pixels
	if uint64(len(j.Input)) != size {
		return 0, inputError("raw RGBA of %d×%d pixels must be %d bytes (width×height×4), got %d", p.Width, p.Height, size, len(j.Input))
	}
	if err := l.needOutput(j, size, size); err != nil {
		return 0, err
	}
	count := size / 4
	groups := uint32(min((count+255)/256, 65535))
	exc := grayExceptions()
	u := make([]byte, 16)
	binary.LittleEndian.PutUint32(u[0:], uint32(count))
	binary.LittleEndian.PutUint32(u[4:], uint32(len(exc)))
	binary.LittleEndian.PutUint32(u[8:], groups*256)
	d := dispatch{
		builtin: "grayscale",
		inputs:  []upload{{size: size, pieces: []piece{{0, j.Input}}}},
		outSize: size, resident: []string{"gray-exceptions"}, uniform: u,
		groups: [3]uint32{groups, 1, 1}, dst: j.Output[:size], deadline: deadline,
	}
	if err := l.eng.run(&d); err != nil {
		return 0, err
	}
	return int(size), nil
}
