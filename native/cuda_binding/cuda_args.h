// Arguments of the `cuda` functions that the kernel tables do not take: device addresses and stream
// handles as bigints, host arrays to copy to or from a DeviceTensor, element offsets.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "../../cuda/taylorseer.h"

namespace ts::cuda {

std::string Hex(uint64_t v);

// A bigint holding a non-negative 64-bit address or handle.
uint64_t ParseBigPointer(Napi::Env env, Napi::Value v, const std::string& what);

struct HostArray {
  void* data;
  int64_t length;  // elements; 0 for a detached buffer
};

// The host typed array of `dtype` (args.h HostArrayType); ERR_DTYPE for another kind of typed array.
HostArray ParseHost(Napi::Env env, Napi::Value v, ts_dtype dtype, const std::string& what);

// An element offset into a DeviceTensor; 0 when undefined.
int64_t ParseOffset(Napi::Env env, Napi::Value v, const std::string& what);

}  // namespace ts::cuda
