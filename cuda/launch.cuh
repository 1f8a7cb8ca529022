// Host-side launch support shared by the kernel files: the per-thread last error, cached device
// properties and occupancy, and argument checks.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "taylorseer.h"

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

}  // namespace tsk
