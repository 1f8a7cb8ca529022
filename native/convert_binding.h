#pragma once
#include <napi.h>

namespace ts {
// toHalf, fromHalf
void InitConvert(Napi::Env env, Napi::Object exports);
}  // namespace ts
