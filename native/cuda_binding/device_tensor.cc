#include "device_tensor.h"

#include <cuda_runtime.h>

#include "../args.h"
#include "../cuda_binding.h"
#include "../errors.h"
#include "cuda_status.h"
#include "streams.h"

namespace ts::cuda {

namespace {

// "taylorseer:DeviceTensor"
constexpr napi_type_tag kDeviceTensorTag = {0x7461796c6f727365ULL, 0x65723a4454656e73ULL};

struct TensorInit {
  void* ptr;
  int64_t length;
  ts_dtype dtype;
  bool external;
  int device;
};

}  // namespace

Napi::Function DeviceTensor::Define(Napi::Env env) {
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

DeviceTensor::DeviceTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceTensor>(info) {
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

DeviceTensor::~DeviceTensor() {
  // Backstop for a tensor that was never disposed: a stream-ordered free, errors ignored (at exit the
  // runtime may already be unloading).
  if (!disposed_ && !external_ && ptr_) {
    if (cudaFreeAsync(ptr_, state_->current) != cudaSuccess) cudaGetLastError();
  }
}

DeviceView DeviceTensor::View(Napi::Env env, const char* what) const {
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

Napi::Value DeviceTensor::Dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), DtypeName(dtype_)); }
Napi::Value DeviceTensor::Length(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(length_));
}
Napi::Value DeviceTensor::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(length_ * DtypeBytes(dtype_)));
}
Napi::Value DeviceTensor::Pointer(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(disposed_ ? 0 : reinterpret_cast<uintptr_t>(ptr_)));
}
Napi::Value DeviceTensor::External(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), external_); }
Napi::Value DeviceTensor::Disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }
Napi::Value DeviceTensor::Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }
Napi::Value DeviceTensor::ToString(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), std::string("DeviceTensor(") + DtypeName(dtype_) + ", " + std::to_string(length_) +
                                           (external_ ? ", external" : "") + (disposed_ ? ", disposed" : "") + ")");
}
Napi::Value DeviceTensor::Dispose(const Napi::CallbackInfo& info) {
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

DeviceTensor* TensorArgOrThrow(Napi::Env env, Napi::Value v, const std::string& what) {
  DeviceTensor* t = Unwrapped(v);
  TS_REQUIRE(env, t != nullptr, "ERR_INVALID_ARGUMENT", what + " must be a DeviceTensor");
  TS_REQUIRE(env, !t->IsDisposed(), "ERR_DISPOSED", what + " is a disposed DeviceTensor");
  return t;
}

}  // namespace ts::cuda

namespace ts {

bool IsDeviceTensor(Napi::Value value) { return cuda::Unwrapped(value) != nullptr; }

DeviceView GetDeviceTensor(Napi::Env env, Napi::Value value, const char* what) {
  cuda::DeviceTensor* t = cuda::Unwrapped(value);
  TS_REQUIRE(env, t != nullptr, "ERR_INVALID_ARGUMENT", std::string(what) + " must be a DeviceTensor");
  return t->View(env, what);
}

}  // namespace ts
