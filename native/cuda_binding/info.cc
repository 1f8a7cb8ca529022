// cudaInfo(): what this build was compiled with, whether CUDA is usable here (and why not), the devices.
#include <cuda_runtime.h>

#include <string>

#include "binding_parts.h"
#include "probe.h"

namespace ts::cuda {

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

}  // namespace ts::cuda
