// The parts init.cc puts together into the `cuda` object, `cudaInfo` and the device hooks; each is
// defined in the file named beside it.
#pragma once
#include <napi.h>

namespace ts::cuda {

void AddMemoryFunctions(Napi::Env env, Napi::Object cuda);    // memory.cc: alloc, wrap
void AddTransferFunctions(Napi::Env env, Napi::Object cuda);  // transfers.cc: upload, download
Napi::Value CudaInfo(const Napi::CallbackInfo& info);         // info.cc
void RegisterKernelHooks(Napi::Env env);                      // kernel_hooks.cc
// streams.h: AddStreamFunctions (synchronize, setStream); bench.cc: ts::AddCudaBench (cuda_binding.h).

}  // namespace ts::cuda
