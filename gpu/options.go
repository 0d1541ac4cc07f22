package gpu

import (
	"errors"
	"time"
)

// Options configure Open. The zero value is usable.
type Options struct {
	// LibPath is the webgpu.h implementation to load; default $WEBGPU_LIB,
	// then libwebgpu_dawn.so and libwgpu_native.so on the system's library
	// search path.
	LibPath string
	// Backend is the adapter's backend: "vulkan" (default), "metal",
	// "d3d12" or "any". Dawn's Null backend is always refused: it computes
	// nothing.
	Backend string
	// Limits bound jobs; zero fields take their defaults.
	Limits Limits
	// OpenTimeout bounds each step of making a device; default 30 s.
	OpenTimeout time.Duration
}

// Limits bound each job. A zero field means its default.
type Limits struct {
	// MaxBufferBytes bounds every GPU buffer a job makes (each input, the
	// output, the built-in kernels' arrays); default 256 MiB. The device's
	// own maximum storage binding applies too.
	MaxBufferBytes uint64
	// MaxWorkgroupsPerDim bounds each workgroup count of execute_shader;
	// default 65535 (the device's own maximum applies too).
	MaxWorkgroupsPerDim uint32
	// MaxWorkgroups bounds their product; default 1<<24.
	MaxWorkgroups uint64
	// MaxSourceBytes bounds WGSL source (compile_wgsl's input); default 1 MiB.
	MaxSourceBytes int
	// Timeout bounds a job, from its start to its output read back;
	// default 5 s. A job's own timeout or deadline can only shorten it.
	Timeout time.Duration
	// MaxAbandoned is how many timed-out devices may still be busy before
	// the library refuses jobs; default 4.
	MaxAbandoned int
}

const (
	defaultMaxBufferBytes      = 256 << 20
	defaultMaxWorkgroupsPerDim = 65535
	defaultMaxWorkgroups       = 1 << 24
	defaultMaxSourceBytes      = 1 << 20
	defaultTimeout             = 5 * time.Second
	defaultMaxAbandoned        = 4
	defaultOpenTimeout         = 30 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.MaxBufferBytes == 0 {
		l.MaxBufferBytes = defaultMaxBufferBytes
	}
	if l.MaxWorkgroupsPerDim == 0 {
		l.MaxWorkgroupsPerDim = defaultMaxWorkgroupsPerDim
	}
	if l.MaxWorkgroups == 0 {
		l.MaxWorkgroups = defaultMaxWorkgroups
	}
	if l.MaxSourceBytes == 0 {
		l.MaxSourceBytes = defaultMaxSourceBytes
	}
	if l.Timeout == 0 {
		l.Timeout = defaultTimeout
	}
	if l.MaxAbandoned == 0 {
		l.MaxAbandoned = defaultMaxAbandoned
	}
	return l
}

// ErrUnavailable is matched (errors.Is) by every *UnavailableError.
var ErrUnavailable = errors.New("gpu: unavailable")

// UnavailableError says why the library cannot be served: no cgo, no
// webgpu.h implementation, no adapter, no device.
type UnavailableError struct {
	Reason string
}

func (e *UnavailableError) Error() string { return "gpu: unavailable: " + e.Reason }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// AdapterInfo describes the adapter the library runs on.
type AdapterInfo struct {
	Vendor, Architecture, Device, Description string
	Backend                                   string // "Vulkan", ...
	Type                                      string // "DiscreteGPU", "IntegratedGPU", "CPU", "Unknown"
	VendorID, DeviceID                        uint32
	// Limits of the device that matter here.
	MaxBufferSize, MaxStorageBufferBindingSize uint64
	MaxComputeWorkgroupsPerDimension           uint32
	MaxComputeInvocationsPerWorkgroup          uint32
	// LibPath is the webgpu.h implementation loaded.
	LibPath string
}

// Stats counts a library's jobs and device replacements.
type Stats struct {
	Jobs, Failed uint64
	// TimedOut counts jobs stopped by their timeout.
	TimedOut uint64
	// Recreated counts devices made after the first (after a timeout or a
	// lost device).
	Recreated uint64
	// Abandoned is how many abandoned devices are still being released
	// (their work has not ended).
	Abandoned int
}
