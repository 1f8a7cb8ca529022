// Body of the fused in-place update (semantics in taylorseer.h), one tile of one entry per call.
// __host__ __device__: the kernel in update.cu and the host emulation in cuda/tests/ run the same code.
//
// Per element: read F and old d_0..d_{c-2} (all loads issued first), then write
//   d_0 = F, d_{i+1} = (d_i_new - d_i_old) / divisors[i]
// Each element is read and written by one thread only, so the in-place order (an old factor is read
// before its slot is overwritten) needs no synchronisation. IEEE division (not a reciprocal multiply)
// keeps the result bit-identical to the CPU twin.
//
// With STATS, each thread also adds the squares of the values it stores (in f32, before rounding) to
// acc[i], per new factor i; the kernel reduces acc over the block and adds it to the entry's stats.
#pragma once
#include "multi_tensor.cuh"

namespace tsk {

// dv: the entry's divisors for this launch (EntryValues).
template <int S, int A, int MAXC, bool STATS = false>
TS_HD void UpdateElement(const UpdEnt& e, const float* dv, int64_t j, float* acc = nullptr) {
  const int cnt = e.count;
  float old[MAXC > 1 ? MAXC - 1 : 1];
#pragma unroll
  for (int i = 0; i + 1 < MAXC; ++i)
    if (i + 1 < cnt) old[i] = LoadAt<S>(e.factors, i * e.n + j);
  float cur = LoadAt<A>(e.fresh, j);
  StoreAt<S>(e.factors, j, cur);
  if (STATS) acc[0] += cur * cur;
#pragma unroll
  for (int i = 0; i + 1 < MAXC; ++i) {
    if (i + 1 < cnt) {
      cur = (cur - old[i]) / dv[i];
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
template <int S, int A, int MAXC, bool STATS = false>
TS_HD void UpdateTile(const UpdEnt& e, int64_t tile, int tid, float* acc = nullptr) {
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
        StoreVec<S, V>(Offset<S>(e.factors, vi[u] * V), cur);
        if (STATS) acc[0] += SquaresOf<V>(cur);
#pragma unroll
        for (int i = 0; i + 1 < MAXC; ++i) {
          if (i + 1 < cnt) {
            const float d = dv[i];
            float o[V];
            old[u][i].Unpack(o);
#pragma unroll
            for (int k = 0; k < V; ++k) cur[k] = (cur[k] - o[k]) / d;
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

}  // namespace tsk
