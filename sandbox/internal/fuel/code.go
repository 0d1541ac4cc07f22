package fuel

// Instruction classes the pass cares about. Everything else is copied byte
// for byte; the decoder only has to know each immediate's length.
const (
	fBoundary = 1 << iota // ends the straight-line run that a charge covers
	fOpen                 // block, loop, if: opens a label
	fEnd                  // end: closes a label or the body
	fLoop                 // loop: a charge point follows it
	fFuncIdx              // the immediate (right after the one-byte opcode) is a function index
	fCall                 // call, call_indirect: the callee reads and writes the counter
	fLeave                // return, return_call*: leaves the function
	fBr                   // br, br_if, br_table: imm is the (greatest) label
)

// insn is one decoded instruction of a function body: its byte range within
// the body, its class bits and its immediate: for fFuncIdx the function
// index, for fBr the label (the greatest one, for br_table).
type insn struct {
	start, end int32
	flags      uint8
	imm        uint32
	pre        int32 // set by planDispatch: a charge before it, or noHeaderCharge
	out        bool  // the charge before it branches out of its wrapped dispatch loop
}

// Value types the pass accepts in locals, block types, globals and select.
func isValType(c byte) bool {
	switch c {
	case 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, // i32 i64 f32 f64 v128
		0x70, 0x6F: // funcref externref
		return true
	}
	return false
}

// valType consumes one value type.
func (r *reader) valType() error {
	at := r.pos
	c, err := r.byte()
	if err != nil {
		return err
	}
	if isValType(c) {
		return nil
	}
	if c >= 0x40 && c < 0x80 {
		return r.unsupported(at, "value type %#02x", c)
	}
	r.pos = at
	return r.malformed("invalid value type %#02x", c)
}

// refType consumes a reference type (funcref or externref).
func (r *reader) refType() error {
	at := r.pos
	c, err := r.byte()
	if err != nil {
		return err
	}
	if c == 0x70 || c == 0x6F {
		return nil
	}
	if c >= 0x40 && c < 0x80 {
		return r.unsupported(at, "reference type %#02x", c)
	}
	r.pos = at
	return r.malformed("invalid reference type %#02x", c)
}

// blockType consumes a block type: 0x40 (empty), a value type, or a type
// index encoded as a non-negative signed LEB128 of 33 bits.
func (r *reader) blockType() error {
	if r.eof() {
		return r.malformed("unexpected end")
	}
	c := r.b[r.pos]
	if c&0x80 == 0 && c >= 0x40 {
		if c == 0x40 {
			r.pos++
			return nil
		}
		return r.valType()
	}
	at := r.pos
	v, err := r.sN(33)
	if err != nil {
		return err
	}
	if v < 0 {
		r.pos = at
		return r.malformed("block type %d", v)
	}
	return nil
}

func (r *reader) memarg() error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 { // multi-memory: a memory index follows
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u32()
	return err
}

// u32s skips n unsigned LEB128 immediates.
func (r *reader) u32s(n int) error {
	for ; n > 0; n-- {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// simdAssigned reports whether sub is a fixed-width SIMD opcode (0xFD
// prefix); a few below 0x100 were never assigned.
func simdAssigned(sub uint32) bool {
	switch sub {
	case 0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee:
		return false
	}
	return sub < 0x100
}

// instr decodes the instruction at r.pos and returns its class bits and,
// for fFuncIdx, the function index. It knows the immediates of the MVP, sign
// extension, saturating truncation, bulk memory, reference types,
// multi-value, fixed-width SIMD, threads (atomics) and tail calls; other
// opcodes are reported as unsupported, never skipped blindly.
func (r *reader) instr() (flags uint8, funcIdx uint32, err error) {
	at := r.pos
	op, err := r.byte()
	if err != nil {
		return 0, 0, err
	}
	switch {
	case op == 0x00 || op == 0x05: // unreachable, else
		return fBoundary, 0, nil
	case op == 0x0F: // return
		return fBoundary | fLeave, 0, nil
	case op == 0x01 || op == 0x1A || op == 0x1B || op == 0xD1: // nop drop select ref.is_null
		return 0, 0, nil
	case op == 0x02: // block: entering it is straight-line code
		return fOpen, 0, r.blockType()
	case op == 0x04: // if
		return fBoundary | fOpen, 0, r.blockType()
	case op == 0x03: // loop
		return fBoundary | fOpen | fLoop, 0, r.blockType()
	case op == 0x0B: // end
		return fBoundary | fEnd, 0, nil
	case op == 0x0C || op == 0x0D: // br br_if
		l, err := r.u32()
		return fBoundary | fBr, l, err
	case op == 0x0E: // br_table
		n, err := r.u32()
		if err != nil {
			return 0, 0, err
		}
		var most uint32
		for i := uint64(0); i <= uint64(n); i++ { // n targets and the default
			l, err := r.u32()
			if err != nil {
				return 0, 0, err
			}
			most = max(most, l)
		}
		return fBoundary | fBr, most, nil
	case op == 0x10: // call
		idx, err := r.u32()
		return fFuncIdx | fCall, idx, err
	case op == 0xD2: // ref.func
		idx, err := r.u32()
		return fFuncIdx, idx, err
	case op == 0x12: // return_call
		idx, err := r.u32()
		return fFuncIdx | fBoundary | fLeave, idx, err
	case op == 0x11: // call_indirect typeidx tableidx
		return fCall, 0, r.u32s(2)
	case op == 0x13: // return_call_indirect
		return fBoundary | fLeave, 0, r.u32s(2)
	case op == 0x1C: // select t*
		n, err := r.u32()
		if err != nil {
			return 0, 0, err
		}
		for ; n > 0; n-- {
			if err := r.valType(); err != nil {
				return 0, 0, err
			}
		}
		return 0, 0, nil
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		return 0, 0, r.u32s(1)
	case op >= 0x28 && op <= 0x3E: // loads and stores
		return 0, 0, r.memarg()
	case op == 0x3F || op == 0x40: // memory.size memory.grow (memory index)
		return 0, 0, r.u32s(1)
	case op == 0x41:
		_, err := r.sN(32)
		return 0, 0, err
	case op == 0x42:
		_, err := r.sN(64)
		return 0, 0, err
	case op == 0x43:
		return 0, 0, r.skip(4)
	case op == 0x44:
		return 0, 0, r.skip(8)
	case op >= 0x45 && op <= 0xC4: // numeric, sign extension
		return 0, 0, nil
	case op == 0xD0: // ref.null t
		return 0, 0, r.refType()
	case op == 0xFC:
		return 0, 0, r.instrFC(at)
	case op == 0xFD:
		return 0, 0, r.instrFD(at)
	case op == 0xFE:
		return 0, 0, r.instrFE(at)
	}
	return 0, 0, r.unsupported(at, "opcode %#02x%s", op, opcodeHint(op))
}

func opcodeHint(op byte) string {
	switch op {
	case 0x06, 0x07, 0x08, 0x09, 0x0A, 0x18, 0x19, 0x1F:
		return " (exception handling)"
	case 0x14, 0x15, 0xD4, 0xD5, 0xD6:
		return " (typed function references)"
	case 0xD3, 0xFB:
		return " (GC)"
	}
	return ""
}

func (r *reader) instrFC(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7: // saturating truncation
		return nil
	case sub == 8: // memory.init data mem
		return r.u32s(2)
	case sub == 9: // data.drop
		return r.u32s(1)
	case sub == 10: // memory.copy mem mem
		return r.u32s(2)
	case sub == 11: // memory.fill mem
		return r.u32s(1)
	case sub == 12 || sub == 14: // table.init elem table, table.copy table table
		return r.u32s(2)
	case sub == 13 || sub == 15 || sub == 16 || sub == 17: // elem.drop table.grow table.size table.fill
		return r.u32s(1)
	}
	return r.unsupported(at, "opcode 0xfc %d", sub)
}

func (r *reader) instrFD(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case !simdAssigned(sub):
		return r.unsupported(at, "opcode 0xfd %#x (not fixed-width SIMD)", sub)
	case sub <= 0x0B || sub == 0x5C || sub == 0x5D: // v128 loads and stores
		return r.memarg()
	case sub == 0x0C || sub == 0x0D: // v128.const, i8x16.shuffle
		return r.skip(16)
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		return r.skip(1)
	case sub >= 0x54 && sub <= 0x5B: // load_lane, store_lane
		if err := r.memarg(); err != nil {
			return err
		}
		return r.skip(1)
	}
	return nil
}

func (r *reader) instrFE(at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub == 0x03: // atomic.fence
		if c, err := r.byte(); err != nil || c != 0 {
			if err == nil {
				err = r.malformed("atomic.fence flags %#02x", c)
			}
			return err
		}
		return nil
	case sub <= 0x02 || (sub >= 0x10 && sub <= 0x4E):
		return r.memarg()
	}
	return r.unsupported(at, "opcode 0xfe %#x", sub)
}

// constExpr copies a constant expression (global initializers, segment
// offsets and element expressions) to dst, shifting ref.func indices, and
// consumes its final end.
func (in *instrumenter) constExpr(r *reader, dst []byte) ([]byte, error) {
	depth := 0
	for {
		start := r.pos
		flags, idx, err := r.instr()
		if err != nil {
			return dst, err
		}
		if flags&fFuncIdx != 0 {
			dst = append(dst, r.b[start])
			if dst, err = in.appendFunc(r, start+1, dst, idx); err != nil {
				return dst, err
			}
		} else {
			dst = append(dst, r.b[start:r.pos]...)
		}
		switch {
		case flags&fOpen != 0:
			depth++
		case flags&fEnd != 0:
			if depth == 0 {
				return dst, nil
			}
			depth--
		}
	}
}

// appendFunc appends function index idx (read at body offset at) as shifted
// by the inserted import.
func (in *instrumenter) appendFunc(r *reader, at int, dst []byte, idx uint32) ([]byte, error) {
	if idx >= in.funcImports {
		if idx == ^uint32(0) {
			return dst, &FormatError{Offset: r.base + at, Reason: "function index out of range"}
		}
		idx++
	}
	return appendU32(dst, idx), nil
}

// body instruments one function body (locals and expression, without the
// size prefix) of a function with params parameters and appends the result
// to dst.
func (in *instrumenter) body(dst []byte, r *reader, params uint32) ([]byte, error) {
	locals, err := r.locals()
	if err != nil {
		return dst, err
	}
	declEnd := r.pos

	// Decode the expression once, then emit it with charges.
	ins := in.insns[:0]
	depth, loops, tables := 0, false, false
	for {
		if r.eof() {
			return dst, r.malformed("function body without final end")
		}
		start := r.pos
		flags, imm, err := r.instr()
		if err != nil {
			return dst, err
		}
		ins = append(ins, insn{start: int32(start), end: int32(r.pos), flags: flags, imm: imm})
		loops = loops || flags&fLoop != 0
		tables = tables || r.b[start] == 0x0E
		if flags&fOpen != 0 {
			depth++
		} else if flags&fEnd != 0 {
			if depth == 0 {
				break
			}
			depth--
		}
	}
	in.insns = ins
	if !r.eof() {
		return dst, r.malformed("%d bytes after the function's final end", len(r.b)-r.pos)
	}

	if !loops || tables {
		var wraps []wrap
		if loops {
			in.wraps, in.sites = planDispatch(ins, r.b, in.wraps, in.sites)
			wraps = in.wraps
		}
		dst = append(dst, r.b[:declEnd]...)
		dst = in.charge(dst, runCost(ins, 0))
		w := 0    // the next wrap
		rel := -1 // depth inside the wrapped loop (the loop's body: 1), -1 outside
		for i := range ins {
			x := &ins[i]
			if w < len(wraps) && i == wraps[w].loop {
				dst = append(dst, 0x03, 0x40, 0x02, 0x40) // loop $reenter; block $out
				rel = 0
			}
			switch {
			case x.pre > 0 && x.out && rel > 0:
				dst = in.chargeOut(dst, int64(x.pre), uint32(rel))
			case x.pre > 0:
				dst = in.charge(dst, int64(x.pre))
			}
			if rel > 0 && x.flags&fBr != 0 {
				dst = relabel(dst, r.b[x.start:x.end], uint32(rel))
			} else if dst, err = in.copyInsn(dst, r, x); err != nil {
				return dst, err
			}
			if rel >= 0 {
				if x.flags&fOpen != 0 {
					rel++
				} else if x.flags&fEnd != 0 {
					rel--
				}
			}
			if x.flags&fLoop != 0 && x.pre != noHeaderCharge {
				dst = in.charge(dst, runCost(ins, i+1))
			}
			if w < len(wraps) && i == wraps[w].end+1 {
				// end $out; call $hook; br $reenter; end $reenter; unreachable
				dst = append(dst, 0x0B, 0x10)
				dst = appendU32(dst, in.hook)
				dst = append(dst, 0x0C, 0x00, 0x0B, 0x00)
				rel = -1
				w++
			}
		}
		return dst, nil
	}

	// A function with loops and no br_table keeps the counter in a local
	// of its own, a local appended after the declared ones, and writes it
	// back to the global wherever the global may be read: before a call
	// (the callee charges the global) and the hook, and wherever control
	// leaves the function. A br_table marks a dispatch loop (every Go
	// function with a loop is one; so are interpreters' switch loops), in
	// which wazero's register allocator keeps loop-carried locals in stack
	// slots: one more local there made the bench guest's hot loop reload
	// its variables from the stack (+16-25%), where charging the global
	// costs nothing measurable.
	cached := params + locals
	groups := &reader{b: r.b[:declEnd], base: r.base}
	n, _ := groups.u32() // decoded once already by locals
	dst = appendU32(dst, n+1)
	dst = append(dst, r.b[groups.pos:declEnd]...)
	dst = append(dst, 0x01, 0x7E) // one i64

	dst = in.chargeCached(dst, cached, true, runCost(ins, 0))
	depth = 0
	for i := range ins {
		x := &ins[i]
		last := i == len(ins)-1
		if x.flags&(fCall|fLeave) != 0 || last || x.flags&fBr != 0 && int(x.imm) == depth {
			dst = in.store(dst, cached)
		}
		if dst, err = in.copyInsn(dst, r, x); err != nil {
			return dst, err
		}
		if x.flags&fCall != 0 {
			dst = in.load(dst, cached)
		}
		if x.flags&fOpen != 0 {
			depth++
		} else if x.flags&fEnd != 0 {
			depth--
		}
		if x.flags&fLoop != 0 {
			dst = in.chargeCached(dst, cached, false, runCost(ins, i+1))
		}
	}
	return dst, nil
}

// copyInsn appends instruction x, with its function index shifted.
func (in *instrumenter) copyInsn(dst []byte, r *reader, x *insn) ([]byte, error) {
	if x.flags&fFuncIdx == 0 {
		return append(dst, r.b[x.start:x.end]...), nil
	}
	dst = append(dst, r.b[x.start])
	return in.appendFunc(r, int(x.start)+1, dst, x.imm)
}

// maxLocals bounds the locals a function may declare. It is the web
// embedding's limit, which every toolchain respects; the bound matters
// because a module declaring 2^32-1 locals in a few bytes makes wazero's
// decoder allocate and fill a 4 GiB slice.
const maxLocals = 50_000

// locals consumes a body's local declarations and returns how many locals
// they declare.
func (r *reader) locals() (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	var total uint64
	for ; n > 0; n-- {
		at := r.pos
		c, err := r.u32()
		if err != nil {
			return 0, err
		}
		if total += uint64(c); total > maxLocals {
			return 0, r.unsupported(at, "more than %d locals in one function", maxLocals)
		}
		if err := r.valType(); err != nil {
			return 0, err
		}
	}
	return uint32(total), nil
}

// runCost is the cost model: the number of instructions from ins[i] up to and
// including the first boundary instruction. Every body ends with end, a
// boundary, so the run is never empty past the end.
func runCost(ins []insn, i int) int64 {
	for j := i; j < len(ins); j++ {
		if ins[j].flags&fBoundary != 0 {
			return int64(j - i + 1)
		}
	}
	return int64(len(ins) - i)
}

// charge appends the metering sequence for cost in a function that
// charges the global (one without loops, or with a br_table):
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s
//	if; call $hook; end
//
// It leaves the operand stack as it found it. wazero's compiler keeps
// defined globals in the module context and forwards the value just stored
// to the second global.get, so a charge is one load, a subtraction, one
// store and a predictable branch.
func (in *instrumenter) charge(dst []byte, cost int64) []byte {
	dst = in.subtract(dst, cost)
	dst = append(dst, 0x04, 0x40, 0x10)
	dst = appendU32(dst, in.hook)
	return append(dst, 0x0B)
}

// subtract appends the part of a charge of the global before its branch:
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s
func (in *instrumenter) subtract(dst []byte, cost int64) []byte {
	dst = append(dst, 0x23)
	dst = appendU32(dst, in.fuelGlobal)
	dst = append(dst, 0x42)
	dst = appendS64(dst, cost)
	dst = append(dst, 0x7D, 0x24)
	dst = appendU32(dst, in.fuelGlobal)
	dst = append(dst, 0x23)
	dst = appendU32(dst, in.fuelGlobal)
	return append(dst, 0x42, 0x00, 0x53)
}

// chargeCached appends the metering sequence for cost in a function that
// keeps the counter in local $c, at its entry (which loads the global) or
// at a loop header:
//
//	global.get $fuel (entry) | local.get $c (loop header)
//	i64.const cost; i64.sub; local.tee $c; i64.const 0; i64.lt_s
//	if; local.get $c; global.set $fuel; call $hook; global.get $fuel; local.set $c; end
//
// It leaves the operand stack as it found it, so it is valid anywhere a
// loop's body or a function's body starts, whatever the block's
// parameters. Why a local: a loop charging the global carries its counter
// through memory, a store and a load every iteration that the next
// iteration's charge waits on (store-to-load forwarding, ~5 cycles); the
// compiler keeps a local in a register, so a tight loop pays a
// subtraction and a predictable branch.
func (in *instrumenter) chargeCached(dst []byte, c uint32, entry bool, cost int64) []byte {
	if entry {
		dst = append(dst, 0x23)
		dst = appendU32(dst, in.fuelGlobal)
	} else {
		dst = append(dst, 0x20)
		dst = appendU32(dst, c)
	}
	dst = append(dst, 0x42)
	dst = appendS64(dst, cost)
	dst = append(dst, 0x7D, 0x22)
	dst = appendU32(dst, c)
	dst = append(dst, 0x42, 0x00, 0x53, 0x04, 0x40)
	dst = in.store(dst, c)
	dst = append(dst, 0x10)
	dst = appendU32(dst, in.hook)
	dst = in.load(dst, c)
	return append(dst, 0x0B)
}

// store appends local.get $c; global.set $fuel.
func (in *instrumenter) store(dst []byte, c uint32) []byte {
	dst = append(dst, 0x20)
	dst = appendU32(dst, c)
	dst = append(dst, 0x24)
	return appendU32(dst, in.fuelGlobal)
}

// load appends global.get $fuel; local.set $c.
func (in *instrumenter) load(dst []byte, c uint32) []byte {
	dst = append(dst, 0x23)
	dst = appendU32(dst, in.fuelGlobal)
	dst = append(dst, 0x21)
	return appendU32(dst, c)
}
