// TS_I8 factors (layout in taylorseer.h: d_0 in bf16, the differences in 64-element records) for the
// kernel bodies: where a record lives, reading one, and quantising 64 f32 values into one with the CPU
// twin's arithmetic (native/cpu_kernels_impl.h, QuantiseBlock), so both write the same bytes.
// __host__ __device__: the host emulation in cuda/tests/ runs them too.
//
// One thread owns one record (64 elements) of every factor of an entry: the scale of a record needs all
// of its values, and a thread holding them all needs no shuffle or barrier, so the tile bodies stay
// emulatable thread by thread. Aligned factors (kVec) are read a 32-bit word of four q at a time;
// otherwise byte by byte (an external pointer may sit anywhere).
#pragma once
#include "dtype.cuh"
#include "multi_tensor.cuh"

namespace tsk {

constexpr int kQ = TS_Q8_BLOCK;

// Record r of factor i (i >= 1) of an entry of n elements.
TS_HD char* RecordAt(const void* factors, int64_t n, int i, int64_t r) {
  return const_cast<char*>(static_cast<const char*>(factors)) + ts_i8_d0_bytes(n) + (i - 1) * ts_q8_factor_bytes(n) +
         r * static_cast<int64_t>(sizeof(ts_q8_block));
}

TS_HD uint32_t LoadBytes32(const char* p) {
  const unsigned char* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) | (static_cast<uint32_t>(u[2]) << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}

TS_HD void StoreBytes32(char* p, uint32_t v) {
  unsigned char* u = reinterpret_cast<unsigned char*>(p);
#pragma unroll
  for (int b = 0; b < 4; ++b) u[b] = static_cast<unsigned char>(v >> (8 * b));
}

// A record as loaded: its scale and its 64 bytes packed four to a word.
struct Record {
  float scale;
  uint32_t w[kQ / 4];
  // `aligned`: rec is 4-byte aligned (the factors are 16-byte aligned).
  TS_HD void Load(const char* rec, bool aligned) {
    if (aligned) {
      const uint32_t* p = reinterpret_cast<const uint32_t*>(rec);
      scale = AsFloat(p[0]);
#pragma unroll
      for (int k = 0; k < kQ / 4; ++k) w[k] = p[1 + k];
    } else {
      scale = AsFloat(LoadBytes32(rec));
#pragma unroll
      for (int k = 0; k < kQ / 4; ++k) w[k] = LoadBytes32(rec + 4 + 4 * k);
    }
  }
  // q_k as a float (-127..127)
  TS_HD float Q(int k) const { return static_cast<float>(static_cast<int8_t>(static_cast<uint8_t>(w[k / 4] >> (8 * (k % 4))))); }
};

// Quantises v[0..64) into the record at rec (taylorseer.h): m = max |v| (NaN ignored), scale = m / 127,
// q = rint(clamp(v * (127 / m), -127, 127)) with NaN -> -127. Elements of a partial record beyond the
// entry must be 0 in v: they store q = 0 and leave m alone, as the CPU's zero padding does.
TS_HD void StoreRecord(char* rec, const float* v, bool aligned) {
  float m = 0.0f;
#pragma unroll
  for (int k = 0; k < kQ; ++k) {
    const float a = fabsf(v[k]);
    m = a > m ? a : m;  // a NaN compares false: ignored
  }
  const float inv = m > 0.0f ? 127.0f / m : 0.0f;
  uint32_t w[kQ / 4];
#pragma unroll
  for (int k = 0; k < kQ / 4; ++k) w[k] = 0;
#pragma unroll
  for (int k = 0; k < kQ; ++k) {
    float x = v[k] * inv;
    x = x >= -127.0f ? x : -127.0f;  // NaN -> -127
    x = x <= 127.0f ? x : 127.0f;
    const int q = static_cast<int>(rintf(x));
    w[k / 4] |= (static_cast<uint32_t>(q) & 0xffu) << (8 * (k % 4));
  }
  const float scale = m / 127.0f;
  if (aligned) {
    uint32_t* p = reinterpret_cast<uint32_t*>(rec);
    p[0] = AsUint(scale);
#pragma unroll
    for (int k = 0; k < kQ / 4; ++k) p[1 + k] = w[k];
  } else {
    StoreBytes32(rec, AsUint(scale));
#pragma unroll
    for (int k = 0; k < kQ / 4; ++k) StoreBytes32(rec + 4 + 4 * k, w[k]);
  }
}

// d_0 (bf16) element j: aligned factors read it as a bf16, others as two bytes.
TS_HD float LoadD0(const void* factors, int64_t j, bool aligned) {
  if (aligned) return LoadAt<TS_BF16>(factors, j);
  const unsigned char* u = static_cast<const unsigned char*>(factors) + 2 * j;
  return AsFloat((static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8)) << 16);
}

TS_HD void StoreD0(void* factors, int64_t j, float v, bool aligned) {
  if (aligned) return StoreAt<TS_BF16>(factors, j, v);
  __nv_bfloat16 h = __float2bfloat16_rn(SaturateBf16(v));
  unsigned char* u = static_cast<unsigned char*>(factors) + 2 * j;
  memcpy(u, &h, 2);
}

// Elements the record of element j0 covers in an entry of n: 64, or fewer for the last one.
TS_HD int RecordLength(int64_t j0, int64_t n) { return n - j0 < kQ ? static_cast<int>(n - j0) : kQ; }

// Thread tid's record in tile `tile` of an entry: record r, its first element j0, the elements it covers,
// whether the entry allows aligned accesses (kVec) and whether the record is whole and aligned (it moves
// as vectors).
struct RecordSpan {
  int64_t r, j0;
  int len;
  bool aligned, whole;
};

// The set-up both tile bodies share: false where thread tid's record lies beyond the entry; else s is its
// span, after values() has read the entry's per-launch values. values() runs between the bounds check
// and the rest, where the bodies read them before; any other order gives ptxas other code (registers
// beyond an occupancy step, for one).
template <typename Ent, typename Values>
TS_HD bool RecordSetUp(const Ent& e, int64_t tile, int tid, RecordSpan& s, Values values) {
  const int64_t n = e.n;
  const int64_t r = tile * kThreads + tid;
  const int64_t j0 = r * kQ;
  if (j0 >= n) return false;
  values();
  const bool aligned = (e.flags & kVec) != 0;
  const int len = RecordLength(j0, n);
  s = {r, j0, len, aligned, aligned && len == kQ};
  return true;
}

}  // namespace tsk
