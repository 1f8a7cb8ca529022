// Standalone check of the CUDA kernels against a CPU reference (bit-exact for update and forecast:
// both use f32 IEEE division / fused multiply-add in the same order, and the reference converts with
// native/half.h, an implementation independent of the kernels' own).
//
//   ts_cuda_tool test            on the GPU (exit 0 only if every check passed); under compute-sanitizer too
//   ts_cuda_tool test --emulate  no GPU needed: runs the very same tile bodies and table builders on the
//                                host, block by block and thread by thread (the kernels need no barriers)
//   ts_cuda_tool test --quick    fewer/smaller cases (for compute-sanitizer)
//
// Build (here, no GPU needed):  cuda/tests/build.sh
#include <array>
#include <cmath>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <random>
#include <string>
#include <vector>

#include "../../native/cpu_kernels.h"
#include "../../native/half.h"
#include "../dtype_dispatch.h"
#include "../forecast_impl.cuh"
#include "../launch.cuh"
#include "../ts_cuda_extra.h"
#include "../update_impl.cuh"

using namespace tsk;

static bool g_emulate = false;
static bool g_quick = false;
static int g_failures = 0;
static int g_checks = 0;
static std::mt19937_64 g_rng(12345);

#define CHECK(cond, ...)                              \
  do {                                                \
    ++g_checks;                                       \
    if (!(cond)) {                                    \
      ++g_failures;                                   \
      if (g_failures < 40) {                          \
        printf("FAIL %s:%d: ", __FILE__, __LINE__);   \
        printf(__VA_ARGS__);                          \
        printf("\n");                                 \
      }                                               \
    }                                                 \
  } while (0)

static void CudaOk(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    printf("CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    exit(2);
  }
}

static const char* Name(ts_dtype d) { return d == TS_F32 ? "f32" : d == TS_F16 ? "f16" : d == TS_BF16 ? "bf16" : "i8"; }

// ---------------------------------------------------------------- reference (host, native/half.h)
static float RefLoad(ts_dtype d, const void* p, int64_t i) {
  if (d == TS_F32) return static_cast<const float*>(p)[i];
  const uint16_t h = static_cast<const uint16_t*>(p)[i];
  return d == TS_F16 ? ts::HalfToFloat(h) : ts::Bf16ToFloat(h);
}
static void RefStore(ts_dtype d, void* p, int64_t i, float v) {
  if (d == TS_F32) static_cast<float*>(p)[i] = v;
  else static_cast<uint16_t*>(p)[i] = d == TS_F16 ? ts::FloatToHalf(v) : ts::FloatToBf16(v);
}

static float RefMax(ts_dtype s) { return s == TS_F16 ? ts::kHalfMax : s == TS_BF16 ? ts::kBf16Max : ts::kFloatMax; }

static void RefUpdate(const ts_update_entry& e, ts_dtype s, ts_dtype a) {
  for (int64_t j = 0; j < e.n; ++j) {
    float old[TS_MAX_FACTORS];
    for (int i = 0; i + 1 < e.new_count; ++i) old[i] = RefLoad(s, e.factors, i * e.n + j);
    float cur = ts::StoredValue(RefLoad(a, e.fresh, j), RefMax(s));
    RefStore(s, e.factors, j, cur);
    for (int i = 0; i + 1 < e.new_count; ++i) {
      cur = ts::StoredDifference((cur - old[i]) / e.divisors[i], cur, old[i], RefMax(s));
      RefStore(s, e.factors, (i + 1) * e.n + j, cur);
    }
  }
}

static void RefForecast(const ts_forecast_entry& e, ts_dtype s, ts_dtype a) {
  for (int64_t j = 0; j < e.n; ++j) {
    float acc = e.coeffs[0] * RefLoad(s, e.factors, j);
    for (int i = 1; i < e.count; ++i) acc = fmaf(e.coeffs[i], RefLoad(s, e.factors, i * e.n + j), acc);
    if (e.gate) {
      const int64_t row = j / e.dim, b = row / e.tokens, c = j % e.dim;
      const float g = RefLoad(a, e.gate, b * e.dim + c);
      const float r = RefLoad(a, e.residual ? e.residual : e.out, j);
      acc = fmaf(g, acc, r);
    }
    RefStore(a, e.out, j, acc);
  }
}

// ---------------------------------------------------------------- host emulation of the launches
// With stats: per-thread sums as in UpdateStatsKernel, flushed (summed over the block's threads and added to
// the entry's stats) whenever the block moves to another entry, and at the end.
template <int S, int A, int MAXC>
static void EmulateUpdateTable(const UpdParams& p, int grid) {
  static float acc[kThreads][MAXC];
  for (int b = 0; b < grid; ++b) {
    int hint = 0, open = -1;
    memset(acc, 0, sizeof(acc));
    auto flush = [&](int entry) {
      const UpdEnt& e = p.e[entry];
      if (!e.stats) return;
      for (int i = 0; i < e.count && i < MAXC; ++i) {
        float sum = 0.0f;
        for (int tid = 0; tid < kThreads; ++tid) sum += acc[tid][i];
        e.stats[i] += sum;
      }
      memset(acc, 0, sizeof(acc));
    };
    for (int64_t t = b; t < p.total_tiles; t += grid) {
      hint = FindEntry(p, t, hint);
      const UpdEnt& e = p.e[hint];
      if (!(t >= e.tile_begin && (hint + 1 == p.num || t < p.e[hint + 1].tile_begin))) {
        printf("FindEntry returned a wrong entry\n");
        exit(3);
      }
      if (p.any_stats && hint != open) {
        if (open >= 0) flush(open);
        open = hint;
      }
      for (int tid = 0; tid < kThreads; ++tid) {
        if (p.any_stats && e.stats) UpdateTile<S, A, MAXC, true>(e, t - e.tile_begin, tid, acc[tid]);
        else UpdateTile<S, A, MAXC>(e, t - e.tile_begin, tid);
      }
    }
    if (p.any_stats && open >= 0) flush(open);
  }
}

template <int S, int A, int MAXC, bool G>
static void EmulateForecastTable(const FcParams& p, int grid) {
  for (int b = 0; b < grid; ++b) {
    int hint = 0;
    for (int64_t t = b; t < p.total_tiles; t += grid) {
      hint = FindEntry(p, t, hint);
      const FcEnt& e = p.e[hint];
      for (int tid = 0; tid < kThreads; ++tid) ForecastTile<S, A, MAXC, G>(e, t - e.tile_begin, tid);
    }
  }
}

template <int S, int A>
static void EmuUpd(const UpdParams& p, int maxc, int grid) {
  ts_dispatch::ByCount(maxc, [&](auto k) { EmulateUpdateTable<S, A, decltype(k)::value>(p, grid); });
}

template <int S, int A, bool G>
static void EmuFcG(const FcParams& p, int maxc, int grid) {
  ts_dispatch::ByCount(maxc, [&](auto k) { EmulateForecastTable<S, A, decltype(k)::value, G>(p, grid); });
}

template <int S, int A>
static void EmuFc(const FcParams& p, int maxc, bool gated, int grid) {
  if (gated) EmuFcG<S, A, true>(p, maxc, grid);
  else EmuFcG<S, A, false>(p, maxc, grid);
}

// The host emulation of one table, dispatched like the launchers.
static void EmulateUpdate(ts_dtype s, ts_dtype a, const UpdParams& p, int maxc, int grid) {
  TS_DISPATCH_DTYPES(EmuUpd, s, a, p, maxc, grid)
}

static void EmulateForecast(ts_dtype s, ts_dtype a, const FcParams& p, int maxc, bool gated, int grid) {
  TS_DISPATCH_DTYPES(EmuFc, s, a, p, maxc, gated, grid)
}

static int EmuGrid() { return 1 + static_cast<int>(g_rng() % 13); }  // small odd grids: many grid strides

static ts_status RunUpdate(const std::vector<ts_update_entry>& es, ts_dtype s, ts_dtype a) {
  if (!g_emulate) {
    ts_status st = ts_cuda_update(es.data(), static_cast<int32_t>(es.size()), s, a, nullptr);
    if (st != TS_OK) return st;
    CudaOk(cudaDeviceSynchronize(), "update sync");
    return TS_OK;
  }
  const int32_t n = static_cast<int32_t>(es.size());
  return LaunchSlices<UpdParams>(
      n, [&](int32_t first, UpdParams* p, int* maxc) { return BuildUpdateTable(es.data(), n, first, s, a, p, maxc); },
      [&](const UpdParams& p, int maxc) {
        EmulateUpdate(s, a, p, maxc, EmuGrid());
        return TS_OK;
      });
}

static ts_status RunForecast(const std::vector<ts_forecast_entry>& es, ts_dtype s, ts_dtype a) {
  if (!g_emulate) {
    ts_status st = ts_cuda_forecast(es.data(), static_cast<int32_t>(es.size()), s, a, nullptr);
    if (st != TS_OK) return st;
    CudaOk(cudaDeviceSynchronize(), "forecast sync");
    return TS_OK;
  }
  const int32_t n = static_cast<int32_t>(es.size());
  bool gated = false;
  return LaunchSlices<FcParams>(
      n, [&](int32_t first, FcParams* p, int* maxc) { return BuildForecastTable(es.data(), n, first, s, a, p, maxc, &gated); },
      [&](const FcParams& p, int maxc) {
        EmulateForecast(s, a, p, maxc, gated, EmuGrid());
        return TS_OK;
      });
}

// ---------------------------------------------------------------- buffers with guard bands
// One "device" buffer (cudaMalloc, or malloc when emulating) with 256 guard bytes on each side, plus a
// host mirror. `offset` bytes shift the data start to make misaligned pointers.
struct Buf {
  char* base = nullptr;  // allocation
  size_t bytes = 0;      // data bytes
  size_t offset = 0;
  std::vector<unsigned char> host;  // data + guards, mirror
  static constexpr size_t kGuard = 256;
  void* dev() const { return base + kGuard + offset; }
  void* h() { return host.data() + kGuard + offset; }
  size_t total() const { return bytes + 2 * kGuard + offset + 16; }
  void Alloc(size_t b, size_t off) {
    bytes = b;
    offset = off;
    host.assign(total(), 0xA5);  // guard pattern
    if (g_emulate) base = static_cast<char*>(malloc(total()));
    else CudaOk(cudaMalloc(&base, total()), "cudaMalloc");
  }
  void Free() {
    if (g_emulate) free(base);
    else cudaFree(base);
    base = nullptr;
  }
  void Push() {
    if (g_emulate) memcpy(base, host.data(), total());
    else CudaOk(cudaMemcpy(base, host.data(), total(), cudaMemcpyHostToDevice), "H2D");
  }
  std::vector<unsigned char> Pull() const {
    std::vector<unsigned char> out(total());
    if (g_emulate) memcpy(out.data(), base, total());
    else CudaOk(cudaMemcpy(out.data(), base, total(), cudaMemcpyDeviceToHost), "D2H");
    return out;
  }
};

static float RandVal() {
  // Never zero, mixed magnitudes and signs.
  std::uniform_real_distribution<float> u(0.05f, 2.0f);
  float v = u(g_rng);
  return (g_rng() & 1) ? v : -v;
}

static void FillRandom(Buf& b, ts_dtype d, int64_t n) {
  for (int64_t i = 0; i < n; ++i) RefStore(d, b.h(), i, RandVal());
}

static void Poison(Buf& b, int64_t from_byte, int64_t to_byte) {
  memset(static_cast<char*>(b.h()) + from_byte, 0xFF, to_byte - from_byte);  // NaN in every dtype
}

// Compares the pulled device buffer with the host reference mirror, guards included.
static bool Same(const Buf& b, const std::vector<unsigned char>& got, const char* what) {
  if (memcmp(got.data(), b.host.data(), b.total()) == 0) return true;
  size_t first = 0;
  while (first < b.total() && got[first] == b.host[first]) ++first;
  printf("  %s: first differing byte %zd (data starts at %zu, %zu data bytes): got %02x want %02x\n", what,
         static_cast<ssize_t>(first) - static_cast<ssize_t>(Buf::kGuard + b.offset), Buf::kGuard + b.offset, b.bytes,
         got[first], b.host[first]);
  return false;
}

// ---------------------------------------------------------------- test cases
struct UpdCase {
  int64_t n;
  int old_count, new_count;
  size_t off_f, off_x;  // byte offsets (misalignment)
};

// Sums of squares of the new factors as computed in f32 before rounding (what ts_update_entry.stats gets).
static void RefStats(const ts_update_entry& e, ts_dtype s, ts_dtype a, double* out) {
  for (int i = 0; i < TS_MAX_FACTORS; ++i) out[i] = 0.0;
  for (int64_t j = 0; j < e.n; ++j) {
    float cur = ts::StoredValue(RefLoad(a, e.fresh, j), RefMax(s));
    out[0] += static_cast<double>(cur) * cur;
    for (int i = 0; i + 1 < e.new_count; ++i) {
      const float o = RefLoad(s, e.factors, i * e.n + j);
      cur = ts::StoredDifference((cur - o) / e.divisors[i], cur, o, RefMax(s));
      out[i + 1] += static_cast<double>(cur) * cur;
    }
  }
}

// stats: every other entry asks for the norms of its new factors (the rest run in the same launch without).
// One update case on the "device": factors with room for TS_MAX_FACTORS (random where valid, poison in the
// slots without data), a random fresh feature, and the entry pointing at them (divisors left to the caller).
static void SetUpUpdate(const UpdCase& c, ts_dtype s, ts_dtype a, Buf& f, Buf& x, ts_update_entry& e) {
  const int ss = DtypeSize(s), as = DtypeSize(a);
  const int cap = TS_MAX_FACTORS;
  f.Alloc(cap * c.n * ss, c.off_f);
  x.Alloc(c.n * as, c.off_x);
  FillRandom(f, s, cap * c.n);
  FillRandom(x, a, c.n);
  if (c.old_count < cap) Poison(f, c.old_count * c.n * ss, cap * c.n * ss);
  f.Push();
  x.Push();
  memset(&e, 0, sizeof(e));
  e.factors = f.dev();
  e.fresh = x.dev();
  e.n = c.n;
  e.old_count = c.old_count;
  e.new_count = c.new_count;
}

static void TestUpdateTable(ts_dtype s, ts_dtype a, const std::vector<UpdCase>& cases, const char* label, bool stats = false) {
  std::vector<Buf> fb(cases.size()), xb(cases.size()), sb(cases.size());
  std::vector<ts_update_entry> es(cases.size());
  std::vector<std::array<double, TS_MAX_FACTORS>> want(cases.size());
  for (size_t k = 0; k < cases.size(); ++k) {
    ts_update_entry& e = es[k];
    SetUpUpdate(cases[k], s, a, fb[k], xb[k], e);
    const float divs[] = {6.0f, 0.75f, 3.0f, 1.5f, 7.0f};
    for (int i = 0; i < TS_MAX_ORDER; ++i) e.divisors[i] = divs[(k + i) % 5];
    if (stats && k % 2 == 0) {
      sb[k].Alloc(TS_MAX_FACTORS * 4, 0);
      memset(sb[k].h(), 0, TS_MAX_FACTORS * 4);
      sb[k].Push();
      e.stats = static_cast<float*>(sb[k].dev());
      ts_update_entry h = e;
      h.factors = fb[k].h();
      h.fresh = xb[k].h();
      RefStats(h, s, a, want[k].data());
    }
  }
  ts_status st = RunUpdate(es, s, a);
  CHECK(st == TS_OK, "%s update %s/%s: status %d (%s)", label, Name(s), Name(a), st, ts_cuda_last_error());
  for (size_t k = 0; k < cases.size(); ++k) {
    ts_update_entry h = es[k];
    h.factors = fb[k].h();
    h.fresh = xb[k].h();
    RefUpdate(h, s, a);
    const bool ok = Same(fb[k], fb[k].Pull(), "factors") && Same(xb[k], xb[k].Pull(), "fresh (must be untouched)");
    CHECK(ok, "%s update %s/%s entry %zu n=%lld counts %d->%d offsets %zu/%zu", label, Name(s), Name(a), k,
          static_cast<long long>(cases[k].n), cases[k].old_count, cases[k].new_count, cases[k].off_f, cases[k].off_x);
    if (es[k].stats) {
      std::vector<unsigned char> got = sb[k].Pull();
      const float* g = reinterpret_cast<const float*>(got.data() + Buf::kGuard);
      for (int i = 0; i < TS_MAX_FACTORS; ++i) {
        const double w = i < cases[k].new_count ? want[k][i] : 0.0;
        const double err = fabs(g[i] - w) / (w > 0 ? w : 1.0);
        CHECK(err < 1e-4, "%s update stats %s/%s entry %zu factor %d: got %g, want %g", label, Name(s), Name(a), k, i, g[i], w);
      }
      sb[k].Free();
    }
    fb[k].Free();
    xb[k].Free();
  }
}

struct FcCase {
  int64_t n;  // = B * L * D when gated
  int count;
  bool gated, alias;  // alias: residual == out
  int64_t tokens, dim;
  size_t off_f, off_o, off_r, off_g;
};

// The buffers of one forecast case: factors, out, and for a gated case the gate and (unless the residual
// is out itself) the residual.
struct FcBufs {
  Buf f, o, r, g;
  void Free(const FcCase& c) {
    f.Free();
    o.Free();
    if (c.gated) {
      g.Free();
      if (!c.alias) r.Free();
    }
  }
};

// One forecast case on the "device": random factors, gate and separate residual, pushed; out allocated
// but neither filled nor pushed (the caller decides what it holds); the entry pointing at them with its
// residual NULL (= out) for an aliased case, coefficients left to the caller.
static void SetUpForecast(const FcCase& c, ts_dtype s, ts_dtype a, FcBufs& b, ts_forecast_entry& e) {
  const int ss = DtypeSize(s), as = DtypeSize(a);
  b.f.Alloc(c.count * c.n * ss, c.off_f);
  b.o.Alloc(c.n * as, c.off_o);
  FillRandom(b.f, s, c.count * c.n);
  b.f.Push();
  memset(&e, 0, sizeof(e));
  if (c.gated) {
    const int64_t batch = c.n / (c.tokens * c.dim);
    b.g.Alloc(batch * c.dim * as, c.off_g);
    FillRandom(b.g, a, batch * c.dim);
    b.g.Push();
    e.gate = b.g.dev();
    e.tokens = c.tokens;
    e.dim = c.dim;
    if (!c.alias) {
      b.r.Alloc(c.n * as, c.off_r);
      FillRandom(b.r, a, c.n);
      b.r.Push();
      e.residual = b.r.dev();
    }
  }
  e.factors = b.f.dev();
  e.out = b.o.dev();
  e.n = c.n;
  e.count = c.count;
}

// What out holds before a forecast: the residual h for an aliased gated case (the forecast adds into it),
// poison otherwise (every element must be written).
static void PrepareOut(const FcCase& c, ts_dtype a, Buf& o) {
  if (c.gated && c.alias) FillRandom(o, a, c.n);
  else Poison(o, 0, c.n * DtypeSize(a));
  o.Push();
}

// The host view of a forecast entry, for the reference.
static ts_forecast_entry HostForecast(const ts_forecast_entry& dev, const FcCase& c, FcBufs& b) {
  ts_forecast_entry h = dev;
  h.factors = b.f.h();
  h.out = b.o.h();
  if (c.gated) {
    h.gate = b.g.h();
    h.residual = c.alias ? b.o.h() : b.r.h();
  }
  return h;
}

static void TestForecastTable(ts_dtype s, ts_dtype a, const std::vector<FcCase>& cases, const char* label) {
  const size_t m = cases.size();
  std::vector<FcBufs> bufs(m);
  std::vector<ts_forecast_entry> es(m);
  for (size_t k = 0; k < m; ++k) {
    const FcCase& c = cases[k];
    ts_forecast_entry& e = es[k];
    SetUpForecast(c, s, a, bufs[k], e);
    if (c.gated && c.alias && k % 2) e.residual = e.out;  // NULL and out itself both mean out (as the CPU twin)
    PrepareOut(c, a, bufs[k].o);
    for (int i = 0; i < TS_MAX_FACTORS; ++i) e.coeffs[i] = RandVal();
  }
  ts_status st = RunForecast(es, s, a);
  CHECK(st == TS_OK, "%s forecast %s/%s: status %d (%s)", label, Name(s), Name(a), st, ts_cuda_last_error());
  for (size_t k = 0; k < m; ++k) {
    const FcCase& c = cases[k];
    FcBufs& b = bufs[k];
    RefForecast(HostForecast(es[k], c, b), s, a);
    bool ok = Same(b.o, b.o.Pull(), "out") && Same(b.f, b.f.Pull(), "factors (must be untouched)");
    if (c.gated && !c.alias) ok = ok && Same(b.r, b.r.Pull(), "residual (must be untouched)");
    CHECK(ok, "%s forecast %s/%s entry %zu n=%lld count %d gated %d alias %d L=%lld D=%lld offsets %zu/%zu/%zu/%zu",
          label, Name(s), Name(a), k, static_cast<long long>(c.n), c.count, c.gated, c.alias,
          static_cast<long long>(c.tokens), static_cast<long long>(c.dim), c.off_f, c.off_o, c.off_r, c.off_g);
    b.Free(c);
  }
}

static void TestFastDiv() {
  std::vector<uint32_t> ds = {1, 2, 3, 5, 7, 8, 9, 10, 255, 256, 257, 1000, 3072, 4096, 4608, 20656, 65535, 65536,
                              65537, 1u << 20, 0x7fffffffu, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu};
  for (int i = 0; i < 200; ++i) ds.push_back(static_cast<uint32_t>(g_rng()) >> (g_rng() % 32));
  for (uint32_t d : ds) {
    if (d == 0) continue;
    FastDiv f = FastDiv::Make(d);
    std::vector<uint32_t> xs = {0, 1, d - 1, d, d + 1, 2 * d - 1, 2 * d, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
    for (int i = 0; i < 2000; ++i) xs.push_back(static_cast<uint32_t>(g_rng()));
    bool ok = true;
    for (uint32_t x : xs) ok = ok && f.Div(x) == x / d;
    CHECK(ok, "FastDiv by %u", d);
  }
}

static size_t Mis(ts_dtype d) { return DtypeSize(d); }  // one element off 16-byte alignment

// ---------------------------------------------------------------- indirect launches (graph replays)
// Values a kernel reads from memory when it runs: ts_cuda_*_indirect. The launch is recorded ONCE (on the
// GPU: a CUDA graph of a copy from pinned host memory plus the launch; emulated: the table built once), then
// run `kRuns` times with new values written between runs. Every run must equal the direct launch with
// those values, bit for bit. stride 0: every entry shares one row of values.
struct IndirectLaunch {
  bool update;
  std::vector<ts_update_entry> ups;
  std::vector<ts_forecast_entry> fcs;
  ts_dtype s, a;
  const float* src;  // device (or emulated) values
  int64_t stride;
  // emulation: tables built once
  std::vector<UpdParams> utab;
  std::vector<FcParams> ftab;
  std::vector<int> maxc;
  std::vector<bool> gated;
  std::vector<int> grid;
  // GPU: the captured graph
  cudaStream_t stream = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaGraph_t graph = nullptr;
  float* pinned = nullptr;
  size_t bytes = 0;
};

static void RecordIndirect(IndirectLaunch& L) {
  const int32_t count = static_cast<int32_t>(L.update ? L.ups.size() : L.fcs.size());
  if (g_emulate) {
    int32_t next = 0;
    while (next < count) {
      int maxc = 1;
      bool gated = false;
      if (L.update) {
        L.utab.emplace_back();
        next = BuildUpdateTable(L.ups.data(), count, next, L.s, L.a, &L.utab.back(), &maxc, L.src, L.stride);
      } else {
        L.ftab.emplace_back();
        next = BuildForecastTable(L.fcs.data(), count, next, L.s, L.a, &L.ftab.back(), &maxc, &gated, L.src, L.stride);
      }
      L.maxc.push_back(maxc);
      L.gated.push_back(gated);
      L.grid.push_back(EmuGrid());
    }
    return;
  }
  CudaOk(cudaStreamCreateWithFlags(&L.stream, cudaStreamNonBlocking), "stream");
  CudaOk(cudaMallocHost(&L.pinned, L.bytes), "cudaMallocHost");
  // Warm-up launch outside the capture (module loading, occupancy queries), as a real pipeline does; values
  // 1 keep an update finite. The caller uploads its data after this.
  for (size_t i = 0; i < L.bytes / sizeof(float); ++i) L.pinned[i] = 1.0f;
  CudaOk(cudaMemcpy(const_cast<float*>(L.src), L.pinned, L.bytes, cudaMemcpyHostToDevice), "warm-up values");
  const ts_status warm = L.update ? ts_cuda_update_indirect(L.ups.data(), count, L.s, L.a, L.src, L.stride, L.stream)
                                  : ts_cuda_forecast_indirect(L.fcs.data(), count, L.s, L.a, L.src, L.stride, L.stream);
  CHECK(warm == TS_OK, "indirect warm-up launch: status %d (%s)", warm, ts_cuda_last_error());
  CudaOk(cudaStreamSynchronize(L.stream), "warm-up sync");
  CudaOk(cudaStreamBeginCapture(L.stream, cudaStreamCaptureModeGlobal), "begin capture");
  CudaOk(cudaMemcpyAsync(const_cast<float*>(L.src), L.pinned, L.bytes, cudaMemcpyHostToDevice, L.stream), "captured copy");
  const ts_status st = L.update ? ts_cuda_update_indirect(L.ups.data(), count, L.s, L.a, L.src, L.stride, L.stream)
                                : ts_cuda_forecast_indirect(L.fcs.data(), count, L.s, L.a, L.src, L.stride, L.stream);
  CHECK(st == TS_OK, "indirect launch in a capture: status %d (%s)", st, ts_cuda_last_error());
  CudaOk(cudaStreamEndCapture(L.stream, &L.graph), "end capture");
  CudaOk(cudaGraphInstantiate(&L.exec, L.graph, 0), "instantiate");
}

// Allocates the values the recorded launch reads (one row per entry, or one shared row) and records it.
static void RecordWithValues(IndirectLaunch& L, Buf& vb, size_t rows, bool shared_row) {
  vb.Alloc(rows * TS_MAX_FACTORS * sizeof(float), 0);
  vb.Push();
  L.src = static_cast<const float*>(vb.dev());
  L.stride = shared_row ? 0 : TS_MAX_FACTORS;
  L.bytes = rows * TS_MAX_FACTORS * sizeof(float);
  RecordIndirect(L);
}

// Writes `vals` where the recorded launch reads them, then runs it.
static void RunIndirect(IndirectLaunch& L, const std::vector<float>& vals, Buf& vb) {
  if (g_emulate) {
    memcpy(vb.dev(), vals.data(), vals.size() * sizeof(float));
    for (size_t t = 0; t < L.maxc.size(); ++t) {
      if (L.update) {
        if (L.utab[t].num) EmulateUpdate(L.s, L.a, L.utab[t], L.maxc[t], L.grid[t]);
      } else if (L.ftab[t].num) {
        EmulateForecast(L.s, L.a, L.ftab[t], L.maxc[t], L.gated[t], L.grid[t]);
      }
    }
    return;
  }
  memcpy(L.pinned, vals.data(), vals.size() * sizeof(float));
  CudaOk(cudaGraphLaunch(L.exec, L.stream), "graph launch");
  CudaOk(cudaStreamSynchronize(L.stream), "graph sync");
}

static void FreeIndirect(IndirectLaunch& L) {
  if (g_emulate) return;
  cudaGraphExecDestroy(L.exec);
  cudaGraphDestroy(L.graph);
  cudaFreeHost(L.pinned);
  cudaStreamDestroy(L.stream);
}

// Fresh values for a run: non-zero, and for an update within a range that keeps the factors finite.
static std::vector<float> RunValues(size_t rows, bool update) {
  std::vector<float> v(rows * TS_MAX_FACTORS);
  std::uniform_real_distribution<float> u(0.5f, 8.0f);
  for (float& x : v) x = update ? ((g_rng() & 1) ? u(g_rng) : -u(g_rng)) : RandVal();
  return v;
}

static void TestIndirectForecast(ts_dtype s, ts_dtype a, bool shared_row) {
  constexpr int kRuns = 3;
  // plain, misaligned, gated with an aliased residual, gated scalar path, an empty entry, counts 1..5
  const std::vector<FcCase> cases = {{4099, 3, false, false, 0, 0, 0, 0, 0, 0},
                                     {1001, 2, false, false, 0, 0, Mis(s), 0, 0, 0},
                                     {2 * 7 * 64, 5, true, true, 7, 64, 0, 0, 0, 0},
                                     {2 * 9 * 13, 1, true, false, 9, 13, 0, 0, 0, 0},
                                     {0, 2, false, false, 0, 0, 0, 0, 0, 0},
                                     {3000, 4, false, false, 0, 0, 0, 0, 0, 0}};
  const size_t m = cases.size();
  std::vector<FcBufs> bufs(m);
  IndirectLaunch L;
  L.update = false;
  L.s = s;
  L.a = a;
  L.fcs.resize(m);
  for (size_t k = 0; k < m; ++k) {
    ts_forecast_entry& e = L.fcs[k];
    SetUpForecast(cases[k], s, a, bufs[k], e);
    for (int i = 0; i < TS_MAX_FACTORS; ++i) e.coeffs[i] = NAN;  // ignored by an indirect launch
  }
  const size_t rows = shared_row ? 1 : m;
  Buf vb;
  RecordWithValues(L, vb, rows, shared_row);
  for (int r = 0; r < kRuns; ++r) {
    for (size_t k = 0; k < m; ++k) PrepareOut(cases[k], a, bufs[k].o);
    const std::vector<float> vals = RunValues(rows, false);
    RunIndirect(L, vals, vb);
    for (size_t k = 0; k < m; ++k) {
      const FcCase& c = cases[k];
      ts_forecast_entry h = HostForecast(L.fcs[k], c, bufs[k]);
      const float* row = vals.data() + (shared_row ? 0 : k * TS_MAX_FACTORS);
      for (int i = 0; i < TS_MAX_FACTORS; ++i) h.coeffs[i] = row[i];
      RefForecast(h, s, a);
      CHECK(Same(bufs[k].o, bufs[k].o.Pull(), "out"), "indirect forecast %s/%s run %d entry %zu (count %d, %s row)", Name(s), Name(a), r,
            k, c.count, shared_row ? "shared" : "own");
    }
  }
  FreeIndirect(L);
  vb.Free();
  for (size_t k = 0; k < m; ++k) bufs[k].Free(cases[k]);
}

static void TestIndirectUpdate(ts_dtype s, ts_dtype a, bool shared_row) {
  constexpr int kRuns = 3;
  // steady state (new_count == old_count, so every run is a valid full step), a growing-order one would
  // change the counts and need another recording; misaligned, stats, count 1 (no divisor).
  const std::vector<UpdCase> cases = {{4099, 3, 3, 0, 0}, {1001, 5, 5, Mis(s), 0}, {2048, 1, 1, 0, 0}, {0, 2, 2, 0, 0}, {777, 2, 2, 0, Mis(a)}};
  const size_t m = cases.size();
  std::vector<Buf> fb(m), xb(m);
  IndirectLaunch L;
  L.update = true;
  L.s = s;
  L.a = a;
  L.ups.resize(m);
  for (size_t k = 0; k < m; ++k) {
    ts_update_entry& e = L.ups[k];
    SetUpUpdate(cases[k], s, a, fb[k], xb[k], e);
    for (int i = 0; i < TS_MAX_ORDER; ++i) e.divisors[i] = NAN;  // ignored by an indirect launch
  }
  const size_t rows = shared_row ? 1 : m;
  Buf vb;
  RecordWithValues(L, vb, rows, shared_row);
  for (size_t k = 0; k < m; ++k) fb[k].Push();  // the recording's warm-up launch updated them
  for (int r = 0; r < kRuns; ++r) {
    for (size_t k = 0; k < m; ++k) {
      FillRandom(xb[k], a, cases[k].n);
      xb[k].Push();
    }
    const std::vector<float> vals = RunValues(rows, true);
    RunIndirect(L, vals, vb);
    for (size_t k = 0; k < m; ++k) {
      ts_update_entry h = L.ups[k];
      const float* row = vals.data() + (shared_row ? 0 : k * TS_MAX_FACTORS);
      for (int i = 0; i < TS_MAX_ORDER; ++i) h.divisors[i] = row[i];
      h.factors = fb[k].h();
      h.fresh = xb[k].h();
      RefUpdate(h, s, a);
      CHECK(Same(fb[k], fb[k].Pull(), "factors"), "indirect update %s/%s run %d entry %zu (count %d, %s row)", Name(s), Name(a), r, k,
            cases[k].new_count, shared_row ? "shared" : "own");
    }
  }
  FreeIndirect(L);
  vb.Free();
  for (size_t k = 0; k < m; ++k) {
    fb[k].Free();
    xb[k].Free();
  }
}

// ---------------------------------------------------------------- TS_I8 against the CPU twin
// The update and forecast of 8-bit factors (d_0 bf16, the differences in records) write the same bytes as
// the CPU kernels (native/cpu_kernels_impl.h), linked into this tool; test/native/q8.test.ts checks those
// against the format's definition in taylorseer.h.
struct Q8Case {
  int64_t n;
  int old_count, new_count;
  size_t off_f, off_x;  // byte offsets (misalignment)
  bool specials;        // a zero record, NaN and infinity in the feature
};

static const float kQ8Divisors[TS_MAX_ORDER] = {6.0f, 0.75f, 3.0f, 1.5f};

// `count` valid factors in fb's host mirror: count CPU updates with random features.
static void FillQ8(Buf& fb, int64_t n, int count) {
  std::vector<float> x(n);
  for (int s = 0; s < count; ++s) {
    for (float& v : x) v = RandVal() * (1.0f + s);
    ts_update_entry e{};
    e.factors = fb.h();
    e.fresh = x.data();
    e.n = n;
    e.old_count = s;
    e.new_count = s + 1;
    for (int i = 0; i < TS_MAX_ORDER; ++i) e.divisors[i] = kQ8Divisors[i];
    ts::CpuUpdate(&e, 1, TS_I8, TS_F32);
  }
}

// i8 factors against the CPU twin's: byte for byte, except that a NaN in d_0 (bf16) may carry another
// payload (CUDA's conversion gives the canonical 0x7fff, the CPU keeps the input's sign and payload).
static bool SameQ8Factors(const Buf& b, std::vector<unsigned char> got, int64_t n) {
  const size_t start = Buf::kGuard + b.offset;
  auto isNan = [](const unsigned char* p) { return ((p[0] | (p[1] << 8)) & 0x7fff) > 0x7f80; };
  for (int64_t j = 0; j < n && start + 2 * j + 1 < got.size(); ++j) {
    unsigned char* g = got.data() + start + 2 * j;
    const unsigned char* w = b.host.data() + start + 2 * j;
    if (isNan(g) && isNan(w)) memcpy(g, w, 2);
  }
  return Same(b, got, "factors");
}

static void TestQ8Update(ts_dtype a, const std::vector<Q8Case>& cases, const char* label, bool stats = false) {
  const int as = DtypeSize(a);
  const size_t m = cases.size();
  std::vector<Buf> fb(m), xb(m), sb(m);
  std::vector<ts_update_entry> es(m);
  for (size_t k = 0; k < m; ++k) {
    const Q8Case& c = cases[k];
    const int64_t bytes = ts_i8_bytes(c.n, TS_MAX_FACTORS);
    fb[k].Alloc(bytes, c.off_f);
    xb[k].Alloc(c.n * as, c.off_x);
    FillQ8(fb[k], c.n, c.old_count);
    if (c.old_count < TS_MAX_FACTORS) Poison(fb[k], c.old_count == 0 ? 0 : ts_i8_bytes(c.n, c.old_count), bytes);  // slots without data
    FillRandom(xb[k], a, c.n);
    if (c.specials) {
      for (int64_t j = 0; j < c.n && j < 64; ++j) RefStore(a, xb[k].h(), j, 0.0f);
      if (c.n > 70) RefStore(a, xb[k].h(), 70, NAN);
      if (c.n > 130) RefStore(a, xb[k].h(), 130, INFINITY);
    }
    fb[k].Push();
    xb[k].Push();
    ts_update_entry& e = es[k];
    memset(&e, 0, sizeof(e));
    e.factors = fb[k].dev();
    e.fresh = xb[k].dev();
    e.n = c.n;
    e.old_count = c.old_count;
    e.new_count = c.new_count;
    for (int i = 0; i < TS_MAX_ORDER; ++i) e.divisors[i] = kQ8Divisors[(k + i) % TS_MAX_ORDER];
    if (stats && k % 2 == 0) {
      sb[k].Alloc(2 * TS_MAX_FACTORS * 4, 0);
      memset(sb[k].h(), 0, 2 * TS_MAX_FACTORS * 4);  // [0, 5): the device's sums, [5, 10): the CPU's
      sb[k].Push();
      e.stats = static_cast<float*>(sb[k].dev());
    }
  }
  ts_status st = RunUpdate(es, TS_I8, a);
  CHECK(st == TS_OK, "%s update i8/%s: status %d (%s)", label, Name(a), st, ts_cuda_last_error());
  for (size_t k = 0; k < m; ++k) {
    ts_update_entry h = es[k];
    h.factors = fb[k].h();
    h.fresh = xb[k].h();
    float* cpu_stats = es[k].stats ? static_cast<float*>(sb[k].h()) + TS_MAX_FACTORS : nullptr;
    h.stats = cpu_stats;
    ts::CpuUpdate(&h, 1, TS_I8, a);
    const bool ok = SameQ8Factors(fb[k], fb[k].Pull(), cases[k].n) && Same(xb[k], xb[k].Pull(), "fresh (must be untouched)");
    CHECK(ok, "%s update i8/%s entry %zu n=%lld counts %d->%d offsets %zu/%zu specials %d", label, Name(a), k,
          static_cast<long long>(cases[k].n), cases[k].old_count, cases[k].new_count, cases[k].off_f, cases[k].off_x,
          cases[k].specials);
    if (cpu_stats) {
      std::vector<unsigned char> got = sb[k].Pull();
      const float* g = reinterpret_cast<const float*>(got.data() + Buf::kGuard);
      for (int i = 0; i < TS_MAX_FACTORS; ++i) {
        const double w = cpu_stats[i];
        const double err = fabs(g[i] - w) / (w > 0 ? w : 1.0);
        CHECK(err < 1e-4 || (std::isnan(w) && std::isnan(g[i])) || (std::isinf(w) && g[i] == w),
              "%s update stats i8/%s entry %zu factor %d: got %g, CPU %g", label, Name(a), k, i, g[i], w);
      }
      sb[k].Free();
    }
    fb[k].Free();
    xb[k].Free();
  }
}

struct Q8FcCase {
  int64_t n;  // = B * L * D when gated
  int count;
  bool gated, alias;
  int64_t tokens, dim;
  size_t off_f, off_o;
};

static void TestQ8Forecast(ts_dtype a, const std::vector<Q8FcCase>& cases, const char* label) {
  const int as = DtypeSize(a);
  const size_t m = cases.size();
  std::vector<Buf> fb(m), ob(m), rb(m), gb(m);
  std::vector<ts_forecast_entry> es(m);
  for (size_t k = 0; k < m; ++k) {
    const Q8FcCase& c = cases[k];
    fb[k].Alloc(ts_i8_bytes(c.n, c.count), c.off_f);
    FillQ8(fb[k], c.n, c.count);
    ob[k].Alloc(c.n * as, c.off_o);
    ts_forecast_entry& e = es[k];
    memset(&e, 0, sizeof(e));
    if (c.gated) {
      const int64_t batch = c.n / (c.tokens * c.dim);
      gb[k].Alloc(batch * c.dim * as, 0);
      FillRandom(gb[k], a, batch * c.dim);
      gb[k].Push();
      e.gate = gb[k].dev();
      e.tokens = c.tokens;
      e.dim = c.dim;
      if (c.alias) {
        FillRandom(ob[k], a, c.n);
        e.residual = ob[k].dev();
      } else {
        rb[k].Alloc(c.n * as, 0);
        FillRandom(rb[k], a, c.n);
        rb[k].Push();
        e.residual = rb[k].dev();
        Poison(ob[k], 0, c.n * as);
      }
    } else {
      Poison(ob[k], 0, c.n * as);
    }
    fb[k].Push();
    ob[k].Push();
    e.factors = fb[k].dev();
    e.out = ob[k].dev();
    e.n = c.n;
    e.count = c.count;
    for (int i = 0; i < TS_MAX_FACTORS; ++i) e.coeffs[i] = RandVal();
  }
  ts_status st = RunForecast(es, TS_I8, a);
  CHECK(st == TS_OK, "%s forecast i8/%s: status %d (%s)", label, Name(a), st, ts_cuda_last_error());
  for (size_t k = 0; k < m; ++k) {
    const Q8FcCase& c = cases[k];
    ts_forecast_entry h = es[k];
    h.factors = fb[k].h();
    h.out = ob[k].h();
    if (c.gated) {
      h.gate = gb[k].h();
      h.residual = c.alias ? ob[k].h() : rb[k].h();
    }
    ts::CpuForecast(&h, 1, TS_I8, a);
    const bool ok = Same(ob[k], ob[k].Pull(), "out") && Same(fb[k], fb[k].Pull(), "factors (must be untouched)");
    CHECK(ok, "%s forecast i8/%s entry %zu n=%lld count %d gated %d alias %d L=%lld D=%lld offsets %zu/%zu", label, Name(a),
          k, static_cast<long long>(c.n), c.count, c.gated, c.alias, static_cast<long long>(c.tokens),
          static_cast<long long>(c.dim), c.off_f, c.off_o);
    fb[k].Free();
    ob[k].Free();
    if (c.gated) {
      gb[k].Free();
      if (!c.alias) rb[k].Free();
    }
  }
}

static void TestQ8() {
  const std::vector<int64_t> lens = {1, 63, 64, 65, 1000, 4099, 64 * kThreads * 3 + 5, g_quick ? 9000 : 65537};
  for (ts_dtype a : {TS_F32, TS_F16, TS_BF16}) {
    for (int nc = 1; nc <= TS_MAX_FACTORS; ++nc) {
      for (int64_t n : lens) {
        const int oc = (n % 2) ? nc : nc - 1;  // old_count = new_count or new_count - 1
        TestQ8Update(a, {{n, oc, nc, 0, 0, false}}, "i8 single");
        TestQ8Forecast(a, {{n, nc, false, false, 0, 0, 0, 0}}, "i8 single");
      }
      // misaligned (byte accesses on the device): factors off 16 bytes (2, 6), the feature off by an element
      TestQ8Update(a, {{1001, nc, nc, 2, 0, false}, {1024, nc - 1, nc, 6, 0, false}, {1024, nc - 1, nc, 0, Mis(a), true}}, "i8 misaligned");
      TestQ8Forecast(a, {{1001, nc, false, false, 0, 0, 6, 0}, {2048, nc, false, false, 0, 0, 0, Mis(a)}}, "i8 misaligned");
      TestQ8Update(a, {{300, nc - 1, nc, 0, 0, true}, {4099, nc - 1, nc, 0, 0, true}}, "i8 specials");
      TestQ8Forecast(a,
                     {{2 * 5 * 64, nc, true, false, 5, 64, 0, 0},
                      {3 * 7 * 24, nc, true, true, 7, 24, 0, 0},
                      {2 * 9 * 13, nc, true, false, 9, 13, 0, 0},
                      {1 * 300 * 3072, nc, true, true, 300, 3072, 0, 0},
                      {2 * 4 * 64, nc, true, false, 4, 64, 0, Mis(a)}},
                     "i8 gated");
    }
    std::vector<Q8Case> uc;
    std::vector<Q8FcCase> fc;
    for (int k = 0; k < 23; ++k) {
      const int64_t n = 1 + static_cast<int64_t>(g_rng() % (g_quick ? 3000 : 20000));
      const int nc = 1 + static_cast<int>(g_rng() % TS_MAX_FACTORS);
      uc.push_back({n, nc - (k % 2 && nc > 1 ? 1 : 0), nc, (k % 5 == 0) ? size_t{4} : 0, 0, k % 7 == 0});
      const bool gated = k % 3 == 0;
      const int64_t dim = (k % 4 == 0) ? 24 : 16, tokens = 3;
      fc.push_back({gated ? dim * tokens * (1 + k % 2) : n, nc, gated, gated && (k % 2 == 0), tokens, dim, (k % 7 == 0) ? size_t{2} : 0, 0});
    }
    TestQ8Update(a, uc, "i8 multi");
    TestQ8Update(a, uc, "i8 multi+stats", true);
    TestQ8Forecast(a, fc, "i8 multi");
  }
}

int TestMain(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--emulate")) g_emulate = true;
    else if (!strcmp(argv[i], "--quick")) g_quick = true;
  }
  if (!g_emulate) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
      printf("no CUDA device (%s): run with --emulate for the host emulation\n", cudaGetErrorString(e));
      return 77;
    }
    cudaDeviceProp prop;
    CudaOk(cudaGetDeviceProperties(&prop, 0), "props");
    printf("device: %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  } else {
    printf("host emulation of the kernel bodies (no GPU)\n");
  }
  TestFastDiv();

  const ts_dtype dts[] = {TS_F32, TS_F16, TS_BF16};
  std::vector<int64_t> lens = {1, 7, 8, 9, 15, 16, 17, 255, 1000, 4099, 65537};
  if (!g_quick && !g_emulate) lens.push_back((1 << 20) + 3);
  if (g_emulate && !g_quick) lens.push_back((1 << 16) * 3 + 5);

  for (ts_dtype s : dts) {
    for (ts_dtype a : dts) {
      // --quick (compute-sanitizer): three pairs cover every vector shape (4 x f32; 8 x 16-bit beside
      // 8 x f32 in two words; 8 x 16-bit).
      if (g_quick && !((s == TS_F32 && a == TS_F32) || (s == TS_BF16 && a == TS_F32) || (s == TS_F16 && a == TS_BF16)))
        continue;
      // Single entries: every count, odd lengths, aligned and misaligned.
      for (int nc = 1; nc <= TS_MAX_FACTORS; ++nc) {
        for (int64_t n : lens) {
          if (g_quick && n > 5000 && nc != 3) continue;
          const int oc = (n % 2) ? nc : (nc - 1 < 0 ? 0 : nc - 1);  // old_count = new_count or new_count - 1
          TestUpdateTable(s, a, {{n, oc, nc, 0, 0}}, "single");
          TestForecastTable(s, a, {{n, nc, false, false, 0, 0, 0, 0, 0, 0}}, "single");
        }
        TestUpdateTable(s, a, {{1001, nc, nc, Mis(s), 0}, {1024, nc - 1, nc, 0, Mis(a)}}, "misaligned");
        TestForecastTable(s, a, {{1001, nc, false, false, 0, 0, Mis(s), 0, 0, 0}, {2048, nc, false, false, 0, 0, 0, Mis(a), 0, 0}},
                          "misaligned");
        // Gated: [B, L, D] with D a multiple of 8 (vector path) and not (scalar path), aliased residual.
        TestForecastTable(s, a,
                          {{2 * 5 * 64, nc, true, false, 5, 64, 0, 0, 0, 0},
                           {3 * 7 * 24, nc, true, true, 7, 24, 0, 0, 0, 0},
                           {1 * 33 * 40, nc, true, true, 33, 40, 0, 0, 0, 0},
                           {2 * 9 * 13, nc, true, false, 9, 13, 0, 0, 0, 0},
                           {1 * 300 * 3072, nc, true, true, 300, 3072, 0, 0, 0, 0},
                           {2 * 4 * 64, nc, true, false, 4, 64, 0, 0, 0, Mis(a)},
                           {2 * 4 * 64, nc, true, false, 4, 64, 0, 0, Mis(a), 0}},
                          "gated");
      }
      // Multi-tensor: mixed counts, sizes and alignment in one launch (per-entry predication).
      std::vector<UpdCase> uc;
      std::vector<FcCase> fc;
      for (int k = 0; k < 23; ++k) {
        const int64_t n = 1 + static_cast<int64_t>(g_rng() % (g_quick ? 3000 : 20000));
        const int nc = 1 + static_cast<int>(g_rng() % TS_MAX_FACTORS);
        uc.push_back({n, nc - (k % 2 && nc > 1 ? 1 : 0), nc, (k % 5 == 0) ? Mis(s) : 0, 0});
        const bool gated = k % 3 == 0;
        const int64_t dim = (k % 4 == 0) ? 24 : 16, tokens = 3;
        const int64_t ng = dim * tokens * (1 + k % 2);
        fc.push_back({gated ? ng : n, nc, gated, gated && (k % 2 == 0), tokens, dim, (k % 7 == 0) ? Mis(s) : 0, 0, 0, 0});
      }
      TestUpdateTable(s, a, uc, "multi");
      TestUpdateTable(s, a, uc, "multi+stats", true);
      TestForecastTable(s, a, fc, "multi");
      for (bool shared : {false, true}) {
        TestIndirectForecast(s, a, shared);
        TestIndirectUpdate(s, a, shared);
      }
    }
  }
  TestQ8();
  // More entries than one kernel table holds (chunking into several launches), and empty entries.
  {
    std::vector<UpdCase> uc;
    std::vector<FcCase> fc;
    for (int k = 0; k < kTableCap * 2 + 17; ++k) {
      const int64_t n = 1 + (k * 37) % 300;
      uc.push_back({n, 2, 3, 0, 0});
      fc.push_back({n, 3, false, false, 0, 0, 0, 0, 0, 0});
    }
    TestUpdateTable(TS_BF16, TS_BF16, uc, "chunked");
    TestUpdateTable(TS_F32, TS_BF16, uc, "chunked+stats", true);
    TestForecastTable(TS_BF16, TS_F32, fc, "chunked");
  }
  // Argument validation.
  {
    ts_update_entry e{};
    e.n = 10;
    e.old_count = 1;
    e.new_count = 3;  // > old_count + 1
    int dummy;
    e.factors = &dummy;
    e.fresh = &dummy;
    CHECK(ts_cuda_update(&e, 1, TS_F32, TS_F32, nullptr) == TS_ERR_INVALID_ARGUMENT, "new_count > old_count + 1 accepted");
    CHECK(strlen(ts_cuda_last_error()) > 0, "no message for a rejected call");
    ts_forecast_entry f{};
    f.n = 10;
    f.count = 6;
    f.factors = &dummy;
    f.out = &dummy;
    CHECK(ts_cuda_forecast(&f, 1, TS_F32, TS_F32, nullptr) == TS_ERR_INVALID_ARGUMENT, "count 6 accepted");
    CHECK(ts_cuda_update(nullptr, 0, TS_F32, TS_F32, nullptr) == TS_OK, "empty table rejected");
    f.count = 2;
    CHECK(ts_cuda_forecast_indirect(&f, 1, TS_F32, TS_F32, nullptr, 0, nullptr) == TS_ERR_INVALID_ARGUMENT,
          "indirect forecast without a coefficient pointer accepted");
    const float one = 1.0f;
    CHECK(ts_cuda_forecast_indirect(&f, 1, TS_F32, TS_F32, &one, -1, nullptr) == TS_ERR_INVALID_ARGUMENT, "negative stride accepted");
    e.new_count = 2;
    CHECK(ts_cuda_update_indirect(&e, 1, TS_F32, TS_F32, nullptr, 0, nullptr) == TS_ERR_INVALID_ARGUMENT,
          "indirect update without a divisor pointer accepted");
  }
  printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
