package fuel

import (
	"strconv"
	"testing"

	"github.com/tetratelabs/wazero"
)

// BenchmarkOverhead runs compute-bound guests uninstrumented ("plain") and
// instrumented with a budget that never runs out ("fuel"), on wazero's
// compiler engine in one process. Compare ns/op of the pairs:
//
//   - sha16MiB: the Go command guest hashing 16 MiB (with its generation
//     loop and the Go runtime's start-up), the realistic case;
//   - gospin10M, gospinptr10M: a Go loop of an LCG step (its bound a
//     parameter, or read through a pointer each iteration as the bench
//     guest's work method does); Go's wasm goes round its function's
//     dispatch loop every iteration, which is where the charge is;
//   - loop10M: countdown(10e6), a 5-instruction loop: the worst case, where
//     the charge is as long as the loop body.
func BenchmarkOverhead(b *testing.B) {
	b.Run("sha16MiB", func(b *testing.B) {
		g := guests(b)
		for _, tc := range []struct {
			name string
			wasm []byte
		}{{"plain", g.command}, {"fuel", mustInstrument(b, g.command)}} {
			b.Run(tc.name, func(b *testing.B) {
				r := wasiRuntime(b)
				c := compile(b, r, tc.wasm)
				m := newMeter(1<<40, 1<<62)
				ctx := withMeter(m)
				args := []string{"sha", strconv.Itoa(16 << 20)}
				for b.Loop() {
					if _, err := runCommand(ctx, r, c, args...); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
	b.Run("libhash16MiB", func(b *testing.B) { libraryOverhead(b, "hash", 16<<20) })
	b.Run("gospin10M", func(b *testing.B) { libraryOverhead(b, "spin", 10_000_000) })
	b.Run("gospinptr10M", func(b *testing.B) { libraryOverhead(b, "spinptr", 10_000_000) })
	b.Run("loop10M", func(b *testing.B) {
		for _, tc := range []struct {
			name string
			wasm []byte
		}{{"plain", countdown()}, {"fuel", mustInstrument(b, countdown())}} {
			b.Run(tc.name, func(b *testing.B) {
				r := newRuntime(b, wazero.NewRuntimeConfigCompiler())
				m := newMeter(1<<40, 1<<62)
				ctx := withMeter(m)
				mod, err := r.InstantiateWithConfig(ctx, tc.wasm, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					b.Fatal(err)
				}
				f := mod.ExportedFunction("f")
				for b.Loop() {
					if _, err := f.Call(ctx, 10_000_000); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// libraryOverhead calls the Go library guest's export fn(arg), plain and
// instrumented, after one call to warm it.
func libraryOverhead(b *testing.B, fn string, arg uint64) {
	g := guests(b)
	for _, tc := range []struct {
		name string
		wasm []byte
	}{{"plain", g.library}, {"fuel", mustInstrument(b, g.library)}} {
		b.Run(tc.name, func(b *testing.B) {
			r := wasiRuntime(b)
			ctx := withMeter(newMeter(1<<40, 1<<62))
			mod, err := r.InstantiateWithConfig(ctx, tc.wasm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
			if err != nil {
				b.Fatal(err)
			}
			f := mod.ExportedFunction(fn)
			if _, err := f.Call(ctx, arg); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := f.Call(ctx, arg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInstrument measures the pass itself on the Go command guest.
func BenchmarkInstrument(b *testing.B) {
	g := guests(b)
	b.SetBytes(int64(len(g.command)))
	for b.Loop() {
		if _, err := Instrument(g.command, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
