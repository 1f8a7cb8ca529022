// Fused in-place update: ONE launch updates every entry of a table (see multi_tensor.cuh for the
// work distribution and update_impl.cuh for the per-element math).
#include "dtype_dispatch.h"
#include "launch.cuh"
#include "update_impl.cuh"
#include "validate.h"

namespace tsk {

template <int S, int A, int MAXC>
__global__ void __launch_bounds__(kThreads) UpdateKernel(const __grid_constant__ UpdParams p) {
  static_assert(Unroll<MAXC>::value == (MAXC <= 3 ? 2 : 1), "tile size must match UnrollForCount");
  int hint = 0;
  for (int64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    hint = FindEntry(p, t, hint);
    const UpdEnt& e = p.e[hint];
    UpdateTile<S, A, MAXC>(e, t - e.tile_begin, static_cast<int>(threadIdx.x));
  }
}

// Adds the block's per-thread sums of squares to the entry's stats: warp shuffles, one shared-memory
// pass, one atomicAdd per factor per block. Called block-uniformly (the entry of a tile is the same for
// the whole block), so the barriers are safe.
template <int MAXC>
__device__ void FlushStats(const UpdEnt& e, float* acc) {
  __shared__ float part[kThreads / 32][MAXC];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int i = 0; i < MAXC; ++i) {
    float v = acc[i];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    if (lane == 0) part[warp][i] = v;
    acc[i] = 0.0f;
  }
  __syncthreads();
  if (threadIdx.x < e.count && threadIdx.x < MAXC) {
    float sum = 0.0f;
    for (int w = 0; w < kThreads / 32; ++w) sum += part[w][threadIdx.x];
    atomicAdd(e.stats + threadIdx.x, sum);
  }
  __syncthreads();
}

// The same update, also reducing the norms of the new factors. Sums stay in registers while a block
// works on one entry and are flushed when it moves to another (a few times per launch per block).
template <int S, int A, int MAXC>
__global__ void __launch_bounds__(kThreads) UpdateStatsKernel(const __grid_constant__ UpdParams p) {
  int hint = 0, open = -1;
  float acc[MAXC];
#pragma unroll
  for (int i = 0; i < MAXC; ++i) acc[i] = 0.0f;
  for (int64_t t = blockIdx.x; t < p.total_tiles; t += gridDim.x) {
    hint = FindEntry(p, t, hint);
    if (hint != open) {
      if (open >= 0 && p.e[open].stats) FlushStats<MAXC>(p.e[open], acc);
      open = hint;
    }
    const UpdEnt& e = p.e[hint];
    if (e.stats) UpdateTile<S, A, MAXC, true>(e, t - e.tile_begin, static_cast<int>(threadIdx.x), acc);
    else UpdateTile<S, A, MAXC>(e, t - e.tile_begin, static_cast<int>(threadIdx.x));
  }
  if (open >= 0 && p.e[open].stats) FlushStats<MAXC>(p.e[open], acc);
}

template <int S, int A, int MAXC>
ts_status LaunchUpdateTable(const UpdParams& p, cudaStream_t stream) {
  const void* fn = p.any_stats ? reinterpret_cast<const void*>(&UpdateStatsKernel<S, A, MAXC>)
                               : reinterpret_cast<const void*>(&UpdateKernel<S, A, MAXC>);
  int grid = 0;
  ts_status st = GridFor(fn, p.total_tiles, kThreads, &grid);
  if (st != TS_OK) return st;
  if (p.any_stats) UpdateStatsKernel<S, A, MAXC><<<grid, kThreads, 0, stream>>>(p);
  else UpdateKernel<S, A, MAXC><<<grid, kThreads, 0, stream>>>(p);
  return Check(cudaGetLastError(), "update kernel launch");
}

template <int S, int A>
ts_status UpdateTyped(const UpdParams& p, int maxc, cudaStream_t stream) {
  return ts_dispatch::ByCount(maxc, [&](auto k) { return LaunchUpdateTable<S, A, decltype(k)::value>(p, stream); });
}

ts_status UpdateDispatch(const UpdParams& p, int maxc, ts_dtype s, ts_dtype a, cudaStream_t stream) {
  TS_DISPATCH_DTYPES(UpdateTyped, s, a, p, maxc, stream)
  return Fail(TS_ERR_INVALID_ARGUMENT, "update: bad dtype");  // RunTable rejects these first
}

namespace {

ts_status RunUpdate(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act, const float* divisors,
                    int64_t stride, void* stream, const char* fn) {
  return RunTable<UpdParams>(
      entries, count, storage, act, fn,
      [&](int32_t first, UpdParams* p, int* maxc) {
        return BuildUpdateTable(entries, count, first, storage, act, p, maxc, divisors, stride);
      },
      [&](const UpdParams& p, int maxc) { return UpdateDispatch(p, maxc, storage, act, static_cast<cudaStream_t>(stream)); });
}

}  // namespace
}  // namespace tsk

extern "C" ts_status ts_cuda_update(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                                    void* stream) {
  return tsk::RunUpdate(entries, count, storage, act, nullptr, 0, stream, "ts_cuda_update");
}

extern "C" ts_status ts_cuda_update_indirect(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                                             const float* divisors, int64_t stride, void* stream) {
  const char* fn = "ts_cuda_update_indirect";
  const ts_status st = tsk::CheckIndirect(divisors, stride, fn, "divisors");
  return st != TS_OK ? st : tsk::RunUpdate(entries, count, storage, act, divisors, stride, stream, fn);
}
