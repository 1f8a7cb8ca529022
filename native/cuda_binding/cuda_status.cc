#include "cuda_status.h"

#include "../../cuda/ts_cuda_extra.h"
#include "../errors.h"

namespace ts::cuda {

std::string CudaMessage(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

void ThrowCuda(Napi::Env env, const std::string& what, cudaError_t e) {
  cudaGetLastError();
  Throw(env, "ERR_CUDA", what + " failed (" + CudaMessage(e) + ")");
}

void ThrowStatus(Napi::Env env, ts_status st, const char* what) {
  const std::string msg = std::string(what) + ": " + ts_cuda_last_error();
  if (st == TS_ERR_INVALID_ARGUMENT) Throw(env, "ERR_INVALID_ARGUMENT", msg);
  Throw(env, "ERR_CUDA", msg);
}

}  // namespace ts::cuda
