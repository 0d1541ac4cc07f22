//go:build webgpu && cgo

package wgpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoad: a missing library says why; a process keeps the one it loaded.
// (The gpu package's tests cover the rest of the binding.)
func TestLoad(t *testing.T) {
	lib := os.Getenv("WEBGPU_LIB")
	if lib == "" {
		lib, _ = filepath.Abs("../../../.tools/webgpu/lib/libwebgpu_wrapper.so")
		if _, err := os.Stat(lib); err != nil {
			t.Skipf("no webgpu library: WEBGPU_LIB is unset and %s is absent", lib)
		}
	}
	// (Before any load, dlopen's reason; after one, with -count > 1, "another".)
	if err := Load("/nonexistent/libwebgpu.so"); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent/libwebgpu.so") && !strings.Contains(err.Error(), "another webgpu library") {
		t.Fatalf("Load of a missing file: %v", err)
	}
	if err := Load(lib); err != nil {
		t.Fatal(err)
	}
	if err := Load(lib); err != nil {
		t.Fatalf("second Load of the same library: %v", err)
	}
	if err := Load("/nonexistent/libwebgpu.so"); err == nil || !strings.Contains(err.Error(), "another webgpu library") {
		t.Fatalf("Load of another library: %v", err)
	}

	in, err := NewInstance()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	a, err := in.RequestAdapter(AdapterOptions{Backend: BackendVulkan, Power: PowerHighPerformance}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	d, err := a.RequestDevice("test", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	al, _ := a.Limits()
	dl, _ := d.Limits()
	if dl.MaxStorageBufferBindingSize != al.MaxStorageBufferBindingSize || dl.MaxBufferSize != al.MaxBufferSize {
		t.Fatalf("device limits %+v, want the adapter's %+v", dl, al)
	}
	// An uncaptured error is kept for TakeUncapturedError.
	b := d.CreateBuffer(3, UsageMapRead|UsageStorage) // MapRead goes only with CopyDst
	b.Release()
	if e, n := d.TakeUncapturedError(); e == nil || n != 1 || e.Type != ErrorValidation {
		t.Fatalf("uncaptured error: %v (%d)", e, n)
	}
	if d.Live() != 0 {
		t.Fatalf("%d objects live", d.Live())
	}
	if r, _ := d.Lost(); r != 0 {
		t.Fatalf("device lost: %v", r)
	}
}
