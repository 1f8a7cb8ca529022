// libtaylorseer built without nvcc: the CUDA entry points of taylorseer.h exist and say so.
#include "../cuda/taylorseer.h"

namespace {
const char* const kNoCuda = "this build of libtaylorseer has no CUDA support (built without nvcc)";
}

extern "C" ts_status ts_cuda_update(const ts_update_entry*, int32_t, ts_dtype, ts_dtype, void*) { return TS_ERR_NOT_COMPILED; }
extern "C" ts_status ts_cuda_forecast(const ts_forecast_entry*, int32_t, ts_dtype, ts_dtype, void*) {
  return TS_ERR_NOT_COMPILED;
}
extern "C" ts_status ts_cuda_update_indirect(const ts_update_entry*, int32_t, ts_dtype, ts_dtype, const float*, int64_t, void*) {
  return TS_ERR_NOT_COMPILED;
}
extern "C" ts_status ts_cuda_forecast_indirect(const ts_forecast_entry*, int32_t, ts_dtype, ts_dtype, const float*, int64_t,
                                               void*) {
  return TS_ERR_NOT_COMPILED;
}
extern "C" ts_status ts_cuda_usable(void) { return TS_ERR_NOT_COMPILED; }
extern "C" const char* ts_cuda_last_error(void) { return kNoCuda; }
