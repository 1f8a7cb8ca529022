// Host-side launch support shared by the kernel files: the per-thread last error, cached device
// properties and occupancy, and argument checks.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "taylorseer.h"
#include "validate.h"

namespace tsk {

// Records `message` as this thread's last error (ts_cuda_last_error) and returns `status`.
ts_status Fail(ts_status status, const std::string& message);
// Checks a CUDA call; on failure records "<what>: <cudaGetErrorString>" and returns TS_ERR_CUDA.
ts_status Check(cudaError_t err, const char* what);
void ClearError();
const char* LastError();

struct DeviceInfo {
  int device = -1;
  int sms = 0;
  int max_threads_per_sm = 0;
};
// Properties of the current device (read once per device, then cached).
ts_status CurrentDevice(DeviceInfo* info);

// Blocks of `kernel` (kThreads threads, no shared memory) resident per multiprocessor on `device`,
// cached per (kernel, device) after the first query.
ts_status BlocksPerSm(const void* kernel, int device, int threads, int* blocks);

// Persistent grid for `tiles` tiles: min(tiles, resident blocks on the whole device).
ts_status GridFor(const void* kernel, int64_t tiles, int threads, int* grid);

// An activation dtype (f32, f16, bf16).
bool ValidDtype(ts_dtype d);
// A storage dtype: an activation dtype or TS_I8.
bool ValidStorage(ts_dtype d);

// Indirect launches: `values` (what: "divisors", "coeffs") must be a device pointer and stride >= 0.
ts_status CheckIndirect(const float* values, int64_t stride, const char* fn, const char* what);

// Launches a table in slices of at most kTableCap entries: build(first, &p, &maxc) fills p from entry
// `first` on and returns where the next slice starts; launch(p, maxc) runs a slice that is not empty.
template <class Params, class Build, class Launch>
ts_status LaunchSlices(int32_t count, Build build, Launch launch) {
  Params p;
  int32_t next = 0;
  while (next < count) {
    int maxc = 1;
    next = build(next, &p, &maxc);
    if (p.num == 0) continue;
    const ts_status st = launch(p, maxc);
    if (st != TS_OK) return st;
  }
  return TS_OK;
}

// The body of the update and forecast entry points: clears this thread's last error, checks the table
// (validate.h) and its storage and activation dtypes, then launches it in slices (LaunchSlices).
template <class Params, class Entry, class Build, class Launch>
ts_status RunTable(const Entry* entries, int32_t count, ts_dtype storage, ts_dtype act, const char* fn, Build build,
                   Launch launch) {
  ClearError();
  std::string why;
  if (!CheckTable(entries, count, fn, &why)) return Fail(TS_ERR_INVALID_ARGUMENT, why);
  if (!ValidStorage(storage) || !ValidDtype(act)) return Fail(TS_ERR_INVALID_ARGUMENT, std::string(fn) + ": bad dtype");
  return LaunchSlices<Params>(count, build, launch);
}

}  // namespace tsk
