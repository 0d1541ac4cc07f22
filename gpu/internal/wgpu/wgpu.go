//go:build cgo

package wgpu

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -ldl
#include "shim.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

// Load opens the webgpu.h implementation at path (a shared library) and
// looks up every proc the binding uses. A process uses one implementation:
// once it is loaded, Load with the same path does nothing and returns nil,
// with another path it returns an error.
func Load(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if why := C.wg_load(cpath); why != nil {
		return errors.New(C.GoString(why))
	}
	return nil
}

// ErrTimeout is wrapped by the error of a wait that timed out.
var ErrTimeout = errors.New("wgpu: wait timed out")

// ErrorType is a WGPUErrorType.
type ErrorType uint32

const (
	ErrorNone        ErrorType = C.WGPUErrorType_NoError
	ErrorValidation  ErrorType = C.WGPUErrorType_Validation
	ErrorOutOfMemory ErrorType = C.WGPUErrorType_OutOfMemory
	ErrorInternal    ErrorType = C.WGPUErrorType_Internal
	ErrorUnknown     ErrorType = C.WGPUErrorType_Unknown
)

func (t ErrorType) String() string {
	switch t {
	case ErrorNone:
		return "no error"
	case ErrorValidation:
		return "validation error"
	case ErrorOutOfMemory:
		return "out of memory"
	case ErrorInternal:
		return "internal error"
	}
	return fmt.Sprintf("error type %d", uint32(t))
}

// Error is an error the implementation reported (an error scope's, an
// uncaptured one, a failed request).
type Error struct {
	Type ErrorType
	Msg  string
}

func (e *Error) Error() string { return "wgpu: " + e.Type.String() + ": " + e.Msg }

// Backend is a WGPUBackendType.
type Backend uint32

const (
	BackendUndefined Backend = C.WGPUBackendType_Undefined
	BackendNull      Backend = C.WGPUBackendType_Null
	BackendWebGPU    Backend = C.WGPUBackendType_WebGPU
	BackendD3D11     Backend = C.WGPUBackendType_D3D11
	BackendD3D12     Backend = C.WGPUBackendType_D3D12
	BackendMetal     Backend = C.WGPUBackendType_Metal
	BackendVulkan    Backend = C.WGPUBackendType_Vulkan
	BackendOpenGL    Backend = C.WGPUBackendType_OpenGL
	BackendOpenGLES  Backend = C.WGPUBackendType_OpenGLES
)

var backendNames = map[Backend]string{
	BackendUndefined: "Undefined", BackendNull: "Null", BackendWebGPU: "WebGPU", BackendD3D11: "D3D11",
	BackendD3D12: "D3D12", BackendMetal: "Metal", BackendVulkan: "Vulkan", BackendOpenGL: "OpenGL",
	BackendOpenGLES: "OpenGLES",
}

func (b Backend) String() string {
	if s, ok := backendNames[b]; ok {
		return s
	}
	return fmt.Sprintf("Backend(%d)", uint32(b))
}

// AdapterType is a WGPUAdapterType.
type AdapterType uint32

const (
	AdapterDiscreteGPU   AdapterType = C.WGPUAdapterType_DiscreteGPU
	AdapterIntegratedGPU AdapterType = C.WGPUAdapterType_IntegratedGPU
	AdapterCPU           AdapterType = C.WGPUAdapterType_CPU
	AdapterUnknown       AdapterType = C.WGPUAdapterType_Unknown
)

func (t AdapterType) String() string {
	switch t {
	case AdapterDiscreteGPU:
		return "DiscreteGPU"
	case AdapterIntegratedGPU:
		return "IntegratedGPU"
	case AdapterCPU:
		return "CPU"
	}
	return "Unknown"
}

// PowerPreference is a WGPUPowerPreference.
type PowerPreference uint32

const (
	PowerUndefined       PowerPreference = C.WGPUPowerPreference_Undefined
	PowerLow             PowerPreference = C.WGPUPowerPreference_LowPower
	PowerHighPerformance PowerPreference = C.WGPUPowerPreference_HighPerformance
)

// BufferUsage is a WGPUBufferUsage bit set. The values are the standard's
// (webgpu.h declares them as static consts, which cgo cannot link).
type BufferUsage uint64

const (
	UsageMapRead  BufferUsage = 0x1
	UsageMapWrite BufferUsage = 0x2
	UsageCopySrc  BufferUsage = 0x4
	UsageCopyDst  BufferUsage = 0x8
	UsageUniform  BufferUsage = 0x40
	UsageStorage  BufferUsage = 0x80
)

const (
	mapModeRead  = 0x1 // WGPUMapMode_Read
	mapModeWrite = 0x2 // WGPUMapMode_Write
)

// ErrorFilter is a WGPUErrorFilter.
type ErrorFilter uint32

const (
	FilterValidation  ErrorFilter = C.WGPUErrorFilter_Validation
	FilterOutOfMemory ErrorFilter = C.WGPUErrorFilter_OutOfMemory
	FilterInternal    ErrorFilter = C.WGPUErrorFilter_Internal
)

// LostReason is a WGPUDeviceLostReason; 0 while the device is not lost.
type LostReason uint32

const (
	LostUnknown           LostReason = C.WGPUDeviceLostReason_Unknown
	LostDestroyed         LostReason = C.WGPUDeviceLostReason_Destroyed
	LostCallbackCancelled LostReason = C.WGPUDeviceLostReason_CallbackCancelled
	LostFailedCreation    LostReason = C.WGPUDeviceLostReason_FailedCreation
)

func (r LostReason) String() string {
	switch r {
	case 0:
		return "not lost"
	case LostUnknown:
		return "unknown"
	case LostDestroyed:
		return "destroyed"
	case LostCallbackCancelled:
		return "callback cancelled"
	case LostFailedCreation:
		return "failed creation"
	}
	return fmt.Sprintf("LostReason(%d)", uint32(r))
}

func goString(v C.WGPUStringView) string {
	if v.data == nil {
		return ""
	}
	if uint64(v.length) == ^uint64(0) { // WGPU_STRLEN: NUL-terminated
		return C.GoString(v.data)
	}
	return C.GoStringN(v.data, C.int(v.length))
}

func durationNS(d time.Duration) C.uint64_t {
	if d < 0 {
		d = 0
	}
	return C.uint64_t(d.Nanoseconds())
}

// Instance is a WGPUInstance with timed waits enabled.
type Instance struct {
	c C.WGPUInstance
}

// NewInstance creates an instance. Load must have succeeded.
func NewInstance() (*Instance, error) {
	c := C.wg_create_instance()
	if c == nil {
		return nil, errors.New("wgpu: wgpuCreateInstance returned NULL")
	}
	return &Instance{c: c}, nil
}

// Release releases the instance. Callbacks still pending are called (and
// cancelled) now.
func (in *Instance) Release() {
	if in == nil || in.c == nil {
		return
	}
	C.wg_instance_release(in.c)
	in.c = nil
}

// wait waits for the future whose callback writes r. On success r is the
// caller's to free; on any error r has been abandoned (the callback frees it).
func (in *Instance) wait(f C.WGPUFuture, r *C.wg_result, timeout time.Duration, what string) error {
	var completed C.int
	st := C.wg_wait(in.c, f, durationNS(timeout), &completed)
	if st == C.WGPUWaitStatus_Success && completed != 0 && r.done != 0 {
		return nil
	}
	C.wg_result_abandon(r)
	if st == C.WGPUWaitStatus_TimedOut {
		return fmt.Errorf("%s: %w after %v", what, ErrTimeout, timeout)
	}
	return fmt.Errorf("wgpu: %s: wgpuInstanceWaitAny status %d", what, int(st))
}

// AdapterOptions choose an adapter.
type AdapterOptions struct {
	Backend Backend
	Power   PowerPreference
}

// RequestAdapter asks for an adapter.
func (in *Instance) RequestAdapter(o AdapterOptions, timeout time.Duration) (*Adapter, error) {
	r := C.wg_result_new()
	f := C.wg_request_adapter(in.c, C.WGPUBackendType(o.Backend), C.WGPUPowerPreference(o.Power), r)
	if err := in.wait(f, r, timeout, "request adapter"); err != nil {
		return nil, err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPURequestAdapterStatus_Success || r.handle == nil {
		if r.handle != nil {
			C.wg_adapter_release(C.WGPUAdapter(r.handle))
		}
		return nil, fmt.Errorf("wgpu: request adapter: %s (status %d)", C.GoString(r.msg), int(r.status))
	}
	a := &Adapter{c: C.WGPUAdapter(r.handle), in: in}
	r.handle = nil
	return a, nil
}

// Adapter is a WGPUAdapter.
type Adapter struct {
	c  C.WGPUAdapter
	in *Instance
}

// AdapterInfo is WGPUAdapterInfo.
type AdapterInfo struct {
	Vendor, Architecture, Device, Description string
	Backend                                   Backend
	Type                                      AdapterType
	VendorID, DeviceID                        uint32
}

// Info describes the adapter.
func (a *Adapter) Info() (AdapterInfo, error) {
	// In C memory: the implementation writes pointers into it.
	info := (*C.WGPUAdapterInfo)(C.calloc(1, C.sizeof_WGPUAdapterInfo))
	defer C.free(unsafe.Pointer(info))
	if st := C.wg_adapter_info(a.c, info); st != C.WGPUStatus_Success {
		return AdapterInfo{}, fmt.Errorf("wgpu: wgpuAdapterGetInfo: status %d", int(st))
	}
	defer C.wg_adapter_info_free(info)
	return AdapterInfo{
		Vendor:       goString(info.vendor),
		Architecture: goString(info.architecture),
		Device:       goString(info.device),
		Description:  goString(info.description),
		Backend:      Backend(info.backendType),
		Type:         AdapterType(info.adapterType),
		VendorID:     uint32(info.vendorID),
		DeviceID:     uint32(info.deviceID),
	}, nil
}

// Limits are the WGPULimits compute cares about.
type Limits struct {
	MaxBufferSize                     uint64
	MaxStorageBufferBindingSize       uint64
	MaxUniformBufferBindingSize       uint64
	MaxStorageBuffersPerShaderStage   uint32
	MaxBindingsPerBindGroup           uint32
	MinStorageBufferOffsetAlignment   uint32
	MaxComputeWorkgroupStorageSize    uint32
	MaxComputeInvocationsPerWorkgroup uint32
	MaxComputeWorkgroupSizeX          uint32
	MaxComputeWorkgroupSizeY          uint32
	MaxComputeWorkgroupSizeZ          uint32
	MaxComputeWorkgroupsPerDimension  uint32
}

func limitsFrom(l *C.WGPULimits) Limits {
	return Limits{
		MaxBufferSize:                     uint64(l.maxBufferSize),
		MaxStorageBufferBindingSize:       uint64(l.maxStorageBufferBindingSize),
		MaxUniformBufferBindingSize:       uint64(l.maxUniformBufferBindingSize),
		MaxStorageBuffersPerShaderStage:   uint32(l.maxStorageBuffersPerShaderStage),
		MaxBindingsPerBindGroup:           uint32(l.maxBindingsPerBindGroup),
		MinStorageBufferOffsetAlignment:   uint32(l.minStorageBufferOffsetAlignment),
		MaxComputeWorkgroupStorageSize:    uint32(l.maxComputeWorkgroupStorageSize),
		MaxComputeInvocationsPerWorkgroup: uint32(l.maxComputeInvocationsPerWorkgroup),
		MaxComputeWorkgroupSizeX:          uint32(l.maxComputeWorkgroupSizeX),
		MaxComputeWorkgroupSizeY:          uint32(l.maxComputeWorkgroupSizeY),
		MaxComputeWorkgroupSizeZ:          uint32(l.maxComputeWorkgroupSizeZ),
		MaxComputeWorkgroupsPerDimension:  uint32(l.maxComputeWorkgroupsPerDimension),
	}
}

// Limits returns the adapter's limits.
func (a *Adapter) Limits() (Limits, error) {
	l := (*C.WGPULimits)(C.calloc(1, C.sizeof_WGPULimits))
	defer C.free(unsafe.Pointer(l))
	if st := C.wg_adapter_limits(a.c, l); st != C.WGPUStatus_Success {
		return Limits{}, fmt.Errorf("wgpu: wgpuAdapterGetLimits: status %d", int(st))
	}
	return limitsFrom(l), nil
}

// RequestDevice asks for a device with all of the adapter's limits (not
// WebGPU's small defaults).
func (a *Adapter) RequestDevice(label string, timeout time.Duration) (*Device, error) {
	return a.RequestDeviceToggles(label, timeout, nil, nil)
}

// RequestDeviceToggles is RequestDevice with Dawn's toggles enabled
// (enable) and disabled (disable), chained as a WGPUDawnTogglesDescriptor
// (a Dawn extension: with none, nothing is chained).
func (a *Adapter) RequestDeviceToggles(label string, timeout time.Duration, enable, disable []string) (*Device, error) {
	ctx := C.wg_device_ctx_new()
	if ctx == nil {
		return nil, errors.New("wgpu: out of C memory")
	}
	clabel := C.CString(label)
	defer C.free(unsafe.Pointer(clabel))
	names := append(append([]string(nil), enable...), disable...)
	var toggles **C.char
	if len(names) > 0 {
		arr := unsafe.Slice((**C.char)(C.calloc(C.size_t(len(names)), C.size_t(unsafe.Sizeof((*C.char)(nil))))), len(names))
		for i, n := range names {
			arr[i] = C.CString(n)
		}
		defer func() {
			for _, p := range arr {
				C.free(unsafe.Pointer(p))
			}
			C.free(unsafe.Pointer(&arr[0]))
		}()
		toggles = &arr[0]
	}
	r := C.wg_result_new()
	var lst C.WGPUStatus
	f := C.wg_request_device(a.c, clabel, ctx, r, &lst, toggles, C.size_t(len(enable)), C.size_t(len(disable)))
	if err := a.in.wait(f, r, timeout, "request device"); err != nil {
		// ctx is leaked: a device that still comes is released by the
		// callback, and its lost callback writes ctx.
		return nil, err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPURequestDeviceStatus_Success || r.handle == nil {
		if r.handle != nil {
			C.wg_device_release(C.WGPUDevice(r.handle))
		}
		C.wg_device_ctx_free(ctx)
		return nil, fmt.Errorf("wgpu: request device: %s (status %d)", C.GoString(r.msg), int(r.status))
	}
	if lst != C.WGPUStatus_Success {
		C.wg_device_release(C.WGPUDevice(r.handle))
		C.wg_device_ctx_free(ctx)
		return nil, fmt.Errorf("wgpu: wgpuAdapterGetLimits: status %d", int(lst))
	}
	d := &Device{c: C.WGPUDevice(r.handle), ctx: ctx, in: a.in}
	r.handle = nil
	d.queue = &Queue{c: C.wg_device_queue(d.c), d: d}
	return d, nil
}

// Release releases the adapter.
func (a *Adapter) Release() {
	if a == nil || a.c == nil {
		return
	}
	C.wg_adapter_release(a.c)
	a.c = nil
}

// Device is a WGPUDevice, with its queue.
type Device struct {
	c     C.WGPUDevice
	ctx   *C.wg_device_ctx
	in    *Instance
	queue *Queue
	live  atomic.Int64
}

// Queue returns the device's queue (released with the device).
func (d *Device) Queue() *Queue { return d.queue }

// Live is the number of objects made from the device and not released.
func (d *Device) Live() int64 { return d.live.Load() }

// Limits returns the device's limits.
func (d *Device) Limits() (Limits, error) {
	l := (*C.WGPULimits)(C.calloc(1, C.sizeof_WGPULimits))
	defer C.free(unsafe.Pointer(l))
	if st := C.wg_device_limits(d.c, l); st != C.WGPUStatus_Success {
		return Limits{}, fmt.Errorf("wgpu: wgpuDeviceGetLimits: status %d", int(st))
	}
	return limitsFrom(l), nil
}

// Lost reports whether the device was lost (0: not), and why.
func (d *Device) Lost() (LostReason, string) {
	var buf [1024]C.char
	r := C.wg_device_lost(d.ctx, &buf[0], C.size_t(len(buf)))
	if r == 0 {
		return 0, ""
	}
	return LostReason(r), C.GoString(&buf[0])
}

// TakeUncapturedError returns the first error raised outside any error
// scope since the last call (nil if none), and how many there were.
func (d *Device) TakeUncapturedError() (*Error, uint64) {
	var buf [2048]C.char
	var typ C.int
	n := C.wg_take_error(d.ctx, &typ, &buf[0], C.size_t(len(buf)))
	if n == 0 {
		return nil, 0
	}
	return &Error{Type: ErrorType(typ), Msg: C.GoString(&buf[0])}, uint64(n)
}

// PushErrorScope opens an error scope.
func (d *Device) PushErrorScope(f ErrorFilter) { C.wg_push_error_scope(d.c, C.WGPUErrorFilter(f)) }

// PopErrorScope closes the innermost error scope: the first error it caught
// (nil if none), or a failed wait.
func (d *Device) PopErrorScope(timeout time.Duration) (scoped *Error, err error) {
	r := C.wg_result_new()
	f := C.wg_pop_error_scope(d.c, r)
	if err := d.in.wait(f, r, timeout, "pop error scope"); err != nil {
		return nil, err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPUPopErrorScopeStatus_Success {
		return nil, fmt.Errorf("wgpu: pop error scope: %s (status %d)", C.GoString(r.msg), int(r.status))
	}
	if ErrorType(r._type) == ErrorNone {
		return nil, nil
	}
	return &Error{Type: ErrorType(r._type), Msg: C.GoString(r.msg)}, nil
}

// Destroy destroys the device now: its buffers are freed and pending work
// is abandoned; it is lost (reason Destroyed). It still has to be released.
// It waits for the device to be idle: a device whose work never ends blocks
// here.
func (d *Device) Destroy() { C.wg_device_destroy(d.c) }

// Release releases the queue and the device (which waits for its work, and
// may block forever if that never ends), then frees the device's context.
func (d *Device) Release() {
	if d == nil || d.c == nil {
		return
	}
	C.wg_queue_release(d.queue.c)
	C.wg_device_release(d.c)
	d.c = nil
	C.wg_device_ctx_free(d.ctx) // after the device: its lost callback writes ctx
	d.ctx = nil
}

// CreateBuffer creates a buffer. An invalid one (too large) is an error
// object: see PushErrorScope.
func (d *Device) CreateBuffer(size uint64, usage BufferUsage) *Buffer {
	d.live.Add(1)
	return &Buffer{c: C.wg_create_buffer(d.c, C.uint64_t(size), C.uint64_t(usage), 0), d: d, size: size}
}

// CreateBufferMapped creates a buffer mapped at creation (any usage; size a
// multiple of 4): write it through MappedWritable, then Unmap before the GPU
// uses it.
func (d *Device) CreateBufferMapped(size uint64, usage BufferUsage) *Buffer {
	d.live.Add(1)
	return &Buffer{c: C.wg_create_buffer(d.c, C.uint64_t(size), C.uint64_t(usage), 1), d: d, size: size}
}

// CreateShaderModule creates a module from WGSL source. An invalid source
// gives a module whose CompilationInfo says why (and a validation error).
func (d *Device) CreateShaderModule(code string) *ShaderModule {
	var p *C.char
	if len(code) > 0 {
		p = (*C.char)(C.CBytes([]byte(code)))
		defer C.free(unsafe.Pointer(p))
	}
	d.live.Add(1)
	return &ShaderModule{c: C.wg_create_shader_module(d.c, p, C.size_t(len(code))), d: d}
}

// CreateComputePipeline creates a pipeline with an "auto" layout.
func (d *Device) CreateComputePipeline(m *ShaderModule, entry string) *ComputePipeline {
	centry := C.CString(entry)
	defer C.free(unsafe.Pointer(centry))
	d.live.Add(1)
	return &ComputePipeline{c: C.wg_create_compute_pipeline(d.c, m.c, centry, C.size_t(len(entry))), d: d}
}

// BufferBinding binds a range of a buffer (Size 0: to its end).
type BufferBinding struct {
	Binding      uint32
	Buffer       *Buffer
	Offset, Size uint64
}

// CreateBindGroup creates a bind group of buffers.
func (d *Device) CreateBindGroup(layout *BindGroupLayout, entries []BufferBinding) *BindGroup {
	n := len(entries)
	mem := C.calloc(C.size_t(max(n, 1)), 32) // four arrays of 8-byte slots
	defer C.free(mem)
	bindings := unsafe.Slice((*C.uint32_t)(mem), max(n, 1))
	bufs := unsafe.Slice((*C.WGPUBuffer)(unsafe.Add(mem, 8*max(n, 1))), max(n, 1))
	offs := unsafe.Slice((*C.uint64_t)(unsafe.Add(mem, 16*max(n, 1))), max(n, 1))
	sizes := unsafe.Slice((*C.uint64_t)(unsafe.Add(mem, 24*max(n, 1))), max(n, 1))
	for i, e := range entries {
		bindings[i] = C.uint32_t(e.Binding)
		bufs[i] = e.Buffer.c
		offs[i] = C.uint64_t(e.Offset)
		size := e.Size
		if size == 0 {
			size = ^uint64(0) // WGPU_WHOLE_SIZE
		}
		sizes[i] = C.uint64_t(size)
	}
	d.live.Add(1)
	return &BindGroup{c: C.wg_create_bind_group(d.c, layout.c, C.size_t(n), &bindings[0], &bufs[0], &offs[0], &sizes[0]), d: d}
}

// CreateCommandEncoder creates a command encoder.
func (d *Device) CreateCommandEncoder() *CommandEncoder {
	d.live.Add(1)
	return &CommandEncoder{c: C.wg_create_encoder(d.c), d: d}
}

// Queue is a device's WGPUQueue.
type Queue struct {
	c C.WGPUQueue
	d *Device
}

// WriteBuffer schedules a write of data at off in b; data is copied before
// the call returns. len(data) and off must be multiples of 4.
func (q *Queue) WriteBuffer(b *Buffer, off uint64, data []byte) {
	if len(data) == 0 {
		return
	}
	C.wg_queue_write_buffer(q.c, b.c, C.uint64_t(off), unsafe.Pointer(&data[0]), C.size_t(len(data)))
}

// Submit submits a command buffer (and does not release it).
func (q *Queue) Submit(c *CommandBuffer) { C.wg_queue_submit(q.c, c.c) }

// WorkDone waits until the work submitted so far is done.
func (q *Queue) WorkDone(timeout time.Duration) error {
	r := C.wg_result_new()
	f := C.wg_work_done(q.c, r)
	if err := q.d.in.wait(f, r, timeout, "queue work done"); err != nil {
		return err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPUQueueWorkDoneStatus_Success {
		return fmt.Errorf("wgpu: queue work done: %s (status %d)", C.GoString(r.msg), int(r.status))
	}
	return nil
}

// Buffer is a WGPUBuffer.
type Buffer struct {
	c    C.WGPUBuffer
	d    *Device
	size uint64
}

// Size is the buffer's size in bytes.
func (b *Buffer) Size() uint64 { return b.size }

// MapRead maps [off, off+size) for reading and waits for it. Both must be
// multiples of 4 (off of 8).
func (b *Buffer) MapRead(off, size uint64, timeout time.Duration) error {
	return b.mapAsync(mapModeRead, off, size, timeout)
}

// MapWrite maps [off, off+size) of a MapWrite buffer for writing and waits
// for it (until the GPU's use of the buffer ends). Both must be multiples
// of 4 (off of 8).
func (b *Buffer) MapWrite(off, size uint64, timeout time.Duration) error {
	return b.mapAsync(mapModeWrite, off, size, timeout)
}

func (b *Buffer) mapAsync(mode uint64, off, size uint64, timeout time.Duration) error {
	r := C.wg_result_new()
	f := C.wg_map_async(b.c, C.uint64_t(mode), C.uint64_t(off), C.uint64_t(size), r)
	if err := b.d.in.wait(f, r, timeout, "map buffer"); err != nil {
		return err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPUMapAsyncStatus_Success {
		return fmt.Errorf("wgpu: map buffer: %s (status %d)", C.GoString(r.msg), int(r.status))
	}
	return nil
}

// MappedWritable returns a writable view of a range mapped for writing (or
// at creation), valid until Unmap.
func (b *Buffer) MappedWritable(off, size uint64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	p := C.wg_buffer_mapped_writable(b.c, C.size_t(off), C.size_t(size))
	if p == nil {
		return nil, errors.New("wgpu: wgpuBufferGetMappedRange returned NULL")
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// Mapped returns a view of a mapped range, valid until Unmap.
func (b *Buffer) Mapped(off, size uint64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	p := C.wg_buffer_mapped(b.c, C.size_t(off), C.size_t(size))
	if p == nil {
		return nil, errors.New("wgpu: wgpuBufferGetConstMappedRange returned NULL")
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// Unmap unmaps the buffer.
func (b *Buffer) Unmap() { C.wg_buffer_unmap(b.c) }

// Release destroys the buffer's memory now and releases it.
func (b *Buffer) Release() {
	if b == nil || b.c == nil {
		return
	}
	C.wg_buffer_destroy(b.c)
	C.wg_buffer_release(b.c)
	b.c = nil
	b.d.live.Add(-1)
}

// CompilationMessage is a WGPUCompilationMessage. Line and Column are
// 1-based (0: no position); Offset and Length locate it in the source.
type CompilationMessage struct {
	Type           string // "error", "warning" or "info"
	Line, Column   uint64
	Offset, Length uint64
	Message        string
}

// ShaderModule is a WGPUShaderModule.
type ShaderModule struct {
	c C.WGPUShaderModule
	d *Device
}

// CompilationInfo returns the module's compilation messages.
func (m *ShaderModule) CompilationInfo(timeout time.Duration) ([]CompilationMessage, error) {
	r := C.wg_result_new()
	f := C.wg_compilation_info(m.c, r)
	if err := m.d.in.wait(f, r, timeout, "compilation info"); err != nil {
		return nil, err
	}
	defer C.wg_result_free(r)
	if r.status != C.WGPUCompilationInfoRequestStatus_Success {
		return nil, fmt.Errorf("wgpu: compilation info: status %d", int(r.status))
	}
	out := make([]CompilationMessage, 0, int(r.n))
	for _, cm := range unsafe.Slice(r.msgs, r.n) {
		typ := "info"
		switch cm._type {
		case C.WGPUCompilationMessageType_Error:
			typ = "error"
		case C.WGPUCompilationMessageType_Warning:
			typ = "warning"
		}
		out = append(out, CompilationMessage{Type: typ, Line: uint64(cm.line), Column: uint64(cm.col),
			Offset: uint64(cm.offset), Length: uint64(cm.length), Message: C.GoString(cm.text)})
	}
	return out, nil
}

// Release releases the module.
func (m *ShaderModule) Release() {
	if m == nil || m.c == nil {
		return
	}
	C.wg_shader_module_release(m.c)
	m.c = nil
	m.d.live.Add(-1)
}

// ComputePipeline is a WGPUComputePipeline.
type ComputePipeline struct {
	c C.WGPUComputePipeline
	d *Device
}

// BindGroupLayout returns the layout of bind group i.
func (p *ComputePipeline) BindGroupLayout(i uint32) *BindGroupLayout {
	p.d.live.Add(1)
	return &BindGroupLayout{c: C.wg_pipeline_layout(p.c, C.uint32_t(i)), d: p.d}
}

// Release releases the pipeline.
func (p *ComputePipeline) Release() {
	if p == nil || p.c == nil {
		return
	}
	C.wg_pipeline_release(p.c)
	p.c = nil
	p.d.live.Add(-1)
}

// BindGroupLayout is a WGPUBindGroupLayout.
type BindGroupLayout struct {
	c C.WGPUBindGroupLayout
	d *Device
}

// Release releases the layout.
func (l *BindGroupLayout) Release() {
	if l == nil || l.c == nil {
		return
	}
	C.wg_bind_group_layout_release(l.c)
	l.c = nil
	l.d.live.Add(-1)
}

// BindGroup is a WGPUBindGroup.
type BindGroup struct {
	c C.WGPUBindGroup
	d *Device
}

// Release releases the bind group.
func (g *BindGroup) Release() {
	if g == nil || g.c == nil {
		return
	}
	C.wg_bind_group_release(g.c)
	g.c = nil
	g.d.live.Add(-1)
}

// CommandEncoder is a WGPUCommandEncoder.
type CommandEncoder struct {
	c C.WGPUCommandEncoder
	d *Device
}

// BeginComputePass begins a compute pass.
func (e *CommandEncoder) BeginComputePass() *ComputePass {
	e.d.live.Add(1)
	return &ComputePass{c: C.wg_begin_compute_pass(e.c), d: e.d}
}

// CopyBufferToBuffer records a copy (offsets and size multiples of 4).
func (e *CommandEncoder) CopyBufferToBuffer(src *Buffer, srcOff uint64, dst *Buffer, dstOff, size uint64) {
	C.wg_copy_buffer(e.c, src.c, C.uint64_t(srcOff), dst.c, C.uint64_t(dstOff), C.uint64_t(size))
}

// Finish ends the encoding into a command buffer.
func (e *CommandEncoder) Finish() *CommandBuffer {
	e.d.live.Add(1)
	return &CommandBuffer{c: C.wg_encoder_finish(e.c), d: e.d}
}

// Release releases the encoder.
func (e *CommandEncoder) Release() {
	if e == nil || e.c == nil {
		return
	}
	C.wg_encoder_release(e.c)
	e.c = nil
	e.d.live.Add(-1)
}

// ComputePass is a WGPUComputePassEncoder.
type ComputePass struct {
	c C.WGPUComputePassEncoder
	d *Device
}

// SetPipeline sets the pipeline.
func (p *ComputePass) SetPipeline(pl *ComputePipeline) { C.wg_pass_set_pipeline(p.c, pl.c) }

// SetBindGroup sets bind group i.
func (p *ComputePass) SetBindGroup(i uint32, g *BindGroup) {
	C.wg_pass_set_bind_group(p.c, C.uint32_t(i), g.c)
}

// DispatchWorkgroups records a dispatch of x×y×z workgroups.
func (p *ComputePass) DispatchWorkgroups(x, y, z uint32) {
	C.wg_pass_dispatch(p.c, C.uint32_t(x), C.uint32_t(y), C.uint32_t(z))
}

// End ends the pass.
func (p *ComputePass) End() { C.wg_pass_end(p.c) }

// Release releases the pass encoder.
func (p *ComputePass) Release() {
	if p == nil || p.c == nil {
		return
	}
	C.wg_pass_release(p.c)
	p.c = nil
	p.d.live.Add(-1)
}

// CommandBuffer is a WGPUCommandBuffer.
type CommandBuffer struct {
	c C.WGPUCommandBuffer
	d *Device
}

// Release releases the command buffer.
func (c *CommandBuffer) Release() {
	if c == nil || c.c == nil {
		return
	}
	C.wg_command_buffer_release(c.c)
	c.c = nil
	c.d.live.Add(-1)
}
