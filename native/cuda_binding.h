// The CUDA side of the addon: DeviceTensor, the `cuda` export object and `cudaInfo`. A build with CUDA
// compiles native/cuda_binding/ (one file per concern, init.cc puts them together); a build without
// compiles native/no_cuda.cc instead. The host-side binding reaches it only through the hooks of device.h
// (InitDevice registers them); the functions below are for code that wants to ask directly. Every
// function exists in every build; without CUDA no DeviceTensor can exist and the `cuda` functions throw
// ERR_DEVICE "this build has no CUDA support (built without nvcc); rebuild with nvcc on PATH".
#pragma once
#include <napi.h>

#include "device.h"

namespace ts {

// Message of the ERR_DEVICE error every `cuda` function throws in a build without CUDA.
extern const char* const kNoCudaMessage;

// True when `value` is a DeviceTensor created by this addon (type-tagged object); never throws.
bool IsDeviceTensor(Napi::Value value);

// Unwraps a DeviceTensor. Throws ERR_INVALID_ARGUMENT when `value` is not one, ERR_DISPOSED when it was
// disposed, ERR_DEVICE when it lives on another device than the current one.
DeviceView GetDeviceTensor(Napi::Env env, Napi::Value value, const char* what);

// The cudaStream_t all library work is ordered on (the library's own non-blocking stream unless
// cuda.setStream chose another). Throws ERR_DEVICE when CUDA is not usable.
void* CurrentStream(Napi::Env env);

// Adds `bench` to the `cuda` object (cuda_binding/bench.cc; no_cuda.cc without CUDA).
void AddCudaBench(Napi::Env env, Napi::Object cuda);

}  // namespace ts
