// Node-API entry points of the update and forecast kernels: update / forecast run a table parsed and
// validated whole (kernel_table.h) where it lives (kernel_run.h); their async forms are kernel_async.h.
// findNonFinite and overlaps are the two host-array helpers beside them.
#include "kernel_binding.h"

#include <cstdint>
#include <memory>

#include "args.h"
#include "cpu_kernels.h"
#include "errors.h"
#include "kernel_async.h"
#include "kernel_run.h"
#include "kernel_table.h"

namespace ts {
namespace {

Napi::Value RunSync(const Napi::CallbackInfo& info, bool update) {
  std::unique_ptr<Table> t = ParseTable(info, update, false);
  if (t->device) RunDevice(info.Env(), *t);
  else RunHost(*t);
  return info.Env().Undefined();
}

// findNonFinite(dtype, tensor): index of the first NaN or infinite element of a host tensor, or -1.
Napi::Value FindNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ts_dtype dtype = ParseDtype(env, info[0], "dtype (argument 1)");
  TensorArg t = ParseTensor(env, info[1], dtype, "tensor (argument 2)");
  TS_REQUIRE(env, !t.device, "ERR_DEVICE", "tensor (argument 2) must be a host TypedArray: findNonFinite scans host memory");
  return Napi::Number::New(env, static_cast<double>(t.length ? CpuFindNonFinite(t.data, t.length, dtype) : -1));
}

// overlaps(a, b): whether two host TypedArrays share memory, by address: also across different
// SharedArrayBuffer objects for the same memory (one that went through postMessage), which JavaScript cannot
// tell apart. Anything else (a DeviceTensor, a detached array, not an array) shares nothing.
Napi::Value OverlapsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto span = [&](Napi::Value v, uintptr_t* begin, uintptr_t* end) {
    if (!v.IsTypedArray()) return false;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t offset = 0;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok || !data) return false;
    *begin = reinterpret_cast<uintptr_t>(data);
    *end = *begin + length * v.As<Napi::TypedArray>().ElementSize();
    return *end > *begin;
  };
  uintptr_t a0, a1, b0, b1;
  const bool both = span(info[0], &a0, &a1) && span(info[1], &b0, &b1);
  return Napi::Boolean::New(env, both && a0 < b1 && b0 < a1);
}

Napi::Value Update(const Napi::CallbackInfo& info) { return RunSync(info, true); }
Napi::Value Forecast(const Napi::CallbackInfo& info) { return RunSync(info, false); }
Napi::Value UpdateAsync(const Napi::CallbackInfo& info) { return RunAsync(info, true); }
Napi::Value ForecastAsync(const Napi::CallbackInfo& info) { return RunAsync(info, false); }

}  // namespace

void InitKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("update", Napi::Function::New(env, Update, "update"));
  exports.Set("forecast", Napi::Function::New(env, Forecast, "forecast"));
  exports.Set("updateAsync", Napi::Function::New(env, UpdateAsync, "updateAsync"));
  exports.Set("forecastAsync", Napi::Function::New(env, ForecastAsync, "forecastAsync"));
  exports.Set("findNonFinite", Napi::Function::New(env, FindNonFinite, "findNonFinite"));
  exports.Set("overlaps", Napi::Function::New(env, OverlapsFn, "overlaps"));
}

}  // namespace ts
