// CUDA runtime failures as TaylorSeerErrors: ERR_CUDA with the runtime's error name and text.
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

#include <string>

#include "../../cuda/taylorseer.h"

namespace ts::cuda {

std::string CudaMessage(cudaError_t e);

// Clears a non-sticky error first, so later calls do not report it again.
[[noreturn]] void ThrowCuda(Napi::Env env, const std::string& what, cudaError_t e);

inline void CheckCuda(Napi::Env env, cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) ThrowCuda(env, what, e);
}

// A failed ts_cuda_* launch: ERR_INVALID_ARGUMENT for a rejected table, ERR_CUDA otherwise.
[[noreturn]] void ThrowStatus(Napi::Env env, ts_status st, const char* what);

}  // namespace ts::cuda
