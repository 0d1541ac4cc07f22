// Package sandbox runs library guests as WebAssembly modules in wazero and
// serves them to the node through kernel.Library, with enforced limits and
// the producer's buffers mapped into the guest rather than copied.
//
// The pieces:
//
//   - Engine: one wazero runtime per limit class (compiler engine, memory
//     cap, wazero's compilation cache on disk: a restarted node compiles a
//     known guest in tens of ms, not ~1 s), and one memfd that backs every
//     guest memory of the engine (internal/guestmem).
//
//   - Engine.Load: the load-time checks. Guest bytes are untrusted: they go
//     through the fuel pass (internal/fuel) before wazero sees them, because
//     wazero sizes memory from counts a module declares and panics on some
//     malformed input; compilation runs under recover. Every imported
//     function must be the fuel hook or listed in the library's
//     Limits.Imports, else the module is refused with an *ImportError that
//     names every such import; memories and tables may not be imported.
//
//   - Pool: warm, initialized instances (reactors run _initialize once,
//     under an initialization budget; never an instantiation per job). An
//     instance whose call timed out, ran out of fuel or trapped is
//     discarded and replaced on demand, with the guest's stderr in the
//     error.
//
//   - Library (Engine.NewLibrary): a guest implementing the ABI in
//     guests/ABI.md, served as a kernel.Library. Per job: the input size is
//     checked against the library's limit before any guest code runs; the
//     whole pages of the producer's input block are mapped copy-on-write
//     over the instance's input window and those of its output block shared
//     over the output window (a partial page at either end of a block that
//     does not start or end on a page is copied, at most 4095 bytes each;
//     client.Alloc gives page-aligned blocks of whole pages, so none is);
//     the call frame (method, params) is written; inos_call runs under the
//     job's timeout and fuel (the lesser of the library's and the job's);
//     the output length the guest reports is checked against the capacity
//     it was given; the windows get the instance's own pages back and the
//     edge pages are zeroed, so nothing of one producer's job stays for the
//     next. A producer's next job can take a previous job's output block
//     as its input: it is mapped again, not copied.
//
// Errors and their job error kinds: input over the limit → inputTooLarge;
// output over its capacity → outputTooLarge (with the size needed, when the
// guest says); timeout → deadlineExceeded; fuel → resourceExhausted; a trap
// with the memory at its limit (memory.grow fails past MaxMemoryPages) →
// resourceExhausted; other traps, exits and Go runtime panics →
// libraryFailed with the guest's message; params the guest's SDK refuses →
// invalidParams; input the guest refuses (corrupt, truncated, a
// decompression bomb) → invalidInput.
//
// Fuel: the pass charges at function entries and loop headers (in Go's
// dispatch loops, at the jumps that can close a cycle; see internal/fuel)
// and calls the host when the counter runs out; the host refills a
// quantum at a time from the job's budget and checks the deadline there,
// so a runaway guest stops within about a millisecond of its timeout. The
// guest's clocks and random source are wazero's deterministic ones, so a
// job costs the same fuel on every node that runs the same jobs in the
// same order. A Go guest's own background work (GC) depends on its heap's
// history, so repeats of one job on one warm instance can differ by a few
// hundred units in tens of millions.
//
// Isolation: a guest sees its own memory only (wazero bounds-checks every
// access; there are no guard pages). The producer's pages it sees are those
// of the job's own blocks, for the job's duration. Its writes to its input
// stay in its copy-on-write view. Its heap outlives the job and serves the
// next one, possibly another producer's: a library must not keep one job's
// data for the next (the SDK keeps nothing).
package sandbox
