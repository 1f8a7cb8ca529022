// The CUDA binding of a build without CUDA (node-gyp, or cmake-js without nvcc; native/cuda_binding/ is
// the build with it): `cuda` and `cudaInfo` exist with the same members and say that CUDA was not
// compiled in; no DeviceTensor can exist, so no device hooks are registered.
#include "cuda_binding.h"
#include "device.h"
#include "errors.h"

namespace ts {

const char* const kNoCudaMessage = "this build has no CUDA support (built without nvcc); rebuild with nvcc on PATH";

namespace {

Napi::Value NotCompiled(const Napi::CallbackInfo& info) { Throw(info.Env(), "ERR_DEVICE", kNoCudaMessage); }

Napi::Value NotCompiledAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(MakeError(env, "ERR_DEVICE", kNoCudaMessage).Value());
  return d.Promise();
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", false);
  o.Set("runtimeVersion", "");
  o.Set("driverVersion", "");
  o.Set("usable", false);
  o.Set("reason", kNoCudaMessage);
  o.Set("devices", Napi::Array::New(env));
  return o;
}

}  // namespace

bool IsDeviceTensor(Napi::Value) { return false; }

DeviceView GetDeviceTensor(Napi::Env env, Napi::Value, const char*) { Throw(env, "ERR_DEVICE", kNoCudaMessage); }

void* CurrentStream(Napi::Env env) { Throw(env, "ERR_DEVICE", kNoCudaMessage); }

void AddCudaBench(Napi::Env env, Napi::Object cuda) {
  cuda.Set("bench", Napi::Function::New(env, NotCompiledAsync, "bench"));
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = Napi::Object::New(env);
  // The members of the CUDA build's `cuda` object: the synchronous ones throw, download rejects.
  for (const char* name : {"alloc", "wrap", "upload", "synchronize", "setStream"}) cuda.Set(name, Napi::Function::New(env, NotCompiled, name));
  cuda.Set("download", Napi::Function::New(env, NotCompiledAsync, "download"));
  AddCudaBench(env, cuda);
  exports.Set("cuda", cuda);
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  // No hooks: without CUDA no DeviceTensor can exist.
}

}  // namespace ts

// The C entry points of taylorseer.h exist in every build; without CUDA they report TS_ERR_NOT_COMPILED.
extern "C" ts_status ts_cuda_update(const ts_update_entry*, int32_t, ts_dtype, ts_dtype, void*) { return TS_ERR_NOT_COMPILED; }
extern "C" ts_status ts_cuda_forecast(const ts_forecast_entry*, int32_t, ts_dtype, ts_dtype, void*) {
  return TS_ERR_NOT_COMPILED;
}
extern "C" const char* ts_cuda_last_error(void) { return ts::kNoCudaMessage; }
