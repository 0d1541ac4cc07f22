//go:build webgpu

package gpu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The toolchain end to end: run scripts/webgpu.sh, then
//
//	. .tools/webgpu/env && go test -tags webgpu -run Smoke -v ./gpu/
//
// With the tag the library is required: a missing one fails, it is not skipped.
func TestSmoke(t *testing.T) {
	lib := os.Getenv("WEBGPU_LIB")
	if lib == "" {
		lib, _ = filepath.Abs("../.tools/webgpu/lib/libwebgpu_wrapper.so")
	}
	if err := smokeOpen(lib); err != nil {
		t.Fatalf("the webgpu library cannot be used (run scripts/webgpu.sh and source .tools/webgpu/env): %v", err)
	}
	t.Logf("library %s", lib)
	t.Logf("VK_DRIVER_FILES=%s", os.Getenv("VK_DRIVER_FILES"))

	start := time.Now()
	// Vulkan asked for by name: left undefined, Dawn falls back to its Null
	// backend when no Vulkan driver loads, and that "adapter" computes nothing.
	g, err := smokeNew(smokeBackendVulkan, 30*time.Second)
	if err != nil {
		t.Fatalf("no adapter/device: %v", err)
	}
	defer g.close()
	t.Logf("instance, adapter and device in %v", time.Since(start).Round(time.Millisecond))

	info, err := g.adapterInfo()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("adapter: vendor=%q architecture=%q device=%q description=%q backend=%s type=%s vendorID=%#x deviceID=%#x",
		info.Vendor, info.Architecture, info.Device, info.Description, info.Backend, info.AdapterType, info.VendorID, info.DeviceID)
	if info.Backend != "Vulkan" {
		t.Fatalf("backend %s, want Vulkan", info.Backend)
	}
	limits, err := g.limits()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("device limits: %v", limits)

	t.Run("Compute", func(t *testing.T) {
		const n = 1024
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) + 0.5
		}
		start := time.Now()
		if err := g.double(data); err != nil {
			t.Fatal(err)
		}
		for i, v := range data {
			if want := 2 * (float32(i) + 0.5); v != want {
				t.Fatalf("data[%d] = %v, want %v", i, v, want)
			}
		}
		t.Logf("doubled %d f32 on the GPU in %v: data[0]=%v data[1]=%v data[1023]=%v",
			n, time.Since(start).Round(time.Microsecond), data[0], data[1], data[n-1])
	})

	t.Run("CompileError", func(t *testing.T) {
		msgs, err := g.compile("@compute @workgroup_size(1)\nfn main() {\n    let x: f32 = undefined_thing;\n}\n")
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatal("no compilation messages for an invalid shader")
		}
		for _, m := range msgs {
			t.Logf("%s at %d:%d: %s", m.Type, m.Line, m.Col, strings.TrimSpace(m.Text))
		}
		if m := msgs[0]; m.Type != "error" || m.Line != 3 || m.Col == 0 {
			t.Fatalf("first message %+v, want an error on line 3", m)
		}
		// The device still works after a validation error.
		data := []float32{1, 2, 3}
		if err := g.double(data); err != nil || data[2] != 6 {
			t.Fatalf("after a compile error: %v %v", data, err)
		}
	})
}
