//go:build cgo

#include "shim.h"
#include "procs.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define WG_DECL(n) static WGPUProc##n p_##n;
WG_PROCS(WG_DECL)

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static void *lib;
static char lib_path[1024];

const char *wg_load(const char *path) {
	static char why[1024 + 64];
	const char *ret = NULL;
	pthread_mutex_lock(&load_mu);
	if (lib) {
		if (strcmp(path, lib_path) != 0) {
			snprintf(why, sizeof why, "another webgpu library is loaded already: %s", lib_path);
			ret = why;
		}
		goto out;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, sizeof why, "%s", dlerror());
		ret = why;
		goto out;
	}
#define WG_LOAD(n) \
	p_##n = (WGPUProc##n)dlsym(h, "wgpu" #n); \
	if (!p_##n) { snprintf(why, sizeof why, "%s has no symbol wgpu" #n, path); dlclose(h); ret = why; goto out; }
	WG_PROCS(WG_LOAD)
	lib = h;
	snprintf(lib_path, sizeof lib_path, "%s", path);
out:
	pthread_mutex_unlock(&load_mu);
	return ret;
}

// A WGPUStringView is not NUL-terminated unless its length is WGPU_STRLEN.
static char *sv_dup(WGPUStringView v) {
	size_t n = 0;
	if (v.data) n = v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
	char *s = malloc(n + 1);
	if (!s) return NULL;
	if (n) memcpy(s, v.data, n);
	s[n] = 0;
	return s;
}

static void sv_copy(char *dst, size_t cap, WGPUStringView v) {
	if (cap == 0) return;
	size_t n = 0;
	if (v.data) n = v.length == WGPU_STRLEN ? strlen(v.data) : v.length;
	if (n >= cap) n = cap - 1;
	if (n) memcpy(dst, v.data, n);
	dst[n] = 0;
}

static WGPUStringView sv(const char *s, size_t n) {
	WGPUStringView v = {s, n};
	return v;
}

wg_result *wg_result_new(void) { return calloc(1, sizeof(wg_result)); }

void wg_result_free(wg_result *r) {
	if (!r) return;
	for (size_t i = 0; i < r->n; i++) free(r->msgs[i].text);
	free(r->msgs);
	free(r->msg);
	free(r);
}

// A handle that arrives for a waiter that gave up is released here.
static void result_drop(wg_result *r) {
	if (r->handle) {
		if (r->handle_kind == 1) p_AdapterRelease((WGPUAdapter)r->handle);
		if (r->handle_kind == 2) p_DeviceRelease((WGPUDevice)r->handle);
		r->handle = NULL;
	}
	wg_result_free(r);
}

void wg_result_abandon(wg_result *r) {
	if (r->done) result_drop(r);
	else r->abandoned = 1;
}

// finish is every callback's end: the block is the waiter's, or dropped.
static void finish(wg_result *r) {
	r->done = 1;
	if (r->abandoned) result_drop(r);
}

struct wg_device_ctx {
	int lost; // atomic
	char lost_msg[1024];
	pthread_mutex_t mu;
	uint64_t errs;
	int err_type;
	char err[2048];
};

wg_device_ctx *wg_device_ctx_new(void) {
	wg_device_ctx *c = calloc(1, sizeof *c);
	if (c) pthread_mutex_init(&c->mu, NULL);
	return c;
}

void wg_device_ctx_free(wg_device_ctx *c) {
	if (!c) return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int wg_device_lost(wg_device_ctx *c, char *msg, size_t cap) {
	int r = __atomic_load_n(&c->lost, __ATOMIC_ACQUIRE);
	if (r && cap) snprintf(msg, cap, "%s", c->lost_msg);
	return r;
}

uint64_t wg_take_error(wg_device_ctx *c, int *type, char *msg, size_t cap) {
	pthread_mutex_lock(&c->mu);
	uint64_t n = c->errs;
	if (n) {
		*type = c->err_type;
		if (cap) snprintf(msg, cap, "%s", c->err);
	}
	c->errs = 0;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void on_lost(WGPUDevice const *d, WGPUDeviceLostReason reason, WGPUStringView msg, void *u1, void *u2) {
	wg_device_ctx *c = u1;
	if (!c || __atomic_load_n(&c->lost, __ATOMIC_ACQUIRE)) return;
	sv_copy(c->lost_msg, sizeof c->lost_msg, msg);
	__atomic_store_n(&c->lost, (int)reason, __ATOMIC_RELEASE);
}

static void on_uncaptured(WGPUDevice const *d, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
	wg_device_ctx *c = u1;
	pthread_mutex_lock(&c->mu);
	if (c->errs++ == 0) {
		c->err_type = type;
		sv_copy(c->err, sizeof c->err, msg);
	}
	pthread_mutex_unlock(&c->mu);
}

WGPUInstance wg_create_instance(void) {
	WGPUInstanceDescriptor d = WGPU_INSTANCE_DESCRIPTOR_INIT;
	d.capabilities.timedWaitAnyEnable = 1; // without it any timeout but 0 is an error
	d.capabilities.timedWaitAnyMaxCount = 8;
	return p_CreateInstance(&d);
}

WGPUWaitStatus wg_wait(WGPUInstance in, WGPUFuture f, uint64_t timeout_ns, int *completed) {
	WGPUFutureWaitInfo w = {f, 0};
	WGPUWaitStatus st = p_InstanceWaitAny(in, 1, &w, timeout_ns);
	*completed = w.completed != 0;
	return st;
}

static void on_adapter(WGPURequestAdapterStatus st, WGPUAdapter a, WGPUStringView msg, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	r->handle = a;
	r->handle_kind = 1;
	r->msg = sv_dup(msg);
	finish(r);
}

WGPUFuture wg_request_adapter(WGPUInstance in, WGPUBackendType backend, WGPUPowerPreference power, wg_result *r) {
	WGPURequestAdapterOptions o = WGPU_REQUEST_ADAPTER_OPTIONS_INIT;
	o.featureLevel = WGPUFeatureLevel_Core;
	o.powerPreference = power;
	o.backendType = backend;
	WGPURequestAdapterCallbackInfo cb = WGPU_REQUEST_ADAPTER_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_adapter;
	cb.userdata1 = r;
	return p_InstanceRequestAdapter(in, &o, cb);
}

WGPUStatus wg_adapter_info(WGPUAdapter a, WGPUAdapterInfo *info) { return p_AdapterGetInfo(a, info); }
void wg_adapter_info_free(WGPUAdapterInfo *info) { p_AdapterInfoFreeMembers(*info); }

WGPUStatus wg_adapter_limits(WGPUAdapter a, WGPULimits *l) {
	WGPULimits init = WGPU_LIMITS_INIT;
	*l = init;
	WGPUStatus st = p_AdapterGetLimits(a, l);
	l->nextInChain = NULL;
	return st;
}

WGPUStatus wg_device_limits(WGPUDevice d, WGPULimits *l) {
	WGPULimits init = WGPU_LIMITS_INIT;
	*l = init;
	WGPUStatus st = p_DeviceGetLimits(d, l);
	l->nextInChain = NULL;
	return st;
}

static void on_device(WGPURequestDeviceStatus st, WGPUDevice d, WGPUStringView msg, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	r->handle = d;
	r->handle_kind = 2;
	r->msg = sv_dup(msg);
	finish(r);
}

WGPUFuture wg_request_device(WGPUAdapter a, const char *label, wg_device_ctx *ctx, wg_result *r, WGPUStatus *limits_status,
	const char *const *toggles, size_t n_on, size_t n_off) {
	// Ask for everything the adapter offers: left NULL, the limits are
	// WebGPU's small defaults (256 MiB buffers) even on an H100.
	WGPULimits want;
	*limits_status = wg_adapter_limits(a, &want);
	WGPUDeviceDescriptor d = WGPU_DEVICE_DESCRIPTOR_INIT;
	d.label = sv(label, WGPU_STRLEN);
	if (*limits_status == WGPUStatus_Success) d.requiredLimits = &want;
	d.deviceLostCallbackInfo.mode = WGPUCallbackMode_AllowSpontaneous;
	d.deviceLostCallbackInfo.callback = on_lost;
	d.deviceLostCallbackInfo.userdata1 = ctx;
	d.uncapturedErrorCallbackInfo.callback = on_uncaptured;
	d.uncapturedErrorCallbackInfo.userdata1 = ctx;
	// Dawn copies the toggles' names during the call.
	WGPUDawnTogglesDescriptor t = WGPU_DAWN_TOGGLES_DESCRIPTOR_INIT;
	if (n_on + n_off > 0) {
		t.enabledToggleCount = n_on;
		t.enabledToggles = toggles;
		t.disabledToggleCount = n_off;
		t.disabledToggles = toggles + n_on;
		d.nextInChain = &t.chain;
	}
	WGPURequestDeviceCallbackInfo cb = WGPU_REQUEST_DEVICE_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_device;
	cb.userdata1 = r;
	return p_AdapterRequestDevice(a, &d, cb);
}

WGPUBuffer wg_create_buffer(WGPUDevice d, uint64_t size, uint64_t usage, int mapped) {
	WGPUBufferDescriptor b = WGPU_BUFFER_DESCRIPTOR_INIT;
	b.usage = usage;
	b.size = size;
	b.mappedAtCreation = mapped != 0;
	return p_DeviceCreateBuffer(d, &b);
}

WGPUShaderModule wg_create_shader_module(WGPUDevice d, const char *code, size_t len) {
	WGPUShaderSourceWGSL src = WGPU_SHADER_SOURCE_WGSL_INIT;
	src.code = sv(code, len);
	WGPUShaderModuleDescriptor m = WGPU_SHADER_MODULE_DESCRIPTOR_INIT;
	m.nextInChain = &src.chain;
	return p_DeviceCreateShaderModule(d, &m);
}

static void on_info(WGPUCompilationInfoRequestStatus st, struct WGPUCompilationInfo const *info, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	if (info && info->messageCount) {
		r->msgs = calloc(info->messageCount, sizeof *r->msgs);
		if (r->msgs) {
			r->n = info->messageCount;
			for (size_t i = 0; i < r->n; i++) {
				const WGPUCompilationMessage *m = &info->messages[i];
				r->msgs[i].type = m->type;
				r->msgs[i].line = m->lineNum;
				r->msgs[i].col = m->linePos;
				r->msgs[i].offset = m->offset;
				r->msgs[i].length = m->length;
				r->msgs[i].text = sv_dup(m->message);
			}
		}
	}
	finish(r);
}

WGPUFuture wg_compilation_info(WGPUShaderModule m, wg_result *r) {
	WGPUCompilationInfoCallbackInfo cb = WGPU_COMPILATION_INFO_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_info;
	cb.userdata1 = r;
	return p_ShaderModuleGetCompilationInfo(m, cb);
}

WGPUComputePipeline wg_create_compute_pipeline(WGPUDevice d, WGPUShaderModule m, const char *entry, size_t len) {
	WGPUComputePipelineDescriptor p = WGPU_COMPUTE_PIPELINE_DESCRIPTOR_INIT;
	p.compute.module = m;
	p.compute.entryPoint = sv(entry, len);
	return p_DeviceCreateComputePipeline(d, &p); // layout NULL: "auto"
}

WGPUBindGroup wg_create_bind_group(WGPUDevice d, WGPUBindGroupLayout layout, size_t n,
	const uint32_t *bindings, const WGPUBuffer *buffers, const uint64_t *offsets, const uint64_t *sizes) {
	WGPUBindGroupEntry *e = calloc(n ? n : 1, sizeof *e);
	if (!e) return NULL;
	for (size_t i = 0; i < n; i++) {
		WGPUBindGroupEntry init = WGPU_BIND_GROUP_ENTRY_INIT;
		e[i] = init;
		e[i].binding = bindings[i];
		e[i].buffer = buffers[i];
		e[i].offset = offsets[i];
		e[i].size = sizes[i];
	}
	WGPUBindGroupDescriptor g = WGPU_BIND_GROUP_DESCRIPTOR_INIT;
	g.layout = layout;
	g.entryCount = n;
	g.entries = e;
	WGPUBindGroup bg = p_DeviceCreateBindGroup(d, &g);
	free(e);
	return bg;
}

void wg_push_error_scope(WGPUDevice d, WGPUErrorFilter f) { p_DevicePushErrorScope(d, f); }

static void on_pop(WGPUPopErrorScopeStatus st, WGPUErrorType type, WGPUStringView msg, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	r->type = type;
	r->msg = sv_dup(msg);
	finish(r);
}

WGPUFuture wg_pop_error_scope(WGPUDevice d, wg_result *r) {
	WGPUPopErrorScopeCallbackInfo cb = WGPU_POP_ERROR_SCOPE_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_pop;
	cb.userdata1 = r;
	return p_DevicePopErrorScope(d, cb);
}

static void on_map(WGPUMapAsyncStatus st, WGPUStringView msg, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	r->msg = sv_dup(msg);
	finish(r);
}

WGPUFuture wg_map_async(WGPUBuffer b, uint64_t mode, uint64_t offset, uint64_t size, wg_result *r) {
	WGPUBufferMapCallbackInfo cb = WGPU_BUFFER_MAP_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_map;
	cb.userdata1 = r;
	return p_BufferMapAsync(b, mode, offset, size, cb);
}

static void on_done(WGPUQueueWorkDoneStatus st, WGPUStringView msg, void *u1, void *u2) {
	wg_result *r = u1;
	r->status = st;
	r->msg = sv_dup(msg);
	finish(r);
}

WGPUFuture wg_work_done(WGPUQueue q, wg_result *r) {
	WGPUQueueWorkDoneCallbackInfo cb = WGPU_QUEUE_WORK_DONE_CALLBACK_INFO_INIT;
	cb.mode = WGPUCallbackMode_WaitAnyOnly;
	cb.callback = on_done;
	cb.userdata1 = r;
	return p_QueueOnSubmittedWorkDone(q, cb);
}

void wg_instance_release(WGPUInstance x) { p_InstanceRelease(x); }
void wg_adapter_release(WGPUAdapter x) { p_AdapterRelease(x); }
WGPUQueue wg_device_queue(WGPUDevice d) { return p_DeviceGetQueue(d); }
void wg_device_destroy(WGPUDevice x) { p_DeviceDestroy(x); }
void wg_device_release(WGPUDevice x) { p_DeviceRelease(x); }
void wg_queue_release(WGPUQueue x) { p_QueueRelease(x); }
void wg_queue_write_buffer(WGPUQueue q, WGPUBuffer b, uint64_t off, const void *data, size_t size) {
	p_QueueWriteBuffer(q, b, off, data, size);
}
void wg_queue_submit(WGPUQueue q, WGPUCommandBuffer c) { p_QueueSubmit(q, 1, &c); }
const void *wg_buffer_mapped(WGPUBuffer b, size_t off, size_t size) { return p_BufferGetConstMappedRange(b, off, size); }
void *wg_buffer_mapped_writable(WGPUBuffer b, size_t off, size_t size) { return p_BufferGetMappedRange(b, off, size); }
void wg_buffer_unmap(WGPUBuffer b) { p_BufferUnmap(b); }
void wg_buffer_destroy(WGPUBuffer b) { p_BufferDestroy(b); }
void wg_buffer_release(WGPUBuffer b) { p_BufferRelease(b); }
void wg_shader_module_release(WGPUShaderModule m) { p_ShaderModuleRelease(m); }
WGPUBindGroupLayout wg_pipeline_layout(WGPUComputePipeline p, uint32_t group) {
	return p_ComputePipelineGetBindGroupLayout(p, group);
}
void wg_pipeline_release(WGPUComputePipeline p) { p_ComputePipelineRelease(p); }
void wg_bind_group_layout_release(WGPUBindGroupLayout l) { p_BindGroupLayoutRelease(l); }
void wg_bind_group_release(WGPUBindGroup g) { p_BindGroupRelease(g); }
WGPUCommandEncoder wg_create_encoder(WGPUDevice d) { return p_DeviceCreateCommandEncoder(d, NULL); }
WGPUComputePassEncoder wg_begin_compute_pass(WGPUCommandEncoder e) { return p_CommandEncoderBeginComputePass(e, NULL); }
void wg_copy_buffer(WGPUCommandEncoder e, WGPUBuffer src, uint64_t so, WGPUBuffer dst, uint64_t dof, uint64_t size) {
	p_CommandEncoderCopyBufferToBuffer(e, src, so, dst, dof, size);
}
WGPUCommandBuffer wg_encoder_finish(WGPUCommandEncoder e) { return p_CommandEncoderFinish(e, NULL); }
void wg_encoder_release(WGPUCommandEncoder e) { p_CommandEncoderRelease(e); }
void wg_pass_set_pipeline(WGPUComputePassEncoder p, WGPUComputePipeline pl) { p_ComputePassEncoderSetPipeline(p, pl); }
void wg_pass_set_bind_group(WGPUComputePassEncoder p, uint32_t i, WGPUBindGroup g) {
	p_ComputePassEncoderSetBindGroup(p, i, g, 0, NULL);
}
void wg_pass_dispatch(WGPUComputePassEncoder p, uint32_t x, uint32_t y, uint32_t z) {
	p_ComputePassEncoderDispatchWorkgroups(p, x, y, z);
}
void wg_pass_end(WGPUComputePassEncoder p) { p_ComputePassEncoderEnd(p); }
void wg_pass_release(WGPUComputePassEncoder p) { p_ComputePassEncoderRelease(p); }
void wg_command_buffer_release(WGPUCommandBuffer c) { p_CommandBufferRelease(c); }
