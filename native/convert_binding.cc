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

struct Conversion {
  TensorArg src, dst;
  ts_dtype half;
};

// (src, dtype, dst): the 16-bit side is dst for toHalf and src for fromHalf; the other side is f32.
Conversion ParseConversion(const Napi::CallbackInfo& info, bool to_half) {
  Napi::Env env = info.Env();
  Conversion c;
  c.half = HalfDtype(env, info[1]);
  c.src = ParseTensor(env, info[0], to_half ? TS_F32 : c.half, "src (argument 1)");
  c.dst = ParseTensor(env, info[2], to_half ? c.half : TS_F32, "dst (argument 3)");
  TS_REQUIRE(env, !c.src.device && !c.dst.device, "ERR_DEVICE", "src and dst must be host TypedArrays");
  TS_REQUIRE(env, c.src.length == c.dst.length, "ERR_LENGTH",
             "dst (argument 3) must have as many elements as src (" + std::to_string(c.src.length) + ", got " +
                 std::to_string(c.dst.length) + ")");
  TS_REQUIRE(env, !Overlaps(c.src, c.dst), "ERR_INVALID_ARGUMENT", "src and dst must not share memory");
  return c;
}

Napi::Value ToHalf(const Napi::CallbackInfo& info) {
  Conversion c = ParseConversion(info, true);
  CpuToHalf(static_cast<const float*>(c.src.data), static_cast<uint16_t*>(c.dst.data), c.src.length, c.half);
  return info.Env().Undefined();
}

Napi::Value FromHalf(const Napi::CallbackInfo& info) {
  Conversion c = ParseConversion(info, false);
  CpuFromHalf(static_cast<const uint16_t*>(c.src.data), static_cast<float*>(c.dst.data), c.src.length, c.half);
  return info.Env().Undefined();
}

}  // namespace

void InitConvert(Napi::Env env, Napi::Object exports) {
  exports.Set("toHalf", Napi::Function::New(env, ToHalf, "toHalf"));
  exports.Set("fromHalf", Napi::Function::New(env, FromHalf, "fromHalf"));
}

}  // namespace ts
