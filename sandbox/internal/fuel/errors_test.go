package fuel

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// oneFunc is a module with one () -> () function whose body is code.
func oneFunc(code ...[]byte) []byte {
	return module(
		sec(secType, vec(functype(nil, nil))),
		sec(secFunction, vec(leb(0))),
		sec(secCode, vec(fn(nil, code...))),
	)
}

func TestErrors(t *testing.T) {
	hdr := []byte(header)
	for _, tc := range []struct {
		name   string
		wasm   []byte
		target error  // ErrMalformed or ErrUnsupported
		offset int    // -1: not checked
		what   string // substring of the message
	}{
		{"empty", nil, ErrMalformed, 0, "magic"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), ErrMalformed, 0, "magic"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), ErrMalformed, 4, "version"},
		{"section past the end", cat(hdr, op(1, 5, 0)), ErrMalformed, 10, "past the end"},
		{"section size LEB too long", cat(hdr, op(1, 0x80, 0x80, 0x80, 0x80, 0x80, 0)), ErrMalformed, -1, "LEB128"},
		{"section size LEB too large", cat(hdr, op(1, 0x80, 0x80, 0x80, 0x80, 0x10)), ErrMalformed, -1, "LEB128"},
		{"unknown section", cat(hdr, op(14, 0)), ErrMalformed, 8, "section id 14"},
		{"duplicate section", cat(hdr, sec(secType, vec()), sec(secType, vec())), ErrMalformed, 11, "duplicated or out of order"},
		{"sections out of order", cat(hdr, sec(secFunction, vec()), sec(secImport, vec())), ErrMalformed, 11, "out of order"},
		{"tag section", cat(hdr, sec(secTag, vec())), ErrUnsupported, 8, "tag section"},
		{"GC type", cat(hdr, sec(secType, vec(op(0x5F, 0)))), ErrUnsupported, 11, "type form"},
		{"typed reference value type", cat(hdr, sec(secType, vec(functype(op(0x64), nil)))), ErrUnsupported, 13, "value type 0x64"},
		{"bad value type", cat(hdr, sec(secType, vec(functype(op(0x01), nil)))), ErrMalformed, 13, "value type"},
		{"try", oneFunc(op(0x06, 0x40), end, end), ErrUnsupported, 23, "exception handling"},
		{"call_ref", oneFunc(op(0x14, 0), end), ErrUnsupported, 23, "typed function references"},
		{"GC prefix", oneFunc(op(0xFB, 0), end), ErrUnsupported, 23, "GC"},
		{"reserved opcode", oneFunc(op(0x27), end), ErrUnsupported, 23, "opcode 0x27"},
		{"unassigned SIMD opcode", oneFunc(fd(0x9a), end), ErrUnsupported, 23, "0xfd 0x9a"},
		{"relaxed SIMD", oneFunc(fd(0x100), end), ErrUnsupported, 23, "0xfd 0x100"},
		{"unknown 0xFC", oneFunc(fc(18), end), ErrUnsupported, 23, "0xfc 18"},
		{"unknown atomic", oneFunc(prefixed(0xFE, 0x4F), end), ErrUnsupported, 23, "0xfe 0x4f"},
		{"atomic.fence flags", oneFunc(prefixed(0xFE, 3), op(1), end), ErrMalformed, -1, "fence"},
		{"ref.null of a typed heap type", oneFunc(op(0xD0, 0x63), op(0x1A), end), ErrUnsupported, 24, "reference type"},
		{"i32.const too long", oneFunc(op(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00), op(0x1A), end), ErrMalformed, -1, "s32"},
		{"i32.const bad sign bits", oneFunc(op(0x41, 0x80, 0x80, 0x80, 0x80, 0x18), op(0x1A), end), ErrMalformed, -1, "s32"},
		{"i64.const bad last byte", oneFunc(op(0x42), bytes.Repeat([]byte{0x80}, 9), op(0x02), op(0x1A), end), ErrMalformed, -1, "s64"},
		{"negative block type index", oneFunc(op(0x02, 0xFF, 0x7F), end, end), ErrMalformed, 24, "block type -1"},
		{"body without end", oneFunc(op(0x01)), ErrMalformed, -1, "without final end"},
		{"bytes after the final end", oneFunc(end, op(0x01)), ErrMalformed, -1, "after the function's final end"},
		{"truncated immediate", oneFunc(op(0x44, 0, 0)), ErrMalformed, -1, "unexpected end"},
		{"more bodies than functions", module(sec(secType, vec(functype(nil, nil))), sec(secCode, vec(fn(nil, end)))), ErrMalformed, -1, "1 function bodies for 0"},
		{"element flags 8", module(sec(secElement, vec(leb(8)))), ErrMalformed, -1, "element segment flags 8"},
		{"start index overflow", module(sec(secStart, leb(^uint32(0)))), ErrMalformed, -1, "function index out of range"},
		{"table with initializer", module(sec(secTable, vec(op(0x40, 0, tFuncref, 0, 1), i32c(0), end))), ErrUnsupported, -1, "initializer"},
		{"function type out of range", module(sec(secType, vec(functype(nil, nil))), sec(secFunction, vec(leb(1)))), ErrMalformed, 17, "type index 1 out of range"},
		{"imported function type out of range", module(sec(secImport, vec(cat(str("a"), str("b"), op(0), leb(0))))), ErrMalformed, 16, "type index 0 out of range"},
		{"too many locals", module(sec(secType, vec(functype(nil, nil))), sec(secFunction, vec(leb(0))),
			sec(secCode, vec(fn([][2]uint32{{40_000, tI32}, {10_001, tI64}}, end)))), ErrUnsupported, -1, "more than 50000 locals"},
		{"data segment past the end", module(sec(secData, vec(cat(leb(1), leb(100)), op(1, 2)))), ErrMalformed, -1, "past the end"},
		{"data segment flags 3", module(sec(secData, vec(cat(leb(3))))), ErrMalformed, -1, "data segment flags 3"},
		{"import count past the end", module(sec(secImport, op(0xFE, 0xFF, 0xFF, 0xFF, 0x07))), ErrMalformed, -1, "unexpected end"},
		{"export name taken", module(sec(secExport, vec(cat(str("inos_fuel"), op(2), leb(0))))), ErrUnsupported, -1, `"inos_fuel" already in use`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Instrument(tc.wasm, Options{})
			if err == nil {
				t.Fatalf("no error; output % x", out)
			}
			if !errors.Is(err, tc.target) {
				t.Fatalf("err = %v, want %v", err, tc.target)
			}
			if !strings.Contains(err.Error(), tc.what) {
				t.Errorf("err = %v, want it to mention %q", err, tc.what)
			}
			var offset int
			var fe *FormatError
			var ue *UnsupportedError
			switch {
			case errors.As(err, &fe):
				offset = fe.Offset
			case errors.As(err, &ue):
				offset = ue.Offset
			default:
				t.Fatalf("err %T is neither *FormatError nor *UnsupportedError", err)
			}
			if tc.offset >= 0 && offset != tc.offset {
				t.Errorf("offset %d, want %d (%v)", offset, tc.offset, err)
			}
		})
	}
}

// TestAccepted covers encodings that are legal though unusual.
func TestAccepted(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"empty module", module()},
		{"only custom sections", module(custom("a"), custom("b", []byte("x")))},
		{"50000 locals", module(sec(secType, vec(functype(nil, nil))), sec(secFunction, vec(leb(0))),
			sec(secCode, vec(fn([][2]uint32{{40_000, tI32}, {10_000, tV128}}, end))))},
		{"data segments", module(sec(secMemory, vec(op(0, 1))), sec(secData, vec(cat(leb(0), i32c(8), end, str("abc")), cat(leb(1), str("")), cat(leb(2), leb(0), i32c(0), end, str("x")))))},
		{"stale metadata sections", module(custom("linking", op(2)), custom("reloc.CODE"), custom(".debug_info"))},
		{"non-minimal everything", nonMinimal()},
		{"max s32 and s64", oneFunc(op(0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x07), op(0x1A),
			op(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F), op(0x1A), end)},
		{"custom sections between all", module(
			custom("0"), sec(secType, vec(functype(nil, nil))), custom("1"), sec(secFunction, vec(leb(0))),
			custom("2"), sec(secCode, vec(fn(nil, end))), custom("3"))},
		{"empty existing sections", module(sec(secType, vec()), sec(secImport, vec()), sec(secGlobal, vec()), sec(secExport, vec()))},
		{"loop with block type index and params", module(
			sec(secType, vec(functype(nil, nil), functype(op(tI32), op(tI32)))),
			sec(secFunction, vec(leb(0))),
			sec(secCode, vec(fn(nil, i32c(1), op(0x03, 0x01), op(0x02, 0x40), op(0x03, 0x40), end, end, end, op(0x1A), end))))},
		{"atomics", module(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(leb(0))),
			sec(secMemory, vec(op(0x03, 1, 1))), // shared
			sec(secCode, vec(fn(nil, prefixed(0xFE, 3), op(0), i32c(0), prefixed(0xFE, 0x10, 2, 0), op(0x1A), end))))},
		{"tail calls", module(
			sec(secType, vec(functype(nil, nil))),
			sec(secFunction, vec(leb(0))),
			sec(secTable, vec(op(tFuncref, 0, 1))),
			sec(secCode, vec(fn(nil, op(0x12, 0), i32c(0), op(0x13, 0, 0), end))))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Instrument(tc.wasm, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// nonMinimal spells sizes, counts, indices and constants with more LEB128
// bytes than needed: f() = g() = -1, g called through a padded index.
func nonMinimal() []byte {
	return module(
		cat(op(1, 0x8D, 0x80, 0x80, 0x80, 0), op(0x82, 0x80, 0), functype(nil, op(tI32)), op(0x60, 0x80, 0, 0x81, 0, tI32)),
		sec(secFunction, op(0x82, 0), op(0x80, 0x80, 0x80, 0x80, 0), op(0x81, 0x80, 0x80, 0x80, 0)),
		sec(secExport, vec(cat(str("f"), op(0, 0x80, 0x80, 0)))),
		sec(secCode, op(0x82, 0x80, 0),
			fn(nil, op(0x10, 0x81, 0x80, 0x80, 0x80, 0), end),
			fn([][2]uint32{{2, tI64}}, op(0x42, 0x80, 0x80, 0), op(0x1A), op(0x41, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F), end)),
	)
}

func TestNonMinimalInputRuns(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter())
	ctx := withMeter(newMeter(100, 1000))
	for _, wasm := range [][]byte{nonMinimal(), mustInstrument(t, nonMinimal())} {
		mod, err := r.InstantiateWithConfig(ctx, wasm, wazero.NewModuleConfig().WithName(""))
		if err != nil {
			t.Fatal(err)
		}
		res, err := mod.ExportedFunction("f").Call(ctx)
		if err != nil || int32(res[0]) != -1 {
			t.Fatalf("f() = %v, %v", res, err)
		}
	}
}

func TestOutputShape(t *testing.T) {
	src := kitchenSink()
	keep := bytes.Clone(src)
	a := mustInstrument(t, src)
	if !bytes.Equal(src, keep) {
		t.Fatal("Instrument modified its input")
	}
	if b := mustInstrument(t, src); !bytes.Equal(a, b) {
		t.Fatal("Instrument is not deterministic")
	}
	if _, err := Instrument(a, Options{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("instrumenting twice: err = %v, want ErrUnsupported", err)
	}

	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer r.Close(ctx)
	c, err := r.CompileModule(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	imps := c.ImportedFunctions()
	if len(imps) != 2 {
		t.Fatalf("%d imported functions, want 2", len(imps))
	}
	if mod, name, _ := imps[1].Import(); mod != "inos" || name != "fuel_exhausted" || imps[1].Name() != "inos.fuel_exhausted" ||
		len(imps[1].ParamTypes()) != 0 || len(imps[1].ResultTypes()) != 0 {
		t.Errorf("hook import %s.%s named %q", mod, name, imps[1].Name())
	}
	if n := c.ExportedFunctions()["sum"].Name(); n != "sum" {
		t.Errorf("sum is named %q in the name section: indices not shifted", n)
	}
	if _, ok := c.ExportedFunctions()["inos_fuel"]; ok {
		t.Error("inos_fuel exported as a function")
	}

	// Custom names.
	o := Options{ImportModule: "m", ImportName: "f", GlobalExport: "g"}
	b, err := Instrument(src, o)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.CompileModule(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if mod, name, _ := c2.ImportedFunctions()[1].Import(); mod != "m" || name != "f" {
		t.Errorf("hook imported as %s.%s", mod, name)
	}
	if _, err := Instrument(src, Options{GlobalExport: "\xff"}); err == nil {
		t.Error("invalid UTF-8 option accepted")
	}
}
