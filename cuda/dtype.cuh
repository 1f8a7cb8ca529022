// Storage / activation dtypes for the CUDA kernels: scalar and 16-byte vector loads and stores that
// convert to and from f32. Every function is __host__ __device__ so the host emulation in
// cuda/tests/ can run the kernel bodies on the CPU (no GPU on the build machine).
//
// Rounding: 16-bit stores round to nearest even (cvt.rn.f16x2.f32 / cvt.rn.bf16x2.f32 on the device).
// 16-bit stores saturate: a finite f16 value beyond 65504 is stored as +-65504, a finite value that would
// round beyond the largest bf16 as +-0x7f7f (3.3895e38); +-Inf and NaN are kept, as on the CPU.
// This matches native/half.h bit for bit on every finite value and on +-Inf; NaN stays NaN but its
// payload may differ (the device writes the canonical 0x7fff, the CPU keeps the payload).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "taylorseer.h"

#define TS_HD __host__ __device__ __forceinline__

namespace tsk {

TS_HD float AsFloat(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}

TS_HD uint32_t AsUint(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
#endif
}

// f16 saturation policy (native/half.h): finite |v| > 65504 -> +-65504; NaN fails both compares.
TS_HD float SaturateHalf(float v) {
  const float a = fabsf(v);
  return (a > 65504.0f && a < INFINITY) ? copysignf(65504.0f, v) : v;
}

// bf16 saturation policy (native/half.h): a finite value from 0x7f7f8000 up (it would round to infinity)
// becomes +-0x7f7f0000, the largest bf16.
TS_HD float SaturateBf16(float v) {
  const float a = fabsf(v);
  return (a >= AsFloat(0x7f7f8000u) && a < INFINITY) ? copysignf(AsFloat(0x7f7f0000u), v) : v;
}

// Stored factors saturate at their dtype's largest finite value (native/half.h StoredValue,
// StoredDifference): d_0 before it is stored and differenced, each difference when its operands were finite.
template <int S>
TS_HD float StorageMax() {
  return S == TS_F16 ? 65504.0f : S == TS_BF16 ? AsFloat(0x7f7f0000u) : AsFloat(0x7f7fffffu);
}
template <int S>
TS_HD float StoredValue(float v) {
  const float a = fabsf(v), m = StorageMax<S>();
  return (a > m && a < INFINITY) ? copysignf(m, v) : v;
}
template <int S>
TS_HD float StoredDifference(float v, float c, float o) {
  const float m = StorageMax<S>();
  return (fabsf(v) > m && fabsf(c) < INFINITY && fabsf(o) < INFINITY) ? copysignf(m, v) : v;
}

template <int D>
struct Dt;

template <>
struct Dt<TS_F32> {
  using T = float;
  static constexpr int kSize = 4;
  static TS_HD float Load(const T* p) { return *p; }
  static TS_HD void Store(T* p, float v) { *p = v; }
};

template <>
struct Dt<TS_F16> {
  using T = __half;
  static constexpr int kSize = 2;
  static TS_HD float Load(const T* p) { return __half2float(*p); }
  static TS_HD void Store(T* p, float v) { *p = __float2half_rn(SaturateHalf(v)); }
};

template <>
struct Dt<TS_BF16> {
  using T = __nv_bfloat16;
  static constexpr int kSize = 2;
  static TS_HD float Load(const T* p) { return __bfloat162float(*p); }
  static TS_HD void Store(T* p, float v) { *p = __float2bfloat16_rn(SaturateBf16(v)); }
};

// Elements per vector step for a (storage, activation) pair: 16 bytes of the narrower type, so the
// narrower tensors move in one 16-byte access and the wider (f32 beside a 16-bit type) in two.
template <int S, int A>
struct VecWidth {
  static constexpr int kMin = Dt<S>::kSize < Dt<A>::kSize ? Dt<S>::kSize : Dt<A>::kSize;
  static constexpr int value = 16 / kMin;
};

// Unpacks one 16-byte word into floats.
template <int D>
TS_HD void Unpack16(const uint4& w, float* out);

template <>
TS_HD void Unpack16<TS_F32>(const uint4& w, float* out) {
  out[0] = AsFloat(w.x);
  out[1] = AsFloat(w.y);
  out[2] = AsFloat(w.z);
  out[3] = AsFloat(w.w);
}

template <>
TS_HD void Unpack16<TS_F16>(const uint4& w, float* out) {
  const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    __half2_raw r;
    r.x = static_cast<unsigned short>(words[k] & 0xffffu);
    r.y = static_cast<unsigned short>(words[k] >> 16);
    const float2 f = __half22float2(__half2(r));
    out[2 * k] = f.x;
    out[2 * k + 1] = f.y;
  }
}

template <>
TS_HD void Unpack16<TS_BF16>(const uint4& w, float* out) {
  const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    // bf16 -> f32 is a shift: exact, and cheaper than the conversion intrinsic on every target.
    out[2 * k] = AsFloat(words[k] << 16);
    out[2 * k + 1] = AsFloat(words[k] & 0xffff0000u);
  }
}

template <int D>
TS_HD uint4 Pack16(const float* in);

template <>
TS_HD uint4 Pack16<TS_F32>(const float* in) {
  return make_uint4(AsUint(in[0]), AsUint(in[1]), AsUint(in[2]), AsUint(in[3]));
}

template <>
TS_HD uint4 Pack16<TS_F16>(const float* in) {
  uint32_t words[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const __half2_raw r = static_cast<__half2_raw>(__floats2half2_rn(SaturateHalf(in[2 * k]), SaturateHalf(in[2 * k + 1])));
    words[k] = static_cast<uint32_t>(r.x) | (static_cast<uint32_t>(r.y) << 16);
  }
  return make_uint4(words[0], words[1], words[2], words[3]);
}

template <>
TS_HD uint4 Pack16<TS_BF16>(const float* in) {
  uint32_t words[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const __nv_bfloat162_raw r = static_cast<__nv_bfloat162_raw>(__floats2bfloat162_rn(SaturateBf16(in[2 * k]), SaturateBf16(in[2 * k + 1])));
    words[k] = static_cast<uint32_t>(r.x) | (static_cast<uint32_t>(r.y) << 16);
  }
  return make_uint4(words[0], words[1], words[2], words[3]);
}

// V elements of dtype D kept packed as loaded (16-byte words): a tile issues every load first and
// unpacks only when it computes, so the registers hold packed data while the loads are in flight.
template <int D, int V>
struct RawVec {
  static constexpr int kWords = V * Dt<D>::kSize / 16;
  static_assert(kWords * 16 == V * Dt<D>::kSize && kWords >= 1, "vector of whole 16-byte words");
  uint4 w[kWords];
  TS_HD void Load(const void* p) {
    const uint4* q = static_cast<const uint4*>(p);
#pragma unroll
    for (int j = 0; j < kWords; ++j) w[j] = q[j];
  }
  TS_HD void Unpack(float* out) const {
#pragma unroll
    for (int j = 0; j < kWords; ++j) Unpack16<D>(w[j], out + j * (16 / Dt<D>::kSize));
  }
};

// V elements of dtype D at p (16-byte aligned), as floats. V * size is 16 or 32 bytes.
template <int D, int V>
TS_HD void LoadVec(const void* p, float* out) {
  constexpr int kWords = V * Dt<D>::kSize / 16;
  static_assert(kWords * 16 == V * Dt<D>::kSize && kWords >= 1, "vector of whole 16-byte words");
  constexpr int kPer = 16 / Dt<D>::kSize;
  const uint4* q = static_cast<const uint4*>(p);
  uint4 w[kWords];
#pragma unroll
  for (int j = 0; j < kWords; ++j) w[j] = q[j];  // all loads issued before any use
#pragma unroll
  for (int j = 0; j < kWords; ++j) Unpack16<D>(w[j], out + j * kPer);
}

template <int D, int V>
TS_HD void StoreVec(void* p, const float* in) {
  constexpr int kWords = V * Dt<D>::kSize / 16;
  constexpr int kPer = 16 / Dt<D>::kSize;
  uint4* q = static_cast<uint4*>(p);
#pragma unroll
  for (int j = 0; j < kWords; ++j) q[j] = Pack16<D>(in + j * kPer);
}

// Element i of a dtype-D array, as float.
template <int D>
TS_HD float LoadAt(const void* p, int64_t i) {
  return Dt<D>::Load(static_cast<const typename Dt<D>::T*>(p) + i);
}

template <int D>
TS_HD void StoreAt(void* p, int64_t i, float v) {
  Dt<D>::Store(static_cast<typename Dt<D>::T*>(p) + i, v);
}

template <int D>
TS_HD const void* Offset(const void* p, int64_t elements) {
  return static_cast<const char*>(p) + elements * Dt<D>::kSize;
}
template <int D>
TS_HD void* Offset(void* p, int64_t elements) {
  return static_cast<char*>(p) + elements * Dt<D>::kSize;
}

inline int DtypeSize(ts_dtype d) { return d == TS_F32 ? 4 : 2; }

// Unsigned 32-bit division by a run-time constant with a multiply and a shift (the round-up method;
// exact for every 32-bit numerator because the sum is formed in 64 bits). Host-built, used on the device
// for the gate index of the gated forecast.
struct FastDiv {
  uint32_t d;
  uint32_t m;
  uint32_t s;
  static FastDiv Make(uint32_t d) {
    FastDiv f;
    f.d = d;
    uint32_t s = 0;
    while (s < 32 && (uint64_t{1} << s) < d) ++s;
    f.s = s;
    f.m = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << s) - d)) / d + 1);
    return f;
  }
  TS_HD uint32_t Div(uint32_t x) const {
#ifdef __CUDA_ARCH__
    const uint32_t hi = __umulhi(x, m);
#else
    const uint32_t hi = static_cast<uint32_t>((static_cast<uint64_t>(x) * m) >> 32);
#endif
    return static_cast<uint32_t>((static_cast<uint64_t>(hi) + x) >> s);
  }
};

}  // namespace tsk
