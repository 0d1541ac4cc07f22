// Package sandbox will run library guests as WebAssembly modules in wazero,
// with enforced limits (input/output size, memory pages, timeout, fuel,
// allowed WASI calls) and guest memory backed by the shared region.
//
// Not implemented yet (the sandbox issue). The node serves host-side
// libraries (kernel.Echo, kernel.Noop) through the same kernel.Library
// interface that sandboxed guests will use. Its first part exists:
// internal/fuel, the deterministic fuel-instrumentation pass.
package sandbox
