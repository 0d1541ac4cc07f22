package fuel

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func i32x4(a, b, c, d uint32) []byte {
	v := make([]byte, 16)
	for i, x := range []uint32{a, b, c, d} {
		binary.LittleEndian.PutUint32(v[4*i:], x)
	}
	return v
}

// envModule exports what kitchenSink imports: add1 (i32) -> i32 and an
// immutable i32 global g = 100.
func envModule() []byte {
	return module(
		sec(secType, vec(functype(op(tI32), op(tI32)))),
		sec(secFunction, vec(leb(0))),
		sec(secGlobal, vec(cat(op(tI32, 0), i32c(100), end))),
		sec(secExport, vec(cat(str("add1"), op(0), leb(0)), cat(str("g"), op(3), leb(0)))),
		sec(secCode, vec(fn(nil, lget(0), i32c(1), op(0x6A), end))),
	)
}

// kitchenSink is a hand-written module with an imported function and global,
// a start function, all eight element segment forms, ref.func in code and in
// a global initializer, multi-value block types (as type indices, one in a
// non-minimal s33), bulk memory, saturating truncation, SIMD, a passive data
// segment, a custom section in the middle, a name section, and non-minimal
// LEB128 encodings. Its exports return values the test knows.
func kitchenSink() []byte {
	types := vec(
		functype(op(tI32), op(tI32)),       // 0
		functype(op(tI32), op(tI32, tI32)), // 1
		functype(nil, op(tI64)),            // 2
		functype(op(tI32), op(tI64)),       // 3
		functype(nil, nil),                 // 4
		functype(nil, op(tI32)),            // 5
	)
	imports := vec(
		cat(str("env"), str("add1"), op(0x00), leb(0)),
		cat(str("env"), str("g"), op(0x03, tI32, 0)),
	)
	// Function indices: 0 env.add1, then these.
	funcs := vec(leb(0), leb(3), leb(0), leb(2), leb(2), leb(4), leb(5), leb(5), leb(5))
	const (
		fDouble = 1 + iota
		fSum
		fMV
		fBulk
		fSIMD
		fStart
		fRefFunc
		fGetStart
		fSlots
	)
	tables := vec(op(tFuncref, 0x00, 8))
	mems := vec(op(0x00, 1))
	globals := vec(
		cat(op(tI32, 1), i32c(0), end),                                // 1: set by start
		cat(op(tFuncref, 0), refFunc(fDouble), end),                   // 2: ref.func in an initializer
		cat(op(tI64, 1), i64c(math.MinInt64+1), end),                  // 3: a long s64
		cat(op(tI32, 0), op(0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x07), end), // 4: max s32, 5 bytes
	)
	exports := vec(
		cat(str("double"), op(0), leb(fDouble)),
		cat(str("sum"), op(0), leb(fSum)),
		cat(str("mv"), op(0), leb(fMV)),
		cat(str("bulk"), op(0), leb(fBulk)),
		cat(str("simd"), op(0), leb(fSIMD)),
		cat(str("reffunc"), op(0), leb(fRefFunc)),
		cat(str("getstart"), op(0), leb(fGetStart)),
		cat(str("slots"), op(0), leb(fSlots)),
		cat(str("memory"), op(2), leb(0)),
		cat(str("table"), op(1), leb(0)),
	)
	elems := vec(
		cat(leb(0), i32c(0), end, vec(leb(fDouble))),                  // active, table 0
		cat(leb(5), op(tFuncref), vec(cat(refFunc(fMV), end))),        // passive exprs
		cat(leb(3), op(0), vec(leb(fDouble), leb(fMV))),               // declarative
		cat(leb(4), i32c(1), end, vec(cat(refFunc(fSum), end))),       // active exprs
		cat(leb(2), leb(0), i32c(2), end, op(0), vec(leb(fGetStart))), // explicit table
		cat(leb(6), leb(0), i32c(3), end, op(tFuncref), vec(cat(refFunc(fSIMD), end), cat(op(0xD0, tFuncref), end))),
		cat(leb(1), op(0), vec(leb(fRefFunc))),                   // passive
		cat(leb(7), op(tFuncref), vec(cat(refFunc(fBulk), end))), // declarative exprs
	)
	shuffle := []byte{0, 1, 2, 3, 20, 21, 22, 23, 8, 9, 10, 11, 28, 29, 30, 31}
	f64 := make([]byte, 8)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(1e300))
	bodies := vec(
		// double
		fn(nil, lget(0), i32c(2), op(0x6C), end),
		// sum(n): Σ double(i) + add1(i) for i < n, through the table and the import
		fn([][2]uint32{{1, tI64}, {1, tI32}},
			op(0x02, 0x40), lget(0), op(0x45), op(0x0D, 0),
			op(0x03, 0x40),
			lget(1), lget(2), i32c(0), op(0x11), leb(0), leb(0),
			lget(2), op(0x10, 0x80, 0x80, 0x80, 0x80, 0x00), // call 0, non-minimal
			op(0x6A, 0xAD, 0x7C), lset(1),
			lget(2), i32c(1), op(0x6A), ltee(2), lget(0), op(0x49), op(0x0D, 0),
			end, end, lget(1), end),
		// mv(x) = 2x + 1 through a [i32] -> [i32 i32] block and a [i32] -> [i32] loop
		fn(nil, lget(0), op(0x02, 0x81, 0x00), lget(0), end, op(0x6A),
			op(0x03, 0x00), i32c(1), op(0x6A), end, end),
		// bulk
		fn(nil,
			i32c(0), i32c(7), i32c(100), fc(11, 0),
			i32c(200), i32c(0), i32c(100), fc(10, 0, 0),
			i32c(300), i32c(0), i32c(5), fc(8, 0, 0),
			fc(9, 0),
			i32c(200), op(0x29, 3, 0),
			i32c(300), op(0x35, 2, 0), op(0x85),
			op(0x44), f64, fc(6), op(0x85),
			end),
		// simd
		fn(nil,
			i32c(400), fd(12), i32x4(1, 2, 3, 4), fd(12), i32x4(10, 20, 30, 40), fd(0xAE), fd(11, 4, 0),
			i32c(400), fd(0, 4, 0), fd(12), i32x4(100, 200, 300, 400), fd(13), shuffle,
			fd(27), op(1), op(0xAD),
			i32c(400), fd(12), i32x4(0, 0, 0, 0), fd(86, 2, 8), op(0), fd(27), op(0), op(0xAD),
			op(0x7C), end),
		// start
		fn(nil, gget(0), i32c(5), op(0x6A), gset(1), end),
		// reffunc
		fn(nil,
			i32c(5), refFunc(fDouble), op(0x26, 0),
			i32c(21), i32c(5), op(0x11, 0, 0),
			i32c(6), i32c(0), i32c(1), fc(12, 1, 0), fc(13, 1),
			i32c(10), i32c(6), op(0x11, 0, 0), op(0x6A),
			gget(2), op(0xD1, 0x45), op(0x6A),
			i32c(7), gget(2), op(0x26, 0), i32c(4), i32c(7), op(0x11, 0, 0), op(0x6A),
			fc(16, 0), op(0x6A),
			end),
		// getstart
		fn(nil, gget(1), end),
		// slots: sum(3) via slot 1, getstart() via slot 2, simd() via slot 3
		fn(nil,
			i32c(3), i32c(1), op(0x11, 3, 0), op(0xA7),
			i32c(2), op(0x11, 5, 0), op(0x6A),
			i32c(3), op(0x11, 2, 0), op(0xA7), op(0x6A),
			end),
	)
	names := cat(
		op(1), func() []byte {
			b := vec(cat(leb(0), str("add1")), cat(leb(fDouble), str("double")), cat(leb(fSum), str("sum")))
			return cat(leb(uint32(len(b))), b)
		}(),
		op(2), func() []byte {
			b := vec(cat(leb(fSum), vec(cat(leb(0), str("n")), cat(leb(1), str("acc")), cat(leb(2), str("i")))))
			return cat(leb(uint32(len(b))), b)
		}(),
	)
	// A custom section with a non-minimal size.
	odd := cat(str("inos.test"), []byte("payload"))
	oddSec := cat(op(0), op(byte(len(odd))|0x80, 0x80, 0x80, 0x80, 0x00), odd)
	return module(
		sec(secType, types),
		sec(secImport, imports),
		sec(secFunction, funcs),
		oddSec,
		sec(secTable, tables),
		sec(secMemory, mems),
		sec(secGlobal, globals),
		sec(secExport, exports),
		sec(secStart, leb(fStart)),
		sec(secElement, elems),
		sec(secDataCount, leb(1)),
		sec(secCode, bodies),
		sec(secData, vec(cat(leb(1), str("hello")))),
		custom("name", names),
	)
}

// countdown(n) loops n times: a function-entry run of cost 1 (the loop
// instruction) and a loop run of cost 5 per iteration. It has no () -> ()
// type, no imports, no globals and no exports but its own, so Instrument
// must create all of them.
func countdown() []byte {
	return module(
		sec(secType, vec(functype(op(tI32), op(tI32)))),
		sec(secFunction, vec(leb(0))),
		sec(secExport, vec(cat(str("f"), op(0), leb(0)))),
		sec(secCode, vec(fn(nil,
			op(0x03, 0x40), lget(0), i32c(1), op(0x6B), ltee(0), op(0x0D, 0), end,
			lget(0), end))),
	)
}

func TestKitchenSinkRunsTheSame(t *testing.T) {
	want := map[string]uint64{
		"double":   84,
		"sum":      3*10*9/2 + 10,
		"mv":       85,
		"bulk":     0x0707070707070707 ^ uint64(binary.LittleEndian.Uint32([]byte("hell"))) ^ math.MaxInt64,
		"simd":     233,
		"reffunc":  80,
		"getstart": 105,
		"slots":    12 + 105 + 233,
	}
	args := map[string][]uint64{"double": {42}, "sum": {10}, "mv": {42}}
	src := kitchenSink()
	instr := mustInstrument(t, src)
	for _, engine := range []struct {
		name string
		cfg  wazero.RuntimeConfig
	}{{"interpreter", wazero.NewRuntimeConfigInterpreter()}, {"compiler", wazero.NewRuntimeConfigCompiler()}} {
		t.Run(engine.name, func(t *testing.T) {
			r := newRuntime(t, engine.cfg)
			ctx := context.Background()
			if _, err := r.InstantiateWithConfig(ctx, envModule(), wazero.NewModuleConfig().WithName("env")); err != nil {
				t.Fatal(err)
			}
			m := newMeter(1000, 1<<40)
			mctx := withMeter(m)
			orig, err := r.InstantiateWithConfig(mctx, src, wazero.NewModuleConfig().WithName("orig"))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := r.InstantiateWithConfig(mctx, instr, wazero.NewModuleConfig().WithName("instr"))
			if err != nil {
				t.Fatal(err)
			}
			if m.calls != 1 {
				t.Errorf("start function: hook called %d times, want 1 (the counter starts at 0)", m.calls)
			}
			for name, w := range want {
				for _, mod := range []api.Module{orig, inst} {
					res, err := mod.ExportedFunction(name).Call(mctx, args[name]...)
					if err != nil {
						t.Fatalf("%s.%s: %v", mod.Name(), name, err)
					}
					if len(res) != 1 || res[0]&maskFor(name) != w {
						t.Errorf("%s.%s = %v, want %d", mod.Name(), name, res, w)
					}
				}
			}
			if m.consumed() <= 0 {
				t.Errorf("consumed %d fuel", m.consumed())
			}
		})
	}
}

func maskFor(name string) uint64 {
	if name == "bulk" || name == "simd" || name == "sum" {
		return math.MaxUint64
	}
	return math.MaxUint32
}

// TestCostModel pins the cost model: countdown costs 1 at entry and 5 per
// iteration whatever the refill quantum; entering a block does not end a
// run, an if or an end does, and a call charges the callee's entry.
func TestCostModel(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	check := func(t *testing.T, wasm []byte, arg uint64, quantum, want int64) {
		t.Helper()
		m := newMeter(quantum, 1<<50)
		if _, err := callF(t, r, mustInstrument(t, wasm), m, arg); err != nil {
			t.Fatal(err)
		}
		if got := m.consumed(); got != want {
			t.Errorf("arg=%d quantum=%d: consumed %d, want %d", arg, quantum, got, want)
		}
	}
	for _, tc := range []struct{ n, quantum int64 }{{1, 1}, {10, 1}, {10, 7}, {10, 1000}, {1000, 3}, {1000, 1 << 40}} {
		check(t, countdown(), uint64(tc.n), tc.quantum, 1+5*tc.n)
	}
	body := func(code ...[]byte) []byte {
		return module(
			sec(secType, vec(functype(op(tI32), nil))),
			sec(secFunction, vec(leb(0), leb(0))),
			sec(secExport, vec(cat(str("f"), op(0), leb(0)))),
			sec(secCode, vec(fn(nil, code...), fn(nil, op(0x01, 0x01), end))))
	}
	loop, dec := op(0x03, 0x40), cat(lget(0), i32c(1), op(0x6B), ltee(0))
	for _, tc := range []struct {
		name string
		wasm []byte
		arg  uint64
		want int64
	}{
		{"block, nops, end", body(op(0x02, 0x40, 0x01, 0x01), end, op(0x01), end), 1, 4},
		{"nested blocks up to br", body(op(0x02, 0x40, 0x02, 0x40, 0x01), op(0x0C, 1), end, end, end), 1, 4},
		{"if ends the run", body(lget(0), op(0x04, 0x40, 0x01, 0x01), end, end), 1, 2},
		{"call: callee entry 3", body(op(0x01), lget(0), call(1), op(0x01), end), 1, 5 + 3},
		{"empty body", body(end), 1, 1},
		// Loops, which keep the counter in a local: every iteration is
		// charged, and what a callee charges is not lost.
		{"loop of 6, br_table exits", body(loop, dec, op(0x45, 0x0E, 1, 0, 1), end, end), 10, 1 + 6*10},
		{"loop of 7 calling a callee of 3", body(loop, dec, call(1), lget(0), op(0x0D, 0), end, end), 10, 1 + (7+3)*10},
		{"loop of 6 left by return", body(loop, dec, op(0x45, 0x04, 0x40, 0x0F), end, op(0x0C, 0), end, end), 10, 1 + 6*10},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.wasm, tc.arg, 1000, tc.want) })
	}
}

// TestBudgetTraps: once the budget is spent the hook traps and the guest
// stops with the host's error.
func TestBudgetTraps(t *testing.T) {
	instr := mustInstrument(t, countdown())
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	m := newMeter(100, 1000)
	if _, err := callF(t, r, instr, m, 1_000_000); !errors.Is(err, errBudget) {
		t.Fatalf("err = %v, want the budget error", err)
	}
	if c := m.consumed(); c <= 1000 || c > 1000+5 {
		t.Errorf("consumed %d at the trap, want just over the budget of 1000", c)
	}
}
