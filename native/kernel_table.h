// A table of update or forecast entries, parsed and validated whole before any kernel runs (so a rejected
// call changes nothing).
//
// Parsing runs in two phases. The first reads every property of the call (entries, their fields, the
// numbers of divisors/coeffs, options.chain): getters and Proxy traps of the caller run there and only
// there. The second takes data pointers and checks lengths, and runs no code of the caller, so nothing can
// detach, shrink or swap an array between the check of its length and the kernel's use of it.
#pragma once
#include <napi.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "../cuda/taylorseer.h"
#include "args.h"
#include "async_staging.h"

namespace ts {

// Values passed to a kernel are kept alive (async) by holding references to the JS objects; host tensors
// also remember the memory they had, which an async call checks again before it writes back.
// Synchronous calls keep nothing: no JavaScript runs while their kernels do.
struct Keep {
  bool enabled = false;
  std::vector<Napi::Reference<Napi::Value>> refs;
  std::vector<HostUse> host;
  void Add(Napi::Value v, const TensorArg& t, bool read, bool write, uint32_t entry, const char* field) {
    if (!enabled) return;
    if (!t.device) host.push_back({refs.size(), t, read, write, entry, field});
    refs.push_back(Napi::Persistent(v));
  }
};

struct EntryUse {
  TensorArg write;
  std::array<TensorArg, 3> reads;  // factors, then fresh (update) or gate and residual (forecast)
  int n_reads = 0;
  void Read(const TensorArg& r) { reads[n_reads++] = r; }
};

struct Table {
  ts_dtype storage, act;
  bool device = false;
  bool chain = false;  // forecast: every entry adds its gated forecast into the same residual stream
  std::vector<ts_update_entry> updates;
  std::vector<ts_forecast_entry> forecasts;
  // device tables only (their entries run concurrently): per entry, the memory it writes and reads
  std::vector<EntryUse> uses;
  Keep keep;
  // options.values: the kernels read each entry's divisors / coefficients from this f32 DeviceTensor
  // (taylorseer.h, indirect launches): entry i at values[offset + i * stride + k]
  bool indirect = false;
  TensorArg values;
  int64_t offset = 0, stride = 0;
};

// (storage, act, entries, options?) of update / forecast and their async forms. `async` keeps references
// to every value the kernels use (see Keep).
std::unique_ptr<Table> ParseTable(const Napi::CallbackInfo& info, bool update, bool async);

}  // namespace ts
