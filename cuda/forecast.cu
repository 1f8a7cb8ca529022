// Fused forecast, plain or with the gated residual add: ONE launch forecasts every entry of a table
// (see multi_tensor.cuh for the work distribution and forecast_impl.cuh for the per-element math).
#include "dtype_dispatch.h"
#include "forecast_impl.cuh"
#include "launch.cuh"
#include "validate.h"

#include <mutex>
#include <string>

namespace tsk {

template <int S, int A, int MAXC, bool GATED>
__global__ void __launch_bounds__(kThreads) ForecastKernel(const __grid_constant__ FcParams p) {
  int hint = 0;
  for (int64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    hint = FindEntry(p, t, hint);
    const FcEnt& e = p.e[hint];
    ForecastTile<S, A, MAXC, GATED>(e, t - e.tile_begin, static_cast<int>(threadIdx.x));
  }
}

template <int S, int A, int MAXC, bool GATED>
ts_status LaunchForecastTable(const FcParams& p, cudaStream_t stream) {
  const void* fn = reinterpret_cast<const void*>(&ForecastKernel<S, A, MAXC, GATED>);
  int grid = 0;
  ts_status st = GridFor(fn, p.total_tiles, kThreads, &grid);
  if (st != TS_OK) return st;
  ForecastKernel<S, A, MAXC, GATED><<<grid, kThreads, 0, stream>>>(p);
  return Check(cudaGetLastError(), "forecast kernel launch");
}

template <int S, int A, bool GATED>
ts_status ForecastCount(const FcParams& p, int maxc, cudaStream_t stream) {
  return ts_dispatch::ByCount(maxc, [&](auto k) { return LaunchForecastTable<S, A, decltype(k)::value, GATED>(p, stream); });
}

template <int S, int A>
ts_status ForecastTyped(const FcParams& p, int maxc, bool gated, cudaStream_t stream) {
  return gated ? ForecastCount<S, A, true>(p, maxc, stream) : ForecastCount<S, A, false>(p, maxc, stream);
}

ts_status ForecastDispatch(const FcParams& p, int maxc, bool gated, ts_dtype s, ts_dtype a, cudaStream_t stream) {
  TS_DISPATCH_DTYPES(ForecastTyped, s, a, p, maxc, gated, stream)
  return Fail(TS_ERR_INVALID_ARGUMENT, "forecast: bad dtype");  // RunTable rejects these first
}

namespace {

ts_status RunForecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act, const float* coeffs,
                      int64_t stride, void* stream, const char* fn) {
  bool gated = false;
  return RunTable<FcParams>(
      entries, count, storage, act, fn,
      [&](int32_t first, FcParams* p, int* maxc) {
        return BuildForecastTable(entries, count, first, storage, act, p, maxc, &gated, coeffs, stride);
      },
      [&](const FcParams& p, int maxc) {
        return ForecastDispatch(p, maxc, gated, storage, act, static_cast<cudaStream_t>(stream));
      });
}

}  // namespace
}  // namespace tsk

extern "C" ts_status ts_cuda_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                                      void* stream) {
  return tsk::RunForecast(entries, count, storage, act, nullptr, 0, stream, "ts_cuda_forecast");
}

extern "C" ts_status ts_cuda_forecast_indirect(const ts_forecast_entry* entries, int32_t count, ts_dtype storage,
                                               ts_dtype act, const float* coeffs, int64_t stride, void* stream) {
  const char* fn = "ts_cuda_forecast_indirect";
  const ts_status st = tsk::CheckIndirect(coeffs, stride, fn, "coeffs");
  return st != TS_OK ? st : tsk::RunForecast(entries, count, storage, act, coeffs, stride, stream, fn);
}

// Probed once per process: a device, and a kernel image of this build that runs on it.
extern "C" ts_status ts_cuda_usable(void) {
  using namespace tsk;
  static std::once_flag once;
  static ts_status status = TS_OK;
  static std::string reason;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e == cudaSuccess && n == 0) {
      status = TS_ERR_CUDA;
      reason = "ts_cuda_usable: no CUDA device is present";
      return;
    }
    cudaFuncAttributes attr;
    if (e == cudaSuccess) e = cudaFuncGetAttributes(&attr, ForecastKernel<TS_F32, TS_F32, 1, false>);
    if (e != cudaSuccess) {
      cudaGetLastError();
      status = TS_ERR_CUDA;
      reason = std::string("ts_cuda_usable: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    }
  });
  ClearError();
  return status == TS_OK ? TS_OK : Fail(status, reason);
}
