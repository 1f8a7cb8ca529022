#include "addon_data.h"

#include "device.h"

namespace ts {

AddonData* Data(Napi::Env env) {
  auto* data = env.GetInstanceData<AddonData>();
  if (!data) {
    data = new AddonData();
    env.SetInstanceData<AddonData>(data);
  }
  return data;
}

void RegisterDeviceHooks(Napi::Env env, const DeviceHooks* hooks) { Data(env)->device_hooks = hooks; }

const DeviceHooks* GetDeviceHooks(Napi::Env env) { return Data(env)->device_hooks; }

}  // namespace ts
