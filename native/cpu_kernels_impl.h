// Kernel bodies, included once per instruction set with TS_ISA naming the namespace (see
// cpu_kernels_avx2.cc, cpu_kernels_generic.cc). Each element of every tensor is read or written in memory
// exactly once. The staged form goes through small L1-resident f32 blocks, each inner loop a plain loop
// the compiler vectorises; the AVX2 build runs the update and the plain forecast fused in registers
// instead (below), with the same arithmetic.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "../cuda/dtype_dispatch.h"
#include "cpu_kernels.h"
#include "half.h"

#if TS_USE_F16C
#include <immintrin.h>
#endif

namespace ts {
namespace TS_ISA {
namespace {

constexpr int kBlock = 2048;

// Local, not std::min: a template instantiated in this ISA-specific file must not be merged by the
// linker with the baseline file's copy.
inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }

// a * b + y, rounded once where the processor has an FMA (this AVX2 build, arm64) and twice where it has
// none (SSE2). Written out rather than left to the compiler's contraction: GCC 12 fused some of these sums
// and not others, differently in each build (the AVX2 update's scalar tails stayed unfused, one of the
// staged sums on arm64 too), and the factor norms differed in the last bit. Now every build with an FMA
// gives the same bits (test/arm64.test.ts).
#if TS_USE_F16C || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
inline float MulAdd(float a, float b, float y) { return std::fma(a, b, y); }
#else
inline float MulAdd(float a, float b, float y) { return a * b + y; }
#endif

// Io<D>: Load converts m values of D into f32 staging, Store converts back, View returns f32 values to read
// (the data itself for f32, else converted into the given staging buffer).
template <ts_dtype D>
struct Io;

template <ts_dtype D>
inline const float* ViewOf(const typename Io<D>::T* s, float* staging, int m) {
  if constexpr (D == TS_F32) {
    return s;
  } else {
    Io<D>::Load(s, staging, m);
    return staging;
  }
}

template <>
struct Io<TS_F32> {
  using T = float;
  static void Load(const float* __restrict s, float* __restrict d, int m) {
    for (int k = 0; k < m; ++k) d[k] = s[k];
  }
  static void Store(const float* __restrict s, float* __restrict d, int m) {
    for (int k = 0; k < m; ++k) d[k] = s[k];
  }
};

template <>
struct Io<TS_BF16> {
  using T = uint16_t;
  static void Load(const uint16_t* __restrict s, float* __restrict d, int m) {
    for (int k = 0; k < m; ++k) d[k] = Bf16ToFloat(s[k]);
  }
  static void Store(const float* __restrict s, uint16_t* __restrict d, int m) {
    for (int k = 0; k < m; ++k) d[k] = FloatToBf16(s[k]);
  }
};

template <>
struct Io<TS_F16> {
  using T = uint16_t;
  static void Load(const uint16_t* __restrict s, float* __restrict d, int m) {
    int k = 0;
#if TS_USE_F16C
    for (; k + 8 <= m; k += 8)
      _mm256_storeu_ps(d + k, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + k))));
#endif
    for (; k < m; ++k) d[k] = HalfToFloat(s[k]);
  }
  static void Store(const float* __restrict s, uint16_t* __restrict d, int m) {
    int k = 0;
#if TS_USE_F16C
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(65504.0f), inf = _mm256_set1_ps(INFINITY);
    for (; k + 8 <= m; k += 8) {
      __m256 x = _mm256_loadu_ps(s + k);
      // Saturation (see half.h): finite |x| > 65504 becomes +-65504; ordered compares leave NaN alone.
      const __m256 a = _mm256_andnot_ps(sign, x);
      const __m256 sat = _mm256_and_ps(_mm256_cmp_ps(a, big, _CMP_GT_OQ), _mm256_cmp_ps(a, inf, _CMP_LT_OQ));
      x = _mm256_blendv_ps(x, _mm256_or_ps(_mm256_and_ps(x, sign), big), sat);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + k), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
#endif
    for (; k < m; ++k) d[k] = FloatToHalf(s[k]);
  }
};

// 8-bit factors (TS_I8, layout in taylorseer.h): a position inside a factor's records. Loads may start
// anywhere (a gated forecast's blocks follow batch rows); stores start on a record.
struct Q8Ptr {
  ts_q8_block* b;
  int64_t o;  // element within *b, 0 <= o < TS_Q8_BLOCK
};

// Round to nearest even for |v| <= 2^22 without a call: the add rounds in the FPU's default mode.
inline float RoundEven(float v) { return (v + 12582912.0f) - 12582912.0f; }

#if TS_USE_F16C
// 32-bit values to 8 bits with saturating packs (INT_MIN becomes -128), then raised to at least -127: the
// packs interleave 128-bit lanes, the permute puts the four 8-byte groups back in order.
inline void PackQ8(const __m256i (&q)[8], int8_t* __restrict d) {
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7), lo = _mm256_set1_epi8(-127);
  for (int k = 0; k < 8; k += 4) {
    const __m256i a = _mm256_packs_epi32(q[k], q[k + 1]);
    const __m256i b = _mm256_packs_epi32(q[k + 2], q[k + 3]);
    const __m256i c = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), perm);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 8 * k), _mm256_max_epi8(c, lo));
  }
}

// A whole record (its 64 values in registers) with AVX2, the same values as the scalar form below:
// max_ps(a, m) keeps m where a is NaN (like the ternary), NaN quantises to -127 (through PackQ8), and the
// conversion rounds to nearest even (the default rounding mode, which RoundEven assumes too).
inline void QuantiseRegs(const __m256 (&x)[8], ts_q8_block* __restrict d) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int k = 0; k < 8; ++k) m = _mm256_max_ps(_mm256_andnot_ps(sign, x[k]), m);
  __m128 h = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
  h = _mm_max_ps(_mm_movehl_ps(h, h), h);
  h = _mm_max_ss(_mm_movehdup_ps(h), h);
  // mx / 127 and 127 / mx in one division
  const __m128 k127 = _mm_set_ss(127.0f);
  const __m128 r = _mm_div_ps(_mm_unpacklo_ps(h, k127), _mm_unpacklo_ps(k127, h));
  const float mx = _mm_cvtss_f32(h);
  d->scale = _mm_cvtss_f32(r);
  const float inv = mx > 0.0f ? _mm_cvtss_f32(_mm_movehdup_ps(r)) : 0.0f;
  const __m256 iv = _mm256_set1_ps(inv);
  __m256i q[8];
  if (inv < INFINITY) {
    // |x| <= mx, so |x * inv| <= 127 (1 + 2^-23) converts into [-127, 127] with no clamp (without them
    // the order-2 update takes 0.85x the time); NaN (an infinity times inv = 0 too) converts to INT_MIN.
    for (int k = 0; k < 8; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(x[k], iv));
  } else {
    // mx below 127 / FLT_MAX: x * inv overflows, so clamp first.
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (int k = 0; k < 8; ++k) q[k] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(x[k], iv), lo), hi));
  }
  PackQ8(q, d->q);
}

inline void QuantiseRecord(const float* __restrict s, ts_q8_block* __restrict d) {
  __m256 x[8];
  for (int k = 0; k < 8; ++k) x[k] = _mm256_loadu_ps(s + 8 * k);
  QuantiseRegs(x, d);
}

// 8 int8 values -> f32
inline __m256 Q8Load8(const int8_t* q) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q))));
}
#endif

// One record's quantisation (taylorseer.h).
inline void QuantiseBlock(const float* __restrict s, ts_q8_block* __restrict d, int len) {
#if TS_USE_F16C
  if (len == TS_Q8_BLOCK) return QuantiseRecord(s, d);
#endif
  float m = 0.0f;
  for (int t = 0; t < len; ++t) {
    const float a = std::fabs(s[t]);
    m = a > m ? a : m;  // a NaN compares false: ignored
  }
  const float inv = m > 0.0f ? 127.0f / m : 0.0f;
  d->scale = m / 127.0f;
  for (int t = 0; t < len; ++t) {
    float v = s[t] * inv;
    v = v >= -127.0f ? v : -127.0f;  // NaN -> -127
    v = v <= 127.0f ? v : 127.0f;
    d->q[t] = static_cast<int8_t>(static_cast<int>(RoundEven(v)));
  }
  for (int t = len; t < TS_Q8_BLOCK; ++t) d->q[t] = 0;
}

template <>
struct Io<TS_I8> {
  using T = ts_q8_block;
  static void Load(Q8Ptr s, float* __restrict d, int m) {
    const ts_q8_block* b = s.b;
    int o = static_cast<int>(s.o);
    for (int k = 0; k < m; ++b, o = 0) {
      const int len = static_cast<int>(Min(TS_Q8_BLOCK - o, m - k));
      const float sc = b->scale;
      int t = 0;
#if TS_USE_F16C
      const __m256 sv = _mm256_set1_ps(sc);
      for (; t + 8 <= len; t += 8) _mm256_storeu_ps(d + k + t, _mm256_mul_ps(Q8Load8(b->q + o + t), sv));
#endif
      for (; t < len; ++t) d[k + t] = static_cast<float>(b->q[o + t]) * sc;
      k += len;
    }
  }
  static void Store(const float* __restrict s, Q8Ptr d, int m) {
    ts_q8_block* b = d.b;
    for (int k = 0; k < m; k += TS_Q8_BLOCK, ++b) QuantiseBlock(s + k, b, static_cast<int>(Min(TS_Q8_BLOCK, m - k)));
  }
};

// The dtype d_0 is stored in: S itself, or bf16 beside 8-bit differences (TS_I8, taylorseer.h).
template <ts_dtype S>
constexpr ts_dtype kD0 = S == TS_I8 ? TS_BF16 : S;

// Where element j of factor i of an entry of n elements lives; for TS_I8 only the differences, i >= 1
// (d_0: D0At).
template <ts_dtype S>
inline auto FactorAt(const void* base, int64_t i, int64_t n, int64_t j) {
  if constexpr (S == TS_I8) {
    char* f = static_cast<char*>(const_cast<void*>(base)) + ts_i8_d0_bytes(n) + (i - 1) * ts_q8_factor_bytes(n);
    return Q8Ptr{reinterpret_cast<ts_q8_block*>(f) + j / TS_Q8_BLOCK, j % TS_Q8_BLOCK};
  } else {
    using T = typename Io<S>::T;
    return static_cast<T*>(const_cast<void*>(base)) + i * n + j;
  }
}

// Element j of d_0 (dtype kD0<S>), the first thing in every entry's factors.
template <ts_dtype S>
inline typename Io<kD0<S>>::T* D0At(const void* base, int64_t j) {
  return static_cast<typename Io<kD0<S>>::T*>(const_cast<void*>(base)) + j;
}

// Running sums of squares in 32 independent f32 lanes (four AVX2 registers): without -ffast-math the
// compiler keeps one dependency chain per lane, and a single register's chain (one FMA latency per 8
// elements) cost 10-19% of the update's time; four chains keep up with the loads.
constexpr int kLanes = 32;
struct Lanes {
  float v[kLanes] = {};
  double Total() const {
    double t = 0.0;
    for (int l = 0; l < kLanes; ++l) t += v[l];
    return t;
  }
};

// The sums below run in a local copy of their lanes when there is one sum (measured: the order-3 update's
// norms cost 6% -> 3.5% at 64 MiB); the first difference's two sums (d_0 and d_1) stay in place, which
// measured faster for them (local copies: order 1 4% -> 5.6%).
inline void AddSquares(const float* __restrict x, int m, Lanes& acc) {
  Lanes a = acc;
  int k = 0;
  for (; k + kLanes <= m; k += kLanes)
    for (int l = 0; l < kLanes; ++l) a.v[l] = MulAdd(x[k + l], x[k + l], a.v[l]);
  for (; k < m; ++k) a.v[k % kLanes] = MulAdd(x[k], x[k], a.v[k % kLanes]);
  acc = a;
}

// The largest finite value of storage dtype S: stored factors saturate there (half.h).
template <ts_dtype S>
constexpr float StorageMax() {
  return S == TS_F16 ? kHalfMax : S == TS_BF16 ? kBf16Max : kFloatMax;
}

// d_0 as stored (before it is stored and differenced): beyond S's range it saturates. f32: nothing to do.
template <ts_dtype S>
inline void SaturateBlock(float* __restrict v, int m) {
  if constexpr (S != TS_F32)
    for (int k = 0; k < m; ++k) v[k] = StoredValue(v[k], StorageMax<S>());
}

// StoredDifference (half.h) without branches, so that the loops calling it vectorise; the same values.
inline float SaturatedDifference(float c, float o, float dv, float max) {
  const float v = (c - o) / dv;
  const bool sat = (std::fabs(v) > max) & (std::fabs(c) < INFINITY) & (std::fabs(o) < INFINITY);
  return sat ? std::copysign(max, v) : v;
}

// cur = (cur - old) / dv, saturated to storage S's range (StoredDifference), with the squares of the new
// values added to acc when STATS, and (IN) the squares of the values cur held before, into in: d_0's squares
// come with the first difference's pass. SWAP: old is d_i itself (f32 storage) and takes cur's values in
// the same pass.
template <ts_dtype S, bool STATS, bool IN, bool SWAP>
inline void Difference(float* __restrict cur, float* __restrict old, float dv, int m, Lanes& acc, Lanes* in = nullptr) {
  Lanes local = acc, unused;
  Lanes& a = IN ? acc : local;
  Lanes& b = IN ? *in : unused;
  int k = 0;
  for (; k + kLanes <= m; k += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const float c = cur[k + l];
      const float o = old[k + l];
      const float v = SaturatedDifference(c, o, dv, StorageMax<S>());
      if (SWAP) old[k + l] = c;
      cur[k + l] = v;
      if (STATS) a.v[l] = MulAdd(v, v, a.v[l]);
      if (IN) b.v[l] = MulAdd(c, c, b.v[l]);
    }
  for (; k < m; ++k) {
    const float c = cur[k];
    const float o = old[k];
    const float v = SaturatedDifference(c, o, dv, StorageMax<S>());
    if (SWAP) old[k] = c;
    cur[k] = v;
    if (STATS) a.v[k % kLanes] = MulAdd(v, v, a.v[k % kLanes]);
    if (IN) b.v[k % kLanes] = MulAdd(c, c, b.v[k % kLanes]);
  }
  if (STATS && !IN) acc = local;
}

// Factor i of the update of one block: stores cur (the new d_i) into di, of storage FS, and unless it is
// the last leaves the next difference in cur, saturated to S (the storage of the differences).
template <ts_dtype FS, ts_dtype S, bool STATS, typename P>
inline void UpdateFactor(P di, int i, bool last, float* __restrict cur, float* __restrict old, float dv, int m, Lanes* acc) {
  if (last) {
    Io<FS>::Store(cur, di, m);
    return;
  }
  // f32: one pass reads old d_i, writes the new one and leaves the next difference in cur (16-bit
  // storage stages through L1: fused, bf16 measured slower, 0.30 -> 0.35 ms per 1 MiB-element update)
  constexpr bool kSwap = FS == TS_F32;
  float* prev = old;
  if constexpr (kSwap) {
    prev = reinterpret_cast<float*>(di);
  } else {
    Io<FS>::Load(di, old, m);  // old d_i, read before it is overwritten
    Io<FS>::Store(cur, di, m);
  }
  if (STATS && i == 0)
    Difference<S, true, true, kSwap>(cur, prev, dv, m, acc[1], &acc[0]);
  else
    Difference<S, STATS, false, kSwap>(cur, prev, dv, m, acc[i + 1]);
}

template <ts_dtype S, ts_dtype A, int NEW, bool STATS>
void UpdateRange(const ts_update_entry& e, int64_t begin, int64_t end, double* sums) {
  using AT = typename Io<A>::T;
  const AT* fresh = static_cast<const AT*>(e.fresh);
  const int64_t n = e.n;
  alignas(64) float cur[kBlock];
  alignas(64) float old[kBlock];
  Lanes acc[NEW];
  for (int64_t j = begin; j < end; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, end - j));
    Io<A>::Load(fresh + j, cur, m);
    SaturateBlock<kD0<S>>(cur, m);
    if (STATS && NEW == 1) AddSquares(cur, m, acc[0]);
    // divisors[i] exists for i < NEW - 1 only (the last factor takes no difference)
    UpdateFactor<kD0<S>, S, STATS>(D0At<S>(e.factors, j), 0, NEW == 1, cur, old, NEW == 1 ? 1.0f : e.divisors[0], m, acc);
    for (int i = 1; i < NEW; ++i)
      UpdateFactor<S, S, STATS>(FactorAt<S>(e.factors, i, n, j), i, i + 1 == NEW, cur, old, i + 1 == NEW ? 1.0f : e.divisors[i], m, acc);
    // f32 lanes within a block, f64 across blocks
    if (STATS)
      for (int i = 0; i < NEW; ++i) {
        sums[i] += acc[i].Total();
        acc[i] = Lanes();
      }
  }
}

template <ts_dtype D>
int64_t FindNonFiniteTyped(const void* data, int64_t begin, int64_t end) {
  using T = typename Io<D>::T;
  const T* p = static_cast<const T*>(data);
  alignas(64) float v[kBlock];
  for (int64_t j = begin; j < end; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, end - j));
    Io<D>::Load(p + j, v, m);
    // x * 0 is 0 for finite x and NaN for NaN and +-Inf: one vectorisable test per block.
    for (int k = 0; k < m; ++k) v[k] *= 0.0f;
    Lanes probe;
    AddSquares(v, m, probe);
    if (probe.Total() != 0.0)
      for (int k = 0; k < m; ++k)
        if (!(v[k] == 0.0f)) return j + k;
  }
  return -1;
}

// Outputs this large are written with non-temporal stores: they would evict the factors from cache
// anyway, and streaming skips the read-for-ownership of every output line (a third more traffic).
constexpr int64_t kStreamElements = int64_t{8} << 20;

// Streams an f32 block to 32-byte-aligned memory; returns false (nothing written) where it cannot.
inline bool StoreStream(const float* __restrict s, float* __restrict d, int m) {
#if TS_USE_F16C
  if ((reinterpret_cast<uintptr_t>(d) & 31) != 0 || (m & 7) != 0) return false;
  for (int k = 0; k < m; k += 8) _mm256_stream_ps(d + k, _mm256_loadu_ps(s + k));
  return true;
#else
  (void)s, (void)d, (void)m;
  return false;
#endif
}

inline void StreamFence() {
#if TS_USE_F16C
  _mm_sfence();
#endif
}

// out[k] = r[k] + gate[(col + k) % dim] * y[k] for k < m: a block of a gated tensor that stays within one
// batch row, its gate row starting at gate_row. Whole blocks instead of dim-long segments keep each stream
// of the kernels contiguous for longer (dim is often 256 or less).
template <ts_dtype A>
inline void GatedSum(const typename Io<A>::T* gate_row, int64_t col, int64_t dim, const float* r, const float* y, float* out, float* g, int m) {
  for (int k = 0; k < m;) {
    const int64_t c = (col + k) % dim;
    const int len = static_cast<int>(Min(dim - c, static_cast<int64_t>(m - k)));
    const float* gv = ViewOf<A>(gate_row + c, g, len);
    for (int t = 0; t < len; ++t) out[k + t] = MulAdd(gv[t], y[k + t], r[k + t]);
    k += len;
  }
}

template <ts_dtype D>
inline float ToFloat(typename Io<D>::T v) {
  if constexpr (D == TS_F32) return v;
  else if constexpr (D == TS_BF16) return Bf16ToFloat(v);
  else return HalfToFloat(v);
}

// y = c * x (INIT) or y += c * x over m values of D, converted as they are read: a staging pass through
// L1 made the 16-bit forecasts compute-bound (bf16 chain 1.83 ms where f32 took 2.4 for twice the bytes).
// 8-bit: per record one coefficient c * scale, then y = fma(c * scale, q, y) (taylorseer.h).
template <bool INIT>
inline void AxpyQ8(Q8Ptr x, float c, float* __restrict y, int m) {
  const ts_q8_block* b = x.b;
  int o = static_cast<int>(x.o);
  for (int k = 0; k < m; ++b, o = 0) {
    const int len = static_cast<int>(Min(TS_Q8_BLOCK - o, m - k));
    const float cs = c * b->scale;
    const int8_t* q = b->q + o;
    float* yk = y + k;
    int t = 0;
#if TS_USE_F16C
    const __m256 cv = _mm256_set1_ps(cs);
    for (; t + 8 <= len; t += 8) {
      const __m256 v = Q8Load8(q + t);
      _mm256_storeu_ps(yk + t, INIT ? _mm256_mul_ps(cv, v) : _mm256_fmadd_ps(cv, v, _mm256_loadu_ps(yk + t)));
    }
#endif
    for (; t < len; ++t) yk[t] = INIT ? cs * static_cast<float>(q[t]) : MulAdd(cs, static_cast<float>(q[t]), yk[t]);
    k += len;
  }
}

template <ts_dtype D, bool INIT>
inline void Axpy(const typename Io<D>::T* __restrict x, float c, float* __restrict y, int m) {
  int k = 0;
#if TS_USE_F16C
  if constexpr (D == TS_F16) {
    const __m256 cv = _mm256_set1_ps(c);
    for (; k + 8 <= m; k += 8) {
      const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + k)));
      _mm256_storeu_ps(y + k, INIT ? _mm256_mul_ps(cv, v) : _mm256_fmadd_ps(cv, v, _mm256_loadu_ps(y + k)));
    }
  }
#endif
  for (; k < m; ++k) {
    const float v = ToFloat<D>(x[k]);
    y[k] = INIT ? c * v : MulAdd(c, v, y[k]);
  }
}

// y (+)= c * factor i over [j, j + m), whatever the storage.
template <ts_dtype S, bool INIT>
inline void AxpyAt(const void* factors, int64_t i, int64_t n, int64_t j, float c, float* __restrict y, int m) {
  if (i == 0) Axpy<kD0<S>, INIT>(D0At<S>(factors, j), c, y, m);
  else if constexpr (S == TS_I8) AxpyQ8<INIT>(FactorAt<S>(factors, i, n, j), c, y, m);
  else Axpy<S, INIT>(FactorAt<S>(factors, i, n, j), c, y, m);
}

template <ts_dtype S, ts_dtype A, int COUNT, bool GATED>
void ForecastRange(const ts_forecast_entry& e, int64_t begin, int64_t end) {
  using AT = typename Io<A>::T;
  AT* out = static_cast<AT*>(e.out);
  const AT* residual = static_cast<const AT*>(e.residual ? e.residual : e.out);
  const AT* gate = static_cast<const AT*>(e.gate);
  const int64_t n = e.n;
  const int64_t dim = GATED ? e.dim : 1;
  const int64_t row = GATED ? e.tokens * e.dim : n;
  alignas(64) float acc[kBlock];
  alignas(64) float tmp[kBlock];
  alignas(64) float g[kBlock];
  const bool stream = A == TS_F32 && !GATED && n >= kStreamElements;
  for (int64_t j = begin; j < end;) {
    // Gated: a block never crosses a batch row, so it uses one row of the gate.
    const int m = static_cast<int>(Min(Min(static_cast<int64_t>(kBlock), row - j % row), end - j));
    AxpyAt<S, true>(e.factors, 0, n, j, e.coeffs[0], acc, m);
    for (int i = 1; i < COUNT; ++i) AxpyAt<S, false>(e.factors, i, n, j, e.coeffs[i], acc, m);
    if (GATED) GatedSum<A>(gate + (j / row) * dim, j % dim, dim, ViewOf<A>(residual + j, tmp, m), acc, acc, g, m);
    if (!(stream && StoreStream(acc, reinterpret_cast<float*>(out + j), m))) Io<A>::Store(acc, out + j, m);
    j += m;
  }
  if (stream) StreamFence();
}

#if TS_USE_F16C
// Fused AVX2 kernels: every factor of 8 elements (a record of 64 for 8-bit factors) goes through the whole
// update or forecast in registers, one pass over memory and none through L1 staging (the staged form
// above was compute-bound: 0.85 ns per element for a bf16 order-1 update held in L2, measured). The
// arithmetic is that of the staged form operation for operation, so the results are the same bits: the
// differences divide, y (+)= c * x is one FMA (as the staged loops contract it), the sums of squares keep
// the same 32 lanes per 2048-element block. The generic build keeps the staged form.

// 8 values of D as f32, and back (the conversions of Io<D>, same rounding and saturation).
template <ts_dtype D>
inline __m256 Load8(const typename Io<D>::T* p) {
  if constexpr (D == TS_F32) {
    return _mm256_loadu_ps(p);
  } else if constexpr (D == TS_F16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
}

// FloatToBf16 (half.h) on 8 lanes: round to nearest even, NaN kept quiet, finite overflow saturated.
// IN_RANGE: x is already within bf16's range or not finite (see Store8), so nothing can overflow.
template <bool IN_RANGE = false>
inline __m128i Bf16Bits8(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i exp = _mm256_set1_epi32(0x7f800000);
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i hi = _mm256_srli_epi32(u, 16);
  const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  if constexpr (!IN_RANGE) {
    const __m256i top = _mm256_cmpeq_epi32(_mm256_and_si256(r, _mm256_set1_epi32(0x7fff)), _mm256_set1_epi32(0x7f80));
    r = _mm256_add_epi32(r, _mm256_and_si256(_mm256_cmpgt_epi32(exp, a), top));  // overflow: - 1
  }
  // NaN: its top half, made quiet; blended only in a vector holding one (0.9-0.95x the bf16 update's time)
  const __m256i nan = _mm256_cmpgt_epi32(a, exp);
  if (!_mm256_testz_si256(nan, nan)) r = _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

// IN_RANGE: x was saturated to D's range already (Saturate8, Difference8: finite values clamped, others
// kept), so no value can round past the largest finite one and the overflow handling is left out: the
// same bits, fewer instructions in the updates, which are bound by them.
template <ts_dtype D, bool IN_RANGE = false>
inline void Store8(typename Io<D>::T* p, __m256 x) {
  if constexpr (D == TS_F32) {
    _mm256_storeu_ps(p, x);
  } else if constexpr (D == TS_F16) {
    if constexpr (!IN_RANGE) {
      const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(65504.0f), inf = _mm256_set1_ps(INFINITY);
      const __m256 a = _mm256_andnot_ps(sign, x);
      const __m256 sat = _mm256_and_ps(_mm256_cmp_ps(a, big, _CMP_GT_OQ), _mm256_cmp_ps(a, inf, _CMP_LT_OQ));
      x = _mm256_blendv_ps(x, _mm256_or_ps(_mm256_and_ps(x, sign), big), sat);
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), Bf16Bits8<IN_RANGE>(x));
  }
}

template <ts_dtype D>
inline void StoreScalar(typename Io<D>::T* p, float v) {
  if constexpr (D == TS_F32) *p = v;
  else if constexpr (D == TS_BF16) *p = FloatToBf16(v);
  else *p = FloatToHalf(v);
}

// x[0..count) broadcast to 8 lanes each (count <= K): an entry's coefficients or divisors in a vector loop.
template <int K>
struct Splat8 {
  __m256 v[K];
  Splat8(const float* x, int count) {
    for (int i = 0; i < count; ++i) v[i] = _mm256_set1_ps(x[i]);
  }
  __m256 operator[](int i) const { return v[i]; }
};

// min(max, max(-max, v)): max_ps and min_ps return their second operand where one is NaN, so NaN passes.
inline __m256 Clamp8(__m256 v, __m256 max) {
  return _mm256_min_ps(max, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), max), v));
}

// True when no lane of |v| is beyond S's largest finite value (a NaN compares false): then the clamps
// below change nothing and are skipped. They are rare, and skipping them took the bf16 update to 0.7x its
// time, i8 to 0.8x (order 2, same bits).
template <ts_dtype S>
inline bool WithinRange8(__m256 a) {
  return _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_set1_ps(StorageMax<S>()), _CMP_GT_OQ)) == 0;
}

// StoredValue(v, StorageMax<S>()): finite values clamped, infinities and NaN kept. f32: nothing to do.
template <ts_dtype S>
inline __m256 Saturate8(__m256 v) {
  if constexpr (S == TS_F32) {
    return v;
  } else {
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    if (WithinRange8<S>(a)) return v;
    return _mm256_blendv_ps(v, Clamp8(v, _mm256_set1_ps(StorageMax<S>())), _mm256_cmp_ps(a, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
  }
}

// SaturatedDifference: (c - o) / dv, clamped where c and o are finite. Where c or o is NaN the quotient is
// NaN and the clamp keeps it, so the max below may ignore a NaN operand.
template <ts_dtype S>
inline __m256 Difference8(__m256 c, __m256 o, __m256 dv) {
  const __m256 v = _mm256_div_ps(_mm256_sub_ps(c, o), dv);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  if constexpr (S != TS_F32)  // f32 keeps the blend: its update waits on memory, and the branch cost it 5%
    if (WithinRange8<S>(_mm256_andnot_ps(sign, v))) return v;
  const __m256 big = _mm256_max_ps(_mm256_andnot_ps(sign, c), _mm256_andnot_ps(sign, o));
  return _mm256_blendv_ps(v, Clamp8(v, _mm256_set1_ps(StorageMax<S>())), _mm256_cmp_ps(big, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
}

// Sums of squares of up to TS_MAX_FACTORS new factors in the staged form's lanes: element k of a block
// adds into lane k % 32, vector u of each 32 elements into lanes [8u, 8u + 8).
template <int NEW, bool STATS>
struct SquareSums {
  __m256 v[STATS ? NEW : 1][4];
  SquareSums() {
    for (auto& f : v)
      for (auto& l : f) l = _mm256_setzero_ps();
  }
  void Add(int i, int u, __m256 x) {
    if constexpr (STATS) v[i][u] = _mm256_fmadd_ps(x, x, v[i][u]);
  }
  // The block's lanes, for the scalar tail to continue.
  void Spill(Lanes* lanes) const {
    if constexpr (STATS)
      for (int i = 0; i < NEW; ++i)
        for (int u = 0; u < 4; ++u) _mm256_storeu_ps(lanes[i].v + 8 * u, v[i][u]);
  }
};

// The update of one element, scalar: the tail of a range (fewer than 32 elements).
template <ts_dtype S, ts_dtype A, int NEW, bool STATS>
inline void UpdateElement(const ts_update_entry& e, int64_t x, int lane, Lanes* lanes) {
  using ST = typename Io<S>::T;
  ST* f = static_cast<ST*>(e.factors) + x;
  float cur = ToFloat<A>(static_cast<const typename Io<A>::T*>(e.fresh)[x]);
  if constexpr (S != TS_F32) cur = StoredValue(cur, StorageMax<S>());
  if (STATS && NEW == 1) lanes[0].v[lane] = MulAdd(cur, cur, lanes[0].v[lane]);
  for (int i = 0; i < NEW; ++i) {
    ST* p = f + i * e.n;
    if (i + 1 == NEW) {
      StoreScalar<S>(p, cur);
      break;
    }
    const float old = ToFloat<S>(*p);
    StoreScalar<S>(p, cur);
    if (STATS && i == 0) lanes[0].v[lane] = MulAdd(cur, cur, lanes[0].v[lane]);
    cur = SaturatedDifference(cur, old, e.divisors[i], StorageMax<S>());
    if (STATS) lanes[i + 1].v[lane] = MulAdd(cur, cur, lanes[i + 1].v[lane]);
  }
}

// UpdateRange for f32 and 16-bit storage.
template <ts_dtype S, ts_dtype A, int NEW, bool STATS>
void UpdateRangeFused(const ts_update_entry& e, int64_t begin, int64_t end, double* sums) {
  using ST = typename Io<S>::T;
  const auto* fresh = static_cast<const typename Io<A>::T*>(e.fresh);
  ST* f = static_cast<ST*>(e.factors);
  const int64_t n = e.n;
  const Splat8<NEW> dv(e.divisors, NEW - 1);
  for (int64_t j = begin; j < end; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, end - j));
    SquareSums<NEW, STATS> acc;
    // 8 elements at a time as far as the staged form converts 8 at a time: its scalar tail conversions
    // differ from the vector ones for a signalling NaN in f16 (F16C quiets it), so the tails must match.
    int k = 0;
    for (; k + 8 <= m; k += 8) {
      const int64_t x = j + k;
      const int u = (k >> 3) & 3;
      __m256 cur = Saturate8<S>(Load8<A>(fresh + x));
      if (NEW == 1) acc.Add(0, u, cur);
      for (int i = 0; i < NEW; ++i) {
        ST* p = f + i * n + x;
        if (i + 1 == NEW) {
          Store8<S, true>(p, cur);
          break;
        }
        const __m256 old = Load8<S>(p);
        Store8<S, true>(p, cur);
        if (i == 0) acc.Add(0, u, cur);
        cur = Difference8<S>(cur, old, dv[i]);
        acc.Add(i + 1, u, cur);
      }
    }
    Lanes lanes[NEW];
    acc.Spill(lanes);
    for (; k < m; ++k) UpdateElement<S, A, NEW, STATS>(e, j + k, k % kLanes, lanes);
    if (STATS)
      for (int i = 0; i < NEW; ++i) sums[i] += lanes[i].Total();
  }
}

// UpdateRange for 8-bit differences, a record at a time: its 64 new values are all in registers when the
// record's scale is found. The last, partial record of a factor takes the staged form's scalar steps.
template <ts_dtype A, int NEW, bool STATS>
void UpdateRangeQ8(const ts_update_entry& e, int64_t begin, int64_t end, double* sums) {
  const auto* fresh = static_cast<const typename Io<A>::T*>(e.fresh);
  uint16_t* d0 = D0At<TS_I8>(e.factors, 0);
  ts_q8_block* rec[NEW];
  for (int i = 1; i < NEW; ++i) rec[i] = FactorAt<TS_I8>(e.factors, i, e.n, 0).b;
  const Splat8<NEW> dv(e.divisors, NEW - 1);
  for (int64_t j = begin; j < end; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, end - j));
    SquareSums<NEW, STATS> acc;
    int k = 0;
    for (; k + TS_Q8_BLOCK <= m; k += TS_Q8_BLOCK) {
      const int64_t x = j + k;
      __m256 cur[8];
      for (int u = 0; u < 8; ++u) {
        cur[u] = Saturate8<TS_BF16>(Load8<A>(fresh + x + 8 * u));
        if (NEW == 1) acc.Add(0, u & 3, cur[u]);
      }
      for (int u = 0; u < 8; ++u) {
        if (NEW == 1) {
          Store8<TS_BF16, true>(d0 + x + 8 * u, cur[u]);
          continue;
        }
        const __m256 old = Load8<TS_BF16>(d0 + x + 8 * u);
        Store8<TS_BF16, true>(d0 + x + 8 * u, cur[u]);
        acc.Add(0, u & 3, cur[u]);
        cur[u] = Difference8<TS_I8>(cur[u], old, dv[0]);
        acc.Add(1, u & 3, cur[u]);
      }
      for (int i = 1; i < NEW; ++i) {
        ts_q8_block* b = rec[i] + x / TS_Q8_BLOCK;
        if (i + 1 == NEW) {
          QuantiseRegs(cur, b);
          break;
        }
        alignas(32) int8_t oq[TS_Q8_BLOCK];  // the old record, read before it is overwritten
        std::memcpy(oq, b->q, TS_Q8_BLOCK);
        const __m256 osc = _mm256_set1_ps(b->scale);
        QuantiseRegs(cur, b);
        for (int u = 0; u < 8; ++u) {
          cur[u] = Difference8<TS_I8>(cur[u], _mm256_mul_ps(Q8Load8(oq + 8 * u), osc), dv[i]);
          acc.Add(i + 1, u & 3, cur[u]);
        }
      }
    }
    Lanes lanes[NEW];
    acc.Spill(lanes);
    if (k < m) {  // the factor's last record, partial: staged
      const int len = m - k;
      const int64_t x = j + k;
      alignas(64) float cur[TS_Q8_BLOCK];
      alignas(64) float old[TS_Q8_BLOCK];
      Io<A>::Load(fresh + x, cur, len);
      SaturateBlock<TS_BF16>(cur, len);
      for (int t = 0; t < len; ++t) {
        if (STATS && NEW == 1) lanes[0].v[(k + t) % kLanes] = MulAdd(cur[t], cur[t], lanes[0].v[(k + t) % kLanes]);
        if (NEW == 1) {
          d0[x + t] = FloatToBf16(cur[t]);
          continue;
        }
        const float o = Bf16ToFloat(d0[x + t]);
        d0[x + t] = FloatToBf16(cur[t]);
        if (STATS) lanes[0].v[(k + t) % kLanes] = MulAdd(cur[t], cur[t], lanes[0].v[(k + t) % kLanes]);
        cur[t] = SaturatedDifference(cur[t], o, e.divisors[0], StorageMax<TS_I8>());
        if (STATS) lanes[1].v[(k + t) % kLanes] = MulAdd(cur[t], cur[t], lanes[1].v[(k + t) % kLanes]);
      }
      for (int i = 1; i < NEW; ++i) {
        ts_q8_block* b = rec[i] + x / TS_Q8_BLOCK;
        if (i + 1 == NEW) {
          QuantiseBlock(cur, b, len);
          break;
        }
        Io<TS_I8>::Load(Q8Ptr{b, 0}, old, len);
        QuantiseBlock(cur, b, len);
        for (int t = 0; t < len; ++t) {
          cur[t] = SaturatedDifference(cur[t], old[t], e.divisors[i], StorageMax<TS_I8>());
          if (STATS) lanes[i + 1].v[(k + t) % kLanes] = MulAdd(cur[t], cur[t], lanes[i + 1].v[(k + t) % kLanes]);
        }
      }
    }
    if (STATS)
      for (int i = 0; i < NEW; ++i) sums[i] += lanes[i].Total();
  }
}

// c_0 d_0 + c_1 d_1 + ... at element x of the factors f (n elements each), for 8 elements and for one: one
// multiply, then one FMA per factor (the staged Axpy's operations, so the same bits).
template <ts_dtype S, int COUNT>
inline __m256 SumFactors8(const Splat8<COUNT>& c, const typename Io<S>::T* f, int64_t n, int64_t x) {
  __m256 y = _mm256_mul_ps(c[0], Load8<S>(f + x));
  for (int i = 1; i < COUNT; ++i) y = _mm256_fmadd_ps(c[i], Load8<S>(f + i * n + x), y);
  return y;
}

template <ts_dtype S, int COUNT>
inline float SumFactors1(const float* coeffs, const typename Io<S>::T* f, int64_t n, int64_t x) {
  float y = coeffs[0] * ToFloat<S>(f[x]);
  for (int i = 1; i < COUNT; ++i) y = std::fma(coeffs[i], ToFloat<S>(f[i * n + x]), y);
  return y;
}

// The records of differences 1.. (rec: each difference's first record) that hold element p, and the
// coefficients c_i * scale_i the sums below take for them.
template <int COUNT>
inline void RecordsAt(const ts_q8_block* const* rec, const float* coeffs, int64_t p, const ts_q8_block** r, float* cs) {
  for (int i = 1; i < COUNT; ++i) {
    r[i] = rec[i] + p / TS_Q8_BLOCK;
    cs[i] = coeffs[i] * r[i]->scale;
  }
}

// The same with 8-bit differences, at offset o of the records r[1..] (and d0 at the same elements): c_0 d_0, then
// one FMA per difference with its record's coefficient cs[i] = c_i * scale_i (AxpyQ8's operations, so the same
// bits); 8 elements, and one.
template <int COUNT>
inline __m256 SumQ8x8(__m256 c0, const __m256* cs, const uint16_t* d0, const ts_q8_block* const* r, int64_t o) {
  __m256 y = _mm256_mul_ps(c0, Load8<TS_BF16>(d0));
  for (int i = 1; i < COUNT; ++i) y = _mm256_fmadd_ps(cs[i], Q8Load8(r[i]->q + o), y);
  return y;
}

template <int COUNT>
inline float SumQ81(float c0, const float* cs, const uint16_t* d0, const ts_q8_block* const* r, int64_t o) {
  float y = c0 * Bf16ToFloat(*d0);
  for (int i = 1; i < COUNT; ++i) y = std::fma(cs[i], static_cast<float>(r[i]->q[o]), y);
  return y;
}

// Plain forecast (no gate), f32 and 16-bit storage: y = c_0 d_0 + ... one FMA per factor, then out.
template <ts_dtype S, ts_dtype A, int COUNT>
void ForecastPlainFused(const ts_forecast_entry& e, int64_t begin, int64_t end) {
  using ST = typename Io<S>::T;
  using AT = typename Io<A>::T;
  const ST* f = static_cast<const ST*>(e.factors);
  AT* out = static_cast<AT*>(e.out);
  const int64_t n = e.n;
  const Splat8<COUNT> c(e.coeffs, COUNT);
  const bool stream = A == TS_F32 && n >= kStreamElements && (reinterpret_cast<uintptr_t>(out + begin) & 31) == 0;
  int64_t x = begin;
  for (; x + 8 <= end; x += 8) {
    const __m256 y = SumFactors8<S, COUNT>(c, f, n, x);
    if constexpr (A == TS_F32)
      if (stream) {
        _mm256_stream_ps(reinterpret_cast<float*>(out + x), y);
        continue;
      }
    Store8<A>(out + x, y);
  }
  for (; x < end; ++x) StoreScalar<A>(out + x, SumFactors1<S, COUNT>(e.coeffs, f, n, x));
  if (stream) StreamFence();
}

// Plain forecast, 8-bit differences: per record one coefficient c_i * scale_i per factor.
template <ts_dtype A, int COUNT>
void ForecastPlainQ8(const ts_forecast_entry& e, int64_t begin, int64_t end) {
  using AT = typename Io<A>::T;
  const uint16_t* d0 = D0At<TS_I8>(e.factors, 0);
  const ts_q8_block* rec[COUNT];
  for (int i = 1; i < COUNT; ++i) rec[i] = FactorAt<TS_I8>(e.factors, i, e.n, 0).b;
  AT* out = static_cast<AT*>(e.out);
  const __m256 c0 = _mm256_set1_ps(e.coeffs[0]);
  const bool stream = A == TS_F32 && e.n >= kStreamElements && (reinterpret_cast<uintptr_t>(out + begin) & 31) == 0;
  for (int64_t x = begin; x < end; x += TS_Q8_BLOCK) {
    const ts_q8_block* r[COUNT];
    float cs[COUNT];
    RecordsAt<COUNT>(rec, e.coeffs, x, r, cs);
    if (x + TS_Q8_BLOCK <= end) {
      __m256 cv[COUNT];
      for (int i = 1; i < COUNT; ++i) cv[i] = _mm256_set1_ps(cs[i]);
      for (int u = 0; u < TS_Q8_BLOCK; u += 8) {
        const __m256 y = SumQ8x8<COUNT>(c0, cv, d0 + x + u, r, u);
        if constexpr (A == TS_F32)
          if (stream) {
            _mm256_stream_ps(reinterpret_cast<float*>(out + x + u), y);
            continue;
          }
        Store8<A>(out + x + u, y);
      }
      continue;
    }
    for (int64_t t = x; t < end; ++t) StoreScalar<A>(out + t, SumQ81<COUNT>(e.coeffs[0], cs, d0 + t, r, t - x));
  }
  if (stream) StreamFence();
}
#endif

// The fused kernels where this build has them, else the staged form.
template <ts_dtype S, ts_dtype A, int NEW, bool STATS>
void UpdateKernel(const ts_update_entry& e, int64_t b, int64_t en, double* sums) {
#if TS_USE_F16C
  if constexpr (S == TS_I8) UpdateRangeQ8<A, NEW, STATS>(e, b, en, sums);
  else UpdateRangeFused<S, A, NEW, STATS>(e, b, en, sums);
#else
  UpdateRange<S, A, NEW, STATS>(e, b, en, sums);
#endif
}

// A plain forecast's range starts on a record (the pool splits on multiples of 1024 elements); gated
// ones follow batch rows and take the staged form.
template <ts_dtype S, ts_dtype A, int COUNT, bool GATED>
void ForecastKernel(const ts_forecast_entry& e, int64_t b, int64_t en) {
#if TS_USE_F16C
  if constexpr (GATED) ForecastRange<S, A, COUNT, true>(e, b, en);
  else if constexpr (S == TS_I8) ForecastPlainQ8<A, COUNT>(e, b, en);
  else ForecastPlainFused<S, A, COUNT>(e, b, en);
#else
  ForecastRange<S, A, COUNT, GATED>(e, b, en);
#endif
}

template <ts_dtype S, ts_dtype A, bool STATS>
void UpdateCountStats(const ts_update_entry& e, int64_t b, int64_t en, double* sums) {
  ts_dispatch::ByCount(e.new_count, [&](auto k) { UpdateKernel<S, A, decltype(k)::value, STATS>(e, b, en, sums); });
}

// Asks for the cache lines of p[0, m) ahead of use. A chain reads count * (K + 1) factor streams at once (36
// for 12 modules at order 2), more than the hardware prefetcher follows.
template <typename T>
inline void PrefetchBlock(const T* p, int64_t m) {
#if defined(__GNUC__)
  const char* c = reinterpret_cast<const char*>(p);
  const int64_t bytes = m * static_cast<int64_t>(sizeof(T));
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 1);
#else
  (void)p;
  (void)m;
#endif
}

#if TS_USE_F16C
// One entry of a chain over the block [j, j + m) of batch row b: h += gate * (c_0 d_0 + c_1 d_1 + ...),
// the factors summed in registers. The staged form (y through L1, then GatedSum) made the f32 chain
// 2.4x slower than plain forecasts of the same bytes; same operations, so the same bits.
template <ts_dtype S, ts_dtype A, int COUNT>
inline void ChainEntryFused(const ts_forecast_entry& e, int64_t b, int64_t j, float* __restrict h, float* g, int m) {
  using ST = typename Io<S>::T;
  using AT = typename Io<A>::T;
  const ST* f = static_cast<const ST*>(e.factors) + j;
  const int64_t n = e.n, dim = e.dim;
  const AT* gate_row = static_cast<const AT*>(e.gate) + b * dim;
  const Splat8<COUNT> c(e.coeffs, COUNT);
  for (int k = 0; k < m;) {
    const int64_t col = (j + k) % dim;
    const int len = static_cast<int>(Min(dim - col, static_cast<int64_t>(m - k)));
    const float* gv = ViewOf<A>(gate_row + col, g, len);
    int t = 0;
    for (; t + 8 <= len; t += 8) {
      const int64_t x = k + t;
      _mm256_storeu_ps(h + x, _mm256_fmadd_ps(_mm256_loadu_ps(gv + t), SumFactors8<S, COUNT>(c, f, n, x), _mm256_loadu_ps(h + x)));
    }
    for (; t < len; ++t) h[k + t] = std::fma(gv[t], SumFactors1<S, COUNT>(e.coeffs, f, n, k + t), h[k + t]);
    k += len;
  }
}

// The same with 8-bit differences: one coefficient c_i * scale_i per difference and record, as AxpyQ8
// forms it, for a whole record at once, or 8 elements where a block or gate row starts inside a record;
// elements off the 8-grid go one at a time.
template <ts_dtype A, int COUNT>
inline void ChainEntryFusedQ8(const ts_forecast_entry& e, int64_t b, int64_t j, float* __restrict h, float* g, int m) {
  using AT = typename Io<A>::T;
  const uint16_t* d0 = D0At<TS_I8>(e.factors, 0);
  const ts_q8_block* rec[COUNT];
  for (int i = 1; i < COUNT; ++i) rec[i] = FactorAt<TS_I8>(e.factors, i, e.n, 0).b;
  const int64_t dim = e.dim;
  const AT* gate_row = static_cast<const AT*>(e.gate) + b * dim;
  const __m256 c0 = _mm256_set1_ps(e.coeffs[0]);
  const auto one = [&](const float* gv, int t, int64_t p, float* hx) {
    const ts_q8_block* r[COUNT];
    float cs[COUNT];
    RecordsAt<COUNT>(rec, e.coeffs, p, r, cs);
    *hx = std::fma(gv[t], SumQ81<COUNT>(e.coeffs[0], cs, d0 + p, r, p % TS_Q8_BLOCK), *hx);
  };
  for (int k = 0; k < m;) {
    const int64_t col = (j + k) % dim;
    const int len = static_cast<int>(Min(dim - col, static_cast<int64_t>(m - k)));
    const float* gv = ViewOf<A>(gate_row + col, g, len);
    int t = 0;
    for (; t < len && (j + k + t) % 8 != 0; ++t) one(gv, t, j + k + t, h + k + t);
    while (t + 8 <= len) {
      const int64_t p = j + k + t;
      const ts_q8_block* r[COUNT];
      float cs[COUNT];
      RecordsAt<COUNT>(rec, e.coeffs, p, r, cs);
      // A whole record from its start: the coefficients once for its 64 elements; else 8 of them.
      const int w = p % TS_Q8_BLOCK == 0 && t + TS_Q8_BLOCK <= len ? TS_Q8_BLOCK : 8;
      __m256 cv[COUNT];
      for (int i = 1; i < COUNT; ++i) cv[i] = _mm256_set1_ps(cs[i]);
      for (int u = 0; u < w; u += 8) {
        const __m256 y = SumQ8x8<COUNT>(c0, cv, d0 + p + u, r, p % TS_Q8_BLOCK + u);
        float* hx = h + k + t + u;
        _mm256_storeu_ps(hx, _mm256_fmadd_ps(_mm256_loadu_ps(gv + t + u), y, _mm256_loadu_ps(hx)));
      }
      t += w;
    }
    for (; t < len; ++t) one(gv, t, j + k + t, h + k + t);
    k += len;
  }
}
#endif

// See CpuForecastChain. Blocks never cross a batch row (one row of each gate).
template <ts_dtype S, ts_dtype A>
void ForecastChainRange(const ts_forecast_entry* entries, int32_t count, int64_t begin, int64_t end) {
  using AT = typename Io<A>::T;
  const ts_forecast_entry& e0 = entries[0];
  AT* out = static_cast<AT*>(e0.out);
  const AT* residual = static_cast<const AT*>(e0.residual ? e0.residual : e0.out);
  const int64_t row = e0.tokens * e0.dim;
  alignas(64) float h[kBlock];
  alignas(64) float g[kBlock];
#if !TS_USE_F16C
  const int64_t n = e0.n, dim = e0.dim;
  alignas(64) float y[kBlock];
#endif
  for (int64_t j = begin; j < end;) {
    const int m = static_cast<int>(Min(Min(static_cast<int64_t>(kBlock), row - j % row), end - j));
    const int64_t b = j / row;
    Io<A>::Load(residual + j, h, m);
    for (int32_t q = 0; q < count; ++q) {
      const ts_forecast_entry& e = entries[q];
#if TS_USE_F16C
      if constexpr (S == TS_I8) ts_dispatch::ByCount(e.count, [&](auto k) { ChainEntryFusedQ8<A, decltype(k)::value>(e, b, j, h, g, m); });
      else ts_dispatch::ByCount(e.count, [&](auto k) { ChainEntryFused<S, A, decltype(k)::value>(e, b, j, h, g, m); });
#else
      // The staged form reads count * (K + 1) factor streams a block at a time (36 for 12 modules at order 2),
      // more than the hardware prefetcher follows: the next block of each is asked for ahead (measured with
      // scripts/chain-bench.ts: -12 to -19% for 16-bit factors; the fused form ran 5-7% slower with it).
      const int64_t ahead = Min(static_cast<int64_t>(kBlock), end - j - m);
      if constexpr (S == TS_F16 || S == TS_BF16) {
        for (int i = 0; i < e.count && ahead > 0; ++i) PrefetchBlock(FactorAt<S>(e.factors, i, n, j + m), ahead);
      } else if constexpr (S == TS_I8) {
        if (ahead > 0) PrefetchBlock(D0At<S>(e.factors, j + m), ahead);
        for (int i = 1; i < e.count && ahead > 0; ++i)
          PrefetchBlock(FactorAt<S>(e.factors, i, n, j + m).b, (ahead + TS_Q8_BLOCK - 1) / TS_Q8_BLOCK + 1);
      }
      AxpyAt<S, true>(e.factors, 0, n, j, e.coeffs[0], y, m);
      for (int i = 1; i < e.count; ++i) AxpyAt<S, false>(e.factors, i, n, j, e.coeffs[i], y, m);
      GatedSum<A>(static_cast<const AT*>(e.gate) + b * dim, j % dim, dim, h, y, h, g, m);
#endif
    }
    Io<A>::Store(h, out + j, m);
    j += m;
  }
}

template <ts_dtype S, ts_dtype A>
void UpdateCount(const ts_update_entry& e, int64_t b, int64_t en, double* sums) {
  if (sums) UpdateCountStats<S, A, true>(e, b, en, sums);
  else UpdateCountStats<S, A, false>(e, b, en, nullptr);
}

template <ts_dtype S, ts_dtype A, bool G>
void ForecastCount(const ts_forecast_entry& e, int64_t b, int64_t en) {
  ts_dispatch::ByCount(e.count, [&](auto k) { ForecastKernel<S, A, decltype(k)::value, G>(e, b, en); });
}

template <ts_dtype S, ts_dtype A>
void ForecastGate(const ts_forecast_entry& e, int64_t b, int64_t en) {
  if (e.gate) ForecastCount<S, A, true>(e, b, en);
  else ForecastCount<S, A, false>(e, b, en);
}

void Update(const ts_update_entry& e, ts_dtype storage, ts_dtype act, int64_t b, int64_t en, double* sums) {
  TS_DISPATCH_DTYPES(UpdateCount, storage, act, e, b, en, sums)
}

void Forecast(const ts_forecast_entry& e, ts_dtype storage, ts_dtype act, int64_t b, int64_t en) {
  TS_DISPATCH_DTYPES(ForecastGate, storage, act, e, b, en)
}

void ForecastChain(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act, int64_t b, int64_t en) {
  TS_DISPATCH_DTYPES(ForecastChainRange, storage, act, entries, count, b, en)
}

void ToHalf(const float* src, uint16_t* dst, int64_t n, ts_dtype dtype) {
  for (int64_t j = 0; j < n; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, n - j));
    if (dtype == TS_F16) Io<TS_F16>::Store(src + j, dst + j, m);
    else Io<TS_BF16>::Store(src + j, dst + j, m);
  }
}

void FromHalf(const uint16_t* src, float* dst, int64_t n, ts_dtype dtype) {
  for (int64_t j = 0; j < n; j += kBlock) {
    const int m = static_cast<int>(Min(kBlock, n - j));
    if (dtype == TS_F16) Io<TS_F16>::Load(src + j, dst + j, m);
    else Io<TS_BF16>::Load(src + j, dst + j, m);
  }
}

int64_t FindNonFinite(const void* data, ts_dtype dtype, int64_t b, int64_t en) {
  TS_DISPATCH_DTYPE(FindNonFiniteTyped, dtype, data, b, en)
  return -1;  // not an activation dtype: the binding never asks
}

}  // namespace

extern const CpuKernelSet kKernels = {TS_ISA_NAME, TS_ISA_BITS, Update, Forecast, ToHalf, FromHalf, ForecastChain, FindNonFinite};

}  // namespace TS_ISA
}  // namespace ts
