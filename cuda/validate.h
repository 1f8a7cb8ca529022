// Argument checks of a table of entries, shared by the CUDA entry points (update.cu, forecast.cu) and the
// CPU twins of the C library (clib/cpu_entry.cc), so both accept exactly the same tables. Plain C++ (no
// CUDA): the dtype check stays with the caller, which knows the dtypes its kernels support.
#pragma once
#include <string>

#include "taylorseer.h"

namespace tsk {

// What is wrong with one entry (nullptr: nothing).
inline const char* EntryProblem(const ts_update_entry& e) {
  const int max_new = e.old_count + 1 < TS_MAX_FACTORS ? e.old_count + 1 : TS_MAX_FACTORS;
  return e.n < 0                                               ? "n < 0"
         : e.old_count < 0 || e.old_count > TS_MAX_FACTORS    ? "old_count out of range"
         : e.new_count < 1 || e.new_count > max_new           ? "new_count out of range"
         : e.n > 0 && (!e.factors || !e.fresh)                ? "null pointer"
                                                              : nullptr;
}

inline const char* EntryProblem(const ts_forecast_entry& e) {
  const char* bad = e.n < 0                                     ? "n < 0"
                    : e.count < 1 || e.count > TS_MAX_FACTORS  ? "count out of range"
                    : e.n > 0 && (!e.factors || !e.out)        ? "null pointer"
                                                               : nullptr;
  if (!bad && e.gate) {
    if (e.tokens < 1 || e.dim < 1 || e.dim > 0xffffffffll || e.tokens > 0xffffffffll) bad = "tokens / dim out of range";
    else if (e.n % (e.tokens * e.dim) != 0) bad = "n is not a multiple of tokens * dim";
  }
  return bad;
}

// False with the reason in *why ("<fn>: entry i: ...") when a table of update or forecast entries is malformed.
template <class Entry>
bool CheckTable(const Entry* entries, int32_t count, const char* fn, std::string* why) {
  if (count < 0 || (count > 0 && !entries)) {
    *why = std::string(fn) + ": bad entry table";
    return false;
  }
  for (int32_t i = 0; i < count; ++i) {
    if (const char* bad = EntryProblem(entries[i])) {
      *why = std::string(fn) + ": entry " + std::to_string(i) + ": " + bad;
      return false;
    }
  }
  return true;
}

}  // namespace tsk
