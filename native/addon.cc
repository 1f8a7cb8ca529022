// Entry point of the taylorseer addon: registers each part's functions. The typed view of these exports
// is lib/native.ts.
#include <napi.h>

#include "addon_data.h"
#include "args.h"
#include "convert_binding.h"
#include "cpu_kernels.h"
#include "device.h"
#include "errors.h"
#include "kernel_binding.h"
#include "thread_pool.h"

namespace ts {
namespace {

Napi::Value SetErrorClassFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TS_REQUIRE(env, info[0].IsFunction(), "ERR_INVALID_ARGUMENT", "setErrorClass expects a constructor function");
  // One trial construction: the class must build an Error carrying the code it is given.
  Napi::Function ctor = info[0].As<Napi::Function>();
  bool ok = false;
  try {
    Napi::Value probe = ctor.New({Napi::String::New(env, "ERR_INVALID_ARGUMENT"), Napi::String::New(env, "probe")});
    ok = probe.IsObject() && probe.As<Napi::Object>().Get("code").StrictEquals(Napi::String::New(env, "ERR_INVALID_ARGUMENT")) &&
         probe.As<Napi::Object>().InstanceOf(env.Global().Get("Error").As<Napi::Function>());
  } catch (const Napi::Error&) {
  }
  TS_REQUIRE(env, ok, "ERR_INVALID_ARGUMENT",
             "setErrorClass expects a constructor (code, message) that builds an Error whose .code is the given code");
  SetErrorClass(env, ctor);
  return env.Undefined();
}

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuKernelSet& k = CpuKernels();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", PoolThreads());
  o.Set("vector", std::string(k.name) + " (" + std::to_string(k.vector_bits) + "-bit)");
  o.Set("vectorBits", k.vector_bits);
  o.Set("parallelThreshold", static_cast<double>(kParallelThreshold));
  return o;
}

Napi::Object Build(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
#ifdef TS_HAVE_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
#ifdef TS_BUILD_SYSTEM
  o.Set("system", TS_BUILD_SYSTEM);
#else
  o.Set("system", "unknown");
#endif
  o.Set("compiler", __VERSION__);
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Data(env);
  CaptureBufferIntrinsics(env);
  exports.Set("build", Build(env));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClassFn, "setErrorClass"));
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  InitKernels(env, exports);
  InitConvert(env, exports);
  InitDevice(env, exports);
  return exports;
}

}  // namespace ts

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ts::Init(env, exports); }

NODE_API_MODULE(taylorseer, InitAddon)
