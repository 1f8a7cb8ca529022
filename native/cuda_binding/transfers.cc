// cuda.upload (host -> device, synchronous by contract) and cuda.download (device -> host, a Promise).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "../args.h"
#include "../errors.h"
#include "binding_parts.h"
#include "cuda_args.h"
#include "cuda_status.h"
#include "device_tensor.h"
#include "pinned_pool.h"
#include "streams.h"

namespace ts::cuda {
namespace {

// The arguments of a copy, (tensor, host array, offset?): the host range fits the tensor from `offset`,
// and the tensor lives on the current device. `tensor_role` / `host_role` name them in messages.
struct CopyArgs {
  DeviceTensor* tensor;
  HostArray host;
  int64_t offset;
};

CopyArgs ParseCopy(Napi::Env env, const Napi::CallbackInfo& info, const std::string& fn, const char* tensor_role,
                   const char* host_role) {
  const std::string tensor_what = fn + " " + tensor_role + " (argument 1)";
  DeviceTensor* t = TensorArgOrThrow(env, info[0], tensor_what);
  HostArray h = ParseHost(env, info[1], t->Type(), fn + " " + host_role + " (argument 2)");
  const int64_t offset = ParseOffset(env, info[2], fn + " offset (argument 3)");
  TS_REQUIRE(env, offset + h.length <= t->Len(), "ERR_LENGTH",
             fn + ": offset " + std::to_string(offset) + " + " + std::to_string(h.length) +
                 " elements exceeds the DeviceTensor's " + std::to_string(t->Len()) + " elements");
  t->View(env, tensor_what.c_str());  // device check
  return CopyArgs{t, h, offset};
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CopyArgs a = ParseCopy(env, info, "cuda.upload", "dst", "src");
  DeviceTensor* dst = a.tensor;
  const HostArray& src = a.host;
  const int64_t offset = a.offset;
  cudaStream_t s = Stream(env);
  if (src.length == 0) return env.Undefined();
  const int es = DtypeBytes(dst->Type());
  CheckCuda(env,
            cudaMemcpyAsync(static_cast<char*>(dst->Ptr()) + offset * es, src.data, static_cast<size_t>(src.length) * es,
                            cudaMemcpyHostToDevice, s),
            "cuda.upload: cudaMemcpyAsync");
  // Synchronous by contract: when upload returns, the data is on the device.
  CheckCuda(env, cudaStreamSynchronize(s), "cuda.upload: cudaStreamSynchronize");
  return env.Undefined();
}

// download: device -> pinned staging (async, on the stream) -> a host function signals a thread-safe
// function -> on the JS thread the staging is copied into the TypedArray and the Promise settles. The
// event loop never blocks; the references keep both tensors alive until then.
struct DownloadJob;
void DownloadDone(Napi::Env env, Napi::Function, void*, DownloadJob* job);
using DownloadTsfn = Napi::TypedThreadSafeFunction<void, DownloadJob, DownloadDone>;

struct DownloadJob {
  explicit DownloadJob(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  Napi::Reference<Napi::Value> dst_ref, src_ref;
  void* staging = nullptr;
  size_t bytes = 0;
  cudaEvent_t done = nullptr;
  DownloadTsfn tsfn;
};

void FinishJob(DownloadJob* job) {
  if (job->staging) Pinned().Release(job->staging);
  if (job->done) cudaEventDestroy(job->done);
  job->tsfn.Release();
  delete job;
}

void DownloadDone(Napi::Env env, Napi::Function, void*, DownloadJob* job) {
  if (env == nullptr) {  // environment shutting down
    job->dst_ref.Reset();
    job->src_ref.Reset();
    FinishJob(job);
    return;
  }
  Napi::HandleScope scope(env);
  cudaError_t e = cudaEventQuery(job->done);
  if (e != cudaSuccess) {
    cudaGetLastError();
    job->deferred.Reject(MakeError(env, "ERR_CUDA", "cuda.download: the copy failed (" + CudaMessage(e) + ")").Value());
  } else {
    Napi::Value dst = job->dst_ref.Value();
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t offset = 0;
    napi_status st = napi_get_typedarray_info(env, dst, &type, &length, &data, &buffer, &offset);
    const size_t es = type == napi_float32_array ? 4 : 2;
    if (st != napi_ok || !data || length * es < job->bytes) {
      job->deferred.Reject(
          MakeError(env, "ERR_LENGTH", "cuda.download: the destination array was detached or shrunk before the copy finished")
              .Value());
    } else {
      std::memcpy(data, job->staging, job->bytes);
      job->deferred.Resolve(env.Undefined());
    }
  }
  job->dst_ref.Reset();
  job->src_ref.Reset();
  FinishJob(job);
}

void CUDART_CB DownloadHostFn(void* p) {
  auto* job = static_cast<DownloadJob*>(p);
  job->tsfn.NonBlockingCall(job);  // no CUDA call here (not allowed in a host function)
}

Napi::Value Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  try {
    const CopyArgs a = ParseCopy(env, info, "cuda.download", "src", "dst");
    DeviceTensor* src = a.tensor;
    const HostArray& dst = a.host;
    const int64_t offset = a.offset;
    cudaStream_t s = Stream(env);
    if (dst.length == 0) {
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    const int es = DtypeBytes(src->Type());
    auto* job = new DownloadJob(env);
    job->bytes = static_cast<size_t>(dst.length) * es;
    job->staging = Pinned().Acquire(job->bytes);
    if (!job->staging) {
      delete job;
      Throw(env, "ERR_CUDA", "cuda.download: cudaMallocHost of " + std::to_string(dst.length * es) + " bytes failed");
    }
    cudaError_t e = cudaEventCreateWithFlags(&job->done, cudaEventDisableTiming);
    if (e == cudaSuccess)
      e = cudaMemcpyAsync(job->staging, static_cast<const char*>(src->Ptr()) + offset * es, job->bytes,
                          cudaMemcpyDeviceToHost, s);
    if (e == cudaSuccess) e = cudaEventRecord(job->done, s);
    if (e != cudaSuccess) {
      Pinned().Release(job->staging);
      if (job->done) cudaEventDestroy(job->done);
      delete job;
      ThrowCuda(env, "cuda.download", e);
    }
    job->dst_ref = Napi::Persistent(info[1]);
    job->src_ref = Napi::Persistent(info[0]);
    job->tsfn = DownloadTsfn::New(env, "taylorseer:download", 0, 1);
    Napi::Promise promise = job->deferred.Promise();
    e = cudaLaunchHostFunc(s, DownloadHostFn, job);
    if (e != cudaSuccess) {
      // Nothing will call back: settle now (after waiting for the copy, so the staging is not in use).
      cudaStreamSynchronize(s);
      job->dst_ref.Reset();
      job->src_ref.Reset();
      Napi::Promise::Deferred d = job->deferred;
      FinishJob(job);
      cudaGetLastError();
      d.Reject(MakeError(env, "ERR_CUDA", "cuda.download: cudaLaunchHostFunc failed (" + CudaMessage(e) + ")").Value());
    }
    return promise;
  } catch (const Napi::Error& err) {
    deferred.Reject(err.Value());
    return deferred.Promise();
  }
}

}  // namespace

void AddTransferFunctions(Napi::Env env, Napi::Object cuda) {
  cuda.Set("upload", Napi::Function::New(env, Upload, "upload"));
  cuda.Set("download", Napi::Function::New(env, Download, "download"));
}

}  // namespace ts::cuda
