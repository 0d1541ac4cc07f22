//go:build webgpu

package gpu_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/inos-node/node/gpu"
	"github.com/inos-node/node/kernel"
	"github.com/inos-node/node/schema"
)

// The tests with the webgpu tag need the library and an adapter: run
// scripts/webgpu.sh, then
//
//	. .tools/webgpu/env && go test -tags webgpu ./gpu/...
//
// They skip, saying why, only where there is no adapter (no webgpu
// library, or no device it can use) — unless INOS_GPU_REQUIRED is set, as
// `make gpu-test` does after installing lavapipe: then a missing adapter
// fails them, so that CI cannot pass by skipping.
func open(t testing.TB, lim gpu.Limits) *gpu.Library {
	t.Helper()
	required := os.Getenv("INOS_GPU_REQUIRED") != ""
	o := gpu.Options{Limits: lim}
	if os.Getenv("WEBGPU_LIB") == "" {
		path, _ := filepath.Abs("../.tools/webgpu/lib/libwebgpu_wrapper.so")
		if _, err := os.Stat(path); err != nil {
			if required {
				t.Fatalf("INOS_GPU_REQUIRED, but WEBGPU_LIB is unset and %s is absent", path)
			}
			t.Skipf("no webgpu library: WEBGPU_LIB is unset and %s is absent (run scripts/webgpu.sh and source .tools/webgpu/env)", path)
		}
		o.LibPath = path
	}
	l, err := gpu.Open(context.Background(), o)
	if err != nil && !required && errors.Is(err, gpu.ErrUnavailable) {
		t.Skipf("no adapter: %v (VK_DRIVER_FILES=%q)", err, os.Getenv("VK_DRIVER_FILES"))
	}
	if err != nil {
		t.Fatalf("gpu.Open: %v (VK_DRIVER_FILES=%q)", err, os.Getenv("VK_DRIVER_FILES"))
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// outOffset is where the tests' output buffers claim to lie, to check the
// reference a method returns.
const outOffset = 4096

// call runs one job of method with params and input, and an output buffer
// of outCap bytes; it returns the output the job reported.
func call(t testing.TB, l *gpu.Library, method, params string, input []byte, outCap int) ([]byte, error) {
	t.Helper()
	return callJob(t, l, &kernel.Job{Method: method, Params: []byte(params), Input: input}, outCap)
}

func callJob(t testing.TB, l *gpu.Library, j *kernel.Job, outCap int) ([]byte, error) {
	t.Helper()
	m, ok := l.Methods()[j.Method]
	if !ok {
		t.Fatalf("no method %q", j.Method)
	}
	j.Library = "gpu"
	j.InputRef = schema.Ref{Offset: 0, Length: uint64(len(j.Input))}
	j.Output = make([]byte, outCap)
	j.OutputRef = schema.Ref{Offset: outOffset, Length: uint64(outCap)}
	ref, err := m(context.Background(), j)
	if err != nil {
		return nil, err
	}
	if ref.Length == 0 {
		return nil, nil
	}
	if ref.Offset != outOffset || ref.Length > uint64(outCap) {
		t.Fatalf("%s returned %+v, outside the output at %d of %d bytes", j.Method, ref, outOffset, outCap)
	}
	return j.Output[:ref.Length], nil
}

// wantKind fails unless err is a *kernel.Error of kind.
func wantKind(t testing.TB, err error, kind schema.ErrorKind) *kernel.Error {
	t.Helper()
	var ke *kernel.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T), want a *kernel.Error of kind %v", err, err, kind)
	}
	if ke.Kind != kind {
		t.Fatalf("error %v, want kind %v", err, kind)
	}
	return ke
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func f32s(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
