#pragma once
#include <napi.h>

namespace ts {
// update, forecast, updateAsync, forecastAsync
void InitKernels(Napi::Env env, Napi::Object exports);
}  // namespace ts
