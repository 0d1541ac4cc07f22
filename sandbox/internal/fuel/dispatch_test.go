package fuel

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
)

// dispatchSum is a module shaped as Go compiles a loop: f(n) returns
// 1+2+...+n from a dispatch loop over three regions, $pc a local:
//
//	block $exit
//	  loop $L
//	    block block block  local.get $pc  br_table 0 1 2 2  end
//	    ;; region 0: if n == 0, jump forward to region 2
//	    local.get n; i32.eqz; if; i32.const 2; local.set $pc; br $L; end
//	    end
//	    ;; region 1: acc += n; n--; jump back to region 0
//	    ...; i32.const 0; local.set $pc; br $L
//	    end
//	    ;; region 2: leave (a branch past the loop)
//	    br $exit
//	  end
//	  after       ;; unreachable (as Go has it: wrapped) or nop
//	end
//	local.get acc
//
// back, when set, makes region 0's jump go back to region 0 (a loop that
// never ends); table replaces the br_table's labels.
func dispatchSum(after []byte, table []uint32, back bool) []byte {
	const n, pc, acc = 0, 1, 2
	k := int32(2)
	if back {
		k = 0
	}
	labels := []byte{}
	for _, l := range table[:len(table)-1] {
		labels = append(labels, leb(l)...)
	}
	brTable := cat(op(0x0E), leb(uint32(len(table)-1)), labels, leb(table[len(table)-1]))
	return module(
		sec(secType, vec(functype(op(tI32), op(tI32)))),
		sec(secFunction, vec(leb(0))),
		sec(secExport, vec(cat(str("f"), op(0), leb(0)))),
		sec(secCode, vec(fn([][2]uint32{{2, tI32}},
			op(0x02, 0x40), op(0x03, 0x40),
			op(0x02, 0x40, 0x02, 0x40, 0x02, 0x40), lget(pc), brTable, end,
			// region 0 (labels: if, B1, B2, L, exit)
			lget(n), op(0x45), op(0x04, 0x40), i32c(k), lset(pc), op(0x0C, 3), end,
			end,
			// region 1 (labels: B2, L, exit)
			lget(acc), lget(n), op(0x6A), lset(acc),
			lget(n), i32c(1), op(0x6B), lset(n),
			i32c(0), lset(pc), op(0x0C, 1),
			end,
			// region 2 (labels: L, exit)
			op(0x0C, 1),
			end,
			after,
			end,
			lget(acc), end))),
	)
}

// TestDispatchLoop: in a Go-shaped dispatch loop, the forward jump and the
// loop header are not charged, the backward jump is, at the cost of the
// regions it repeats; wrapped (followed by unreachable) or not, the module
// computes what it did, charges the same, and re-enters the loop correctly
// whenever the hook runs in the middle of it.
func TestDispatchLoop(t *testing.T) {
	unreachable, nop := op(0x00), op(0x01)
	// Entry: block, loop (2). Backward jump from region 1 to region 0:
	// region 0's 7 instructions, B1's end, region 1's 11, and the
	// dispatch's local.get and br_table: 21.
	const entry, perIteration = 2, 21
	for _, engine := range []struct {
		name string
		cfg  wazero.RuntimeConfig
	}{{"interpreter", wazero.NewRuntimeConfigInterpreter()}, {"compiler", wazero.NewRuntimeConfigCompiler()}} {
		r := newRuntime(t, engine.cfg)
		for _, after := range []struct {
			name string
			code []byte
		}{{"wrapped", unreachable}, {"inline", nop}} {
			src := dispatchSum(after.code, []uint32{0, 1, 2, 2}, false)
			instr := mustInstrument(t, src)
			for _, n := range []int64{0, 1, 10, 1000} {
				for _, quantum := range []int64{1, 7, 1000, 1 << 40} {
					t.Run(fmt.Sprintf("%s/%s/n=%d/q=%d", engine.name, after.name, n, quantum), func(t *testing.T) {
						m := newMeter(quantum, 1<<50)
						res, err := callF(t, r, instr, m, uint64(n))
						if err != nil {
							t.Fatal(err)
						}
						if got, want := int64(int32(res[0])), n*(n+1)/2; got != want {
							t.Errorf("f(%d) = %d, want %d", n, got, want)
						}
						if got, want := m.consumed(), int64(entry+perIteration*n); got != want {
							t.Errorf("consumed %d, want %d", got, want)
						}
					})
				}
			}
		}
	}
}

// TestDispatchLoopForever: a jump back to its own region is charged, so a
// dispatch loop that never ends reaches the hook and stops at the budget,
// wrapped or not.
func TestDispatchLoopForever(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfigCompiler())
	for _, after := range [][]byte{op(0x00), op(0x01)} {
		instr := mustInstrument(t, dispatchSum(after, []uint32{0, 1, 2, 2}, true))
		if _, err := callF(t, r, instr, newMeter(100, 100_000), 5); !errors.Is(err, errBudget) {
			t.Errorf("err = %v, want the budget error", err)
		}
	}
}

// TestNotADispatchLoop: shapes the pass must not take for a dispatch loop
// keep their header charge. A br_table that can branch to the loop itself
// re-dispatches without a jump; with the header uncharged that would be a
// cycle without a charge.
func TestNotADispatchLoop(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	// Label 3 is the loop: $pc = 3 would spin in the dispatch (f is never
	// called with it here; the shape alone decides).
	instr := mustInstrument(t, dispatchSum(op(0x00), []uint32{0, 1, 2, 3, 2}, false))
	m := newMeter(1000, 1<<50)
	res, err := callF(t, r, instr, m, 10)
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != 55 {
		t.Errorf("f(10) = %d, want 55", res[0])
	}
	// Entry 2; every pass through the header (12: the first, 10 jumps
	// back, 1 forward) costs its run: 3 blocks, local.get, br_table.
	if got, want := m.consumed(), int64(2+12*5); got != want {
		t.Errorf("consumed %d, want %d (the header charged)", got, want)
	}
}
