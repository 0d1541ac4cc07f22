// Package fuel adds deterministic fuel metering to WebAssembly modules, so
// that the sandbox can bound a guest's compute without engine support:
// wazero has no fuel, and interrupting guests through context cancellation
// (WithCloseOnContextDone) made compute-bound guests 24× slower here.
//
// # Contract
//
// Instrument(wasm, o) returns a module that computes exactly what wasm
// computes, plus:
//
//   - an imported function o.ImportModule.o.ImportName ("inos.fuel_exhausted"
//     by default) of type () -> (), the hook;
//   - a defined, exported, mutable i64 global o.GlobalExport ("inos_fuel"),
//     the counter, initially 0.
//
// The module subtracts a static cost from the counter at every function
// entry and at every loop header (each loop iteration) or, in dispatch
// loops, at every jump that can close a cycle, and calls the hook
// whenever the counter is negative after a subtraction. The host's hook
// either adds fuel to the counter (from the job's budget) and returns, or
// traps (panics, in wazero) when the budget is spent or the deadline has
// passed. It may leave the counter negative; the hook is then called again
// at the next charge. The host should set the counter before each call into
// the guest; if it does not, the first charge calls the hook, so code run
// during instantiation (a start function) begins by calling the hook.
//
// Fuel consumed = fuel added by the hook (plus the counter's value set by
// the host) minus the counter's value at the end. Because charges are static
// and the hook does not change guest state, the fuel consumed is a function
// of the module and of what the guest observes (input, host call results,
// WASI clocks and random bytes): the same module and input consume the same
// fuel on every run and machine, and the refill quantum does not change it.
//
// Every cycle of control flow and every call costs at least 1, so any
// execution that does not end reaches the hook: a loop forever, or a
// recursion until the stack is exhausted. A hook call is also a point where the host may
// stop the guest safely (the guest is between two basic blocks, not inside
// a host call).
//
// # Transformation
//
// Function indices: the hook is appended to the import section, so its
// index is the number of imported functions F, and every function index ≥ F
// shifts up by one. Instrument rewrites them wherever they occur: call,
// return_call and ref.func in bodies; ref.func in global initializers and
// element expressions; element segment index lists (all eight segment
// forms); function exports; the start section; and the "name" section's
// function, local and label names (the hook is named
// "<ImportModule>.<ImportName>"). A name section that does not decode is
// dropped (engines ignore it anyway); DWARF (".debug_*") and linker
// metadata ("linking", "reloc.*") are dropped because the indices and code
// offsets they record no longer hold.
//
// Types: the hook uses the module's first () -> () type, or one appended to
// the type section. Globals: the counter is appended after the defined
// globals, so no global index moves. Exports: the counter's export is
// appended. Missing type, import, global or export sections are created in
// their place in section order. Other sections are copied byte for byte;
// custom sections keep their positions. Non-minimal LEB128 encodings in the
// input are kept, except for rewritten indices, which are re-encoded
// minimally; section and body sizes are recomputed.
//
// Charges: at the start of each function body and right after each loop
// instruction (before the loop body's first instruction) the pass inserts a
// charge, except in dispatch loops (below). In a function without loops it
// is
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s
//	if; call $hook; end
//
// A function with loops and no br_table keeps the counter in an i64 local
// of its own,
// appended after its declared locals (no local index moves): its entry
// charge reads the global into the local, its loop charges are
//
//	local.get $c; i64.const cost; i64.sub; local.tee $c; i64.const 0; i64.lt_s
//	if; local.get $c; global.set $fuel; call $hook; global.get $fuel; local.set $c; end
//
// and it writes the local back to the global (local.get $c; global.set
// $fuel) before every call, call_indirect, return, return_call*, branch to
// the function's own label and its final end, and reads it again after
// every call. A loop that charges the global carries the counter through
// memory, a store and a load that each iteration waits on; in a register
// the charge is a subtraction and a predictable branch (a 5-instruction
// loop: 3.0× → 1.6× its uninstrumented time). A br_table marks a dispatch
// loop, such as every Go function with a loop, where wazero's register
// allocator keeps loop-carried locals in stack slots and one more local
// cost more than the global (the bench guest's LCG loop: +16-25% with
// the local); those functions charge the global.
//
// Dispatch loops (dispatch.go): Go compiles a function's control flow into
// one loop, `loop; block×m; local.get $pc; br_table`, with each basic block
// a region after one of the m blocks' ends, and every jump, forward or
// backward, `i32.const K; local.set $pc; br $loop`. Charging that loop's
// header charged every jump. The pass recognizes the shape, leaves the
// header uncharged and charges only the jumps that can close a cycle: a
// jump to a region later than its own is not charged (control inside the
// loop only moves forward, except through a branch to the loop), a jump
// back to region t is charged the instructions from t's start through the
// jump plus the dispatch's two, and any other branch that may target the
// loop is charged as the header was. Where the loop is followed by
// unreachable (Go's always is) and takes no operands, the pass wraps it:
//
//	loop $reenter; block $out
//	  loop $dispatch ... end
//	  unreachable
//	end
//	call $hook; br $reenter
//	end
//	unreachable
//
// and a backward jump's charge ends with `br_if $out` instead of an if with
// the call: the hook's path re-enters the loop through $reenter with $pc
// already set to the jump's target, and the loop's hot path holds no call.
// wazero spills around a call the values live across it, however cold the
// call: with the call inline image code ran 10-15% slower than without the
// pass; wrapped, 7-10%. Branches inside a wrapped loop to labels outside it
// are renumbered past the two new labels.
//
// The global therefore holds the exact count whenever the hook runs and
// whenever control leaves the module (calls out, returns). A trap other
// than the hook's (unreachable, an out-of-bounds access) leaves it behind
// by the charges made since the function last wrote it back; what it then
// reads is still a function of the module and its input.
//
// # Cost model
//
// The cost of a charge point is the number of instructions of the straight
// run of code it starts: from the first instruction after it up to and
// including the first branch, loop or end — if, else, br, br_if, br_table,
// return, return_call, return_call_indirect, unreachable, loop or end.
// Entering a block does not end a run, and neither does a call (the callee
// charges its own entry). In a dispatch loop, a backward jump costs the
// instructions of the regions it may repeat, as above, and forward jumps
// nothing. Every instruction counts 1, whatever it does: the model is a
// deterministic proxy for work done, not a cycle count: Go guests run
// 12-25e9 units a second here, but BLAKE3 1.7e9, its time being in
// straight-line code that only a run's first instructions charge. Code
// after the first block boundary of a run is not charged by itself; what
// bounds execution is that every cycle and call is charged. Bulk memory instructions (memory.fill, memory.copy,
// ...) and host calls count 1 each, though their time grows with their
// operands; their work is bounded by the memory size, and host calls are
// the host's to meter.
//
// # Decoding
//
// The decoder reads every instruction's immediates, not only control flow,
// and refuses what it does not know rather than skip it blindly: the MVP,
// sign extension, saturating truncation (0xFC 0-7), bulk memory (0xFC
// 8-17), reference types, multi-value (block types as type indices, signed
// LEB128 of 33 bits), fixed-width SIMD (0xFD, memarg, lane and v128.const
// immediates), threads (0xFE) and tail calls are supported; exception
// handling, GC, typed function references and relaxed SIMD give
// ErrUnsupported, and so does a function with more than 50,000 locals (the
// web embedding's limit). Errors for bad input match ErrMalformed
// (*FormatError, with the byte offset). The pass does not type-check
// bodies: a module that an engine would reject may be instrumented, and the
// engine then rejects the result; a module the engine accepts gives a
// result it accepts (FuzzFuel checks this against wazero).
//
// # Order with wazero
//
// Run Instrument before wazero ever sees a guest's bytes. wazero v1.12
// sizes slices by the element counts a module declares before reading the
// elements, so a few bytes declaring 2^31 imports end the process with a
// fatal out-of-memory error (not a recoverable panic), and it panics on a
// function whose type index is out of range. Instrument never allocates by
// a declared count; every vector it accepts has its elements present, every
// function type index is in range, and locals are bounded; FuzzFuel hands
// every input Instrument accepts to wazero, and none has crashed it. Keep a
// recover around CompileModule all the same.
package fuel
