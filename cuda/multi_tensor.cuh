// Multi-tensor launches: every entry of a step in ONE kernel launch.
//
// The table (entries with their device pointers, counts and coefficients) is passed by value as a
// __grid_constant__ kernel parameter (Hopper with CUDA >= 12.1 allows 32 KB of parameters; a table of
// kTableCap entries is at most ~15 KB). Larger tables are split into several launches of kTableCap.
//
// Work is cut into tiles of kThreads * unroll vectors (a vector is V elements: 16 bytes of the narrower
// dtype). The host computes each entry's first tile (a prefix sum over the entries' tile counts), so
// blocks are spread over entries in proportion to their size. The grid is persistent (sized from the
// occupancy of the kernel on this device) and walks the global tile space with a grid stride; a block
// finds the entry of a tile by checking the previous tile's entry first and binary-searching the prefix
// sums otherwise (in the spirit of apex's multi_tensor_apply, without its fixed chunk size).
#pragma once
#include <stdint.h>

#include "dtype.cuh"
#include "taylorseer.h"

namespace tsk {

constexpr int kThreads = 256;
constexpr int kTableCap = 128;  // entries per launch: FLUX.1-dev's 114 cached tensors fit one launch

// Vectors per thread per tile: two while the register footprint is small (more bytes in flight per
// thread), one for the high orders whose factors already give several independent loads.
template <int MAXC>
struct Unroll {
  static constexpr int value = MAXC <= 3 ? 2 : 1;
};

enum : int32_t {
  kVec = 1,      // every tensor of the entry allows 16-byte accesses
  kGated = 2,    // forecast: out = residual + gate * y
  kGateVec = 4,  // forecast: the gate allows vector loads (dim % V == 0, gate aligned)
  kDiv64 = 8,    // forecast: n >= 2^32, gate index with 64-bit division
};

struct UpdEnt {
  void* factors;
  const void* fresh;
  float* stats;  // nullptr, or count floats the sums of squares are added to
  const float* div_src;  // nullptr: div below; else count - 1 divisors read when the kernel runs (indirect)
  int64_t n;
  int64_t tile_begin;
  float div[TS_MAX_ORDER];
  int32_t count;  // new_count
  int32_t flags;
};

struct UpdParams {
  int64_t total_tiles;
  int32_t num;
  int32_t any_stats;  // some entry asks for norms: the kernel variant with the reductions runs
  UpdEnt e[kTableCap];
};

struct FcEnt {
  const void* factors;
  void* out;
  const void* residual;
  const void* gate;
  const float* coef_src;  // nullptr: coeffs below; else count coefficients read when the kernel runs (indirect)
  int64_t n;
  int64_t tile_begin;
  int64_t tokens;
  int64_t dim;
  FastDiv dim_div;  // element -> row (b * L + l)
  FastDiv tok_div;  // row -> b
  float coeffs[TS_MAX_FACTORS];
  int32_t count;
  int32_t flags;
};

struct FcParams {
  int64_t total_tiles;
  int32_t num;
  int32_t pad;
  FcEnt e[kTableCap];
};

static_assert(sizeof(UpdParams) <= 32000, "update table must fit the 32 KB kernel-parameter limit");
static_assert(sizeof(FcParams) <= 32000, "forecast table must fit the 32 KB kernel-parameter limit");

// Index of the entry holding global tile t: entries are non-empty and sorted by tile_begin.
template <class P>
TS_HD int FindEntry(const P& p, int64_t t, int hint) {
  if (t >= p.e[hint].tile_begin && (hint + 1 == p.num || t < p.e[hint + 1].tile_begin)) return hint;
  int lo = 0, hi = p.num - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (p.e[mid].tile_begin <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

TS_HD bool Aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Host: fills one table from entries[first..] (empty entries are skipped). Returns the index after the
// last entry consumed; *maxc receives the largest count of the table.
// Tiles use the unroll of the table's largest count (UnrollForCount == Unroll<MAXC>::value).
// `src` (indirect launches): entry i's divisors / coefficients are read from src + i * stride.
int BuildUpdateTable(const ts_update_entry* entries, int32_t count, int32_t first, ts_dtype storage, ts_dtype act,
                     UpdParams* p, int* maxc, const float* src = nullptr, int64_t stride = 0);
int BuildForecastTable(const ts_forecast_entry* entries, int32_t count, int32_t first, ts_dtype storage, ts_dtype act,
                       FcParams* p, int* maxc, bool* gated, const float* src = nullptr, int64_t stride = 0);

// The step's divisors / coefficients of an entry: from the table, or (indirect) from memory, where the
// host may have rewritten them since the launch was recorded (CUDA graph replays).
template <int K>
TS_HD void EntryValues(const float* table, const float* src, int valid, float* v) {
#pragma unroll
  for (int i = 0; i < K; ++i) v[i] = i < valid ? (src ? src[i] : table[i]) : 0.0f;
}

inline int UnrollForCount(int maxc) { return maxc <= 3 ? 2 : 1; }

inline int VecWidthOf(ts_dtype s, ts_dtype a) {
  const int m = DtypeSize(s) < DtypeSize(a) ? DtypeSize(s) : DtypeSize(a);
  return 16 / m;
}

}  // namespace tsk
