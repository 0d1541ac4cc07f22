package fuel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzFuel feeds Instrument arbitrary bytes, starting from real modules
// (clang's, and the Go guests unless -short) and the hand-written ones. It
// checks that Instrument never panics, fails only with a typed error
// (*FormatError or *UnsupportedError), is deterministic, and that whenever
// wazero compiles the input it also compiles the output; the only valid
// input it may refuse is one that already exports the counter's name.
func FuzzFuel(f *testing.F) {
	for _, m := range [][]byte{
		kitchenSink(), countdown(), nonMinimal(), envModule(), module(),
		dispatchSum(op(0x00), []uint32{0, 1, 2, 2}, false), dispatchSum(op(0x01), []uint32{0, 1, 2, 3, 2}, true),
		oneFunc(op(0x03, 0x40), op(0x0C, 0), end, end),
	} {
		f.Add(m)
	}
	if clang, err := os.ReadFile("testdata/clang.wasm"); err == nil {
		f.Add(clang)
	}
	if _, err := exec.LookPath("go"); err == nil && !testing.Short() {
		f.Add(guests(f).library)
	}

	// wazero's decoder sizes slices by the counts a module declares before
	// reading the elements (up to 4 GiB for one vector); a memory limit
	// makes the worker return such garbage to the OS at once instead of
	// growing until it is killed.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(512 << 20))

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	// compiles reports whether wazero compiles wasm. wazero v1.12 panics on
	// some invalid modules (e.g. a call to a function whose type index is
	// out of range): that counts as not compiling.
	compiles := func(wasm []byte) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("wazero panicked: %v", p)
			}
		}()
		c, err := r.CompileModule(ctx, wasm)
		if err == nil {
			c.Close(ctx)
		}
		return err
	}

	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, Options{})
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			switch {
			case errors.As(err, &fe):
				if !errors.Is(err, ErrMalformed) || fe.Offset < 0 || fe.Offset > len(wasm) {
					t.Fatalf("bad FormatError %v", err)
				}
				if strings.Contains(fe.Reason, "LEB128") {
					// wazero accepts LEB128s whose unused bits do not
					// extend the sign; the spec does not, and neither do we
					// (regression seed wazero-lenient-s32-leb).
					return
				}
			case errors.As(err, &ue):
				if !errors.Is(err, ErrUnsupported) || ue.Offset < 0 || ue.Offset > len(wasm) {
					t.Fatalf("bad UnsupportedError %v", err)
				}
				if strings.Contains(ue.What, "already in use") || strings.Contains(ue.What, "locals") {
					return // refusals that valid modules may get
				}
			default:
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if safeForWazero(wasm) && compiles(wasm) == nil {
				t.Fatalf("wazero compiles the input but Instrument refused it: %v", err)
			}
			return
		}
		if again, _ := Instrument(wasm, Options{}); !bytes.Equal(again, out) {
			t.Fatal("Instrument is not deterministic")
		}
		if compiles(wasm) == nil {
			if err := compiles(out); err != nil {
				t.Fatalf("wazero compiles the input, not the output: %v", err)
			}
		}
	})
}

// safeForWazero reports whether wazero's decoder can be given wasm without
// risking the fuzz worker. wazero sizes slices by the element counts a
// module declares before reading the elements, so a count of 2^31 in a few
// bytes (imports, element expressions, name maps...) is a fatal out of
// memory, not an error. Instrument never allocates by a declared count, and
// bounds every count it accepts by the bytes that follow; for an input it
// refused, the harness asks wazero only if the parts that hold such counts
// decode here, which leaves the instruction stream (where a too-strict
// decoder would show) to be judged by wazero.
func safeForWazero(wasm []byte) bool {
	secs, err := split(wasm)
	if err != nil {
		return false
	}
	have := map[byte]*section{}
	for i := range secs {
		have[secs[i].id] = &secs[i]
	}
	in := &instrumenter{o: Options{GlobalExport: "\x00"}}
	if in.scan(have) != nil {
		return false
	}
	for _, s := range secs {
		r := s.reader()
		var err error
		switch s.id {
		case secTable:
			_, err = in.tableSection(r)
		case secGlobal:
			_, err = in.globalSection(r)
		case secExport:
			_, err = in.exportSection(r)
		case secElement:
			_, err = in.elementSection(r)
		case secData:
			err = r.dataSection()
		case secCode:
			var n uint32
			if n, err = r.u32(); err == nil && n > uint32(len(r.b)) {
				return false
			}
			for ; err == nil && n > 0; n-- {
				var size uint32
				if size, err = r.u32(); err == nil {
					start := r.pos
					if err = r.skip(int(size)); err == nil {
						_, err = (&reader{b: r.b[start:r.pos]}).locals()
					}
				}
			}
		case secCustom:
			name, nerr := r.name()
			if nerr == nil && string(name) == "name" {
				if _, ok := in.nameSection(&reader{b: r.b[r.pos:]}); !ok {
					return false
				}
			}
		}
		if err != nil {
			return false
		}
	}
	return true
}
