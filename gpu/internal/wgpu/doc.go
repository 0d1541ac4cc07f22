// Package wgpu is a cgo binding of the parts of the standard webgpu.h C API
// that compute needs: instance, adapter, device, queue, buffers, shader
// modules with their compilation messages, compute pipelines, bind groups,
// command encoding, mapping (for reading, for writing, at creation), and
// waits with timeouts. RequestDeviceToggles chains Dawn's toggles (a Dawn
// extension) on the device descriptor.
//
// The implementation (Dawn's libwebgpu_wrapper.so here; wgpu-native exports
// the same symbols) is not linked: Load opens it with dlopen at run time and
// looks up each proc by its standard name, so a program that imports this
// package builds and runs without it. Built without cgo, the package is
// empty.
//
// # Concurrency and memory
//
// An Instance and everything made from it must be used by one goroutine at
// a time. Error scopes are per OS thread in Dawn (as the standard now says):
// a goroutine must hold its thread (runtime.LockOSThread) from
// PushErrorScope to PopErrorScope, or the pop finds no scope. Asynchronous operations (adapter and device requests, buffer
// mapping, compilation info, error scopes, submitted work) are presented as
// synchronous calls with a timeout: their callbacks are registered with
// WGPUCallbackMode_WaitAnyOnly, so they run inside wgpuInstanceWaitAny on
// the waiting goroutine, and write into a malloc'd block. A wait that times
// out abandons its block, which the callback then frees when it comes (at
// the latest when the instance is released). The device-lost callback, the
// one callback that may come on any thread, writes its device's C-side
// context atomically.
//
// Objects are reference-counted by the implementation: every object made
// here must be released (Release), and Device.Live counts those of a
// device still held, for leak tests.
package wgpu
