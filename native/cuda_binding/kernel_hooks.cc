// The device hooks (device.h) through which kernel_run.cc runs a table of DeviceTensors: the
// ts_cuda_* launches of cuda/taylorseer.h on the library's stream.
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "../../cuda/ts_cuda_extra.h"
#include "../device.h"
#include "binding_parts.h"
#include "cuda_status.h"
#include "device_tensor.h"
#include "streams.h"

namespace ts::cuda {
namespace {

bool HookUnwrap(Napi::Env env, Napi::Value value, DeviceView* view) {
  DeviceTensor* t = Unwrapped(value);
  if (!t) return false;
  *view = t->View(env, "tensor");
  return true;
}

// Entries with stats carry host arrays (the JS contract); the kernel adds its norms into device memory.
// They go to one zeroed device scratch, are copied back once the update has run (the call waits for it:
// a schedule needs the norms before its next decision) and added to the host arrays.
// values: nullptr (divisors from the entries) or device memory (indirect launch, entry i at values + i * stride).
ts_status LaunchUpdate(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act, const float* values,
                       int64_t stride, cudaStream_t s) {
  return values ? ts_cuda_update_indirect(entries, count, storage, act, values, stride, s)
                : ts_cuda_update(entries, count, storage, act, s);
}

void HookUpdateFrom(Napi::Env env, const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                    const float* values, int64_t stride) {
  cudaStream_t s = Stream(env);
  int64_t total = 0;
  for (int32_t i = 0; i < count; ++i)
    if (entries[i].stats) total += entries[i].new_count;
  if (total == 0) {
    ts_status st = LaunchUpdate(entries, count, storage, act, values, stride, s);
    if (st != TS_OK) ThrowStatus(env, st, "update (CUDA)");
    return;
  }
  struct Scratch {
    float* p = nullptr;
    cudaStream_t s;
    ~Scratch() {
      if (p) cudaFreeAsync(p, s);
    }
  } scratch{nullptr, s};
  const size_t bytes = static_cast<size_t>(total) * sizeof(float);
  CheckCuda(env, cudaMallocAsync(reinterpret_cast<void**>(&scratch.p), bytes, s), "update norms: cudaMallocAsync");
  CheckCuda(env, cudaMemsetAsync(scratch.p, 0, bytes, s), "update norms: cudaMemsetAsync");
  std::vector<ts_update_entry> on_device(entries, entries + count);
  int64_t offset = 0;
  for (ts_update_entry& e : on_device) {
    if (!e.stats) continue;
    e.stats = scratch.p + offset;
    offset += e.new_count;
  }
  ts_status st = LaunchUpdate(on_device.data(), count, storage, act, values, stride, s);
  if (st != TS_OK) ThrowStatus(env, st, "update (CUDA)");
  std::vector<float> norms(static_cast<size_t>(total));
  CheckCuda(env, cudaMemcpyAsync(norms.data(), scratch.p, bytes, cudaMemcpyDeviceToHost, s), "update norms: cudaMemcpyAsync");
  CheckCuda(env, cudaStreamSynchronize(s), "update norms: cudaStreamSynchronize");
  offset = 0;
  for (int32_t i = 0; i < count; ++i) {
    if (!entries[i].stats) continue;
    for (int32_t k = 0; k < entries[i].new_count; ++k) entries[i].stats[k] += norms[static_cast<size_t>(offset + k)];
    offset += entries[i].new_count;
  }
}

void HookUpdate(Napi::Env env, const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  HookUpdateFrom(env, entries, count, storage, act, nullptr, 0);
}

void HookForecast(Napi::Env env, const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  cudaStream_t s = Stream(env);
  ts_status st = ts_cuda_forecast(entries, count, storage, act, s);
  if (st != TS_OK) ThrowStatus(env, st, "forecast (CUDA)");
}

void HookForecastFrom(Napi::Env env, const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                      const float* values, int64_t stride) {
  cudaStream_t s = Stream(env);
  ts_status st = ts_cuda_forecast_indirect(entries, count, storage, act, values, stride, s);
  if (st != TS_OK) ThrowStatus(env, st, "forecast (CUDA, indirect)");
}

const DeviceHooks kHooks = {HookUnwrap, HookUpdate, HookForecast, HookUpdateFrom, HookForecastFrom};

}  // namespace

void RegisterKernelHooks(Napi::Env env) { RegisterDeviceHooks(env, &kHooks); }

}  // namespace ts::cuda
