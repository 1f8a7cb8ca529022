// The CPU twins of libtaylorseer's C interface (taylorseer.h): the table checks of the CUDA entry points
// (cuda/validate.h), then the same CPU kernels the Node addon runs (native/cpu_kernels.h).
#include <string>

#include "../cuda/validate.h"
#include "../native/cpu_kernels.h"
#include "../native/environment.h"
#include "../native/thread_pool.h"

namespace {

thread_local std::string g_last_error;

bool ValidAct(ts_dtype d) { return d == TS_F32 || d == TS_F16 || d == TS_BF16; }
bool ValidStorage(ts_dtype d) { return ValidAct(d) || d == TS_I8; }

ts_status Reject(const std::string& why) {
  g_last_error = why;
  return TS_ERR_INVALID_ARGUMENT;
}

// A call's arguments, as the CUDA entry points check them (dtypes: the CPU kernels' own).
template <class Entry>
ts_status CheckCall(const Entry* entries, int32_t count, ts_dtype storage, ts_dtype act, const char* fn) {
  g_last_error.clear();
  // A malformed TAYLORSEER_CPU_KERNELS or TAYLORSEER_THREADS would otherwise be ignored without a word.
  if (*ts::EnvironmentProblem()) return Reject(std::string(fn) + ": " + ts::EnvironmentProblem());
  std::string why;
  if (!tsk::CheckTable(entries, count, fn, &why)) return Reject(why);
  if (!ValidStorage(storage))
    return Reject(std::string(fn) + ": storage dtype " + std::to_string(storage) + ": expected TS_F32, TS_F16, TS_BF16 or TS_I8");
  if (!ValidAct(act))
    return Reject(std::string(fn) + ": activation dtype " + std::to_string(act) + ": expected TS_F32, TS_F16 or TS_BF16");
  return TS_OK;
}

}  // namespace

extern "C" ts_status ts_cpu_update(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  const ts_status st = CheckCall(entries, count, storage, act, "ts_cpu_update");
  if (st == TS_OK) ts::CpuUpdate(entries, count, storage, act);
  return st;
}

extern "C" ts_status ts_cpu_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act) {
  const ts_status st = CheckCall(entries, count, storage, act, "ts_cpu_forecast");
  if (st == TS_OK) ts::CpuForecast(entries, count, storage, act);
  return st;
}

extern "C" const char* ts_cpu_last_error(void) { return g_last_error.c_str(); }

extern "C" const char* ts_cpu_kernels(void) { return ts::CpuKernels().name; }

extern "C" int32_t ts_cpu_threads(void) { return ts::PoolThreads(); }

extern "C" void ts_entry_sizes(int64_t* update_entry, int64_t* forecast_entry) {
  if (update_entry) *update_entry = static_cast<int64_t>(sizeof(ts_update_entry));
  if (forecast_entry) *forecast_entry = static_cast<int64_t>(sizeof(ts_forecast_entry));
}
