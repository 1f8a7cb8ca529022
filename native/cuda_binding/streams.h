// Ordering: every operation is ordered on ONE stream, the library's own non-blocking stream (created on
// first use) or the one given to cuda.setStream. setStream synchronizes the previous stream first, so no
// work is left behind on it. `cuda.synchronize` and `cuda.setStream` live here.
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

namespace ts::cuda {

// The current stream; throws ERR_DEVICE when CUDA is not usable.
cudaStream_t Stream(Napi::Env env);

int CurrentDeviceOrThrow(Napi::Env env);

// Adds synchronize and setStream to the `cuda` object.
void AddStreamFunctions(Napi::Env env, Napi::Object cuda);

}  // namespace ts::cuda
