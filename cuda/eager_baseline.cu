// ============================================================================================
//  BASELINE ONLY - NOT USED BY THE LIBRARY.
//  "Eager-style" TaylorSeer: one kernel launch per elementary tensor operation of the reference's
//  formulas (sub, div, copy / mul-scalar, add), as PyTorch eager runs them. It exists so the benchmark
//  can show what the fused multi-tensor kernels (update.cu, forecast.cu) save. Each op kernel is a
//  reasonable elementwise kernel (16-byte vectors when aligned, grid-stride), so the gap measured is
//  the extra passes over memory and the launches, not a weak op kernel.
// ============================================================================================
#include "dtype.cuh"
#include "launch.cuh"
#include "multi_tensor.cuh"
#include "ts_cuda_extra.h"

namespace tsk {
namespace {

enum Op { kSub, kAdd, kMulScalar, kDivScalar, kAddScalar, kMulGate };

struct OpArgs {
  void* out;
  const void* a;
  const void* b;  // second tensor (sub/add) or the [B, D] gate (mul-gate)
  int64_t n;
  float s;        // scalar
  int64_t dim;    // mul-gate
  int64_t row;    // mul-gate: tokens * dim
};

template <Op OP>
TS_HD float Apply(float a, float b, float s) {
  if (OP == kSub) return a - b;
  if (OP == kAdd) return a + b;
  if (OP == kMulScalar) return a * s;
  if (OP == kDivScalar) return a / s;
  if (OP == kAddScalar) return a + s;
  return a * b;  // kMulGate
}

template <int D, Op OP>
__global__ void __launch_bounds__(kThreads) OpKernel(const OpArgs p) {
  constexpr int V = 16 / Dt<D>::kSize;
  constexpr bool kTwo = OP == kSub || OP == kAdd;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool vec = Aligned16(p.out) && Aligned16(p.a) && (!kTwo || Aligned16(p.b)) &&
                   (OP != kMulGate || (Aligned16(p.b) && p.dim % V == 0));
  if (vec) {
    const int64_t nv = p.n / V;
    for (int64_t v = first; v < nv; v += stride) {
      float a[V], b[V], o[V];
      LoadVec<D, V>(Offset<D>(p.a, v * V), a);
      if (kTwo) LoadVec<D, V>(Offset<D>(p.b, v * V), b);
      if (OP == kMulGate) LoadVec<D, V>(Offset<D>(p.b, (v * V / p.row) * p.dim + (v * V) % p.dim), b);
#pragma unroll
      for (int k = 0; k < V; ++k) o[k] = Apply<OP>(a[k], (kTwo || OP == kMulGate) ? b[k] : 0.0f, p.s);
      StoreVec<D, V>(Offset<D>(p.out, v * V), o);
    }
    for (int64_t j = nv * V + first; j < p.n; j += stride) {
      float b = 0.0f;
      if (kTwo) b = LoadAt<D>(p.b, j);
      if (OP == kMulGate) b = LoadAt<D>(p.b, (j / p.row) * p.dim + j % p.dim);
      StoreAt<D>(p.out, j, Apply<OP>(LoadAt<D>(p.a, j), b, p.s));
    }
  } else {
    for (int64_t j = first; j < p.n; j += stride) {
      float b = 0.0f;
      if (kTwo) b = LoadAt<D>(p.b, j);
      if (OP == kMulGate) b = LoadAt<D>(p.b, (j / p.row) * p.dim + j % p.dim);
      StoreAt<D>(p.out, j, Apply<OP>(LoadAt<D>(p.a, j), b, p.s));
    }
  }
}

template <int D, Op OP>
ts_status RunOp(const OpArgs& a, cudaStream_t stream) {
  const void* fn = reinterpret_cast<const void*>(&OpKernel<D, OP>);
  int grid = 0;
  ts_status st = GridFor(fn, CeilDiv(a.n, int64_t{kThreads} * 4), kThreads, &grid);
  if (st != TS_OK) return st;
  if (grid < 1) return TS_OK;
  OpKernel<D, OP><<<grid, kThreads, 0, stream>>>(a);
  return Check(cudaGetLastError(), "eager op launch");
}

template <Op OP>
ts_status Run(ts_dtype d, const OpArgs& a, cudaStream_t stream) {
  switch (d) {
    case TS_F32: return RunOp<TS_F32, OP>(a, stream);
    case TS_F16: return RunOp<TS_F16, OP>(a, stream);
    default: return RunOp<TS_BF16, OP>(a, stream);
  }
}

OpArgs Args(void* out, const void* a, const void* b, int64_t n, float s) {
  OpArgs r{};
  r.out = out;
  r.a = a;
  r.b = b;
  r.n = n;
  r.s = s;
  return r;
}

#define TS_TRY(expr)                 \
  do {                               \
    ts_status st_ = (expr);          \
    if (st_ != TS_OK) return st_;    \
  } while (0)

// One entry's update, op by op: the differences in the scratch, then d_0 = F and the copies back.
ts_status UpdateEager(const ts_update_entry& e, ts_dtype dtype, void* scratch, cudaStream_t s, int64_t es) {
  const void* prev = e.fresh;
  for (int k = 0; k + 1 < e.new_count; ++k) {
    void* t = static_cast<char*>(scratch) + k * e.n * es;
    const void* dk = static_cast<char*>(e.factors) + k * e.n * es;
    TS_TRY(Run<kSub>(dtype, Args(t, prev, dk, e.n, 0.0f), s));              // new_k - old_k
    TS_TRY(Run<kDivScalar>(dtype, Args(t, t, nullptr, e.n, e.divisors[k]), s));  // / D
    prev = t;
  }
  TS_TRY(Check(cudaMemcpyAsync(e.factors, e.fresh, e.n * es, cudaMemcpyDeviceToDevice, s), "copy"));
  for (int k = 0; k + 1 < e.new_count; ++k)
    TS_TRY(Check(cudaMemcpyAsync(static_cast<char*>(e.factors) + (k + 1) * e.n * es,
                                 static_cast<char*>(scratch) + k * e.n * es, e.n * es, cudaMemcpyDeviceToDevice, s),
                 "copy"));
  return TS_OK;
}

// One entry's forecast, op by op, with two temporaries of n elements in the scratch.
ts_status ForecastEager(const ts_forecast_entry& e, ts_dtype dtype, void* scratch, cudaStream_t s, int64_t es) {
  void* t1 = scratch;
  void* t2 = static_cast<char*>(scratch) + e.n * es;
  // Without a gate the forecast goes straight to out; with one, F_hat goes to out first and the
  // residual is read from its own buffer (an aliased residual would be overwritten: the eager form
  // needs F_hat in a separate tensor, so it uses t1 for it below).
  const bool gated = e.gate != nullptr;
  void* o = gated ? t1 : e.out;
  void* tmp_a = gated ? t2 : t1;  // the two multiplies run in place on one temporary when gated
  void* tmp_b = t2;
  float fact = 1.0f;
  for (int k = 0; k < e.count; ++k) {
    if (k > 0) fact *= static_cast<float>(k);
    const void* dk = static_cast<const char*>(e.factors) + k * e.n * es;
    TS_TRY(Run<kMulScalar>(dtype, Args(tmp_a, dk, nullptr, e.n, 1.0f / fact), s));            // (1 / k!) * d_k
    TS_TRY(Run<kMulScalar>(dtype, Args(tmp_b, tmp_a, nullptr, e.n, e.coeffs[k] * fact), s));  // * x^k
    if (k == 0) TS_TRY(Run<kAddScalar>(dtype, Args(o, tmp_b, nullptr, e.n, 0.0f), s));        // 0 + t
    else TS_TRY(Run<kAdd>(dtype, Args(o, o, tmp_b, e.n, 0.0f), s));                           // o + t
  }
  if (gated) {
    OpArgs g = Args(t2, o, e.gate, e.n, 0.0f);
    g.dim = e.dim;
    g.row = e.tokens * e.dim;
    TS_TRY(Run<kMulGate>(dtype, g, s));                                                           // gate * F_hat
    TS_TRY(Run<kAdd>(dtype, Args(e.out, e.residual ? e.residual : e.out, t2, e.n, 0.0f), s));  // h + ...
  }
  return TS_OK;
}

// Both baselines: the argument checks, then `one` on every entry that is not empty and whose `temps`
// temporaries of n elements fit the scratch.
template <class Entry, class One>
ts_status EachEntry(const Entry* entries, int32_t count, ts_dtype dtype, void* scratch, int64_t scratch_bytes, void* stream,
                    const char* fn, int64_t (*temps)(const Entry&), One one) {
  ClearError();
  if (!ValidDtype(dtype) || count < 0) return Fail(TS_ERR_INVALID_ARGUMENT, std::string(fn) + ": bad argument");
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  const int64_t es = DtypeSize(dtype);
  for (int32_t i = 0; i < count; ++i) {
    const Entry& e = entries[i];
    if (e.n <= 0) continue;
    if (temps(e) * e.n * es > scratch_bytes) return Fail(TS_ERR_INVALID_ARGUMENT, std::string(fn) + ": scratch too small");
    TS_TRY(one(e, dtype, scratch, s, es));
  }
  return TS_OK;
}

}  // namespace
}  // namespace tsk

extern "C" ts_status ts_eager_update(const ts_update_entry* entries, int32_t count, ts_dtype dtype, void* scratch,
                                     int64_t scratch_bytes, void* stream) {
  return tsk::EachEntry<ts_update_entry>(
      entries, count, dtype, scratch, scratch_bytes, stream, "ts_eager_update",
      [](const ts_update_entry& e) -> int64_t { return e.new_count - 1; }, tsk::UpdateEager);
}

extern "C" ts_status ts_eager_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype dtype, void* scratch,
                                       int64_t scratch_bytes, void* stream) {
  return tsk::EachEntry<ts_forecast_entry>(entries, count, dtype, scratch, scratch_bytes, stream, "ts_eager_forecast",
                                           [](const ts_forecast_entry&) -> int64_t { return 2; }, tsk::ForecastEager);
}
