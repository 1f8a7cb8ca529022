// Body of the fused in-place update (semantics in taylorseer.h), one tile of one entry per call.
// __host__ __device__: the kernel in update.cu and the host emulation in cuda/tests/ run the same code.
//
// Per element: read F and old d_0..d_{c-2} (all loads issued first), then write
//   d_0 = F, d_{i+1} = (d_i_new - d_i_old) / divisors[i]
// each saturated to the storage dtype's range before it is stored and differenced (StoredValue,
// StoredDifference in dtype.cuh), as the CPU twin does.
// Each element is read and written by one thread only, so the in-place order (an old factor is read
// before its slot is overwritten) needs no synchronisation. IEEE division (not a reciprocal multiply)
// keeps the result bit-identical to the CPU twin.
//
// With STATS, each thread also adds the squares of the values it stores (in f32, before rounding) to
// acc[i], per new factor i; the kernel reduces acc over the block and adds it to the entry's stats.
#pragma once
#include "multi_tensor.cuh"
#include "q8.cuh"

namespace tsk {

// dv: the entry's divisors for this launch (EntryValues).
template <int S, int A, int MAXC, bool STATS = false>
TS_HD void UpdateElement(const UpdEnt& e, const float* dv, int64_t j, float* acc = nullptr) {
  const int cnt = e.count;
  float old[MAXC > 1 ? MAXC - 1 : 1];
#pragma unroll
  for (int i = 0; i + 1 < MAXC; ++i)
    if (i + 1 < cnt) old[i] = LoadAt<S>(e.factors, i * e.n + j);
  float cur = StoredValue<S>(LoadAt<A>(e.fresh, j));
  StoreAt<S>(e.factors, j, cur);
  if (STATS) acc[0] += cur * cur;
#pragma unroll
  for (int i = 0; i + 1 < MAXC; ++i) {
    if (i + 1 < cnt) {
      cur = StoredDifference<S>((cur - old[i]) / dv[i], cur, old[i]);
      StoreAt<S>(e.factors, (i + 1) * e.n + j, cur);
      if (STATS) acc[i + 1] += cur * cur;
    }
  }
}

template <int V>
TS_HD float SquaresOf(const float* v) {
  float s = 0.0f;
#pragma unroll
  for (int k = 0; k < V; ++k) s += v[k] * v[k];
  return s;
}

// tile: the entry-local tile index; tid in [0, kThreads). acc: MAXC per-thread sums (STATS only).
template <int S, int A, int MAXC, bool STATS>
TS_HD void UpdateTileDense(const UpdEnt& e, int64_t tile, int tid, float* acc) {
  constexpr int V = VecWidth<S, A>::value;
  constexpr int U = Unroll<MAXC>::value;
  constexpr int NO = MAXC > 1 ? MAXC - 1 : 1;
  const int cnt = e.count;
  const int64_t n = e.n;
  float dv[NO];
  EntryValues<NO>(e.div, e.div_src, cnt - 1, dv);
  if (e.flags & kVec) {
    const int64_t nv = n / V;  // whole vectors; the partial one (if any) is vector index nv
    int64_t vi[U];
#pragma unroll
    for (int u = 0; u < U; ++u) vi[u] = (tile * U + u) * kThreads + tid;
    RawVec<A, V> fresh[U];
    RawVec<S, V> old[U][NO];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (vi[u] < nv) {
        fresh[u].Load(Offset<A>(e.fresh, vi[u] * V));
#pragma unroll
        for (int i = 0; i + 1 < MAXC; ++i)
          if (i + 1 < cnt) old[u][i].Load(Offset<S>(e.factors, i * n + vi[u] * V));
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (vi[u] < nv) {
        float cur[V];
        fresh[u].Unpack(cur);
#pragma unroll
        for (int k = 0; k < V; ++k) cur[k] = StoredValue<S>(cur[k]);
        StoreVec<S, V>(Offset<S>(e.factors, vi[u] * V), cur);
        if (STATS) acc[0] += SquaresOf<V>(cur);
#pragma unroll
        for (int i = 0; i + 1 < MAXC; ++i) {
          if (i + 1 < cnt) {
            const float d = dv[i];
            float o[V];
            old[u][i].Unpack(o);
#pragma unroll
            for (int k = 0; k < V; ++k) cur[k] = StoredDifference<S>((cur[k] - o[k]) / d, cur[k], o[k]);
            StoreVec<S, V>(Offset<S>(e.factors, (i + 1) * n + vi[u] * V), cur);
            if (STATS) acc[i + 1] += SquaresOf<V>(cur);
          }
        }
      } else if (vi[u] == nv) {
        for (int64_t j = nv * V; j < n; ++j) UpdateElement<S, A, MAXC, STATS>(e, dv, j, acc);
      }
    }
  } else {
    // Unaligned entry: scalar accesses, still coalesced (consecutive threads, consecutive elements).
    const int64_t base = tile * (int64_t{U} * kThreads * V);
#pragma unroll 1
    for (int k = 0; k < U * V; ++k) {
      const int64_t j = base + int64_t{k} * kThreads + tid;
      if (j < n) UpdateElement<S, A, MAXC, STATS>(e, dv, j, acc);
    }
  }
}

// TS_I8 (q8.cuh): thread tid owns record tile * kThreads + tid, the same 64 elements of d_0 (bf16) and of
// every difference. Per factor, in place: the old record is read, the new one (all 64 values are in
// registers, so its scale is known) stored, and the next difference taken against the dequantised old.
template <int A, int MAXC, bool STATS>
TS_HD void UpdateTileQ8(const UpdEnt& e, int64_t tile, int tid, float* acc) {
  constexpr int NO = MAXC > 1 ? MAXC - 1 : 1;
  constexpr int VA = 16 / Dt<A>::kSize;
  const int cnt = e.count;
  const int64_t n = e.n;
  float dv[NO];
  RecordSpan s;
  if (!RecordSetUp(e, tile, tid, s, [&] { EntryValues<NO>(e.div, e.div_src, cnt - 1, dv); })) return;
  const auto [r, j0, len, aligned, whole] = s;
  float cur[kQ];
  if (whole) {
#pragma unroll
    for (int c = 0; c < kQ / VA; ++c) LoadVec<A, VA>(Offset<A>(e.fresh, j0 + c * VA), cur + c * VA);
  } else {
#pragma unroll
    for (int k = 0; k < kQ; ++k) cur[k] = k < len ? LoadAt<A>(e.fresh, j0 + k) : 0.0f;
  }
#pragma unroll
  for (int k = 0; k < kQ; ++k) cur[k] = StoredValue<TS_BF16>(cur[k]);
  if (STATS) acc[0] += SquaresOf<kQ>(cur);
  // d_0, bf16
  if (whole) {
    RawVec<TS_BF16, 8> old[kQ / 8];
    if (cnt > 1) {
#pragma unroll
      for (int c = 0; c < kQ / 8; ++c) old[c].Load(Offset<TS_BF16>(e.factors, j0 + c * 8));
    }
#pragma unroll
    for (int c = 0; c < kQ / 8; ++c) StoreVec<TS_BF16, 8>(Offset<TS_BF16>(e.factors, j0 + c * 8), cur + c * 8);
    if (cnt > 1) {
#pragma unroll
      for (int c = 0; c < kQ / 8; ++c) {
        float o[8];
        old[c].Unpack(o);
#pragma unroll
        for (int k = 0; k < 8; ++k) cur[c * 8 + k] = StoredDifference<TS_I8>((cur[c * 8 + k] - o[k]) / dv[0], cur[c * 8 + k], o[k]);
      }
    }
  } else {
#pragma unroll
    for (int k = 0; k < kQ; ++k) {
      if (k < len) {
        const float o = cnt > 1 ? LoadD0(e.factors, j0 + k, aligned) : 0.0f;
        StoreD0(e.factors, j0 + k, cur[k], aligned);
        if (cnt > 1) cur[k] = StoredDifference<TS_I8>((cur[k] - o) / dv[0], cur[k], o);
      }
    }
  }
  // d_1 .. d_{cnt-1}, 8-bit records
#pragma unroll
  for (int i = 1; i < MAXC; ++i) {
    if (i < cnt) {
      char* rec = RecordAt(e.factors, n, i, r);
      const bool last = i + 1 == cnt;
      Record old;
      if (!last) old.Load(rec, aligned);
      StoreRecord(rec, cur, aligned);
      if (STATS) acc[i] += SquaresOf<kQ>(cur);
      if (!last) {
#pragma unroll
        for (int k = 0; k < kQ; ++k) {
          const float o = old.Q(k) * old.scale;
          // beyond the entry the record holds zeros: keep them (0 * an infinite scale would be NaN)
          cur[k] = k < len ? StoredDifference<TS_I8>((cur[k] - o) / dv[i], cur[k], o) : 0.0f;
        }
      }
    }
  }
}

template <int S, int A, int MAXC, bool STATS = false>
TS_HD void UpdateTile(const UpdEnt& e, int64_t tile, int tid, float* acc = nullptr) {
  if constexpr (S == TS_I8) UpdateTileQ8<A, MAXC, STATS>(e, tile, tid, acc);
  else UpdateTileDense<S, A, MAXC, STATS>(e, tile, tid, acc);
}

}  // namespace tsk
