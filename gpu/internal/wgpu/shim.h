// The C side of the binding: the proc table, and helpers for what cgo cannot
// do (call function pointers, evaluate webgpu.h's static consts and
// compound literals, receive callbacks). Implemented in shim.c.

#ifndef INOS_WGPU_SHIM_H
#define INOS_WGPU_SHIM_H

#define WGPU_SKIP_DECLARATIONS
#include <webgpu/webgpu.h>
#include <stdint.h>
#include <stdlib.h>

// wg_load dlopens path and looks up every proc: NULL, or why not (static
// storage, valid until the next call). Once one is loaded, a call with the
// same path returns NULL and one with another path an error.
const char *wg_load(const char *path);

// A compilation message copied out of its callback.
typedef struct {
	int type;
	uint64_t line, col, offset, length;
	char *text;
} wg_msg;

// wg_result receives one asynchronous answer (adapter, device, map,
// compilation info, error scope, work done). It is malloc'd: a callback may
// come after its waiter gave up (a timed-out wait), and then frees the block
// itself, releasing any handle it brought.
typedef struct {
	int done;      // the callback ran
	int abandoned; // the waiter gave up: the callback frees the block
	uint32_t status;
	uint32_t type;  // WGPUErrorType, for an error scope
	void *handle;   // WGPUAdapter or WGPUDevice
	int handle_kind; // 1 adapter, 2 device
	char *msg;
	size_t n;
	wg_msg *msgs;
} wg_result;

wg_result *wg_result_new(void);
void wg_result_free(wg_result *r);
// wg_result_abandon: the waiter gives r up. If its callback already ran it is
// freed now, else when the callback comes.
void wg_result_abandon(wg_result *r);

// wg_device_ctx is what a device's spontaneous callbacks write: device lost
// (any thread, atomically) and uncaptured errors (under a mutex).
typedef struct wg_device_ctx wg_device_ctx;
wg_device_ctx *wg_device_ctx_new(void);
void wg_device_ctx_free(wg_device_ctx *c);
// wg_device_lost: 0, or the WGPUDeviceLostReason; msg gets the message.
int wg_device_lost(wg_device_ctx *c, char *msg, size_t cap);
// wg_take_error: the number of uncaptured errors since the last take, and
// the first one's type and message (copied into msg).
uint64_t wg_take_error(wg_device_ctx *c, int *type, char *msg, size_t cap);

WGPUInstance wg_create_instance(void);
// wg_wait waits for one future: WGPUWaitStatus; *completed tells whether it
// completed.
WGPUWaitStatus wg_wait(WGPUInstance in, WGPUFuture f, uint64_t timeout_ns, int *completed);

WGPUFuture wg_request_adapter(WGPUInstance in, WGPUBackendType backend, WGPUPowerPreference power, wg_result *r);
WGPUStatus wg_adapter_info(WGPUAdapter a, WGPUAdapterInfo *info);
void wg_adapter_info_free(WGPUAdapterInfo *info);
WGPUStatus wg_adapter_limits(WGPUAdapter a, WGPULimits *l);
// wg_request_device asks for a device with the adapter's own limits.
// toggles (Dawn's, chained as a WGPUDawnTogglesDescriptor when n_on + n_off
// > 0): names to enable, then names to disable.
WGPUFuture wg_request_device(WGPUAdapter a, const char *label, wg_device_ctx *ctx, wg_result *r, WGPUStatus *limits_status,
	const char *const *toggles, size_t n_on, size_t n_off);
WGPUStatus wg_device_limits(WGPUDevice d, WGPULimits *l);

WGPUBuffer wg_create_buffer(WGPUDevice d, uint64_t size, uint64_t usage, int mapped);
WGPUShaderModule wg_create_shader_module(WGPUDevice d, const char *code, size_t len);
WGPUFuture wg_compilation_info(WGPUShaderModule m, wg_result *r);
WGPUComputePipeline wg_create_compute_pipeline(WGPUDevice d, WGPUShaderModule m, const char *entry, size_t len);
WGPUBindGroup wg_create_bind_group(WGPUDevice d, WGPUBindGroupLayout layout, size_t n,
	const uint32_t *bindings, const WGPUBuffer *buffers, const uint64_t *offsets, const uint64_t *sizes);
void wg_push_error_scope(WGPUDevice d, WGPUErrorFilter f);
WGPUFuture wg_pop_error_scope(WGPUDevice d, wg_result *r);

WGPUFuture wg_map_async(WGPUBuffer b, uint64_t mode, uint64_t offset, uint64_t size, wg_result *r);
WGPUFuture wg_work_done(WGPUQueue q, wg_result *r);

// Thin calls through the proc table.
void wg_instance_release(WGPUInstance x);
void wg_adapter_release(WGPUAdapter x);
WGPUQueue wg_device_queue(WGPUDevice d);
void wg_device_destroy(WGPUDevice x);
void wg_device_release(WGPUDevice x);
void wg_queue_release(WGPUQueue x);
void wg_queue_write_buffer(WGPUQueue q, WGPUBuffer b, uint64_t off, const void *data, size_t size);
void wg_queue_submit(WGPUQueue q, WGPUCommandBuffer c);
const void *wg_buffer_mapped(WGPUBuffer b, size_t off, size_t size);
void *wg_buffer_mapped_writable(WGPUBuffer b, size_t off, size_t size);
void wg_buffer_unmap(WGPUBuffer b);
void wg_buffer_destroy(WGPUBuffer b);
void wg_buffer_release(WGPUBuffer b);
void wg_shader_module_release(WGPUShaderModule m);
WGPUBindGroupLayout wg_pipeline_layout(WGPUComputePipeline p, uint32_t group);
void wg_pipeline_release(WGPUComputePipeline p);
void wg_bind_group_layout_release(WGPUBindGroupLayout l);
void wg_bind_group_release(WGPUBindGroup g);
WGPUCommandEncoder wg_create_encoder(WGPUDevice d);
WGPUComputePassEncoder wg_begin_compute_pass(WGPUCommandEncoder e);
void wg_copy_buffer(WGPUCommandEncoder e, WGPUBuffer src, uint64_t so, WGPUBuffer dst, uint64_t dof, uint64_t size);
WGPUCommandBuffer wg_encoder_finish(WGPUCommandEncoder e);
void wg_encoder_release(WGPUCommandEncoder e);
void wg_pass_set_pipeline(WGPUComputePassEncoder p, WGPUComputePipeline pl);
void wg_pass_set_bind_group(WGPUComputePassEncoder p, uint32_t i, WGPUBindGroup g);
void wg_pass_dispatch(WGPUComputePassEncoder p, uint32_t x, uint32_t y, uint32_t z);
void wg_pass_end(WGPUComputePassEncoder p);
void wg_pass_release(WGPUComputePassEncoder p);
void wg_command_buffer_release(WGPUCommandBuffer c);

#endif
