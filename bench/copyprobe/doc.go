// Package copyprobe counts the memory copies processes make, with eBPF
// uprobes: an independent check of the node's zero-copy claim.
//
// A Probe attaches one program to Go's runtime.memmove in a Go executable
// (every copy(), append growth and bulk assignment of a Go program, and the
// memory.copy of wasm guests that wazero compiles, go through it), and to
// the implementation libc's memcpy and memmove resolve to on this machine,
// for processes that load libc (cgo). The program runs on every call in
// every process that executes the probed file, and counts only processes
// the caller added (Probe.Watch), each in its own slot:
//
//   - a histogram of copy sizes by powers of two (bucket b holds sizes in
//     [2^b, 2^(b+1)); bucket 0 also holds zero-length copies);
//   - the number and byte total of bulk copies, those of BulkBytes (4 KiB)
//     or more, in three classes by the caller (the return address, read at
//     function entry from the top of the stack): the program's own code
//     (an address in its executable's text), code outside it — in the
//     node, the machine code wazero compiles from a guest, whose wasm
//     memory.copy calls runtime.memmove — and wazero's functions that move
//     a guest's machine stack to a larger one (callEngine.growStack and
//     cloneStack: the stack starts at 10 KiB and doubles when a call first
//     goes deeper, a few times in an instance's life, at whichever job
//     that happens in, e.g. a Go guest's first garbage collection). A
//     guest's copies move bytes within its own memory (a library's
//     internal buffering), a stack move the guest's call frames, never job
//     data between the producer and the guest, which is what the zero-copy
//     claim is about; they are counted apart so that all can be read.
//
// # Where the probe sits, and reading the length
//
// A uprobe traps into the kernel on every hit (microseconds on this VM),
// and a wasm guest's memory.copy calls runtime.memmove for every small
// copy, millions a second. So in runtime.memmove the probe sits past the
// small-size branches, on the instruction that reads runtime.memmoveBits
// to pick the large-copy algorithm (found in the executable's code):
// every copy of more than 256 bytes passes there once, no smaller one
// does. Copies of 256 bytes or less are not seen (the histogram's low
// buckets stay empty); they are far from bulk. If that instruction is not
// found (another Go version), the probe sits at the entry.
//
// The length is read from the register the callee's ABI puts it in: Go's
// internal register ABI on amd64 passes memmove(to, from, n) in AX, BX, CX,
// and CX still holds n where the probe sits; the System V ABI passes
// memcpy(dst, src, n) in RDI, RSI, RDX, so n is RDX (libc's implementation
// is probed at its entry). TestProbeReadsKnownCopies checks both against
// copies of known sizes. Only amd64 is supported.
//
// # libc and IFUNCs
//
// glibc's memcpy and memmove are IFUNC symbols: the symbol's address is a
// resolver that picks an implementation for the CPU, and a uprobe there
// fires once at load, not per copy. The probe asks the dynamic linker for
// the resolved address in this process (dlsym, which needs cgo), and
// attaches at that address's offset in the libc file: every process of
// this machine that maps the same file resolves to the same
// implementation. Without cgo, libc is not probed (Probe.LibcErr says
// why).
//
// # Privileges
//
// Loading and attaching needs CAP_BPF and CAP_PERFMON (or root) and a
// kernel with uprobes; New returns an error wrapping ErrNotPermitted when
// the kernel refuses, so that tests can skip with the reason.
package copyprobe
