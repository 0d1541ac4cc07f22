package fuel

// Dispatch loops.
//
// Go's WebAssembly backend compiles a function with branches into one loop
// that dispatches on a block number, with every basic block a region after
// one of the dispatch's blocks:
//
//	loop $L
//	  block block ... block        ;; m blocks, B[m-1] outermost ... B[0] innermost
//	    local.get $pc
//	    br_table ...               ;; label l < m: to the end of B[l]
//	  end                          ;; region 0 follows the end of B[0]
//	  ... region 0 ...
//	  end                          ;; region 1 follows the end of B[1]
//	  ...
//	end
//
// and every jump between basic blocks, forward or backward, is
//
//	i32.const K; local.set $pc; br $L
//
// so charging at $L's header charges every jump. Inside $L, control moves
// from a region to a later one by falling through an end or by branching
// to one of the blocks, never to an earlier one except through a branch to
// $L. A branch that sets $pc to a constant whose region is later than the
// branch's own region is therefore a forward jump: it cannot close a cycle,
// and the pass does not charge it. Every other branch that may target $L
// (a backward jump, a jump within the region, br_if, br_table, or a br not
// preceded by the pattern) is charged before it, and $L's header is not:
// any execution that stays in $L forever takes charged branches forever.
//
// The cost of a backward jump from region r to region t ≤ r is the number of
// instructions from the start of region t through the branch, plus the
// dispatch's local.get and br_table: what one iteration of that cycle can
// execute at most. Other charged branches cost what the header did (its
// run: m blocks, local.get, br_table).

// instruction opcodes the dispatch analysis reads.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opBr          = 0x0C
	opBrTable     = 0x0E
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opI32Const    = 0x41
)

// noHeaderCharge in insn.pre marks a loop whose header is not charged (a
// dispatch loop); a positive pre is the cost charged before the instruction.
const noHeaderCharge = -1

// dispatchTable is a dispatch loop's br_table.
type dispatchTable struct {
	local  uint32   // $pc
	labels []uint32 // label for each $pc value; the last is the default
	m      int      // dispatch blocks
}

// region returns the region that $pc = k dispatches to, or m for a label
// that leaves the loop (later than every region).
func (d *dispatchTable) region(k uint32) int {
	l := d.labels[len(d.labels)-1]
	if uint64(k) < uint64(len(d.labels)-1) {
		l = d.labels[k]
	}
	return min(int(l), d.m)
}

// wrap is a dispatch loop at ins[loop] whose end, ins[end], is followed by
// unreachable (as Go's are): its jump charges branch out of it to a hook
// call placed after that unreachable, which re-enters the loop (see
// instrumenter.body).
type wrap struct{ loop, end int }

// planDispatch finds the dispatch loops of a decoded body and records in
// ins[i].pre which loop headers go uncharged and which branches are
// charged instead, and at what cost, and returns the loops to wrap
// (appended to wraps[:0]). code is the body the offsets of ins refer to.
func planDispatch(ins []insn, code []byte, wraps []wrap, sites []int) ([]wrap, []int) {
	wraps = wraps[:0]
	for i := range ins {
		ins[i].pre, ins[i].out = 0, false
	}
	// A loop inside a dispatch loop keeps its header charge, dispatch or
	// not: each instruction is then walked once, whatever the nesting.
	outerEnd := -1
	for i := range ins {
		if ins[i].flags&fLoop == 0 || i < outerEnd {
			continue
		}
		d, ok := matchDispatch(ins, code, i)
		if !ok {
			continue
		}
		var end int
		end, sites = markDispatch(ins, code, i, d, sites[:0])
		outerEnd = end
		// The wrap's loop and block take nothing from the stack, so the
		// dispatch loop must not either.
		empty := code[ins[i].start+1] == 0x40
		if end+1 < len(ins) && code[ins[end+1].start] == opUnreachable && empty {
			wraps = append(wraps, wrap{loop: i, end: end})
			for _, j := range sites {
				ins[j].out = true
			}
		}
	}
	return wraps, sites
}

// matchDispatch reports whether the loop at ins[i] starts a dispatch: m ≥ 1
// blocks without results, local.get, and a br_table whose labels all stay
// off the loop itself (label m), which would re-dispatch without a charge.
func matchDispatch(ins []insn, code []byte, i int) (*dispatchTable, bool) {
	j := i + 1
	for j < len(ins) && code[ins[j].start] == opBlock && ins[j].end-ins[j].start == 2 && code[ins[j].start+1] == 0x40 {
		j++
	}
	m := j - i - 1
	if m == 0 || j+1 >= len(ins) || code[ins[j].start] != opLocalGet || code[ins[j+1].start] != opBrTable {
		return nil, false
	}
	d := &dispatchTable{m: m}
	r := &reader{b: code[:ins[j].end], pos: int(ins[j].start) + 1}
	d.local, _ = r.u32() // decoded once already
	r = &reader{b: code[:ins[j+1].end], pos: int(ins[j+1].start) + 1}
	n, _ := r.u32()
	for k := uint64(0); k <= uint64(n); k++ {
		l, _ := r.u32()
		if int64(l) == int64(m) {
			return nil, false
		}
		d.labels = append(d.labels, l)
	}
	return d, true
}

// markDispatch walks the dispatch loop opened at ins[at], whose table d
// was matched, sets the pre charges of its branches, and returns the index
// of the loop's end and, appended to sites, the backward jumps it charges.
func markDispatch(ins []insn, code []byte, at int, d *dispatchTable, sites []int) (int, []int) {
	ins[at].pre = noHeaderCharge
	headerCost := int32(d.m + 2)
	first := at + d.m + 2 // the first instruction after br_table
	// Depths count open labels relative to the loop's: the loop's body is
	// at depth 1, the innermost dispatch block's at 1+m.
	depth := 1 + d.m
	region := -1
	starts := make([]int, d.m)
	for j := first; j < len(ins); j++ {
		x := &ins[j]
		switch {
		case x.flags&fOpen != 0:
			depth++
			continue
		case x.flags&fEnd != 0:
			if depth == 1 {
				return j, sites // the loop's end
			}
			if region+1 < d.m && depth == 1+d.m-(region+1) {
				region++
				starts[region] = j + 1
			}
			depth--
			continue
		case x.flags&fBr == 0:
			continue
		}
		op := code[x.start]
		if !targets(code, x, depth) {
			continue
		}
		cost := headerCost
		if op == opBr && j >= 2 && isLocalSet(code, &ins[j-1], d.local) {
			if k, ok := i32Const(code, &ins[j-2]); ok {
				t := d.region(uint32(k))
				if t > region {
					continue // forward: not charged
				}
				cost = int32(j-starts[t]+1) + 2
				sites = append(sites, j)
			}
		}
		x.pre = max(x.pre, cost)
	}
	return len(ins), sites // not reached in a body that decoded
}

// targets reports whether branch x may branch to the loop. depth counts
// the labels open at x inside the loop, the loop's own included: label l
// targets the construct opened at depth depth-l, so the loop is depth-1.
func targets(code []byte, x *insn, depth int) bool {
	if code[x.start] != opBrTable {
		return int64(x.imm) == int64(depth-1)
	}
	r := &reader{b: code[:x.end], pos: int(x.start) + 1}
	n, _ := r.u32()
	for k := uint64(0); k <= uint64(n); k++ {
		if l, _ := r.u32(); int64(l) == int64(depth-1) {
			return true
		}
	}
	return false
}

func isLocalSet(code []byte, x *insn, local uint32) bool {
	if code[x.start] != opLocalSet {
		return false
	}
	r := &reader{b: code[:x.end], pos: int(x.start) + 1}
	v, _ := r.u32()
	return v == local
}

func i32Const(code []byte, x *insn) (int32, bool) {
	if code[x.start] != opI32Const {
		return 0, false
	}
	r := &reader{b: code[:x.end], pos: int(x.start) + 1}
	v, _ := r.sN(32)
	return int32(v), true
}

// chargeOut appends the charge of a backward jump in a wrapped dispatch
// loop, where label out is the block that leaves the loop for the hook:
//
//	global.get $fuel; i64.const cost; i64.sub; global.set $fuel
//	global.get $fuel; i64.const 0; i64.lt_s; br_if $out
//
// The jump has set $pc already, so the hook's path re-enters the loop at
// the jump's target. The loop's hot path holds no call: values live across
// a call are spilled around it by wazero's register allocator, and a call
// in a Go loop, however cold, cost image code 7-10%.
func (in *instrumenter) chargeOut(dst []byte, cost int64, out uint32) []byte {
	dst = append(in.subtract(dst, cost), 0x0D)
	return appendU32(dst, out)
}

// relabel appends branch instruction b (br, br_if or br_table) found at
// depth rel inside a wrapped loop, with every label that leaves the loop
// (l >= rel) moved past the two labels the wrap adds.
func relabel(dst []byte, b []byte, rel uint32) []byte {
	r := &reader{b: b, pos: 1}
	dst = append(dst, b[0])
	shift := func(l uint32) uint32 {
		if l >= rel {
			return l + 2
		}
		return l
	}
	if b[0] != opBrTable {
		l, _ := r.u32()
		return appendU32(dst, shift(l))
	}
	n, _ := r.u32()
	dst = appendU32(dst, n)
	for k := uint64(0); k <= uint64(n); k++ {
		l, _ := r.u32()
		dst = appendU32(dst, shift(l))
	}
	return dst
}
