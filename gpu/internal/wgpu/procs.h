// The webgpu.h procs the binding uses, each looked up with dlsym by its
// standard name (wgpu + the name). Only standard procs: an implementation of
// webgpu.h (Dawn, wgpu-native) that exports them all can be loaded.

#ifndef INOS_WGPU_PROCS_H
#define INOS_WGPU_PROCS_H

#define WG_PROCS(X) \
	X(CreateInstance) X(InstanceRelease) X(InstanceRequestAdapter) X(InstanceWaitAny) \
	X(AdapterGetInfo) X(AdapterInfoFreeMembers) X(AdapterGetLimits) X(AdapterRequestDevice) \
	X(AdapterRelease) \
	X(DeviceGetQueue) X(DeviceGetLimits) X(DeviceCreateBuffer) X(DeviceCreateShaderModule) \
	X(DeviceCreateComputePipeline) X(DeviceCreateBindGroup) X(DeviceCreateCommandEncoder) \
	X(DevicePushErrorScope) X(DevicePopErrorScope) X(DeviceDestroy) X(DeviceRelease) \
	X(QueueWriteBuffer) X(QueueSubmit) X(QueueOnSubmittedWorkDone) X(QueueRelease) \
	X(BufferMapAsync) X(BufferGetConstMappedRange) X(BufferGetMappedRange) X(BufferUnmap) X(BufferDestroy) X(BufferRelease) \
	X(ShaderModuleGetCompilationInfo) X(ShaderModuleRelease) \
	X(ComputePipelineGetBindGroupLayout) X(ComputePipelineRelease) \
	X(BindGroupLayoutRelease) X(BindGroupRelease) \
	X(CommandEncoderBeginComputePass) X(CommandEncoderCopyBufferToBuffer) X(CommandEncoderFinish) \
	X(CommandEncoderRelease) \
	X(ComputePassEncoderSetPipeline) X(ComputePassEncoderSetBindGroup) \
	X(ComputePassEncoderDispatchWorkgroups) X(ComputePassEncoderEnd) X(ComputePassEncoderRelease) \
	X(CommandBufferRelease)

#endif
