// Package sandbox runs library guests as WebAssembly modules in wazero,
// with enforced limits (input/output size, memory pages, timeout, fuel,
// allowed WASI calls) and, to come, guest memory backed by the shared
// region.
//
// What exists so far (the sandbox issue is in progress):
//
//   - Engine: one wazero runtime per limit class (compiler engine, memory
//     cap, compilation cache on disk).
//
//   - Engine.Load: the load-time checks. Guest bytes are untrusted: they
//     go through the fuel pass (internal/fuel) before wazero sees them,
//     because wazero sizes memory from counts a module declares and panics
//     on some malformed input; compilation runs under recover. Every
//     imported function must be the fuel hook or listed in the library's
//     Limits.Imports, else the module is refused with an *ImportError that
//     names the import; memories may not be imported.
//
//   - Limits presets: ImageLimits (10 MB in, 50 MB out, 5 s, 10e9 fuel) and
//     GoGuestImports (the WASI calls a Go wasip1 guest needs).
//
//   - internal/fuel: the deterministic fuel-instrumentation pass, and its
//     host side here: the hook refills the guest's counter a quantum at a
//     time from the call's budget, and is where the deadline is checked, so
//     a runaway guest stops within about a quantum of its timeout.
//
//   - Pool: warm, initialized instances of a module (reactors run
//     _initialize once, under an initialization budget); Call runs an
//     export under the library's timeout and fuel and reports the fuel
//     used; an instance whose call timed out, ran out of fuel or trapped is
//     discarded, with the guest's stderr in the error.
//
//   - internal/guestmem: guest linear memories as MAP_SHARED windows of a
//     file, reserved at their maximum and never moving, scrubbed (punched)
//     when freed, and Remap, which maps another shared file's pages over a
//     page-aligned range the guest owns: a test runs a Go guest that reads a
//     "producer's" pages and writes into them, and whose own output is read
//     through a second mapping, with no byte copied either way.
//
// Still to build: the guest ABI and Go SDK, wiring guestmem to the node's
// region (page-aligned heap blocks for bulk inputs), input/output size
// checks on jobs, and wasm libraries served through kernel.Library.
package sandbox
