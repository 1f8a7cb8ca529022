// cuda.bench(options?): Promise<string> - the benchmark of cuda/bench.cu (fused kernels, eager-style
// baseline, device copy; CUDA-event timing) run on a libuv worker thread so the event loop stays free.
// Resolves with the JSON text {"device", "copy_GBps", "rows": [...]}; lib/bench/cuda-bench.ts parses it.
// options: { reps?: number, warmup?: number, flux?: boolean (default true), single?: boolean (default
// true), log?: boolean (progress lines on stderr) }.
// The benchmark's kernels are built in only with TAYLORSEER_BENCH (TS_HAVE_CUDA_BENCH); a CUDA build without
// them rejects with ERR_DEVICE saying how to build them. A build without CUDA has its own in native/no_cuda.cc.
#include <cstdio>
#include <string>

#include "../cuda_binding.h"
#include "../errors.h"

#ifdef TS_HAVE_CUDA_BENCH
#include <cuda_runtime.h>

#include "../../cuda/ts_cuda_extra.h"
#endif

namespace ts {

#ifdef TS_HAVE_CUDA_BENCH
namespace {

void LogLine(const char* line, void*) {
  std::fprintf(stderr, "[cuda bench] %s\n", line);
  std::fflush(stderr);
}

class BenchWorker : public Napi::AsyncWorker {
 public:
  BenchWorker(Napi::Env env, const ts_bench_options& o, bool log, int device)
      : Napi::AsyncWorker(env, "taylorseer:bench"), deferred_(Napi::Promise::Deferred::New(env)), opt_(o), log_(log),
        device_(device) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    if (cudaSetDevice(device_) != cudaSuccess) {  // the current device is per thread
      cudaGetLastError();
      error_ = "cudaSetDevice failed";
      return;
    }
    char* json = ts_cuda_bench(&opt_, log_ ? LogLine : nullptr, nullptr);
    if (!json) {
      error_ = "out of host memory";
      return;
    }
    result_ = json;
    ts_cuda_bench_free(json);
    if (result_.compare(0, 8, "{\"error\"") == 0) error_ = result_;
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.empty()) deferred_.Reject(MakeError(env, "ERR_CUDA", "cuda.bench failed: " + error_).Value());
    else deferred_.Resolve(Napi::String::New(env, result_));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  ts_bench_options opt_;
  bool log_;
  int device_;
  std::string result_, error_;
};

int OptInt(Napi::Object o, const char* key, int fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  TS_REQUIRE(o.Env(), v.IsNumber(), "ERR_INVALID_ARGUMENT", std::string("cuda.bench option ") + key + " must be a number");
  return v.As<Napi::Number>().Int32Value();
}

bool OptBool(Napi::Object o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  return v.ToBoolean().Value();
}

Napi::Value Bench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  try {
    CurrentStream(env);  // throws ERR_DEVICE when CUDA is unusable
    ts_bench_options o{};
    o.flux = 1;
    o.single = 1;
    bool log = false;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object opts = info[0].As<Napi::Object>();
      o.reps = OptInt(opts, "reps", 0);
      o.warmup = OptInt(opts, "warmup", 0);
      o.flux = OptBool(opts, "flux", true) ? 1 : 0;
      o.single = OptBool(opts, "single", true) ? 1 : 0;
      log = OptBool(opts, "log", false);
    }
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) cudaGetLastError();
    auto* w = new BenchWorker(env, o, log, dev);
    Napi::Promise p = w->Promise();
    w->Queue();
    return p;
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return deferred.Promise();
  }
}

}  // namespace

void AddCudaBench(Napi::Env env, Napi::Object cuda) { cuda.Set("bench", Napi::Function::New(env, Bench, "bench")); }

#else
namespace {

constexpr const char* kNoBenchMessage =
    "this build of taylorseer has no benchmark kernels (the package leaves them out); build them into the addon "
    "with TAYLORSEER_BENCH=1 npm run build:native (cmake-js: -DTAYLORSEER_BENCH=ON)";

Napi::Value NoBench(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeError(env, "ERR_DEVICE", kNoBenchMessage).Value());
  return deferred.Promise();
}

}  // namespace

void AddCudaBench(Napi::Env env, Napi::Object cuda) { cuda.Set("bench", Napi::Function::New(env, NoBench, "bench")); }

#endif  // TS_HAVE_CUDA_BENCH

}  // namespace ts
