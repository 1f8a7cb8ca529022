// toHalf / fromHalf: f32 <-> f16/bf16 with exactly the kernels' rounding, for callers that carry 16-bit
// activations as Uint16Array (Node 20 has no Float16Array).
#include "convert_binding.h"

#include "args.h"
#include "cpu_kernels.h"
#include "errors.h"

namespace ts {
namespace {

ts_dtype HalfDtype(Napi::Env env, Napi::Value v) {
  ts_dtype d = ParseDtype(env, v, "dtype (argument 2)");
  TS_REQUIRE(env, d != TS_F32, "ERR_DTYPE", "dtype (argument 2) must be 'f16' or 'bf16' (got 'f32')");
  return d;
}

void CheckHost(Napi::Env env, const TensorArg& t, const char* what) {
  TS_REQUIRE(env, !t.device, "ERR_DEVICE", std::string(what) + " must be a host TypedArray");
}

Napi::Value ToHalf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ts_dtype d = HalfDtype(env, info[1]);
  TensorArg src = ParseTensor(env, info[0], TS_F32, "src (argument 1)");
  TensorArg dst = ParseTensor(env, info[2], d, "dst (argument 3)");
  CheckHost(env, src, "src (argument 1)");
  CheckHost(env, dst, "dst (argument 3)");
  TS_REQUIRE(env, src.length == dst.length, "ERR_LENGTH",
             "dst (argument 3) must have as many elements as src (" + std::to_string(src.length) + ", got " +
                 std::to_string(dst.length) + ")");
  TS_REQUIRE(env, !Overlaps(src, dst), "ERR_INVALID_ARGUMENT", "src and dst must not share memory");
  CpuToHalf(static_cast<const float*>(src.data), static_cast<uint16_t*>(dst.data), src.length, d);
  return env.Undefined();
}

Napi::Value FromHalf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ts_dtype d = HalfDtype(env, info[1]);
  TensorArg src = ParseTensor(env, info[0], d, "src (argument 1)");
  TensorArg dst = ParseTensor(env, info[2], TS_F32, "dst (argument 3)");
  CheckHost(env, src, "src (argument 1)");
  CheckHost(env, dst, "dst (argument 3)");
  TS_REQUIRE(env, src.length == dst.length, "ERR_LENGTH",
             "dst (argument 3) must have as many elements as src (" + std::to_string(src.length) + ", got " +
                 std::to_string(dst.length) + ")");
  TS_REQUIRE(env, !Overlaps(src, dst), "ERR_INVALID_ARGUMENT", "src and dst must not share memory");
  CpuFromHalf(static_cast<const uint16_t*>(src.data), static_cast<float*>(dst.data), src.length, d);
  return env.Undefined();
}

}  // namespace

void InitConvert(Napi::Env env, Napi::Object exports) {
  exports.Set("toHalf", Napi::Function::New(env, ToHalf, "toHalf"));
  exports.Set("fromHalf", Napi::Function::New(env, FromHalf, "fromHalf"));
}

}  // namespace ts
