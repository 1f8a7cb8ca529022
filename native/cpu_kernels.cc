#include "cpu_kernels.h"

#include <mutex>

#include "environment.h"
#include "thread_pool.h"

namespace ts {

const CpuKernelSet& CpuKernels() {
  static const CpuKernelSet* chosen = [] {
    // TAYLORSEER_CPU_KERNELS=generic takes the portable kernels even where AVX2 is there: they are what arm64
    // and older x86 run, and the tests run them this way.
    if (GenericKernelsRequested()) return &generic::kKernels;
#if defined(__x86_64__) || defined(_M_X64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
      return &avx2::kKernels;
#endif
    return &generic::kKernels;
  }();
  return *chosen;
}

namespace {
// Chunk boundaries on multiples of 1024 elements: whole cache lines for every dtype.
constexpr int64_t kAlign = 1024;
}  // namespace

void CpuUpdate(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  const CpuKernelSet& k = CpuKernels();
  for (int32_t i = 0; i < count; ++i) {
    const ts_update_entry& e = entries[i];
    if (!e.stats) {
      ParallelFor(e.n, kParallelThreshold, kAlign, [&](int64_t b, int64_t en) { k.update(e, storage, act, b, en, nullptr); });
      continue;
    }
    // Each chunk sums into its own doubles; the chunks are combined once (a few per call).
    double total[TS_MAX_FACTORS] = {};
    std::mutex m;
    ParallelFor(e.n, kParallelThreshold, kAlign, [&](int64_t b, int64_t en) {
      double part[TS_MAX_FACTORS] = {};
      k.update(e, storage, act, b, en, part);
      std::lock_guard<std::mutex> lock(m);
      for (int f = 0; f < e.new_count; ++f) total[f] += part[f];
    });
    for (int f = 0; f < e.new_count; ++f) e.stats[f] += static_cast<float>(total[f]);
  }
}

void CpuForecastChain(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  const CpuKernelSet& k = CpuKernels();
  ParallelFor(entries[0].n, kParallelThreshold, kAlign,
              [&](int64_t b, int64_t en) { k.forecast_chain(entries, count, storage, act, b, en); });
}

int64_t CpuFindNonFinite(const void* data, int64_t n, ts_dtype dtype) {
  const CpuKernelSet& k = CpuKernels();
  int64_t first = -1;  // guarded by m; read after ParallelFor has joined every chunk
  std::mutex m;
  ParallelFor(n, kParallelThreshold, kAlign, [&](int64_t b, int64_t en) {
    const int64_t at = k.find_non_finite(data, dtype, b, en);
    if (at < 0) return;
    std::lock_guard<std::mutex> lock(m);
    if (first < 0 || at < first) first = at;
  });
  return first;
}

void CpuForecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  const CpuKernelSet& k = CpuKernels();
  for (int32_t i = 0; i < count; ++i) {
    const ts_forecast_entry& e = entries[i];
    ParallelFor(e.n, kParallelThreshold, kAlign, [&](int64_t b, int64_t en) { k.forecast(e, storage, act, b, en); });
  }
}

void CpuToHalf(const float* src, uint16_t* dst, int64_t n, ts_dtype dtype) {
  const CpuKernelSet& k = CpuKernels();
  ParallelFor(n, kParallelThreshold, kAlign, [&](int64_t b, int64_t e) { k.to_half(src + b, dst + b, e - b, dtype); });
}

void CpuFromHalf(const uint16_t* src, float* dst, int64_t n, ts_dtype dtype) {
  const CpuKernelSet& k = CpuKernels();
  ParallelFor(n, kParallelThreshold, kAlign, [&](int64_t b, int64_t e) { k.from_half(src + b, dst + b, e - b, dtype); });
}

}  // namespace ts
