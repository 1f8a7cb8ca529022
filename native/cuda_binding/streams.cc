#include "streams.h"

#include <cstdint>
#include <memory>

#include "../errors.h"
#include "cuda_args.h"
#include "cuda_status.h"
#include "env_state.h"
#include "probe.h"

namespace ts::cuda {

cudaStream_t Stream(Napi::Env env) {
  RequireUsable(env);
  std::shared_ptr<StreamState> s = State(env);
  if (!s->user_stream && !s->own) {
    CheckCuda(env, cudaStreamCreateWithFlags(&s->own, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    s->current = s->own;
  }
  return s->current;
}

int CurrentDeviceOrThrow(Napi::Env env) {
  int dev = 0;
  CheckCuda(env, cudaGetDevice(&dev), "cudaGetDevice");
  return dev;
}

namespace {

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cudaStream_t s = Stream(env);
  CheckCuda(env, cudaStreamSynchronize(s), "cuda.synchronize: cudaStreamSynchronize");
  return env.Undefined();
}

Napi::Value SetStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cudaStream_t old = Stream(env);
  std::shared_ptr<StreamState> st = State(env);
  cudaStream_t next;
  bool user;
  if (info[0].IsNull() || info[0].IsUndefined()) {
    if (!st->own) CheckCuda(env, cudaStreamCreateWithFlags(&st->own, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    next = st->own;
    user = false;
  } else {
    const uint64_t h = ParseBigPointer(env, info[0], "cuda.setStream stream (argument 1)");
    next = reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(h));
    unsigned int flags = 0;
    // 0 (legacy default), cudaStreamLegacy (1) and cudaStreamPerThread (2) are special handles.
    cudaError_t e = h <= 2 ? cudaSuccess : cudaStreamGetFlags(next, &flags);
    if (e != cudaSuccess) {
      cudaGetLastError();
      Throw(env, "ERR_INVALID_ARGUMENT", "cuda.setStream: not a valid cudaStream_t (" + CudaMessage(e) + ")");
    }
    user = true;
  }
  // Everything queued on the previous stream completes first: frees and later work stay ordered.
  CheckCuda(env, cudaStreamSynchronize(old), "cuda.setStream: cudaStreamSynchronize");
  st->current = next;
  st->user_stream = user;
  return env.Undefined();
}

}  // namespace

void AddStreamFunctions(Napi::Env env, Napi::Object cuda) {
  cuda.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  cuda.Set("setStream", Napi::Function::New(env, SetStream, "setStream"));
}

}  // namespace ts::cuda
