// Argument checks of a table of entries, shared by the CUDA entry points (update.cu, forecast.cu) and the
// CPU twins of the C library (clib/cpu_entry.cc), so both accept exactly the same tables. Plain C++ (no
// CUDA): the dtype check stays with the caller, which knows the dtypes its kernels support.
#pragma once
#include <string>

#include "taylorseer.h"

namespace tsk {

// False with the reason in *why ("<fn>: entry i: ...") when a table is malformed.
inline bool CheckUpdateTable(const ts_update_entry* entries, int32_t count, const char* fn, std::string* why) {
  if (count < 0 || (count > 0 && !entries)) {
    *why = std::string(fn) + ": bad entry table";
    return false;
  }
  for (int32_t i = 0; i < count; ++i) {
    const ts_update_entry& e = entries[i];
    const std::string at = std::string(fn) + ": entry " + std::to_string(i) + ": ";
    const int max_new = e.old_count + 1 < TS_MAX_FACTORS ? e.old_count + 1 : TS_MAX_FACTORS;
    const char* bad = e.n < 0                                               ? "n < 0"
                      : e.old_count < 0 || e.old_count > TS_MAX_FACTORS    ? "old_count out of range"
                      : e.new_count < 1 || e.new_count > max_new           ? "new_count out of range"
                      : e.n > 0 && (!e.factors || !e.fresh)                ? "null pointer"
                                                                           : nullptr;
    if (bad) {
      *why = at + bad;
      return false;
    }
  }
  return true;
}

inline bool CheckForecastTable(const ts_forecast_entry* entries, int32_t count, const char* fn, std::string* why) {
  if (count < 0 || (count > 0 && !entries)) {
    *why = std::string(fn) + ": bad entry table";
    return false;
  }
  for (int32_t i = 0; i < count; ++i) {
    const ts_forecast_entry& e = entries[i];
    const std::string at = std::string(fn) + ": entry " + std::to_string(i) + ": ";
    const char* bad = e.n < 0                                     ? "n < 0"
                      : e.count < 1 || e.count > TS_MAX_FACTORS  ? "count out of range"
                      : e.n > 0 && (!e.factors || !e.out)        ? "null pointer"
                                                                 : nullptr;
    if (!bad && e.gate) {
      if (e.tokens < 1 || e.dim < 1 || e.dim > 0xffffffffll || e.tokens > 0xffffffffll) bad = "tokens / dim out of range";
      else if (e.n % (e.tokens * e.dim) != 0) bad = "n is not a multiple of tokens * dim";
    }
    if (bad) {
      *why = at + bad;
      return false;
    }
  }
  return true;
}

}  // namespace tsk
