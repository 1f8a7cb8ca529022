// updateAsync / forecastAsync: a host table runs on the libuv pool on private copies of its memory
// (async_staging.h) and the Promise settles on the JS thread; a device table is queued on the stream and
// its Promise settles at once.
#pragma once
#include <napi.h>

namespace ts {

Napi::Value RunAsync(const Napi::CallbackInfo& info, bool update);

}  // namespace ts
