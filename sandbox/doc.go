// Package sandbox runs library guests as WebAssembly modules in wazero,
// with enforced limits (input/output size, memory pages, timeout, fuel,
// allowed WASI calls) and, to come, guest memory backed by the shared
// region.
//
// What exists so far (the sandbox issue is in progress):
//   - Engine: one wazero runtime per limit class (compiler engine, memory
//     cap, compilation cache on disk).
//   - Engine.Load: the load-time checks. Guest bytes are untrusted: they
//     go through the fuel pass (internal/fuel) before wazero sees them,
//     because wazero sizes memory from counts a module declares and panics
//     on some malformed input; compilation runs under recover. Every
//     imported function must be the fuel hook or listed in the library's
//     Limits.Imports, else the module is refused with an *ImportError that
//     names the import; memories may not be imported.
//   - Limits presets: ImageLimits (10 MB in, 50 MB out, 5 s, 10e9 fuel) and
//     GoGuestImports (the WASI calls a Go wasip1 guest needs).
//   - internal/fuel: the deterministic fuel-instrumentation pass.
//
// Still to build: instance pools, the guest ABI and Go SDK, guest memory in
// the shared region, the fuel hook's host side (refill or trap, deadline),
// and wasm libraries served through kernel.Library.
package sandbox
