// Per-environment state of the addon (each worker_thread that loads it gets its own). Node-API gives an
// addon one instance-data slot per environment; every part of the addon keeps its state here.
#pragma once
#include <napi.h>

#include <memory>

namespace ts {

struct DeviceHooks;

struct AddonData {
  Napi::FunctionReference error_ctor;        // errors.cc
  Napi::FunctionReference ab_resizable;      // args.cc: the intrinsic getter ArrayBuffer.prototype.resizable
  const DeviceHooks* device_hooks = nullptr;  // device.h: set by the CUDA binding
  std::shared_ptr<void> cuda;                 // the CUDA binding's own state (class constructors, ...)
};

// Created on first use; deleted by Node when the environment is torn down.
AddonData* Data(Napi::Env env);

}  // namespace ts
