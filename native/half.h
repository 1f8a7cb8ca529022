// Scalar f16/bf16 <-> f32 conversions, round to nearest even (f16: finite overflow saturates), shared by the CPU kernels, the
// conversion helpers and the tests. Branch-free so the compiler can vectorise loops that call them.
// static: each kernel build (AVX2 / baseline) must get its own copy, never one merged by the linker.
#pragma once
#include <cstdint>
#include <cmath>
#include <cstring>

namespace ts {

static inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
static inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

static inline float Bf16ToFloat(uint16_t h) { return BitsFloat(static_cast<uint32_t>(h) << 16); }

static inline uint16_t FloatToBf16(float f) {
  uint32_t u = FloatBits(f);
  // NaN must stay NaN (rounding could carry it into Infinity): force a quiet-NaN payload bit.
  uint32_t is_nan = ((u & 0x7fffffffu) > 0x7f800000u);
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  // Saturation, as for f16: a finite value that rounds beyond the largest bf16 (from 0x7f7f8000, about
  // 3.3962e38) is stored as +-0x7f7f (3.3895e38), not as infinity.
  uint32_t overflow = ((u & 0x7fffffffu) < 0x7f800000u) & ((rounded & 0x7fffu) == 0x7f80u);
  rounded = overflow ? rounded - 1u : rounded;
  uint32_t nan = (u >> 16) | 0x40u;
  return static_cast<uint16_t>(is_nan ? nan : rounded);
}

// Largest finite value of each storage dtype. The kernels keep every stored factor within it: d_0 is
// clamped before it is stored and before the first difference is taken from it, and each difference
// likewise (see StoredValue / StoredDifference), so a difference is always taken from the value as stored
// and finite outputs never make an infinite factor.
constexpr float kHalfMax = 65504.0f;
constexpr float kBf16Max = 3.38953139e38f;  // 0x7f7f0000
constexpr float kFloatMax = 3.40282347e38f;

// A finite value beyond max becomes +-max; +-Inf and NaN are kept.
static inline float StoredValue(float v, float max) {
  const float a = v < 0.0f ? -v : v;
  return (a > max && a < INFINITY) ? (v < 0.0f ? -max : max) : v;
}

// A difference v = (c - o) / d beyond max becomes +-max when c and o were finite (so also when it overflowed
// to infinity); a difference of an infinite or NaN operand is kept.
static inline float StoredDifference(float v, float c, float o, float max) {
  const float a = v < 0.0f ? -v : v;
  const float ac = c < 0.0f ? -c : c;
  const float ao = o < 0.0f ? -o : o;
  return (a > max && ac < INFINITY && ao < INFINITY) ? (v < 0.0f ? -max : max) : v;
}

// IEEE binary16. Conversion via the "magic number" method: exact for normals, subnormals, inf, NaN.
static inline float HalfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t em = h & 0x7fffu;
  // Normal and subnormal: shift into place and rescale by 2^112 (exact, the multiply normalises
  // subnormals). Inf/NaN: exponent forced to 255.
  float scaled = BitsFloat(em << 13) * BitsFloat(0x77800000u);  // 2^112
  uint32_t bits = FloatBits(scaled);
  bits = (em >= 0x7c00u) ? ((em << 13) | 0x7f800000u) : bits;
  return BitsFloat(bits | sign);
}

static inline uint16_t FloatToHalf(float f) {
  uint32_t u = FloatBits(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  uint32_t is_nan = a > 0x7f800000u;
  // Saturation policy: a finite value beyond the largest half (65504) is stored as +-65504, not as
  // infinity (IEEE rounding would give inf from 65520 up); +-Inf stays infinite and NaN stays NaN. A
  // finite activation must not turn into an inf that poisons every later difference of the cache.
  uint32_t overflow = a > 0x477fe000u;
  uint32_t is_inf = a == 0x7f800000u;
  // Normal range: rebias exponent, round mantissa to nearest even.
  uint32_t normal = (a - 0x38000000u + 0xfffu + ((a >> 13) & 1u)) >> 13;
  // Subnormal range (|f| < 2^-14): adding 0.5 shifts the value so the FPU's own round-to-nearest-even
  // produces the 10-bit subnormal mantissa in the low bits.
  float sub_f = BitsFloat(a) + 0.5f;
  uint32_t sub = FloatBits(sub_f) - 0x3f000000u;
  uint32_t r = (a < 0x38800000u) ? sub : normal;
  r = overflow ? (is_inf ? 0x7c00u : 0x7bffu) : r;
  r = is_nan ? (0x7e00u | ((a >> 13) & 0x3ffu)) : r;
  return static_cast<uint16_t>(r | sign);
}

}  // namespace ts
