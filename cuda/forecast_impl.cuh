// Body of the fused forecast (semantics in taylorseer.h), one tile of one entry per call.
// __host__ __device__: the kernel in forecast.cu and the host emulation in cuda/tests/ run the same code.
//
//   y = c_0 d_0 + c_1 d_1 + ... (f32, fused multiply-add in index order, as the CPU twin's contracted loop)
//   plain: out = y;   gated: out = fma(gate[b, c], y, residual)   (residual may alias out)
#pragma once
#include "multi_tensor.cuh"
#include "q8.cuh"

namespace tsk {

// Index into the [B, D] gate of element j of the [B, L, D] output.
TS_HD int64_t GateIndex(const FcEnt& e, int64_t j) {
  if (e.flags & kDiv64) {
    const int64_t row = j / e.dim;
    const int64_t b = row / e.tokens;
    return b * e.dim + (j - row * e.dim);
  }
  const uint32_t jj = static_cast<uint32_t>(j);
  const uint32_t row = e.dim_div.Div(jj);
  const uint32_t b = e.tok_div.Div(row);
  return static_cast<int64_t>(b) * e.dim + (jj - row * static_cast<uint32_t>(e.dim));
}

// c: the entry's coefficients for this launch (EntryValues).
template <int S, int A, int MAXC, bool GATED>
TS_HD void ForecastElement(const FcEnt& e, const float* c, int64_t j) {
  const int cnt = e.count;
  float d[MAXC];
#pragma unroll
  for (int i = 0; i < MAXC; ++i)
    if (i < cnt) d[i] = LoadAt<S>(e.factors, i * e.n + j);
  float acc = c[0] * d[0];
#pragma unroll
  for (int i = 1; i < MAXC; ++i)
    if (i < cnt) acc = fmaf(c[i], d[i], acc);
  if (GATED && (e.flags & kGated)) {
    const float r = LoadAt<A>(e.residual, j);
    const float g = LoadAt<A>(e.gate, GateIndex(e, j));
    acc = fmaf(g, acc, r);
  }
  StoreAt<A>(e.out, j, acc);
}

template <int S, int A, int MAXC, bool GATED>
TS_HD void ForecastTileDense(const FcEnt& e, int64_t tile, int tid) {
  constexpr int V = VecWidth<S, A>::value;
  constexpr int U = Unroll<MAXC>::value;
  const int cnt = e.count;
  const int64_t n = e.n;
  float c[MAXC];
  EntryValues<MAXC>(e.coeffs, e.coef_src, cnt, c);
  if (e.flags & kVec) {
    const int64_t nv = n / V;
    const bool gated = GATED && (e.flags & kGated);
    int64_t vi[U];
#pragma unroll
    for (int u = 0; u < U; ++u) vi[u] = (tile * U + u) * kThreads + tid;
    RawVec<S, V> d[U][MAXC];
    RawVec<A, V> r[U];
    RawVec<A, V> g[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (vi[u] < nv) {
#pragma unroll
        for (int i = 0; i < MAXC; ++i)
          if (i < cnt) d[u][i].Load(Offset<S>(e.factors, i * n + vi[u] * V));
        if (GATED && gated) {
          // kVec implies kGateVec for a gated entry: the V elements share one gate row.
          r[u].Load(Offset<A>(e.residual, vi[u] * V));
          g[u].Load(Offset<A>(e.gate, GateIndex(e, vi[u] * V)));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (vi[u] < nv) {
        float acc[V], x[V];
        d[u][0].Unpack(x);
#pragma unroll
        for (int k = 0; k < V; ++k) acc[k] = c[0] * x[k];
#pragma unroll
        for (int i = 1; i < MAXC; ++i) {
          if (i < cnt) {
            const float ci = c[i];
            d[u][i].Unpack(x);
#pragma unroll
            for (int k = 0; k < V; ++k) acc[k] = fmaf(ci, x[k], acc[k]);
          }
        }
        if (GATED && gated) {
          float rr[V], gg[V];
          r[u].Unpack(rr);
          g[u].Unpack(gg);
#pragma unroll
          for (int k = 0; k < V; ++k) acc[k] = fmaf(gg[k], acc[k], rr[k]);
        }
        StoreVec<A, V>(Offset<A>(e.out, vi[u] * V), acc);
      } else if (vi[u] == nv) {
        for (int64_t j = nv * V; j < n; ++j) ForecastElement<S, A, MAXC, GATED>(e, c, j);
      }
    }
  } else {
    const int64_t base = tile * (int64_t{U} * kThreads * V);
#pragma unroll 1
    for (int k = 0; k < U * V; ++k) {
      const int64_t j = base + int64_t{k} * kThreads + tid;
      if (j < n) ForecastElement<S, A, MAXC, GATED>(e, c, j);
    }
  }
}

// TS_I8 (q8.cuh): thread tid forecasts record tile * kThreads + tid: y = c_0 d_0 (bf16), then per
// difference y = fma(c_i * scale, q, y), as the CPU twin.
template <int A, int MAXC, bool GATED>
TS_HD void ForecastTileQ8(const FcEnt& e, int64_t tile, int tid) {
  constexpr int VA = 16 / Dt<A>::kSize;
  const int cnt = e.count;
  const int64_t n = e.n;
  float c[MAXC];
  RecordSpan s;
  if (!RecordSetUp(e, tile, tid, s, [&] { EntryValues<MAXC>(e.coeffs, e.coef_src, cnt, c); })) return;
  const auto [r, j0, len, aligned, whole] = s;
  float acc[kQ];
  if (whole) {
#pragma unroll
    for (int q = 0; q < kQ / 8; ++q) LoadVec<TS_BF16, 8>(Offset<TS_BF16>(e.factors, j0 + q * 8), acc + q * 8);
#pragma unroll
    for (int k = 0; k < kQ; ++k) acc[k] = c[0] * acc[k];
  } else {
#pragma unroll
    for (int k = 0; k < kQ; ++k) acc[k] = k < len ? c[0] * LoadD0(e.factors, j0 + k, aligned) : 0.0f;
  }
#pragma unroll
  for (int i = 1; i < MAXC; ++i) {
    if (i < cnt) {
      Record rec;
      rec.Load(RecordAt(e.factors, n, i, r), aligned);
      const float cs = c[i] * rec.scale;
#pragma unroll
      for (int k = 0; k < kQ; ++k) acc[k] = fmaf(cs, rec.Q(k), acc[k]);
    }
  }
  const bool gated = GATED && (e.flags & kGated);
  if (whole) {
    // kVec implies kGateVec for a gated entry: each vector of VA elements shares one gate row.
#pragma unroll
    for (int q = 0; q < kQ / VA; ++q) {
      float* y = acc + q * VA;
      if (gated) {
        float rr[VA], gg[VA];
        LoadVec<A, VA>(Offset<A>(e.residual, j0 + q * VA), rr);
        LoadVec<A, VA>(Offset<A>(e.gate, GateIndex(e, j0 + q * VA)), gg);
#pragma unroll
        for (int k = 0; k < VA; ++k) y[k] = fmaf(gg[k], y[k], rr[k]);
      }
      StoreVec<A, VA>(Offset<A>(e.out, j0 + q * VA), y);
    }
  } else {
#pragma unroll
    for (int k = 0; k < kQ; ++k) {
      if (k < len) {
        const int64_t j = j0 + k;
        float y = acc[k];
        if (gated) y = fmaf(LoadAt<A>(e.gate, GateIndex(e, j)), y, LoadAt<A>(e.residual, j));
        StoreAt<A>(e.out, j, y);
      }
    }
  }
}

template <int S, int A, int MAXC, bool GATED>
TS_HD void ForecastTile(const FcEnt& e, int64_t tile, int tid) {
  if constexpr (S == TS_I8) ForecastTileQ8<A, MAXC, GATED>(e, tile, tid);
  else ForecastTileDense<S, A, MAXC, GATED>(e, tile, tid);
}

}  // namespace tsk
