#include "cuda_args.h"

#include <cstdio>

#include "../args.h"
#include "../errors.h"

namespace ts::cuda {

std::string Hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

uint64_t ParseBigPointer(Napi::Env env, Napi::Value v, const std::string& what) {
  TS_REQUIRE(env, v.IsBigInt(), "ERR_INVALID_ARGUMENT", what + " must be a bigint (a device address)");
  bool lossless = false;
  uint64_t p = v.As<Napi::BigInt>().Uint64Value(&lossless);
  TS_REQUIRE(env, lossless, "ERR_INVALID_ARGUMENT", what + " must be a non-negative 64-bit address");
  return p;
}

HostArray ParseHost(Napi::Env env, Napi::Value v, ts_dtype dtype, const std::string& what) {
  const napi_typedarray_type want = HostArrayType(dtype);
  const char* want_name = HostArrayName(dtype);
  TS_REQUIRE(env, v.IsTypedArray(), "ERR_INVALID_ARGUMENT",
             what + " must be a " + want_name + " (host data of dtype " + DtypeName(dtype) + ")");
  Napi::TypedArray arr = v.As<Napi::TypedArray>();
  TS_REQUIRE(env, arr.TypedArrayType() == want, "ERR_DTYPE",
             what + " must be a " + want_name + " for a DeviceTensor of dtype " + DtypeName(dtype));
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, arr, &type, &length, &data, &buffer, &offset), HostArray{});
  return HostArray{data, data ? static_cast<int64_t>(length) : 0};
}

int64_t ParseOffset(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsUndefined()) return 0;
  return ParseInt(env, v, 0, kMaxElements, what);
}

}  // namespace ts::cuda
