#include "args.h"

#include <cmath>

#include "addon_data.h"
#include "device.h"
#include "errors.h"

namespace ts {
namespace {

const char* TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

std::string Describe(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsString()) return "string \"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsBoolean()) return "boolean";
  if (v.IsBigInt()) return "bigint";
  if (v.IsArray()) return "Array";
  if (v.IsTypedArray()) return TypedArrayName(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsFunction()) return "function";
  return "object";
}

// True when `buffer` (the ArrayBuffer of a host view) is resizable. SharedArrayBuffers only grow, never
// shrink or detach, and are not asked.
bool IsResizable(Napi::Env env, napi_value buffer) {
  bool is_ab = false;
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &is_ab), false);
  const Napi::FunctionReference& getter = Data(env)->ab_resizable;
  if (!is_ab || getter.IsEmpty()) return false;  // no getter: this runtime has no resizable buffers
  Napi::Value r = getter.Call(buffer, {});
  return r.IsBoolean() && r.As<Napi::Boolean>().Value();
}

}  // namespace

void CaptureBufferIntrinsics(Napi::Env env) {
  Napi::Value ab = env.Global().Get("ArrayBuffer");
  Napi::Value object = env.Global().Get("Object");
  if (!ab.IsFunction() || !object.IsObject()) return;
  Napi::Value gopd = object.As<Napi::Object>().Get("getOwnPropertyDescriptor");
  if (!gopd.IsFunction()) return;
  Napi::Value proto = ab.As<Napi::Object>().Get("prototype");
  Napi::Value desc = gopd.As<Napi::Function>().Call(object, {proto, Napi::String::New(env, "resizable")});
  if (!desc.IsObject()) return;
  Napi::Value get = desc.As<Napi::Object>().Get("get");
  if (get.IsFunction()) Data(env)->ab_resizable = Napi::Persistent(get.As<Napi::Function>());
}

const char* DtypeName(ts_dtype d) {
  switch (d) {
    case TS_F32: return "f32";
    case TS_F16: return "f16";
    case TS_BF16: return "bf16";
    case TS_I8: return "i8";
  }
  return "?";
}

int DtypeBytes(ts_dtype d) { return d == TS_F32 ? 4 : d == TS_I8 ? 1 : 2; }

napi_typedarray_type HostArrayType(ts_dtype d) {
  return d == TS_F32 ? napi_float32_array : d == TS_I8 ? napi_uint8_array : napi_uint16_array;
}

const char* HostArrayName(ts_dtype d) { return TypedArrayName(HostArrayType(d)); }

ts_dtype ParseDtype(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "f32") return TS_F32;
    if (s == "f16") return TS_F16;
    if (s == "bf16") return TS_BF16;
  }
  Throw(env, "ERR_DTYPE", what + " must be one of 'f32', 'f16', 'bf16' (got " + Describe(v) + ")");
}

ts_dtype ParseStorageDtype(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsString() && v.As<Napi::String>().Utf8Value() == "i8") return TS_I8;
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s == "f32" || s == "f16" || s == "bf16") return ParseDtype(env, v, what);
  }
  Throw(env, "ERR_DTYPE", what + " must be one of 'f32', 'f16', 'bf16', 'i8' (got " + Describe(v) + ")");
}

int64_t FactorUnits(ts_dtype storage, int64_t n, int64_t count) {
  return storage == TS_I8 ? ts_i8_bytes(n, count) : count * n;
}

TensorArg ParseTensor(Napi::Env env, Napi::Value v, ts_dtype dtype, const std::string& what) {
  TensorArg t;
  if (v.IsTypedArray()) {
    auto arr = v.As<Napi::TypedArray>();
    const napi_typedarray_type want = HostArrayType(dtype);
    TS_REQUIRE(env, arr.TypedArrayType() == want, "ERR_DTYPE",
               what + " must be a " + TypedArrayName(want) + " for dtype " + DtypeName(dtype) + " (got " +
                   TypedArrayName(arr.TypedArrayType()) + ")");
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value buffer;
    size_t offset;
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, arr, &type, &length, &data, &buffer, &offset), t);
    TS_REQUIRE(env, !IsResizable(env, buffer), "ERR_INVALID_ARGUMENT",
               what + " is a view on a resizable ArrayBuffer, which could shrink while the kernel uses it; pass a "
                      "TypedArray on a fixed-length ArrayBuffer or on a SharedArrayBuffer");
    bool is_ab = false;
    NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &is_ab), t);
    t.shared = !is_ab;
    t.data = data;
    t.length = static_cast<int64_t>(length);
    t.elem_size = DtypeBytes(dtype);
    // A detached buffer reports no data: treat it as empty so the length checks reject it.
    if (!data) t.length = 0;
    return t;
  }
  if (v.IsObject()) {
    const DeviceHooks* hooks = GetDeviceHooks(env);
    DeviceView view;
    if (hooks && hooks->unwrap(env, v, &view)) {
      TS_REQUIRE(env, view.dtype == dtype, "ERR_DTYPE",
                 what + " is a DeviceTensor of dtype " + DtypeName(view.dtype) + ", expected " + DtypeName(dtype));
      t.device = true;
      t.data = view.data;
      t.length = view.length;
      t.elem_size = DtypeBytes(dtype);
      return t;
    }
  }
  Throw(env, "ERR_INVALID_ARGUMENT",
        what + " must be a " + HostArrayName(dtype) + " or a DeviceTensor of dtype " +
            DtypeName(dtype) + " (got " + Describe(v) + ")");
}

int64_t ParseInt(Napi::Env env, Napi::Value v, int64_t lo, int64_t hi, const std::string& what) {
  const std::string range = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  TS_REQUIRE(env, v.IsNumber(), "ERR_INVALID_ARGUMENT", what + " must be " + range + " (got " + Describe(v) + ")");
  double d = v.As<Napi::Number>().DoubleValue();
  TS_REQUIRE(env, std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(lo) && d <= static_cast<double>(hi),
             "ERR_INVALID_ARGUMENT", what + " must be " + range + " (got " + Describe(v) + ")");
  return static_cast<int64_t>(d);
}

double ParseFinite(Napi::Env env, Napi::Value v, const std::string& what) {
  TS_REQUIRE(env, v.IsNumber(), "ERR_INVALID_ARGUMENT", what + " must be a finite number (got " + Describe(v) + ")");
  double d = v.As<Napi::Number>().DoubleValue();
  TS_REQUIRE(env, std::isfinite(d), "ERR_NON_FINITE", what + " must be a finite number (got " + Describe(v) + ")");
  return d;
}

bool Overlaps(const TensorArg& a, const TensorArg& b) {
  if (a.device != b.device || a.length == 0 || b.length == 0) return false;
  return a.begin() < b.end() && b.begin() < a.end();
}

}  // namespace ts
