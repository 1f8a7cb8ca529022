// Deterministic random fill for tests and benchmarks (never zeros, so an element a kernel skips cannot pass
// as computed). Benchmark build only (TAYLORSEER_BENCH, cuda/tests/build.sh).
#include "dtype.cuh"
#include "launch.cuh"
#include "multi_tensor.cuh"
#include "ts_cuda_extra.h"

namespace tsk {
namespace {

TS_HD uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

TS_HD float Value(uint64_t seed, int64_t i, float lo, float hi) {
  const uint64_t h = Mix(seed * 0x2545f4914f6cdd1dull ^ Mix(static_cast<uint64_t>(i)));
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
  return fmaf(hi - lo, u, lo);  // explicit fma: the same bits on host and device
}

template <int D>
__global__ void FillKernel(void* p, int64_t n, uint64_t seed, float lo, float hi) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    StoreAt<D>(p, i, Value(seed, i, lo, hi));
}

}  // namespace
}  // namespace tsk

extern "C" float ts_fill_value(uint64_t seed, int64_t i, float lo, float hi) { return tsk::Value(seed, i, lo, hi); }

extern "C" ts_status ts_cuda_fill_uniform(void* p, int64_t n, ts_dtype d, uint64_t seed, float lo, float hi,
                                          void* stream) {
  using namespace tsk;
  ClearError();
  if (n < 0 || (n > 0 && !p) || !ValidDtype(d)) return Fail(TS_ERR_INVALID_ARGUMENT, "ts_cuda_fill_uniform: bad argument");
  if (n == 0) return TS_OK;
  const void* fn = d == TS_F32 ? reinterpret_cast<const void*>(&FillKernel<TS_F32>)
                   : d == TS_F16 ? reinterpret_cast<const void*>(&FillKernel<TS_F16>)
                                 : reinterpret_cast<const void*>(&FillKernel<TS_BF16>);
  int grid = 0;
  ts_status st = GridFor(fn, CeilDiv(n, kThreads), kThreads, &grid);
  if (st != TS_OK) return st;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  if (d == TS_F32) FillKernel<TS_F32><<<grid, kThreads, 0, s>>>(p, n, seed, lo, hi);
  else if (d == TS_F16) FillKernel<TS_F16><<<grid, kThreads, 0, s>>>(p, n, seed, lo, hi);
  else FillKernel<TS_BF16><<<grid, kThreads, 0, s>>>(p, n, seed, lo, hi);
  return Check(cudaGetLastError(), "fill kernel launch");
}
