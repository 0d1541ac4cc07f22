//go:build webgpu

package gpu

// The toolchain's smoke test (issue 8's groundwork): Dawn's libwebgpu_wrapper.so
// opened with dlopen at run time, driven through the standard webgpu.h, from
// instance to a WGSL compute shader's result read back. Not the binding: the
// binding grows from it (gpu/NOTES.md). Built only with -tags webgpu.
//
// Why dlopen, not -lwebgpu_wrapper: the node must build and run where the
// library is absent and then say why. Only the header and libdl are needed to
// build this; the library is looked for when smokeOpen runs.
//
// The C side does the asynchronous parts: every callback's data lives in C
// memory (malloc), callbacks use WGPUCallbackMode_WaitAnyOnly so they run inside
// wgpuInstanceWaitAny on the waiting thread, and a wait that times out leaks its
// small result block on purpose (the callback may still come and write it).

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo LDFLAGS: -ldl

#define WGPU_SKIP_DECLARATIONS
#include <webgpu/webgpu.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The procs this file uses, each looked up by its standard name.
#define SMOKE_PROCS(X) \
	X(CreateInstance) X(InstanceRelease) X(InstanceRequestAdapter) X(InstanceWaitAny) \
	X(AdapterGetInfo) X(AdapterInfoFreeMembers) X(AdapterRelease) X(AdapterRequestDevice) \
	X(DeviceRelease) X(DeviceGetQueue) X(DeviceCreateBuffer) X(DeviceCreateShaderModule) \
	X(DeviceCreateComputePipeline) X(DeviceCreateBindGroup) X(DeviceCreateCommandEncoder) \
	X(DeviceGetLimits) X(AdapterGetLimits) X(ShaderModuleGetCompilationInfo) X(ShaderModuleRelease) \
	X(ComputePipelineGetBindGroupLayout) X(ComputePipelineRelease) X(BindGroupLayoutRelease) \
	X(BindGroupRelease) X(CommandEncoderBeginComputePass) X(CommandEncoderCopyBufferToBuffer) \
	X(CommandEncoderFinish) X(CommandEncoderRelease) X(ComputePassEncoderSetPipeline) \
	X(ComputePassEncoderSetBindGroup) X(ComputePassEncoderDispatchWorkgroups) \
	X(ComputePassEncoderEnd) X(ComputePassEncoderRelease) X(CommandBufferRelease) \
	X(QueueWriteBuffer) X(QueueSubmit) X(QueueRelease) X(BufferMapAsync) \
	X(BufferGetConstMappedRange) X(BufferUnmap) X(BufferRelease) X(BufferDestroy)

#define SMOKE_DECL(n) static WGPUProc##n p_##n;
SMOKE_PROCS(SMOKE_DECL)

static void *smoke_lib;

// smoke_open: NULL, or why the library cannot be used (static storage).
static const char *smoke_open(const char *path) {
	static char why[512];
	if (smoke_lib) return NULL;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, sizeof why, "%s", dlerror());
		return why;
	}
#define SMOKE_LOAD(n) \
	p_##n = (WGPUProc##n)dlsym(h, "wgpu" #n); \
	if (!p_##n) { snprintf(why, sizeof why, "%s lacks wgpu" #n, path); dlclose(h); return why; }
	SMOKE_PROCS(SMOKE_LOAD)
	smoke_lib = h;
	return NULL;
}

// A WGPUStringView is not NUL-terminated; length WGPU_STRLEN means it is.
static char *smoke_strdup(WGPUStringView v) {
	if (!v.data) return strdup("");
	size_t n = v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
	char *s = malloc(n + 1);
	memcpy(s, v.data, n);
	s[n] = 0;
	return s;
}

static WGPUStringView smoke_view(const char *s) {
	WGPUStringView v = {s, WGPU_STRLEN};
	return v;
}

// Everything one smoke run holds. Errors reported by callbacks land in err
// (the first one wins).
typedef struct {
	WGPUInstance instance;
	WGPUAdapter adapter;
	WGPUDevice device;
	WGPUQueue queue;
	char *err;
	int lost;
} smoke_ctx;

static void smoke_fail(smoke_ctx *c, const char *what, WGPUStringView msg) {
	if (c->err) return;
	char *m = smoke_strdup(msg);
	size_t n = strlen(what) + strlen(m) + 3;
	c->err = malloc(n);
	snprintf(c->err, n, "%s: %s", what, m);
	free(m);
}

// Wait for one future; 0 when it completed.
static int smoke_wait(smoke_ctx *c, WGPUFuture f, uint64_t timeout_ns, const char *what) {
	WGPUFutureWaitInfo w = {f, 0};
	WGPUWaitStatus st = p_InstanceWaitAny(c->instance, 1, &w, timeout_ns);
	if (st == WGPUWaitStatus_Success && w.completed) return 0;
	char buf[128];
	snprintf(buf, sizeof buf, "%s: wgpuInstanceWaitAny status %d after %llu ns", what, (int)st,
		(unsigned long long)timeout_ns);
	smoke_fail(c, buf, smoke_view(""));
	return -1;
}

typedef struct { int done; int status; WGPUAdapter adapter; WGPUDevice device; char *msg; } smoke_result;

static void on_adapter(WGPURequestAdapterStatus st, WGPUAdapter a, WGPUStringView msg, void *u1, void *u2) {
	smoke_result *r = u1;
	r->done = 1; r->status = st; r->adapter = a; r->msg = smoke_strdup(msg);
}
static void on_device(WGPURequestDeviceStatus st, WGPUDevice d, WGPUStringView msg, void *u1, void *u2) {
	smoke_result *r = u1;
	r->done = 1; r->status = st; r->device = d; r->msg = smoke_strdup(msg);
}
static void on_error(WGPUDevice const *d, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
	char what[64];
	snprintf(what, sizeof what, "uncaptured error (type %d)", (int)type);
	smoke_fail(u1, what, msg);
}
static void on_lost(WGPUDevice const *d, WGPUDeviceLostReason reason, WGPUStringView msg, void *u1, void *u2) {
	smoke_ctx *c = u1;
	c->lost = reason;
}

// smoke_new: instance (timed WaitAny on), adapter, device. NULL and *err set on failure.
static smoke_ctx *smoke_new(WGPUBackendType backend, uint64_t timeout_ns) {
	smoke_ctx *c = calloc(1, sizeof *c);
	WGPUInstanceDescriptor idesc = {0};
	idesc.capabilities.timedWaitAnyEnable = 1; // without it a timeout other than 0 is an error
	idesc.capabilities.timedWaitAnyMaxCount = 8;
	c->instance = p_CreateInstance(&idesc);
	if (!c->instance) { c->err = strdup("wgpuCreateInstance returned NULL"); return c; }

	WGPURequestAdapterOptions opts = {0};
	opts.featureLevel = WGPUFeatureLevel_Core;
	opts.powerPreference = WGPUPowerPreference_HighPerformance;
	opts.backendType = backend;
	smoke_result *r = calloc(1, sizeof *r);
	WGPURequestAdapterCallbackInfo acb = {0};
	acb.mode = WGPUCallbackMode_WaitAnyOnly;
	acb.callback = on_adapter;
	acb.userdata1 = r;
	if (smoke_wait(c, p_InstanceRequestAdapter(c->instance, &opts, acb), timeout_ns, "request adapter") != 0)
		return c; // r leaks: the callback may still write it
	if (r->status != WGPURequestAdapterStatus_Success) {
		smoke_fail(c, "request adapter", smoke_view(r->msg));
		free(r->msg); free(r);
		return c;
	}
	c->adapter = r->adapter;
	free(r->msg); free(r);

	// Ask for all the adapter offers (the defaults are small: 256 MiB buffers,
	// 128 MiB storage bindings). A WGPULimits built by hand must hold
	// WGPU_LIMIT_*_UNDEFINED (all ones) in every field not asked for, not 0.
	WGPULimits *want = calloc(1, sizeof *want);
	if (p_AdapterGetLimits(c->adapter, want) != WGPUStatus_Success) {
		free(want);
		c->err = strdup("wgpuAdapterGetLimits failed");
		return c;
	}
	want->nextInChain = NULL;
	WGPUDeviceDescriptor ddesc = {0};
	ddesc.label = smoke_view("smoke");
	ddesc.requiredLimits = want;
	ddesc.deviceLostCallbackInfo.mode = WGPUCallbackMode_AllowSpontaneous;
	ddesc.deviceLostCallbackInfo.callback = on_lost;
	ddesc.deviceLostCallbackInfo.userdata1 = c;
	ddesc.uncapturedErrorCallbackInfo.callback = on_error;
	ddesc.uncapturedErrorCallbackInfo.userdata1 = c;
	r = calloc(1, sizeof *r);
	WGPURequestDeviceCallbackInfo dcb = {0};
	dcb.mode = WGPUCallbackMode_WaitAnyOnly;
	dcb.callback = on_device;
	dcb.userdata1 = r;
	int bad = smoke_wait(c, p_AdapterRequestDevice(c->adapter, &ddesc, dcb), timeout_ns, "request device");
	free(want);
	if (bad) return c;
	if (r->status != WGPURequestDeviceStatus_Success) {
		smoke_fail(c, "request device", smoke_view(r->msg));
		free(r->msg); free(r);
		return c;
	}
	c->device = r->device;
	free(r->msg); free(r);
	c->queue = p_DeviceGetQueue(c->device);
	return c;
}

// smoke_free releases everything; the ctx goes last, as the device-lost
// callback still writes it while the device is released.
static void smoke_free(smoke_ctx *c) {
	if (c->queue) p_QueueRelease(c->queue);
	if (c->device) p_DeviceRelease(c->device);
	if (c->adapter) p_AdapterRelease(c->adapter);
	if (c->instance) p_InstanceRelease(c->instance);
	free(c->err);
	free(c);
}

static WGPUStatus smoke_adapter_info(smoke_ctx *c, WGPUAdapterInfo *info) {
	return p_AdapterGetInfo(c->adapter, info);
}
static void smoke_adapter_info_free(WGPUAdapterInfo info) { p_AdapterInfoFreeMembers(info); }

static WGPUStatus smoke_device_limits(smoke_ctx *c, WGPULimits *l) {
	return p_DeviceGetLimits(c->device, l);
}

static WGPUShaderModule smoke_module(smoke_ctx *c, const char *code) {
	WGPUShaderSourceWGSL src = {0};
	src.chain.sType = WGPUSType_ShaderSourceWGSL;
	src.code = smoke_view(code);
	WGPUShaderModuleDescriptor desc = {0};
	desc.nextInChain = &src.chain;
	return p_DeviceCreateShaderModule(c->device, &desc);
}

// Compilation messages, copied out of the callback into C memory.
typedef struct { int type; uint64_t line, col; char *text; } smoke_msg;
typedef struct { int done; int status; size_t n; smoke_msg *msgs; } smoke_info;

static void on_info(WGPUCompilationInfoRequestStatus st, struct WGPUCompilationInfo const *info, void *u1, void *u2) {
	smoke_info *r = u1;
	r->done = 1;
	r->status = st;
	if (!info) return;
	r->n = info->messageCount;
	r->msgs = calloc(r->n ? r->n : 1, sizeof *r->msgs);
	for (size_t i = 0; i < r->n; i++) {
		const WGPUCompilationMessage *m = &info->messages[i];
		r->msgs[i].type = m->type;
		r->msgs[i].line = m->lineNum;
		r->msgs[i].col = m->linePos;
		r->msgs[i].text = smoke_strdup(m->message);
	}
}

// smoke_compile: the compilation messages of a WGSL source (NULL on a wait failure).
static smoke_info *smoke_compile(smoke_ctx *c, const char *code, uint64_t timeout_ns) {
	WGPUShaderModule m = smoke_module(c, code);
	smoke_info *r = calloc(1, sizeof *r);
	WGPUCompilationInfoCallbackInfo cb = {0};
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_info;
	cb.userdata1 = r;
	int bad = smoke_wait(c, p_ShaderModuleGetCompilationInfo(m, cb), timeout_ns, "compilation info");
	p_ShaderModuleRelease(m);
	return bad ? NULL : r;
}
static void smoke_info_free(smoke_info *r) {
	for (size_t i = 0; i < r->n; i++) free(r->msgs[i].text);
	free(r->msgs);
	free(r);
}

typedef struct { int done; int status; char *msg; } smoke_map;
static void on_map(WGPUMapAsyncStatus st, WGPUStringView msg, void *u1, void *u2) {
	smoke_map *r = u1;
	r->done = 1; r->status = st; r->msg = smoke_strdup(msg);
}

static const char *smoke_double_wgsl =
	"@group(0) @binding(0) var<storage, read_write> data: array<f32>;\n"
	"@compute @workgroup_size(64)\n"
	"fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n"
	"    if (id.x < arrayLength(&data)) { data[id.x] = data[id.x] * 2.0; }\n"
	"}\n";

// smoke_double doubles n floats in place on the GPU; 0 on success, else c->err.
static int smoke_double(smoke_ctx *c, float *data, size_t n, uint64_t timeout_ns) {
	uint64_t size = n * sizeof(float);
	int rc = -1;
	WGPUShaderModule mod = smoke_module(c, smoke_double_wgsl);
	WGPUComputePipelineDescriptor pdesc = {0};
	pdesc.compute.module = mod;
	pdesc.compute.entryPoint = smoke_view("main");
	WGPUComputePipeline pipe = p_DeviceCreateComputePipeline(c->device, &pdesc); // layout NULL: "auto"

	// WGPUBufferUsage_* are static consts: cgo cannot see them, C can.
	WGPUBufferDescriptor bdesc = {0};
	bdesc.usage = WGPUBufferUsage_Storage | WGPUBufferUsage_CopyDst | WGPUBufferUsage_CopySrc;
	bdesc.size = size;
	WGPUBuffer work = p_DeviceCreateBuffer(c->device, &bdesc);
	bdesc.usage = WGPUBufferUsage_MapRead | WGPUBufferUsage_CopyDst;
	WGPUBuffer back = p_DeviceCreateBuffer(c->device, &bdesc);
	p_QueueWriteBuffer(c->queue, work, 0, data, size);

	WGPUBindGroupLayout layout = p_ComputePipelineGetBindGroupLayout(pipe, 0);
	WGPUBindGroupEntry entry = {0};
	entry.binding = 0;
	entry.buffer = work;
	entry.size = size;
	WGPUBindGroupDescriptor gdesc = {0};
	gdesc.layout = layout;
	gdesc.entryCount = 1;
	gdesc.entries = &entry;
	WGPUBindGroup group = p_DeviceCreateBindGroup(c->device, &gdesc);

	WGPUCommandEncoder enc = p_DeviceCreateCommandEncoder(c->device, NULL);
	WGPUComputePassEncoder pass = p_CommandEncoderBeginComputePass(enc, NULL);
	p_ComputePassEncoderSetPipeline(pass, pipe);
	p_ComputePassEncoderSetBindGroup(pass, 0, group, 0, NULL);
	p_ComputePassEncoderDispatchWorkgroups(pass, (uint32_t)((n + 63) / 64), 1, 1);
	p_ComputePassEncoderEnd(pass);
	p_CommandEncoderCopyBufferToBuffer(enc, work, 0, back, 0, size);
	WGPUCommandBuffer cmds = p_CommandEncoderFinish(enc, NULL);
	p_QueueSubmit(c->queue, 1, &cmds);

	smoke_map *r = calloc(1, sizeof *r);
	WGPUBufferMapCallbackInfo mcb = {0};
	mcb.mode = WGPUCallbackMode_WaitAnyOnly;
	mcb.callback = on_map;
	mcb.userdata1 = r;
	if (smoke_wait(c, p_BufferMapAsync(back, WGPUMapMode_Read, 0, size, mcb), timeout_ns, "map read-back buffer") == 0) {
		if (r->status != WGPUMapAsyncStatus_Success) {
			smoke_fail(c, "map read-back buffer", smoke_view(r->msg));
		} else {
			const void *p = p_BufferGetConstMappedRange(back, 0, size);
			if (p) {
				memcpy(data, p, size);
				rc = 0;
			} else {
				smoke_fail(c, "wgpuBufferGetConstMappedRange returned NULL", smoke_view(""));
			}
			p_BufferUnmap(back);
		}
		free(r->msg);
		free(r);
	}
	p_CommandBufferRelease(cmds);
	p_ComputePassEncoderRelease(pass);
	p_CommandEncoderRelease(enc);
	p_BindGroupRelease(group);
	p_BindGroupLayoutRelease(layout);
	p_BufferDestroy(back);
	p_BufferRelease(back);
	p_BufferDestroy(work);
	p_BufferRelease(work);
	p_ComputePipelineRelease(pipe);
	p_ShaderModuleRelease(mod);
	return c->err ? -1 : rc;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// smokeAdapterInfo is WGPUAdapterInfo in Go strings.
type smokeAdapterInfo struct {
	Vendor, Architecture, Device, Description string
	Backend, AdapterType                      string
	VendorID, DeviceID                        uint32
}

// smokeMessage is one WGPUCompilationMessage.
type smokeMessage struct {
	Type      string
	Line, Col uint64
	Text      string
}

type smokeGPU struct {
	ctx     *C.smoke_ctx
	timeout time.Duration
}

// smokeOpen dlopens the library at path and looks up every proc the smoke
// test uses.
func smokeOpen(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	if why := C.smoke_open(cpath); why != nil {
		return errors.New(C.GoString(why))
	}
	return nil
}

const smokeBackendVulkan = uint32(C.WGPUBackendType_Vulkan)

// smokeNew creates an instance, requests an adapter of the given backend
// (0: any) and a device with the adapter's limits, waiting up to timeout for each.
func smokeNew(backend uint32, timeout time.Duration) (*smokeGPU, error) {
	c := C.smoke_new(C.WGPUBackendType(backend), C.uint64_t(timeout.Nanoseconds()))
	g := &smokeGPU{ctx: c, timeout: timeout}
	if c.err != nil {
		err := errors.New(C.GoString(c.err))
		g.close()
		return nil, err
	}
	return g, nil
}

func (g *smokeGPU) close() {
	if g.ctx != nil {
		C.smoke_free(g.ctx)
		g.ctx = nil
	}
}

func goString(v C.WGPUStringView) string {
	if v.data == nil {
		return ""
	}
	if v.length == C.size_t(^uint(0)) { // WGPU_STRLEN: NUL-terminated
		return C.GoString(v.data)
	}
	return C.GoStringN(v.data, C.int(v.length))
}

var backendNames = map[C.WGPUBackendType]string{
	C.WGPUBackendType_Null: "Null", C.WGPUBackendType_WebGPU: "WebGPU", C.WGPUBackendType_D3D11: "D3D11",
	C.WGPUBackendType_D3D12: "D3D12", C.WGPUBackendType_Metal: "Metal", C.WGPUBackendType_Vulkan: "Vulkan",
	C.WGPUBackendType_OpenGL: "OpenGL", C.WGPUBackendType_OpenGLES: "OpenGLES",
}

var adapterTypeNames = map[C.WGPUAdapterType]string{
	C.WGPUAdapterType_DiscreteGPU: "DiscreteGPU", C.WGPUAdapterType_IntegratedGPU: "IntegratedGPU",
	C.WGPUAdapterType_CPU: "CPU", C.WGPUAdapterType_Unknown: "Unknown",
}

func (g *smokeGPU) adapterInfo() (smokeAdapterInfo, error) {
	// WGPUAdapterInfo in C memory: the library writes pointers into it.
	info := (*C.WGPUAdapterInfo)(C.calloc(1, C.sizeof_WGPUAdapterInfo))
	defer C.free(unsafe.Pointer(info))
	if st := C.smoke_adapter_info(g.ctx, info); st != C.WGPUStatus_Success {
		return smokeAdapterInfo{}, fmt.Errorf("wgpuAdapterGetInfo: status %d", st)
	}
	defer C.smoke_adapter_info_free(*info)
	return smokeAdapterInfo{
		Vendor:       goString(info.vendor),
		Architecture: goString(info.architecture),
		Device:       goString(info.device),
		Description:  goString(info.description),
		Backend:      backendNames[info.backendType],
		AdapterType:  adapterTypeNames[info.adapterType],
		VendorID:     uint32(info.vendorID),
		DeviceID:     uint32(info.deviceID),
	}, nil
}

// limits returns a few of the device's limits.
func (g *smokeGPU) limits() (map[string]uint64, error) {
	l := (*C.WGPULimits)(C.calloc(1, C.sizeof_WGPULimits))
	defer C.free(unsafe.Pointer(l))
	if st := C.smoke_device_limits(g.ctx, l); st != C.WGPUStatus_Success {
		return nil, fmt.Errorf("wgpuDeviceGetLimits: status %d", st)
	}
	return map[string]uint64{
		"maxStorageBufferBindingSize":       uint64(l.maxStorageBufferBindingSize),
		"maxBufferSize":                     uint64(l.maxBufferSize),
		"maxComputeWorkgroupsPerDimension":  uint64(l.maxComputeWorkgroupsPerDimension),
		"maxComputeInvocationsPerWorkgroup": uint64(l.maxComputeInvocationsPerWorkgroup),
		"maxComputeWorkgroupSizeX":          uint64(l.maxComputeWorkgroupSizeX),
	}, nil
}

var messageTypeNames = map[C.int]string{
	C.WGPUCompilationMessageType_Error: "error", C.WGPUCompilationMessageType_Warning: "warning",
	C.WGPUCompilationMessageType_Info: "info",
}

// compile returns the compilation messages for a WGSL source.
func (g *smokeGPU) compile(code string) ([]smokeMessage, error) {
	ccode := C.CString(code)
	defer C.free(unsafe.Pointer(ccode))
	r := C.smoke_compile(g.ctx, ccode, C.uint64_t(g.timeout.Nanoseconds()))
	if r == nil {
		return nil, errors.New(C.GoString(g.ctx.err))
	}
	defer C.smoke_info_free(r)
	msgs := unsafe.Slice(r.msgs, r.n)
	out := make([]smokeMessage, len(msgs))
	for i, m := range msgs {
		out[i] = smokeMessage{Type: messageTypeNames[m._type], Line: uint64(m.line), Col: uint64(m.col), Text: C.GoString(m.text)}
	}
	// Creating an invalid module also raises an uncaptured validation error.
	if g.ctx.err != nil {
		C.free(unsafe.Pointer(g.ctx.err))
		g.ctx.err = nil
	}
	return out, nil
}

// double doubles data in place with a WGSL compute shader.
func (g *smokeGPU) double(data []float32) error {
	if len(data) == 0 {
		return nil
	}
	// data is Go memory passed for the call's duration only:
	// wgpuQueueWriteBuffer copies it, the read-back is copied into it.
	if C.smoke_double(g.ctx, (*C.float)(unsafe.Pointer(&data[0])), C.size_t(len(data)), C.uint64_t(g.timeout.Nanoseconds())) != 0 {
		return errors.New(C.GoString(g.ctx.err))
	}
	return nil
}
