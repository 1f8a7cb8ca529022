// The CUDA binding: DeviceTensor (a type-tagged native handle to device memory), the `cuda` object
// (alloc, wrap, upload, download, synchronize, setStream, bench) and `cudaInfo`, plus the device hooks
// that kernel_binding.cc calls for tables of DeviceTensors (device.h).
//
// Memory and ordering: every operation is ordered on ONE stream, the library's own non-blocking stream
// (created on first use) or the one given to cuda.setStream. alloc uses cudaMallocAsync and dispose
// cudaFreeAsync on that stream (stream-ordered: a free never overtakes work queued before it);
// setStream synchronizes the previous stream first, so no work is left behind on it. Memory from alloc
// is usable by other streams only after cuda.synchronize().
//
// cudart is linked statically: on a machine without a driver the addon loads, cudaInfo() reports
// usable: false with the runtime's reason, and every `cuda` function throws ERR_DEVICE.
#include "cuda_binding.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "addon_data.h"
#include "args.h"
#include "errors.h"

#ifdef TS_HAVE_CUDA
#include <cuda_runtime.h>

#include "../cuda/ts_cuda_extra.h"
#endif

namespace ts {

const char* const kNoCudaMessage = "this build has no CUDA support (built without nvcc); rebuild with nvcc on PATH";

#ifdef TS_HAVE_CUDA

namespace {

// "taylorseer:DeviceTensor"
constexpr napi_type_tag kDeviceTensorTag = {0x7461796c6f727365ULL, 0x65723a4454656e73ULL};
constexpr int64_t kMaxElements = int64_t{1} << 40;

int ElemSize(ts_dtype d) { return d == TS_F32 ? 4 : 2; }

std::string CudaMessage(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

[[noreturn]] void ThrowCuda(Napi::Env env, const std::string& what, cudaError_t e) {
  cudaGetLastError();  // clear a non-sticky error so later calls do not report it again
  Throw(env, "ERR_CUDA", what + " failed (" + CudaMessage(e) + ")");
}

void CheckCuda(Napi::Env env, cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) ThrowCuda(env, what, e);
}

// ---------------------------------------------------------------- usability (probed once per process)
struct Probe {
  bool usable = false;
  std::string reason;
  int count = 0;
};

const Probe& GetProbe() {
  static Probe probe;
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
      cudaGetLastError();
      probe.reason = "CUDA is not usable on this machine (" + CudaMessage(e) + ")";
      return;
    }
    if (n == 0) {
      probe.reason = "no CUDA device is present";
      return;
    }
    probe.count = n;
    if (ts_cuda_check_kernels() != TS_OK) {
      probe.reason = ts_cuda_last_error();
      return;
    }
    probe.usable = true;
  });
  return probe;
}

void RequireUsable(Napi::Env env) {
  const Probe& p = GetProbe();
  if (!p.usable) Throw(env, "ERR_DEVICE", p.reason);
}

// ---------------------------------------------------------------- pinned staging for downloads
class PinnedPool {
 public:
  void* Acquire(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t best = blocks_.size();
      for (size_t i = 0; i < blocks_.size(); ++i)
        if (blocks_[i].size >= bytes && (best == blocks_.size() || blocks_[i].size < blocks_[best].size)) best = i;
      if (best != blocks_.size()) {
        void* p = blocks_[best].ptr;
        sizes_.push_back({p, blocks_[best].size});
        cached_ -= blocks_[best].size;
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(best));
        return p;
      }
    }
    size_t size = 4096;
    while (size < bytes) size <<= 1;
    void* p = nullptr;
    if (cudaMallocHost(&p, size) != cudaSuccess) {
      cudaGetLastError();
      return nullptr;
    }
    std::lock_guard<std::mutex> lock(mu_);
    sizes_.push_back({p, size});
    return p;
  }
  void Release(void* p) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < sizes_.size(); ++i) {
      if (sizes_[i].ptr == p) {
        Block b = sizes_[i];
        sizes_.erase(sizes_.begin() + static_cast<std::ptrdiff_t>(i));
        if (cached_ + b.size <= kMaxCached) {
          blocks_.push_back(b);
          cached_ += b.size;
        } else {
          cudaFreeHost(p);
        }
        return;
      }
    }
  }

 private:
  struct Block {
    void* ptr;
    size_t size;
  };
  static constexpr size_t kMaxCached = size_t{256} << 20;
  std::mutex mu_;
  std::vector<Block> blocks_;  // free, cached
  std::vector<Block> sizes_;   // in use
  size_t cached_ = 0;
};

PinnedPool& Pinned() {
  static PinnedPool* pool = new PinnedPool();  // never destroyed: outlives every environment
  return *pool;
}

// ---------------------------------------------------------------- per-environment state
// The stream state is shared with every DeviceTensor (a finalizer frees on it), so it holds no Node-API
// reference: it may outlive the environment. The class constructor lives in the environment's data.
struct StreamState {
  cudaStream_t own = nullptr;  // the library's stream, created on first use
  cudaStream_t current = nullptr;
  bool user_stream = false;
  ~StreamState() {
    if (own) cudaStreamDestroy(own);  // errors ignored: the runtime may already be unloading
  }
};

struct CudaEnv {
  Napi::FunctionReference tensor_ctor;
  std::shared_ptr<StreamState> streams = std::make_shared<StreamState>();
};

CudaEnv* EnvState(Napi::Env env) {
  AddonData* d = Data(env);
  if (!d->cuda) d->cuda = std::make_shared<CudaEnv>();
  return static_cast<CudaEnv*>(d->cuda.get());
}

std::shared_ptr<StreamState> State(Napi::Env env) { return EnvState(env)->streams; }

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

// ---------------------------------------------------------------- DeviceTensor
struct TensorInit {
  void* ptr;
  int64_t length;
  ts_dtype dtype;
  bool external;
  int device;
};

class DeviceTensor : public Napi::ObjectWrap<DeviceTensor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DeviceTensor",
                       {InstanceAccessor<&DeviceTensor::Dtype>("dtype"),
                        InstanceAccessor<&DeviceTensor::Length>("length"),
                        InstanceAccessor<&DeviceTensor::ByteLength>("byteLength"),
                        InstanceAccessor<&DeviceTensor::Pointer>("pointer"),
                        InstanceAccessor<&DeviceTensor::External>("external"),
                        InstanceAccessor<&DeviceTensor::Disposed>("disposed"),
                        InstanceAccessor<&DeviceTensor::Device>("device"),
                        InstanceMethod<&DeviceTensor::Dispose>("dispose"),
                        InstanceMethod<&DeviceTensor::ToString>("toString")});
  }

  explicit DeviceTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceTensor>(info) {
    Napi::Env env = info.Env();
    // Only the addon constructs these (alloc, wrap): the argument is an External no script can forge.
    TS_REQUIRE(env, info.Length() == 1 && info[0].IsExternal(), "ERR_INVALID_ARGUMENT",
               "DeviceTensor cannot be constructed directly: use cuda.alloc() or cuda.wrap()");
    const TensorInit* init = info[0].As<Napi::External<TensorInit>>().Data();
    ptr_ = init->ptr;
    length_ = init->length;
    dtype_ = init->dtype;
    external_ = init->external;
    device_ = init->device;
    state_ = State(env);
    info.This().As<Napi::Object>().TypeTag(&kDeviceTensorTag);
  }

  ~DeviceTensor() override {
    // Backstop for a tensor that was never disposed: a stream-ordered free, errors ignored (at exit the
    // runtime may already be unloading).
    if (!disposed_ && !external_ && ptr_) {
      if (cudaFreeAsync(ptr_, state_->current) != cudaSuccess) cudaGetLastError();
    }
  }

  DeviceView View(Napi::Env env, const char* what) const {
    TS_REQUIRE(env, !disposed_, "ERR_DISPOSED", std::string(what) + " is a disposed DeviceTensor");
    const int dev = CurrentDeviceOrThrow(env);
    TS_REQUIRE(env, dev == device_, "ERR_DEVICE",
               std::string(what) + " lives on CUDA device " + std::to_string(device_) + " but the current device is " +
                   std::to_string(dev));
    DeviceView v;
    v.data = ptr_;
    v.length = length_;
    v.dtype = dtype_;
    return v;
  }

  void* Ptr() const { return ptr_; }
  int64_t Len() const { return length_; }
  ts_dtype Type() const { return dtype_; }
  bool IsDisposed() const { return disposed_; }

 private:
  void* ptr_ = nullptr;
  int64_t length_ = 0;
  ts_dtype dtype_ = TS_F32;
  bool external_ = false;
  bool disposed_ = false;
  int device_ = 0;
  std::shared_ptr<StreamState> state_;

  Napi::Value Dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), DtypeName(dtype_)); }
  Napi::Value Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(length_)); }
  Napi::Value ByteLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(length_ * ElemSize(dtype_)));
  }
  Napi::Value Pointer(const Napi::CallbackInfo& info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(disposed_ ? 0 : reinterpret_cast<uintptr_t>(ptr_)));
  }
  Napi::Value External(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), external_); }
  Napi::Value Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
  Napi::Value ToString(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), std::string("DeviceTensor(") + DtypeName(dtype_) + ", " + std::to_string(length_) +
                                             (external_ ? ", external" : "") + (disposed_ ? ", disposed" : "") + ")");
  }
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (disposed_) return env.Undefined();  // idempotent
    disposed_ = true;
    void* p = ptr_;
    ptr_ = nullptr;
    if (!external_ && p) {
      cudaError_t e = cudaFreeAsync(p, state_->current);
      if (e != cudaSuccess) ThrowCuda(env, "cudaFreeAsync", e);
    }
    return env.Undefined();
  }
};

DeviceTensor* Unwrapped(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  if (!o.CheckTypeTag(&kDeviceTensorTag)) return nullptr;
  return DeviceTensor::Unwrap(o);
}

Napi::Object NewTensor(Napi::Env env, void* ptr, int64_t length, ts_dtype dtype, bool external, int device) {
  TensorInit init{ptr, length, dtype, external, device};
  return EnvState(env)->tensor_ctor.New({Napi::External<TensorInit>::New(env, &init)});
}

// ---------------------------------------------------------------- argument helpers
std::string Hex(uint64_t v) {
  char b[32];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

uint64_t ParseBigPointer(Napi::Env env, Napi::Value v, const std::string& what) {
  TS_REQUIRE(env, v.IsBigInt(), "ERR_INVALID_ARGUMENT", what + " must be a bigint (a device address)");
  bool lossless = false;
  uint64_t p = v.As<Napi::BigInt>().Uint64Value(&lossless);
  TS_REQUIRE(env, lossless, "ERR_INVALID_ARGUMENT", what + " must be a non-negative 64-bit address");
  return p;
}

struct HostArray {
  void* data;
  int64_t length;
};

HostArray ParseHost(Napi::Env env, Napi::Value v, ts_dtype dtype, const std::string& what) {
  const napi_typedarray_type want = dtype == TS_F32 ? napi_float32_array : napi_uint16_array;
  const char* want_name = dtype == TS_F32 ? "Float32Array" : "Uint16Array";
  TS_REQUIRE(env, v.IsTypedArray(), "ERR_INVALID_ARGUMENT",
             what + " must be a " + want_name + " (host data of dtype " + DtypeName(dtype) + ")");
  Napi::TypedArray arr = v.As<Napi::TypedArray>();
  TS_REQUIRE(env, arr.TypedArrayType() == want, "ERR_DTYPE",
             what + " must be a " + want_name + " for a DeviceTensor of dtype " + DtypeName(dtype));
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, arr, &type, &length, &data, &buffer, &offset), HostArray{});
  return HostArray{data, data ? static_cast<int64_t>(length) : 0};
}

int64_t ParseOffset(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsUndefined()) return 0;
  return ParseInt(env, v, 0, kMaxElements, what);
}

DeviceTensor* TensorArgOrThrow(Napi::Env env, Napi::Value v, const std::string& what) {
  DeviceTensor* t = Unwrapped(v);
  TS_REQUIRE(env, t != nullptr, "ERR_INVALID_ARGUMENT", what + " must be a DeviceTensor");
  TS_REQUIRE(env, !t->IsDisposed(), "ERR_DISPOSED", what + " is a disposed DeviceTensor");
  return t;
}

// ---------------------------------------------------------------- cuda.* functions
Napi::Value Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ts_dtype dtype = ParseDtype(env, info[0], "cuda.alloc dtype (argument 1)");
  const int64_t length = ParseInt(env, info[1], 0, kMaxElements, "cuda.alloc length (argument 2)");
  cudaStream_t s = Stream(env);
  const int dev = CurrentDeviceOrThrow(env);
  void* p = nullptr;
  if (length > 0) {
    const size_t bytes = static_cast<size_t>(length) * ElemSize(dtype);
    cudaError_t e = cudaMallocAsync(&p, bytes, s);
    if (e != cudaSuccess) ThrowCuda(env, "cudaMallocAsync of " + std::to_string(bytes) + " bytes", e);
  }
  return NewTensor(env, p, length, dtype, false, dev);
}

// cuMemGetAddressRange through the runtime's driver entry point (no link to libcuda): the bounds of the
// allocation holding a device address. Null when the driver does not provide it.
using GetAddressRangeFn = int (*)(unsigned long long* base, size_t* size, unsigned long long ptr);
GetAddressRangeFn AddressRangeFn() {
  static GetAddressRangeFn fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &f, 12000, cudaEnableDefault, &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      f = nullptr;
    }
    return reinterpret_cast<GetAddressRangeFn>(f);
  }();
  return fn;
}

Napi::Value Wrap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t addr = ParseBigPointer(env, info[0], "cuda.wrap pointer (argument 1)");
  const int64_t bytes = ParseInt(env, info[1], 0, kMaxElements * 4, "cuda.wrap byteLength (argument 2)");
  const ts_dtype dtype = ParseDtype(env, info[2], "cuda.wrap dtype (argument 3)");
  const int es = ElemSize(dtype);
  TS_REQUIRE(env, bytes % es == 0, "ERR_LENGTH",
             "cuda.wrap byteLength " + std::to_string(bytes) + " is not a whole number of " + DtypeName(dtype) + " elements");
  TS_REQUIRE(env, addr != 0, "ERR_INVALID_ARGUMENT", "cuda.wrap pointer must not be 0n");
  TS_REQUIRE(env, addr % es == 0, "ERR_INVALID_ARGUMENT",
             "cuda.wrap pointer " + Hex(addr) + " is not aligned to its " + std::to_string(es) + "-byte " +
                 DtypeName(dtype) + " elements");
  cudaStream_t s = Stream(env);
  const int dev = CurrentDeviceOrThrow(env);
  void* p = reinterpret_cast<void*>(static_cast<uintptr_t>(addr));
  cudaPointerAttributes attr;
  cudaError_t e = cudaPointerGetAttributes(&attr, p);
  if (e != cudaSuccess) {
    cudaGetLastError();
    Throw(env, "ERR_DEVICE", "cuda.wrap: the pointer is not CUDA memory (" + CudaMessage(e) + ")");
  }
  TS_REQUIRE(env, attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged, "ERR_DEVICE",
             std::string("cuda.wrap: the pointer is ") +
                 (attr.type == cudaMemoryTypeHost ? "pinned host memory" : "not device memory (host or unregistered)") +
                 "; wrap device memory of the current device");
  TS_REQUIRE(env, attr.device == dev, "ERR_DEVICE",
             "cuda.wrap: the pointer belongs to CUDA device " + std::to_string(attr.device) + ", the current device is " +
                 std::to_string(dev));
  // Size: the runtime API cannot bound an allocation; the driver's cuMemGetAddressRange can, reached
  // through cudaGetDriverEntryPointByVersion. Without it only the start of the range is checked.
  if (GetAddressRangeFn range = AddressRangeFn()) {
    unsigned long long base = 0;
    size_t size = 0;
    if (range(&base, &size, addr) == 0) {
      const unsigned long long end = base + size;
      TS_REQUIRE(env, addr + static_cast<unsigned long long>(bytes) <= end, "ERR_LENGTH",
                 "cuda.wrap byteLength " + std::to_string(bytes) + " runs past the end of the allocation holding the pointer (" +
                     std::to_string(end - addr) + " bytes from the pointer to its end)");
    }
  }
  // A producer stream: our stream waits for the work queued on it so far.
  if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
    const uint64_t sh = ParseBigPointer(env, info[3], "cuda.wrap stream (argument 4)");
    cudaStream_t producer = reinterpret_cast<cudaStream_t>(static_cast<uintptr_t>(sh));
    if (producer != s) {
      cudaEvent_t ev;
      CheckCuda(env, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreateWithFlags");
      e = cudaEventRecord(ev, producer);
      if (e == cudaSuccess) e = cudaStreamWaitEvent(s, ev, 0);
      cudaEventDestroy(ev);
      if (e != cudaSuccess) ThrowCuda(env, "cuda.wrap: ordering after the given stream", e);
    }
  }
  return NewTensor(env, p, bytes / es, dtype, true, dev);
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceTensor* dst = TensorArgOrThrow(env, info[0], "cuda.upload dst (argument 1)");
  HostArray src = ParseHost(env, info[1], dst->Type(), "cuda.upload src (argument 2)");
  const int64_t offset = ParseOffset(env, info[2], "cuda.upload offset (argument 3)");
  TS_REQUIRE(env, offset + src.length <= dst->Len(), "ERR_LENGTH",
             "cuda.upload: offset " + std::to_string(offset) + " + " + std::to_string(src.length) +
                 " elements exceeds the DeviceTensor's " + std::to_string(dst->Len()) + " elements");
  dst->View(env, "cuda.upload dst (argument 1)");  // device check
  cudaStream_t s = Stream(env);
  if (src.length == 0) return env.Undefined();
  const int es = ElemSize(dst->Type());
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
    DeviceTensor* src = TensorArgOrThrow(env, info[0], "cuda.download src (argument 1)");
    HostArray dst = ParseHost(env, info[1], src->Type(), "cuda.download dst (argument 2)");
    const int64_t offset = ParseOffset(env, info[2], "cuda.download offset (argument 3)");
    TS_REQUIRE(env, offset + dst.length <= src->Len(), "ERR_LENGTH",
               "cuda.download: offset " + std::to_string(offset) + " + " + std::to_string(dst.length) +
                   " elements exceeds the DeviceTensor's " + std::to_string(src->Len()) + " elements");
    src->View(env, "cuda.download src (argument 1)");
    cudaStream_t s = Stream(env);
    if (dst.length == 0) {
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    const int es = ElemSize(src->Type());
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

// ---------------------------------------------------------------- cudaInfo
Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Probe& p = GetProbe();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", true);
  o.Set("runtimeVersion", std::to_string(CUDART_VERSION / 1000) + "." + std::to_string((CUDART_VERSION % 1000) / 10));
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
  o.Set("driverVersion", driver ? std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10) : "");
  o.Set("usable", p.usable);
  o.Set("reason", p.usable ? "" : p.reason);
  Napi::Array devs = Napi::Array::New(env);
  for (int i = 0; i < p.count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) {
      cudaGetLastError();
      continue;
    }
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", i);
    d.Set("name", prop.name);
    d.Set("totalMemory", static_cast<double>(prop.totalGlobalMem));
    d.Set("computeCapability", std::to_string(prop.major) + "." + std::to_string(prop.minor));
    d.Set("multiprocessors", prop.multiProcessorCount);
    devs.Set(devs.Length(), d);
  }
  o.Set("devices", devs);
  return o;
}

// ---------------------------------------------------------------- hooks for kernel_binding.cc
bool HookUnwrap(Napi::Env env, Napi::Value value, DeviceView* view) {
  DeviceTensor* t = Unwrapped(value);
  if (!t) return false;
  *view = t->View(env, "tensor");
  return true;
}

void ThrowStatus(Napi::Env env, ts_status st, const char* what) {
  const std::string msg = std::string(what) + ": " + ts_cuda_last_error();
  if (st == TS_ERR_INVALID_ARGUMENT) Throw(env, "ERR_INVALID_ARGUMENT", msg);
  Throw(env, "ERR_CUDA", msg);
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

bool IsDeviceTensor(Napi::Value value) { return Unwrapped(value) != nullptr; }

DeviceView GetDeviceTensor(Napi::Env env, Napi::Value value, const char* what) {
  DeviceTensor* t = Unwrapped(value);
  TS_REQUIRE(env, t != nullptr, "ERR_INVALID_ARGUMENT", std::string(what) + " must be a DeviceTensor");
  return t->View(env, what);
}

void* CurrentStream(Napi::Env env) { return Stream(env); }

void InitDevice(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DeviceTensor::Define(env);
  EnvState(env)->tensor_ctor = Napi::Persistent(ctor);
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("alloc", Napi::Function::New(env, Alloc, "alloc"));
  cuda.Set("wrap", Napi::Function::New(env, Wrap, "wrap"));
  cuda.Set("upload", Napi::Function::New(env, Upload, "upload"));
  cuda.Set("download", Napi::Function::New(env, Download, "download"));
  cuda.Set("synchronize", Napi::Function::New(env, Synchronize, "synchronize"));
  cuda.Set("setStream", Napi::Function::New(env, SetStream, "setStream"));
  cuda.Set("DeviceTensor", ctor);
  AddCudaBench(env, cuda);
  exports.Set("cuda", cuda);
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  RegisterDeviceHooks(env, &kHooks);
}

#else  // !TS_HAVE_CUDA ---------------------------------------------------------------------------------

namespace {

Napi::Value NotCompiled(const Napi::CallbackInfo& info) { Throw(info.Env(), "ERR_DEVICE", kNoCudaMessage); }

Napi::Value NotCompiledAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(MakeError(env, "ERR_DEVICE", kNoCudaMessage).Value());
  return d.Promise();
}

Napi::Value CudaInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("compiled", false);
  o.Set("runtimeVersion", "");
  o.Set("driverVersion", "");
  o.Set("usable", false);
  o.Set("reason", kNoCudaMessage);
  o.Set("devices", Napi::Array::New(env));
  return o;
}

}  // namespace

bool IsDeviceTensor(Napi::Value) { return false; }

DeviceView GetDeviceTensor(Napi::Env env, Napi::Value, const char*) { Throw(env, "ERR_DEVICE", kNoCudaMessage); }

void* CurrentStream(Napi::Env env) { Throw(env, "ERR_DEVICE", kNoCudaMessage); }

void AddCudaBench(Napi::Env env, Napi::Object cuda) {
  cuda.Set("bench", Napi::Function::New(env, NotCompiledAsync, "bench"));
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("alloc", Napi::Function::New(env, NotCompiled, "alloc"));
  cuda.Set("wrap", Napi::Function::New(env, NotCompiled, "wrap"));
  cuda.Set("upload", Napi::Function::New(env, NotCompiled, "upload"));
  cuda.Set("download", Napi::Function::New(env, NotCompiledAsync, "download"));
  cuda.Set("synchronize", Napi::Function::New(env, NotCompiled, "synchronize"));
  cuda.Set("setStream", Napi::Function::New(env, NotCompiled, "setStream"));
  AddCudaBench(env, cuda);
  exports.Set("cuda", cuda);
  exports.Set("cudaInfo", Napi::Function::New(env, CudaInfo, "cudaInfo"));
  // No hooks: without CUDA no DeviceTensor can exist.
}

#endif  // TS_HAVE_CUDA

}  // namespace ts

#ifndef TS_HAVE_CUDA
// The C entry points of taylorseer.h exist in every build; without CUDA they report TS_ERR_NOT_COMPILED.
extern "C" ts_status ts_cuda_update(const ts_update_entry*, int32_t, ts_dtype, ts_dtype, void*) { return TS_ERR_NOT_COMPILED; }
extern "C" ts_status ts_cuda_forecast(const ts_forecast_entry*, int32_t, ts_dtype, ts_dtype, void*) {
  return TS_ERR_NOT_COMPILED;
}
extern "C" const char* ts_cuda_last_error(void) { return ts::kNoCudaMessage; }
#endif
