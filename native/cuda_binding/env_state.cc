#include "env_state.h"

#include "../addon_data.h"

namespace ts::cuda {

CudaEnv* EnvState(Napi::Env env) {
  AddonData* d = Data(env);
  if (!d->cuda) d->cuda = std::make_shared<CudaEnv>();
  return static_cast<CudaEnv*>(d->cuda.get());
}

}  // namespace ts::cuda
