// The seam between the host-side binding (kernel_table.cc, kernel_run.cc) and the CUDA binding (cuda_binding/).
// The CUDA binding registers its hooks at load when the addon was built with CUDA; without them no
// DeviceTensor can exist, and every tensor is a host TypedArray.
#pragma once
#include <napi.h>

#include <cstdint>

#include "../cuda/taylorseer.h"

namespace ts {

struct DeviceView {
  void* data;      // device pointer
  int64_t length;  // elements
  ts_dtype dtype;
};

struct DeviceHooks {
  // True when `value` is a DeviceTensor; fills `view`. Throws ERR_DISPOSED for a disposed one.
  bool (*unwrap)(Napi::Env env, Napi::Value value, DeviceView* view);
  // Launch on the library's current stream; throw ERR_CUDA on failure.
  void (*update)(Napi::Env env, const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
  void (*forecast)(Napi::Env env, const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
  // The same, reading each entry's divisors / coefficients from device memory (entry i at values + i * stride).
  void (*update_indirect)(Napi::Env env, const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                          const float* values, int64_t stride);
  void (*forecast_indirect)(Napi::Env env, const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                            const float* values, int64_t stride);
};

// Called once per environment by the CUDA binding's init.
void RegisterDeviceHooks(Napi::Env env, const DeviceHooks* hooks);
// Null when no CUDA binding registered in this environment.
const DeviceHooks* GetDeviceHooks(Napi::Env env);

// Implemented by the CUDA binding (cuda_binding/init.cc): adds `cuda` and `cudaInfo` to the exports and
// registers the hooks. Present in every build; without CUDA (no_cuda.cc) it reports that CUDA was not
// compiled in.
void InitDevice(Napi::Env env, Napi::Object exports);

}  // namespace ts
