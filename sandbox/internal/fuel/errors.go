package fuel

import (
	"errors"
	"fmt"
)

// ErrMalformed is matched (errors.Is) by every error Instrument returns for
// input that is not a well-formed WebAssembly binary. The concrete error is a
// *FormatError telling where decoding stopped.
var ErrMalformed = errors.New("fuel: malformed wasm module")

// ErrUnsupported is matched (errors.Is) by every error Instrument returns
// for a well-formed module that uses something this pass does not decode
// (exception handling, GC, typed function references, relaxed SIMD) or that
// already exports Options.GlobalExport (a module instrumented twice). The
// concrete error is an *UnsupportedError. Refusing is deliberate: code the
// pass cannot fully decode could hide an unmetered loop.
var ErrUnsupported = errors.New("fuel: unsupported wasm feature")

// FormatError reports malformed input: Offset is the byte offset in the input
// module at which decoding failed.
type FormatError struct {
	Offset int
	Reason string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("fuel: malformed wasm module at offset %#x: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *FormatError) Is(target error) bool { return target == ErrMalformed }

// UnsupportedError reports a feature the pass refuses: What names it (an
// opcode, a section, a value type or a name collision) and Offset is where in
// the input module it was met.
type UnsupportedError struct {
	Offset int
	What   string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("fuel: unsupported at offset %#x: %s", e.Offset, e.What)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
