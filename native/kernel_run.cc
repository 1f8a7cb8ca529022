#include "kernel_run.h"

#include <algorithm>

#include "cpu_kernels.h"
#include "device.h"

namespace ts {
namespace {

void RunDeviceIndirect(Napi::Env env, const Table& t) {
  const DeviceHooks* hooks = GetDeviceHooks(env);
  const float* v = static_cast<const float*>(t.values.data) + t.offset;
  if (!t.updates.empty()) {
    hooks->update_indirect(env, t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act, v, t.stride);
  } else if (t.chain) {
    for (size_t i = 0; i < t.forecasts.size(); ++i)
      hooks->forecast_indirect(env, &t.forecasts[i], 1, t.storage, t.act, v + static_cast<int64_t>(i) * t.stride, 0);
  } else {
    hooks->forecast_indirect(env, t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act, v, t.stride);
  }
}

// The kernels add to the norms, the binding's contract overwrites: zeroed where the kernel will write them
// (a private copy for async calls), once the table is accepted.
void ZeroStats(const Table& t) {
  for (const ts_update_entry& e : t.updates)
    if (e.stats) std::fill(e.stats, e.stats + e.new_count, 0.0f);
}

}  // namespace

void RunDevice(Napi::Env env, const Table& t) {
  ZeroStats(t);
  const DeviceHooks* hooks = GetDeviceHooks(env);
  if (t.indirect) {
    RunDeviceIndirect(env, t);
  } else if (!t.updates.empty()) {
    hooks->update(env, t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act);
  } else if (t.chain) {
    // One launch per entry: the entries of one launch run concurrently, a chain's share its output.
    for (const ts_forecast_entry& e : t.forecasts) hooks->forecast(env, &e, 1, t.storage, t.act);
  } else {
    hooks->forecast(env, t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
  }
}

void RunHost(const Table& t) {
  ZeroStats(t);
  if (!t.updates.empty()) CpuUpdate(t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act);
  else if (t.chain) CpuForecastChain(t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
  else CpuForecast(t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
}

}  // namespace ts
