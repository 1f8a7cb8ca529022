// Fused forecast, plain or with the gated residual add: ONE launch forecasts every entry of a table
// (see multi_tensor.cuh for the work distribution and forecast_impl.cuh for the per-element math).
#include "forecast_impl.cuh"
#include "launch.cuh"

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
  switch (maxc) {
    case 1: return LaunchForecastTable<S, A, 1, GATED>(p, stream);
    case 2: return LaunchForecastTable<S, A, 2, GATED>(p, stream);
    case 3: return LaunchForecastTable<S, A, 3, GATED>(p, stream);
    case 4: return LaunchForecastTable<S, A, 4, GATED>(p, stream);
    default: return LaunchForecastTable<S, A, 5, GATED>(p, stream);
  }
}

template <int S, int A>
ts_status ForecastTyped(const FcParams& p, int maxc, bool gated, cudaStream_t stream) {
  return gated ? ForecastCount<S, A, true>(p, maxc, stream) : ForecastCount<S, A, false>(p, maxc, stream);
}

ts_status ForecastDispatch(const FcParams& p, int maxc, bool gated, ts_dtype s, ts_dtype a, cudaStream_t stream) {
  switch (s * 3 + a) {
    case 0: return ForecastTyped<TS_F32, TS_F32>(p, maxc, gated, stream);
    case 1: return ForecastTyped<TS_F32, TS_F16>(p, maxc, gated, stream);
    case 2: return ForecastTyped<TS_F32, TS_BF16>(p, maxc, gated, stream);
    case 3: return ForecastTyped<TS_F16, TS_F32>(p, maxc, gated, stream);
    case 4: return ForecastTyped<TS_F16, TS_F16>(p, maxc, gated, stream);
    case 5: return ForecastTyped<TS_F16, TS_BF16>(p, maxc, gated, stream);
    case 6: return ForecastTyped<TS_BF16, TS_F32>(p, maxc, gated, stream);
    case 7: return ForecastTyped<TS_BF16, TS_F16>(p, maxc, gated, stream);
    default: return ForecastTyped<TS_BF16, TS_BF16>(p, maxc, gated, stream);
  }
}

ts_status ValidateForecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  if (count < 0 || (count > 0 && !entries)) return Fail(TS_ERR_INVALID_ARGUMENT, "ts_cuda_forecast: bad entry table");
  if (!ValidDtype(storage) || !ValidDtype(act)) return Fail(TS_ERR_INVALID_ARGUMENT, "ts_cuda_forecast: bad dtype");
  for (int32_t i = 0; i < count; ++i) {
    const ts_forecast_entry& e = entries[i];
    const std::string at = "ts_cuda_forecast: entry " + std::to_string(i) + ": ";
    if (e.n < 0) return Fail(TS_ERR_INVALID_ARGUMENT, at + "n < 0");
    if (e.count < 1 || e.count > TS_MAX_FACTORS) return Fail(TS_ERR_INVALID_ARGUMENT, at + "count out of range");
    if (e.n > 0 && (!e.factors || !e.out)) return Fail(TS_ERR_INVALID_ARGUMENT, at + "null pointer");
    if (e.gate) {
      if (e.tokens < 1 || e.dim < 1 || e.dim > 0xffffffffll || e.tokens > 0xffffffffll)
        return Fail(TS_ERR_INVALID_ARGUMENT, at + "tokens / dim out of range");
      if (e.n % (e.tokens * e.dim) != 0) return Fail(TS_ERR_INVALID_ARGUMENT, at + "n is not a multiple of tokens * dim");
    }
  }
  return TS_OK;
}

}  // namespace tsk

extern "C" ts_status ts_cuda_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                                      void* stream) {
  using namespace tsk;
  ClearError();
  ts_status st = ValidateForecast(entries, count, storage, act);
  if (st != TS_OK) return st;
  FcParams p;
  int32_t next = 0;
  while (next < count) {
    int maxc = 1;
    bool gated = false;
    next = BuildForecastTable(entries, count, next, storage, act, &p, &maxc, &gated);
    if (p.num == 0) continue;
    st = ForecastDispatch(p, maxc, gated, storage, act, static_cast<cudaStream_t>(stream));
    if (st != TS_OK) return st;
  }
  return TS_OK;
}
