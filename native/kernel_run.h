// Where a validated table runs: the CPU kernels for host tensors, the device hooks (device.h) for
// DeviceTensors. Both zero the entries' stats first: the kernels add to them, the contract overwrites.
#pragma once
#include <napi.h>

#include "kernel_table.h"

namespace ts {

void RunHost(const Table& t);
void RunDevice(Napi::Env env, const Table& t);

}  // namespace ts
