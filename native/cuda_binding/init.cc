// InitDevice for a build with CUDA (native/no_cuda.cc is the build without): the `cuda` object, the
// DeviceTensor class, `cudaInfo`, and the device hooks through which kernel_run.cc reaches the kernels.
#include "../cuda_binding.h"
#include "../device.h"
#include "binding_parts.h"
#include "device_tensor.h"
#include "env_state.h"
#include "streams.h"

namespace ts {

void* CurrentStream(Napi::Env env) { return cuda::Stream(env); }

void InitDevice(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = cuda::DeviceTensor::Define(env);
  cuda::EnvState(env)->tensor_ctor = Napi::Persistent(ctor);
  Napi::Object obj = Napi::Object::New(env);
  cuda::AddMemoryFunctions(env, obj);
  cuda::AddTransferFunctions(env, obj);
  cuda::AddStreamFunctions(env, obj);
  obj.Set("DeviceTensor", ctor);
  AddCudaBench(env, obj);
  exports.Set("cuda", obj);
  exports.Set("cudaInfo", Napi::Function::New(env, cuda::CudaInfo, "cudaInfo"));
  cuda::RegisterKernelHooks(env);
}

}  // namespace ts
