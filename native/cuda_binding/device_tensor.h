// DeviceTensor: a type-tagged native handle to device memory, made only by cuda.alloc (owned, freed on
// the library's stream by dispose or, as a backstop, by the finalizer) and cuda.wrap (external memory,
// never freed here). Its view (device.h) is what the kernel tables take.
#pragma once
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "../device.h"
#include "env_state.h"

namespace ts::cuda {

class DeviceTensor : public Napi::ObjectWrap<DeviceTensor> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit DeviceTensor(const Napi::CallbackInfo& info);
  ~DeviceTensor() override;

  // Throws ERR_DISPOSED when disposed, ERR_DEVICE when it lives on another device than the current one.
  DeviceView View(Napi::Env env, const char* what) const;

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

  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Length(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);
  Napi::Value External(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToString(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
};

// The DeviceTensor behind `v`, or null when `v` is not one (never throws).
DeviceTensor* Unwrapped(Napi::Value v);

// A new DeviceTensor of this environment's class.
Napi::Object NewTensor(Napi::Env env, void* ptr, int64_t length, ts_dtype dtype, bool external, int device);

// A DeviceTensor argument: ERR_INVALID_ARGUMENT when `v` is not one, ERR_DISPOSED when it was disposed.
DeviceTensor* TensorArgOrThrow(Napi::Env env, Napi::Value v, const std::string& what);

}  // namespace ts::cuda
