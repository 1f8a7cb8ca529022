// Benchmark of the fused kernels against a device-to-device copy and the eager-style baseline, timed
// with CUDA events (median of many repetitions after a warm-up). Shared by the standalone program
// (cuda/tests/bench_main.cu) and the addon (cuda.bench). Minimal traffic ("bytes") counts each input
// read once and each output written once:
//   forecast, order m (c = m + 1 factors):  (c + 1) * elements * bytes/elem
//   update,   order m:                      (1 + m + (m + 1)) = 2c  * elements * bytes/elem
//   gated forecast:                         (c + 2) * elements * bytes/elem   (+ the [B, D] gate)
//   two-step gated (forecast, then gated add): (c + 1 + 3) * elements * bytes/elem
// "pct_copy" is the achieved rate over the copy rate measured in the same run.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "launch.cuh"
#include "taylorseer.h"
#include "ts_cuda_extra.h"

namespace tsk {
namespace {

struct BenchError {
  std::string message;
};

void Ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw BenchError{std::string(what) + ": " + cudaGetErrorString(e)};
}
void Ok(ts_status s, const char* what) {
  if (s != TS_OK) throw BenchError{std::string(what) + ": " + ts_cuda_last_error()};
}

std::string Fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

struct Stat {
  double median_ms, min_ms, max_ms;
};

class Bench {
 public:
  Bench(const ts_bench_options& o, void (*log)(const char*, void*), void* ctx) : opt_(o), log_(log), ctx_(ctx) {
    if (opt_.reps <= 0) opt_.reps = 20;
    if (opt_.warmup <= 0) opt_.warmup = 3;
  }
  ~Bench() {
    ts_cuda_set_grid_cap(0);
    for (void* p : allocs_) cudaFree(p);
    if (a_) cudaEventDestroy(a_);
    if (b_) cudaEventDestroy(b_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string Run() {
    int dev = 0;
    Ok(cudaGetDevice(&dev), "cudaGetDevice");
    cudaDeviceProp prop;
    Ok(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties");
    Ok(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    Ok(cudaEventCreate(&a_), "cudaEventCreate");
    Ok(cudaEventCreate(&b_), "cudaEventCreate");
    device_ = prop.name;
    Log(Fmt("device %s, %d SMs, %.1f GB", prop.name, prop.multiProcessorCount, prop.totalGlobalMem / 1e9));
    MeasureCopy();
    if (opt_.flux) Flux();
    if (opt_.single) Single();
    std::string j = "{\"device\":\"" + device_ + "\",\"sms\":" + std::to_string(prop.multiProcessorCount) +
                    Fmt(",\"copy_GBps\":%.1f,\"reps\":%d,\"warmup\":%d,\"rows\":[", copy_gbps_, opt_.reps, opt_.warmup);
    for (size_t i = 0; i < rows_.size(); ++i) j += (i ? ",\n" : "\n") + rows_[i];
    return j + "\n]}";
  }

 private:
  ts_bench_options opt_;
  void (*log_)(const char*, void*);
  void* ctx_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t a_ = nullptr, b_ = nullptr;
  std::vector<void*> allocs_;
  std::vector<std::string> rows_;
  std::string device_;
  double copy_gbps_ = 0;

  void Log(const std::string& s) {
    if (log_) log_(s.c_str(), ctx_);
  }

  void* Alloc(size_t bytes) {
    void* p = nullptr;
    Ok(cudaMalloc(&p, bytes), "cudaMalloc");
    allocs_.push_back(p);
    return p;
  }
  void FreeAll() {
    Ok(cudaStreamSynchronize(stream_), "sync");
    for (void* p : allocs_) cudaFree(p);
    allocs_.clear();
  }
  void Fill(void* p, int64_t n, ts_dtype d, uint64_t seed) {
    Ok(ts_cuda_fill_uniform(p, n, d, seed, -1.0f, 1.0f, stream_), "fill");
  }

  // fn(rep) enqueues one repetition on stream_.
  Stat Time(const std::function<void(int)>& fn, int reps) {
    for (int i = 0; i < opt_.warmup; ++i) fn(i);
    Ok(cudaStreamSynchronize(stream_), "warm-up");
    std::vector<float> ms(reps);
    for (int i = 0; i < reps; ++i) {
      Ok(cudaEventRecord(a_, stream_), "cudaEventRecord");
      fn(opt_.warmup + i);
      Ok(cudaEventRecord(b_, stream_), "cudaEventRecord");
      Ok(cudaEventSynchronize(b_), "cudaEventSynchronize");
      Ok(cudaEventElapsedTime(&ms[i], a_, b_), "cudaEventElapsedTime");
    }
    std::sort(ms.begin(), ms.end());
    return Stat{ms[reps / 2], ms[0], ms[reps - 1]};
  }

  void Row(const std::string& group, const std::string& name, int order, int tensors, const char* storage,
           const char* act, int64_t elements, double bytes, const Stat& st, const std::string& extra = "") {
    const double gbps = bytes / (st.median_ms * 1e6);
    const double floor_ms = copy_gbps_ > 0 ? bytes / (copy_gbps_ * 1e6) : 0;
    std::string r = Fmt(
        "{\"group\":\"%s\",\"name\":\"%s\",\"order\":%d,\"tensors\":%d,\"storage\":\"%s\",\"act\":\"%s\",\"elements\":%lld,"
        "\"bytes\":%.0f,\"ms\":%.4f,\"ms_min\":%.4f,\"ms_max\":%.4f,\"GBps\":%.1f,\"pct_copy\":%.1f,\"floor_ms\":%.4f%s}",
        group.c_str(), name.c_str(), order, tensors, storage, act, static_cast<long long>(elements), bytes, st.median_ms,
        st.min_ms, st.max_ms, gbps, copy_gbps_ > 0 ? 100.0 * gbps / copy_gbps_ : 0.0, floor_ms, extra.c_str());
    rows_.push_back(r);
    Log(Fmt("%-8s %-26s o%d %4d tensors  %9.4f ms (min %.4f)  %7.1f GB/s  %5.1f%% of copy", group.c_str(), name.c_str(),
            order, tensors, st.median_ms, st.min_ms, gbps, copy_gbps_ > 0 ? 100.0 * gbps / copy_gbps_ : 0.0));
  }

  void MeasureCopy() {
    const size_t bytes = size_t{1} << 31;  // 2 GiB each way, far beyond L2
    void* src = Alloc(bytes);
    void* dst = Alloc(bytes);
    Fill(src, bytes / 2, TS_BF16, 1);
    Fill(dst, bytes / 2, TS_BF16, 2);
    Stat st = Time([&](int) { Ok(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy"); }, opt_.reps);
    copy_gbps_ = 2.0 * bytes / (st.median_ms * 1e6);
    Row("copy", "device_to_device_copy", 0, 1, "bf16", "bf16", bytes / 2, 2.0 * bytes, st);
    FreeAll();
  }

  // ---------------------------------------------------------------- FLUX.1-dev 1024^2 step
  void Flux() {
    std::vector<int64_t> ns;
    for (int b = 0; b < 19; ++b) {
      ns.push_back(4096LL * 3072);
      ns.push_back(4096LL * 3072);
      ns.push_back(512LL * 3072);
      ns.push_back(512LL * 3072);
    }
    for (int b = 0; b < 38; ++b) ns.push_back(4608LL * 3072);
    const int T = static_cast<int>(ns.size());
    const int64_t D = 3072;
    int64_t el = 0, maxn = 0;
    for (int64_t n : ns) {
      el += n;
      maxn = std::max(maxn, n);
    }
    const int cap = 3;  // order 2
    const size_t es = 2;
    char* factors = static_cast<char*>(Alloc(cap * el * es));
    char* fa = static_cast<char*>(Alloc(el * es));
    char* fb = static_cast<char*>(Alloc(el * es));
    char* out = static_cast<char*>(Alloc(el * es));
    char* resid = static_cast<char*>(Alloc(el * es));
    char* y = static_cast<char*>(Alloc(el * es));
    char* gate = static_cast<char*>(Alloc(T * D * es));
    const int64_t scratch_bytes = 2 * maxn * es;
    void* scratch = Alloc(scratch_bytes);
    // 'i8' factors of the same tensors (d_0 bf16, the differences in 8-bit records), filled by updates below
    auto q8_bytes = [&](int count) {
      int64_t b = 0;
      for (int64_t n : ns) b += ts_i8_bytes(n, count);
      return b;
    };
    char* q8 = static_cast<char*>(Alloc(q8_bytes(cap)));
    Fill(factors, cap * el, TS_BF16, 11);
    Fill(fa, el, TS_BF16, 12);
    Fill(fb, el, TS_BF16, 13);
    Fill(out, el, TS_BF16, 14);
    Fill(resid, el, TS_BF16, 15);
    Fill(y, el, TS_BF16, 16);
    Fill(gate, T * D, TS_BF16, 17);
    Ok(cudaStreamSynchronize(stream_), "fill");
    Log(Fmt("FLUX step: %d tensors, %.3f GB per factor (bf16)", T, el * es / 1e9));

    for (int m = 1; m <= 2; ++m) {
      const int c = m + 1;
      std::vector<ts_forecast_entry> fc(T), gated(T), twostep_a(T), twostep_b(T);
      std::vector<ts_update_entry> ua(T), ub(T);
      int64_t off = 0;
      for (int i = 0; i < T; ++i) {
        const int64_t n = ns[i];
        ts_forecast_entry f{};
        f.factors = factors + cap * off * es;
        f.out = out + off * es;
        f.n = n;
        f.count = c;
        double fact = 1;
        for (int k = 0; k < c; ++k) {
          if (k) fact *= k;
          f.coeffs[k] = static_cast<float>(pow(3.0, k) / fact);  // x = 3 steps since the last full step
        }
        fc[i] = f;
        ts_forecast_entry g = f;
        g.residual = resid + off * es;
        g.gate = gate + i * D * es;
        g.tokens = n / D;
        g.dim = D;
        gated[i] = g;
        ts_forecast_entry t1 = f;
        t1.out = y + off * es;
        twostep_a[i] = t1;
        ts_forecast_entry t2{};
        t2.factors = y + off * es;
        t2.out = out + off * es;
        t2.residual = resid + off * es;
        t2.gate = gate + i * D * es;
        t2.n = n;
        t2.tokens = n / D;
        t2.dim = D;
        t2.count = 1;
        t2.coeffs[0] = 1.0f;
        twostep_b[i] = t2;
        ts_update_entry u{};
        u.factors = factors + cap * off * es;
        u.fresh = fa + off * es;
        u.n = n;
        u.old_count = c;
        u.new_count = c;
        for (int k = 0; k < TS_MAX_ORDER; ++k) u.divisors[k] = 6.0f;
        ua[i] = u;
        u.fresh = fb + off * es;  // alternate F between repetitions: repeated updates with one F would zero d_1..
        ub[i] = u;
        off += n;
      }
      const double E = static_cast<double>(el) * es;
      const int reps = opt_.reps;
      auto fused_fc = [&](int) { Ok(ts_cuda_forecast(fc.data(), T, TS_BF16, TS_BF16, stream_), "forecast"); };
      Stat s_fc = Time(fused_fc, reps);
      Row("flux", "forecast_all", m, T, "bf16", "bf16", el, (c + 1) * E, s_fc);
      Stat s_up = Time(
          [&](int r) { Ok(ts_cuda_update((r & 1 ? ub : ua).data(), T, TS_BF16, TS_BF16, stream_), "update"); }, reps);
      Row("flux", "update_all", m, T, "bf16", "bf16", el, 2 * c * E, s_up);
      {
        // The same step with 'i8' factors, timed against bf16's (vs_bf16: i8 time / bf16 time).
        std::vector<ts_update_entry> qa = ua, qb = ub;
        std::vector<ts_forecast_entry> qf = fc;
        int64_t qoff = 0;
        for (int i = 0; i < T; ++i) {
          qa[i].factors = qb[i].factors = q8 + qoff;
          qf[i].factors = q8 + qoff;
          qoff += ts_i8_bytes(ns[i], cap);
        }
        for (int k = 0; k < c; ++k) {  // c updates growing the count: every factor holds valid records
          std::vector<ts_update_entry> grow = qa;
          for (ts_update_entry& u : grow) u.old_count = k, u.new_count = k + 1;
          Ok(ts_cuda_update(grow.data(), T, TS_I8, TS_BF16, stream_), "i8 fill");
        }
        Stat s_qfc = Time([&](int) { Ok(ts_cuda_forecast(qf.data(), T, TS_I8, TS_BF16, stream_), "i8 forecast"); }, reps);
        Row("flux", "forecast_all", m, T, "i8", "bf16", el, static_cast<double>(q8_bytes(c)) + el * es, s_qfc,
            Fmt(",\"vs_bf16\":%.3f", s_qfc.median_ms / s_fc.median_ms));
        Stat s_qup = Time(
            [&](int r) { Ok(ts_cuda_update((r & 1 ? qb : qa).data(), T, TS_I8, TS_BF16, stream_), "i8 update"); }, reps);
        Row("flux", "update_all", m, T, "i8", "bf16", el, static_cast<double>(el * es + q8_bytes(c - 1) + q8_bytes(c)), s_qup,
            Fmt(",\"vs_bf16\":%.3f", s_qup.median_ms / s_up.median_ms));
      }
      {
        // The same update also returning the norms of the new factors (ts_update_entry.stats): the adaptive
        // schedule's input. Its cost over update_all is the figure to keep under 5%. The norms accumulate
        // across repetitions (nobody reads them here), which is the kernel's documented "adds to" contract.
        float* stats = static_cast<float*>(Alloc(sizeof(float) * TS_MAX_FACTORS * T));
        Ok(cudaMemset(stats, 0, sizeof(float) * TS_MAX_FACTORS * T), "memset stats");
        std::vector<ts_update_entry> sa = ua, sb = ub;
        for (int i = 0; i < T; ++i) sa[i].stats = sb[i].stats = stats + TS_MAX_FACTORS * i;
        Stat s_ups = Time(
            [&](int r) { Ok(ts_cuda_update((r & 1 ? sb : sa).data(), T, TS_BF16, TS_BF16, stream_), "update+norms"); }, reps);
        Row("flux", "update_all_norms", m, T, "bf16", "bf16", el, 2 * c * E, s_ups);
      }
      Stat s_fc2 = Time(fused_fc, reps);
      Row("flux", "forecast_all_repeat", m, T, "bf16", "bf16", el, (c + 1) * E, s_fc2);
      Stat s_pt = Time(
          [&](int) {
            for (int i = 0; i < T; ++i) Ok(ts_cuda_forecast(&fc[i], 1, TS_BF16, TS_BF16, stream_), "forecast");
          },
          reps);
      Row("flux", "forecast_per_tensor_launch", m, T, "bf16", "bf16", el, (c + 1) * E, s_pt);
      Stat s_upt = Time(
          [&](int r) {
            for (int i = 0; i < T; ++i) Ok(ts_cuda_update(&(r & 1 ? ub : ua)[i], 1, TS_BF16, TS_BF16, stream_), "update");
          },
          reps);
      Row("flux", "update_per_tensor_launch", m, T, "bf16", "bf16", el, 2 * c * E, s_upt);
      Stat s_efc = Time(
          [&](int) { Ok(ts_eager_forecast(fc.data(), T, TS_BF16, scratch, scratch_bytes, stream_), "eager forecast"); },
          std::max(5, reps / 2));
      Row("flux", "eager_forecast_all", m, T, "bf16", "bf16", el, (c + 1) * E, s_efc,
          Fmt(",\"fused_speedup\":%.2f", s_efc.median_ms / s_fc.median_ms));
      Stat s_eup = Time(
          [&](int r) {
            Ok(ts_eager_update((r & 1 ? ub : ua).data(), T, TS_BF16, scratch, scratch_bytes, stream_), "eager update");
          },
          std::max(5, reps / 2));
      Row("flux", "eager_update_all", m, T, "bf16", "bf16", el, 2 * c * E, s_eup,
          Fmt(",\"fused_speedup\":%.2f", s_eup.median_ms / s_up.median_ms));
      Stat s_g = Time([&](int) { Ok(ts_cuda_forecast(gated.data(), T, TS_BF16, TS_BF16, stream_), "gated"); }, reps);
      Row("flux", "gated_forecast_fused", m, T, "bf16", "bf16", el, (c + 2) * E, s_g);
      Stat s_2 = Time(
          [&](int) {
            Ok(ts_cuda_forecast(twostep_a.data(), T, TS_BF16, TS_BF16, stream_), "forecast");
            Ok(ts_cuda_forecast(twostep_b.data(), T, TS_BF16, TS_BF16, stream_), "gated add");
          },
          reps);
      Row("flux", "gated_two_step", m, T, "bf16", "bf16", el, (c + 4) * E, s_2,
          Fmt(",\"fused_speedup\":%.2f", s_2.median_ms / s_g.median_ms));
      if (m == 2) {
        // Tuning sweep: the persistent grid capped at k blocks per SM (0 = full occupancy, the default).
        for (int cap_bpsm : {1, 2, 3}) {
          ts_cuda_set_grid_cap(cap_bpsm);
          Stat a = Time(fused_fc, reps);
          Row("tune", Fmt("forecast_all_grid_%d_per_sm", cap_bpsm), m, T, "bf16", "bf16", el, (c + 1) * E, a);
          Stat b = Time(
              [&](int r) { Ok(ts_cuda_update((r & 1 ? ub : ua).data(), T, TS_BF16, TS_BF16, stream_), "update"); }, reps);
          Row("tune", Fmt("update_all_grid_%d_per_sm", cap_bpsm), m, T, "bf16", "bf16", el, 2 * c * E, b);
        }
        ts_cuda_set_grid_cap(0);
      }
    }
    FreeAll();
  }

  // ---------------------------------------------------------------- single tensors (anchor shapes)
  void Single() {
    struct Shape {
      const char* name;
      int64_t n;
      ts_dtype d;
    };
    const Shape shapes[] = {{"dit_xl_cfg", 2LL * 256 * 1152, TS_F32},
                            {"flux_joint", 4608LL * 3072, TS_BF16},
                            {"hunyuan_480p", 20656LL * 3072, TS_BF16}};
    for (const Shape& sh : shapes) {
      const size_t es = sh.d == TS_F32 ? 4 : 2;
      const char* dn = sh.d == TS_F32 ? "f32" : "bf16";
      const int cap = 4;
      void* factors = Alloc(cap * sh.n * es);
      void* fa = Alloc(sh.n * es);
      void* fb = Alloc(sh.n * es);
      void* out = Alloc(sh.n * es);
      const int64_t scratch_bytes = 3 * sh.n * es;
      void* scratch = Alloc(scratch_bytes);
      Fill(factors, cap * sh.n, sh.d, 21);
      Fill(fa, sh.n, sh.d, 22);
      Fill(fb, sh.n, sh.d, 23);
      Fill(out, sh.n, sh.d, 24);
      const double E = static_cast<double>(sh.n) * es;
      const int reps = std::max(opt_.reps, 50);
      for (int m = 1; m <= 3; ++m) {
        const int c = m + 1;
        ts_forecast_entry f{};
        f.factors = factors;
        f.out = out;
        f.n = sh.n;
        f.count = c;
        double fact = 1;
        for (int k = 0; k < c; ++k) {
          if (k) fact *= k;
          f.coeffs[k] = static_cast<float>(pow(3.0, k) / fact);
        }
        ts_update_entry ua{}, ub{};
        ua.factors = factors;
        ua.fresh = fa;
        ua.n = sh.n;
        ua.old_count = c;
        ua.new_count = c;
        for (int k = 0; k < TS_MAX_ORDER; ++k) ua.divisors[k] = 6.0f;
        ub = ua;
        ub.fresh = fb;
        Stat s_fc = Time([&](int) { Ok(ts_cuda_forecast(&f, 1, sh.d, sh.d, stream_), "forecast"); }, reps);
        Row("single", std::string(sh.name) + "_forecast", m, 1, dn, dn, sh.n, (c + 1) * E, s_fc);
        Stat s_up = Time([&](int r) { Ok(ts_cuda_update(r & 1 ? &ub : &ua, 1, sh.d, sh.d, stream_), "update"); }, reps);
        Row("single", std::string(sh.name) + "_update", m, 1, dn, dn, sh.n, 2 * c * E, s_up);
        Stat s_efc = Time([&](int) { Ok(ts_eager_forecast(&f, 1, sh.d, scratch, scratch_bytes, stream_), "eager"); }, reps);
        Row("single", std::string(sh.name) + "_eager_forecast", m, 1, dn, dn, sh.n, (c + 1) * E, s_efc,
            Fmt(",\"fused_speedup\":%.2f", s_efc.median_ms / s_fc.median_ms));
        Stat s_eup = Time(
            [&](int r) { Ok(ts_eager_update(r & 1 ? &ub : &ua, 1, sh.d, scratch, scratch_bytes, stream_), "eager"); }, reps);
        Row("single", std::string(sh.name) + "_eager_update", m, 1, dn, dn, sh.n, 2 * c * E, s_eup,
            Fmt(",\"fused_speedup\":%.2f", s_eup.median_ms / s_up.median_ms));
      }
      FreeAll();
    }
  }
};

}  // namespace
}  // namespace tsk

extern "C" char* ts_cuda_bench(const ts_bench_options* options, void (*log)(const char*, void*), void* ctx) {
  ts_bench_options o{};
  if (options) o = *options;
  std::string out;
  try {
    tsk::Bench b(o, log, ctx);
    out = b.Run();
  } catch (const tsk::BenchError& e) {
    std::string msg;
    for (char ch : e.message) {
      if (ch == '"' || ch == '\\') msg += '\\';
      if (static_cast<unsigned char>(ch) >= 0x20) msg += ch;
    }
    out = "{\"error\":\"" + msg + "\"}";
  }
  char* r = static_cast<char*>(malloc(out.size() + 1));
  if (r) memcpy(r, out.c_str(), out.size() + 1);
  return r;
}

extern "C" void ts_cuda_bench_free(char* json) { free(json); }
