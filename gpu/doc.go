// Package gpu will bind the standard webgpu.h C API (Dawn here; wgpu-native
// fits the same binding) through cgo and run WGSL compute shaders.
//
// Not implemented yet (the GPU issue).
package gpu
