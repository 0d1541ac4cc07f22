// Package gpu is the node's host-side library "gpu": WGSL compute shaders
// run through the standard webgpu.h C API (gpu/internal/wgpu, a cgo binding
// that dlopens Dawn's libwebgpu_wrapper.so, or wgpu-native, at run time).
//
// # Opening
//
// Open loads the library (Options.LibPath, else $WEBGPU_LIB, else
// libwebgpu_dawn.so or libwgpu_native.so from the system's search path),
// asks for a Vulkan adapter with the high-performance preference (the
// discrete GPU when there is one), refuses Dawn's Null backend, and makes a
// device with all of the adapter's limits. When any of that fails, or the
// node was built without cgo, Open returns an *UnavailableError (matching
// ErrUnavailable) that says why; the node then serves without the library.
//
// # Methods
//
// Params are strict JSON objects (an unknown field is refused). Every f32
// array is little-endian.
//
//	compile_wgsl    input: WGSL source. Output: {"ok":bool,"messages":[{"type":"error",
//	                "line":3,"column":18,"offset":40,"length":15,"message":"..."}]}.
//	                A shader that does not compile is a result, not a job error.
//	execute_shader  {"code": WGSL, "entry_point": "main" (default),
//	                "workgroups": [x, y, z] (1 to 3 counts ≥ 1, missing ones are 1),
//	                "inputs": [{"offset": o, "length": n}, ...], "output_size": n}.
//	                Input i is bytes [o, o+n) of the job's input, bound as a storage
//	                buffer at @group(0) @binding(i); the output is a read_write storage
//	                buffer of output_size bytes (zeroed) at the next binding, copied to
//	                the job's output. Buffers are padded with zeros to a multiple of 4
//	                bytes (arrayLength counts the padding). The shader must declare
//	                exactly those bindings (WebGPU's "auto" layout). A compile error
//	                fails the job with invalidParams, naming its line and column.
//	saxpy           {"a": float}; input: x then y, n f32 each; output: a·x+y (n f32).
//	matmul          {"m", "n", "k"}; input: A (m×k) then B (k×n), f32 row-major;
//	                output: C = A·B (m×n f32).
//	grayscale       {"width", "height"}; input and output: width×height RGBA pixels
//	                (8 bits a channel). R = G = B = the Rec. 601 luma, alpha kept: the
//	                very bytes of the image library's grayscale ("format":"rgba").
//
// # Limits and errors
//
// Limits bounds every buffer (MaxBufferBytes, and the device's own binding
// size), the workgroup counts (per dimension and in total) and the time a
// job may take (Timeout, shortened by the job's own timeout or deadline).
// A buffer over a limit fails the job with inputTooLarge or outputTooLarge
// (with the size needed when the output reserved is too small); too many
// workgroups, bad params or a shader that does not fit its bindings with
// invalidParams; malformed input (a length that is not the params') with
// invalidInput.
//
// A job that is not done within its time fails with deadlineExceeded. Its
// device is then abandoned and the next job gets a new one, made from a new
// instance: GPU work cannot be cancelled through WebGPU, and on Mesa's
// lavapipe a shader that never ends keeps the CPU threads running it busy
// until the process exits (lavapipe has no watchdog); a new instance has
// threads of its own. The abandoned device is released in the background
// when its work ends. While Limits.MaxAbandoned devices are still busy,
// jobs fail with libraryUnavailable. A lost device is replaced the same way.
//
// # Benchmarks
//
// BenchDispatch, BenchUpload, BenchReadback, BenchSaxpy and BenchMatmul
// time the device's round trip, transfers (the jobs' own path) and kernels
// on resident buffers for inos bench gpu; they return host-timed samples
// and the bytes or flops of each operation (BenchResult). The kernels run
// untimed first until the GPU's clocks have risen (BenchResult.Warmup).
//
// # Concurrency
//
// A Library runs one job at a time (the node's dispatcher calls it from
// one goroutine; a mutex guards it against others, such as benchmarks).
// The device and the built-in kernels' pipelines are made once and kept
// across jobs; each job's buffers are released when it ends. Inputs (but
// on a CPU adapter) and outputs travel through staging buffers that are
// kept too (four each way, growing to 16 MiB: at most 128 MiB of
// host-visible memory), in chunks whose host copies overlap the DMA and
// use up to 16 goroutines.
package gpu
