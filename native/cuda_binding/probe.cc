#include "probe.h"

#include <cuda_runtime.h>

#include <mutex>

#include "../../cuda/ts_cuda_extra.h"
#include "../errors.h"
#include "cuda_status.h"

namespace ts::cuda {

const Probe& GetProbe() {
  static Probe probe;
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      probe.reason = "CUDA is not usable on this machine (" + CudaMessage(e) + ")";
      return;
    }
    if (n == 0) {
      probe.reason = "no CUDA device is present";
      return;
    }
    probe.count = n;
    if (ts_cuda_check_kernels() != TS_OK) {
      probe.reason = ts_cuda_last_error();
      return;
    }
    probe.usable = true;
  });
  return probe;
}

void RequireUsable(Napi::Env env) {
  const Probe& p = GetProbe();
  if (!p.usable) Throw(env, "ERR_DEVICE", p.reason);
}

}  // namespace ts::cuda
