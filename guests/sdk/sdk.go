// Package sdk makes an INOS library guest a short Go file: a table of
// methods, strict JSON params, and the job's input and output as byte
// slices that are the producer's own shared-memory pages (see ../ABI.md).
//
//	package main
//
//	import "github.com/inos-node/node/guests/sdk"
//
//	type upperParams struct{ Repeat int `json:"repeat"` }
//
//	func init() {
//		sdk.Serve(sdk.Methods{"upper": sdk.Typed(upper)})
//	}
//
//	func upper(c *sdk.Call, p *upperParams) (int, error) { ... }
//
//	func main() {}
//
// Build with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. A
// reactor's main is never run, so the method table is registered from
// init: the guest program's one piece of global state is the table its
// exports serve.
package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/inos-node/node/guests/abi"
)

// Call is one job as a method sees it. Input and Output are valid only
// during the call: they are the producer's pages, mapped into the guest for
// this job. Input may change under you (the producer owns it); treat it as
// untrusted. Output has the capacity the producer reserved (within the
// library's limit); write the result at its start and return its length.
type Call struct {
	JobID  uint64
	Method string
	Params []byte // a JSON object the node already checked is well formed
	Input  []byte
	Output []byte
}

// Method runs one job and returns how many bytes of c.Output it wrote.
type Method func(c *Call) (int, error)

// Methods is a library's method table.
type Methods map[string]Method

// Names returns the method names, sorted.
func (ms Methods) Names() []string {
	out := make([]string, 0, len(ms))
	for n := range ms {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ParamsError says why params were refused; a method returning one fails
// its job with the invalidParams kind.
type ParamsError struct{ Msg string }

func (e *ParamsError) Error() string { return "params: " + e.Msg }

// InputError says why the input was refused (corrupt or truncated data, a
// format the method does not take, a size it refuses); a method returning
// one fails its job with the invalidInput kind.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return "input: " + e.Msg }

// OutputTooSmallError says the output needs Need bytes (0: unknown) and the
// producer reserved fewer; the job fails with outputTooLarge and the
// producer can retry with a larger buffer.
type OutputTooSmallError struct{ Need, Have int }

func (e *OutputTooSmallError) Error() string {
	if e.Need == 0 {
		return fmt.Sprintf("output does not fit the %d bytes reserved", e.Have)
	}
	return fmt.Sprintf("output needs %d bytes, %d reserved", e.Need, e.Have)
}

// NeedOutput returns an *OutputTooSmallError if c.Output cannot hold n
// bytes, else nil.
func (c *Call) NeedOutput(n int) error {
	if n > len(c.Output) {
		return &OutputTooSmallError{Need: n, Have: len(c.Output)}
	}
	return nil
}

// OutputWriter returns an io.Writer that writes into c.Output from its
// start: for a method whose output is produced by an encoder (an image
// codec, a JSON encoder) so that it lands in the producer's pages without
// an intermediate buffer. Past c.Output's end it keeps counting without
// writing, so that Result reports the size the output needs.
func (c *Call) OutputWriter() *OutputWriter { return &OutputWriter{buf: c.Output} }

// OutputWriter is the writer of Call.OutputWriter.
type OutputWriter struct {
	buf []byte
	n   int
}

// Write writes p after what was written before, or counts it once the
// output is full. It never fails: encoders run to the end, so the size
// needed is known.
func (w *OutputWriter) Write(p []byte) (int, error) {
	if w.n < len(w.buf) {
		copy(w.buf[w.n:], p)
	}
	w.n += len(p)
	return len(p), nil
}

// Len is the number of bytes written (or counted) so far.
func (w *OutputWriter) Len() int { return w.n }

// Result returns the output length to return from a method, or an
// *OutputTooSmallError with the size needed if the output did not fit.
func (w *OutputWriter) Result() (int, error) {
	if w.n > len(w.buf) {
		return 0, &OutputTooSmallError{Need: w.n, Have: len(w.buf)}
	}
	return w.n, nil
}

// DecodeParams decodes params into v strictly: the params must be one JSON
// object, every field must be one of v's, and every value must have its
// field's type. Errors are *ParamsError naming the field.
func DecodeParams(params []byte, v any) error {
	if len(bytes.TrimSpace(params)) == 0 {
		params = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(params))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &ParamsError{Msg: describeJSONError(err)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &ParamsError{Msg: "trailing data after the object"}
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return fmt.Sprintf("got a JSON %s, want %s", te.Value, te.Type)
		}
		return fmt.Sprintf("%s: got a JSON %s, want %s", field, te.Value, te.Type)
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d: %v", se.Offset, se)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field " + f
	}
	return strings.TrimPrefix(msg, "json: ")
}

// Typed wraps a method whose params decode into P (strictly, see
// DecodeParams): fields absent from the params keep P's zero values.
//
// The decoder's per-type work is done here, once, so that it is charged to
// the guest's initialization and not to its first job: a job costs the same
// fuel on a fresh instance as on a warm one.
func Typed[P any](f func(c *Call, p *P) (int, error)) Method {
	var warm P
	_ = DecodeParams([]byte("{}"), &warm)
	return func(c *Call) (int, error) {
		var p P
		if err := DecodeParams(c.Params, &p); err != nil {
			return 0, err
		}
		return f(c, &p)
	}
}

// Warm runs each call through the table once, so that the one-time set-up
// methods do on first use (tables built lazily, a codec's state) is done
// now. A guest calls it from init after Serve: that work is then charged
// to the instance's initialization, not to its first job. It returns the
// calls that failed (a guest may ignore that; a test of the calls should
// not).
func (ms Methods) Warm(calls ...Call) error {
	var errs []error
	for i := range calls {
		if status, _, msg := ms.Dispatch(&calls[i]); status != abi.StatusOK {
			errs = append(errs, fmt.Errorf("warming %s: status %d: %s", calls[i].Method, status, msg))
		}
	}
	return errors.Join(errs...)
}

// Dispatch runs c.Method from the table and turns its outcome into the
// ABI's status (abi.Status*), output length and message. A panic in the method is its
// failure (status 4), not the instance's: the guest stays usable.
func (ms Methods) Dispatch(c *Call) (status int32, outLen int, msg string) {
	m, ok := ms[c.Method]
	if !ok {
		return abi.StatusUnknownMethod, 0, fmt.Sprintf("no method %q (methods: %s)", c.Method, strings.Join(ms.Names(), ", "))
	}
	n, err := safeRun(m, c)
	var pe *ParamsError
	var ie *InputError
	var oe *OutputTooSmallError
	switch {
	case err == nil && (n < 0 || n > len(c.Output)):
		return abi.StatusFailed, 0, fmt.Sprintf("method %q returned output length %d, capacity is %d", c.Method, n, len(c.Output))
	case err == nil:
		return abi.StatusOK, n, ""
	case errors.As(err, &pe):
		return abi.StatusBadParams, 0, pe.Error()
	case errors.As(err, &ie):
		return abi.StatusBadInput, 0, ie.Error()
	case errors.As(err, &oe):
		return abi.StatusOutputTooSmall, oe.Need, oe.Error()
	default:
		return abi.StatusFailed, 0, err.Error()
	}
}

func safeRun(m Method, c *Call) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("method %q panicked: %v", c.Method, p)
		}
	}()
	return m(c)
}
