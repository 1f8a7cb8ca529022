// Per-environment state of the CUDA binding (each worker_thread that loads the addon gets its own), kept
// in the addon's instance data (addon_data.h).
#pragma once
#include <napi.h>
#include <cuda_runtime.h>

#include <memory>

namespace ts::cuda {

// The stream state is shared with every DeviceTensor (a finalizer frees on it), so it holds no Node-API
// reference: it may outlive the environment.
struct StreamState {
  cudaStream_t own = nullptr;  // the library's stream, created on first use
  cudaStream_t current = nullptr;
  bool user_stream = false;
  ~StreamState() {
    if (own) cudaStreamDestroy(own);  // errors ignored: the runtime may already be unloading
  }
};

struct CudaEnv {
  Napi::FunctionReference tensor_ctor;  // the DeviceTensor class
  std::shared_ptr<StreamState> streams = std::make_shared<StreamState>();
};

CudaEnv* EnvState(Napi::Env env);

inline std::shared_ptr<StreamState> State(Napi::Env env) { return EnvState(env)->streams; }

}  // namespace ts::cuda
