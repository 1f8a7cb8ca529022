// The CPU twins of the CUDA kernels (semantics in cuda/taylorseer.h). Each kernel is compiled twice,
// for AVX2+F16C+FMA and for baseline x86-64 (or the host's baseline elsewhere); the best one the
// processor supports is picked once at load (TAYLORSEER_CPU_KERNELS=generic forces the baseline one).
#pragma once
#include <cstdint>

#include "../cuda/taylorseer.h"

namespace ts {

struct CpuKernelSet {
  const char* name;  // e.g. "avx2+f16c"
  int vector_bits;
  // Process elements [begin, end) of one entry. `sums` (new_count doubles, or nullptr) receives the range's
  // sums of squares of the new factors (added to).
  void (*update)(const ts_update_entry& e, ts_dtype storage, ts_dtype act, int64_t begin, int64_t end, double* sums);
  void (*forecast)(const ts_forecast_entry& e, ts_dtype storage, ts_dtype act, int64_t begin, int64_t end);
  void (*to_half)(const float* src, uint16_t* dst, int64_t n, ts_dtype dtype);
  void (*from_half)(const uint16_t* src, float* dst, int64_t n, ts_dtype dtype);
  // Gated chain over elements [begin, end): out = residual + sum over entries (in order) of gate_e * y_e;
  // every entry shares out, residual, n, tokens and dim.
  void (*forecast_chain)(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act, int64_t begin, int64_t end);
  // Index of the first non-finite element in [begin, end), or -1.
  int64_t (*find_non_finite)(const void* data, ts_dtype dtype, int64_t begin, int64_t end);
};

namespace generic {
extern const CpuKernelSet kKernels;
}
#if defined(__x86_64__) || defined(_M_X64)
namespace avx2 {
extern const CpuKernelSet kKernels;
}
#endif

const CpuKernelSet& CpuKernels();

// Entry count below which a call is not split across the pool (the split costs a few microseconds).
constexpr int64_t kParallelThreshold = 1 << 15;

// Whole-table operations, parallel over each entry's elements. Arguments must already be validated.
// CpuUpdate adds to e.stats where an entry has them (see taylorseer.h).
void CpuUpdate(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
void CpuForecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
void CpuToHalf(const float* src, uint16_t* dst, int64_t n, ts_dtype dtype);
void CpuFromHalf(const uint16_t* src, float* dst, int64_t n, ts_dtype dtype);
// The gated forecasts of several entries into one residual stream in ONE pass over it: h is read and
// written once instead of once per entry. Per element the entries are applied in order with f32
// arithmetic, so f32 results equal those of the entries applied one call at a time. Validated arguments.
void CpuForecastChain(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
// Index of the first NaN or infinite element of a host tensor of `dtype`, or -1 (parallel scan).
int64_t CpuFindNonFinite(const void* data, int64_t n, ts_dtype dtype);

}  // namespace ts
