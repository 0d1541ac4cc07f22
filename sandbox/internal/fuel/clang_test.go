package fuel

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestClangGuest runs testdata/clang.wasm (clang's output for clang.c: SIMD,
// bulk memory, saturating truncation, a multi-value function, an indirect
// call table, padded LEB128 call indices) before and after instrumenting,
// on both engines, and checks results and fuel.
func TestClangGuest(t *testing.T) {
	src, err := os.ReadFile("testdata/clang.wasm")
	if err != nil {
		t.Fatal(err)
	}
	instr := mustInstrument(t, src)
	calls := []struct {
		name string
		args []uint64
	}{
		{"fill", []uint64{60000, 7}},
		{"sum_simd", []uint64{60000}},
		{"sext", []uint64{60000}},
		{"trunc", []uint64{math.Float64bits(1e300)}},
		{"trunc", []uint64{math.Float64bits(-3.7)}},
		{"divmods", []uint64{1000}},
		{"apply", []uint64{1000}},
		{"fib", []uint64{20}},
	}
	run := func(ctx context.Context, r wazero.Runtime, wasm []byte) []uint64 {
		mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		defer mod.Close(ctx)
		var out []uint64 // results of the calls that return one (all but fill)
		for _, c := range calls {
			res, err := mod.ExportedFunction(c.name).Call(ctx, c.args...)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			out = append(out, res...)
		}
		return out
	}
	for _, cfg := range []wazero.RuntimeConfig{wazero.NewRuntimeConfigInterpreter(), wazero.NewRuntimeConfigCompiler()} {
		r := newRuntime(t, cfg)
		want := run(context.Background(), r, src)
		if int32(want[2]) != math.MaxInt32 || int32(want[3]) != -3 || want[len(want)-1] != 6765 {
			t.Fatalf("original results %v", want)
		}
		var fuel []int64
		for _, quantum := range []int64{1 << 40, 13, 1 << 40} {
			m := newMeter(quantum, 1<<60)
			got := run(withMeter(m), r, instr)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("quantum %d: results %v, want %v", quantum, got, want)
				}
			}
			fuel = append(fuel, m.consumed())
		}
		if fuel[0] != fuel[1] || fuel[0] != fuel[2] {
			t.Fatalf("fuel differs: %v", fuel)
		}
		t.Logf("%d fuel", fuel[0])
	}
}
