// Whether CUDA can run here, probed once per process: a device is present and this build's kernels load
// on it. cudart is linked statically, so the addon loads without a driver and says why CUDA is not usable.
#pragma once
#include <napi.h>

#include <string>

namespace ts::cuda {

struct Probe {
  bool usable = false;
  std::string reason;  // why not, when !usable
  int count = 0;       // devices present
};

const Probe& GetProbe();

// Throws ERR_DEVICE with the probe's reason unless CUDA is usable.
void RequireUsable(Napi::Env env);

}  // namespace ts::cuda
