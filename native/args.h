// Argument parsing and validation for the Node-API entry points. Every check throws a TaylorSeerError
// with a stable code and a message naming the argument, what it was and what was expected.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "../cuda/taylorseer.h"

namespace ts {

// Upper bound on elements of one tensor or factor: keeps capacity * n * 4 bytes far from int64 overflow.
constexpr int64_t kMaxElements = int64_t{1} << 40;

// What each dtype is on the host: its name, the bytes of one element of its typed array (one byte of
// records for i8) and that typed array. A new dtype is added here and in taylorseer.h's ts_dtype.
const char* DtypeName(ts_dtype d);
int DtypeBytes(ts_dtype d);
napi_typedarray_type HostArrayType(ts_dtype d);
const char* HostArrayName(ts_dtype d);
ts_dtype ParseDtype(Napi::Env env, Napi::Value v, const std::string& what);
// A factor storage dtype: the activation dtypes, or 'i8' (8-bit records, taylorseer.h).
ts_dtype ParseStorageDtype(Napi::Env env, Napi::Value v, const std::string& what);
// Typed-array elements `count` factors of n elements take in `storage` (bytes for i8: ts_i8_bytes).
int64_t FactorUnits(ts_dtype storage, int64_t n, int64_t count);

// A tensor argument: a host TypedArray (Float32Array for f32, Uint16Array for f16/bf16, Uint8Array for i8
// records) or a DeviceTensor. Views on resizable ArrayBuffers are refused: one could shrink under a pointer
// the call holds.
struct TensorArg {
  bool device = false;
  bool shared = false;  // host view on a SharedArrayBuffer: its memory can neither be detached nor shrink
  void* data = nullptr;
  int64_t length = 0;  // elements
  int elem_size = 4;
  uintptr_t begin() const { return reinterpret_cast<uintptr_t>(data); }
  uintptr_t end() const { return begin() + static_cast<uintptr_t>(length) * elem_size; }
};

TensorArg ParseTensor(Napi::Env env, Napi::Value v, ts_dtype dtype, const std::string& what);

// Keeps the intrinsic ArrayBuffer.prototype.resizable getter of this environment (called once at load), so
// that checking a buffer runs no code a caller could have put on the prototype since.
void CaptureBufferIntrinsics(Napi::Env env);

// An integer in [lo, hi]; `fallback` when undefined and allow_missing.
int64_t ParseInt(Napi::Env env, Napi::Value v, int64_t lo, int64_t hi, const std::string& what);
double ParseFinite(Napi::Env env, Napi::Value v, const std::string& what);

bool Overlaps(const TensorArg& a, const TensorArg& b);

}  // namespace ts
