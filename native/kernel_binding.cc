// Node-API entry points of the update and forecast kernels: validates a whole table of entries before
// any kernel runs (so a rejected call changes nothing), then dispatches to the CPU kernels or, for
// DeviceTensors, to the CUDA hooks.
#include "kernel_binding.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "cpu_kernels.h"
#include "device.h"
#include "errors.h"

namespace ts {
namespace {

// Upper bound on elements per factor: keeps capacity * n * 4 bytes far from int64 overflow.
constexpr int64_t kMaxElements = int64_t{1} << 40;

std::string At(const char* table, uint32_t i, const char* field) {
  return std::string(table) + "[" + std::to_string(i) + "]." + field;
}

// Values passed to a kernel are kept alive (async) by holding references to the JS objects.
struct Keep {
  std::vector<Napi::Reference<Napi::Value>> refs;
  void Add(Napi::Value v) { refs.push_back(Napi::Persistent(v)); }
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

void CheckSameDevice(Napi::Env env, bool& first, bool& device, const TensorArg& t, const std::string& what) {
  if (first) {
    device = t.device;
    first = false;
    return;
  }
  TS_REQUIRE(env, t.device == device, "ERR_DEVICE",
             what + " is " + (t.device ? "a DeviceTensor" : "a host TypedArray") + " but the other tensors of this call are " +
                 (device ? "DeviceTensors" : "host TypedArrays") + ": all tensors of one call must live on the same device");
}

Napi::Array ParseEntries(Napi::Env env, Napi::Value v) {
  TS_REQUIRE(env, v.IsArray(), "ERR_INVALID_ARGUMENT", "entries must be an Array of entry objects");
  Napi::Array arr = v.As<Napi::Array>();
  TS_REQUIRE(env, arr.Length() >= 1 && arr.Length() <= 1000000, "ERR_INVALID_ARGUMENT",
             "entries must hold 1 to 1000000 entries (got " + std::to_string(arr.Length()) + ")");
  return arr;
}

Napi::Object EntryObject(Napi::Env env, Napi::Array arr, uint32_t i, const char* table) {
  Napi::Value e = arr.Get(i);
  TS_REQUIRE(env, e.IsObject() && !e.IsArray(), "ERR_INVALID_ARGUMENT",
             std::string(table) + "[" + std::to_string(i) + "] must be an object");
  return e.As<Napi::Object>();
}

// Element count per factor: explicit `n`, or the length of `basis`.
int64_t EntryN(Napi::Env env, Napi::Object o, const TensorArg& basis, const std::string& what) {
  Napi::Value nv = o.Get("n");
  int64_t n = nv.IsUndefined() ? basis.length : ParseInt(env, nv, 1, kMaxElements, what);
  TS_REQUIRE(env, n >= 1, "ERR_LENGTH", what + " must be at least 1 element (the tensor is empty or detached)");
  return n;
}

// Factor capacity of a factors tensor holding whole factors of n elements (of FactorUnits each).
int64_t Capacity(Napi::Env env, const TensorArg& f, ts_dtype storage, int64_t n, const std::string& what) {
  const int64_t per = FactorUnits(storage, n);
  const std::string unit = storage == TS_I8 ? " bytes" : " elements";
  TS_REQUIRE(env, f.length % per == 0 && f.length / per >= 1, "ERR_LENGTH",
             what + " must hold a whole number (>= 1) of factors of " + std::to_string(n) + " elements (" +
                 std::to_string(per) + unit + " each; got " + std::to_string(f.length) + unit + ")");
  return f.length / per;
}

void ParseUpdate(Napi::Env env, Napi::Array arr, Table& t) {
  bool first = true;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Object o = EntryObject(env, arr, i, "entries");
    Napi::Value fv = o.Get("factors"), xv = o.Get("fresh");
    TensorArg factors = ParseTensor(env, fv, t.storage, At("entries", i, "factors"));
    TensorArg fresh = ParseTensor(env, xv, t.act, At("entries", i, "fresh"));
    CheckSameDevice(env, first, t.device, factors, At("entries", i, "factors"));
    CheckSameDevice(env, first, t.device, fresh, At("entries", i, "fresh"));
    const int64_t n = EntryN(env, o, fresh, At("entries", i, "n"));
    TS_REQUIRE(env, fresh.length == n, "ERR_LENGTH",
               At("entries", i, "fresh") + " must have n = " + std::to_string(n) + " elements (got " +
                   std::to_string(fresh.length) + ")");
    const int64_t cap = Capacity(env, factors, t.storage, n, At("entries", i, "factors"));
    const int64_t max_count = cap < TS_MAX_FACTORS ? cap : TS_MAX_FACTORS;
    ts_update_entry e{};
    e.old_count = static_cast<int32_t>(ParseInt(env, o.Get("oldCount"), 0, max_count, At("entries", i, "oldCount")));
    const int64_t new_max = e.old_count + 1 < max_count ? e.old_count + 1 : max_count;
    e.new_count = static_cast<int32_t>(ParseInt(env, o.Get("newCount"), 1, new_max, At("entries", i, "newCount")));
    if (e.new_count > 1 && !t.indirect) {
      Napi::Value dv = o.Get("divisors");
      TS_REQUIRE(env, dv.IsArray() || dv.IsTypedArray(), "ERR_INVALID_ARGUMENT",
                 At("entries", i, "divisors") + " must be an array of " + std::to_string(e.new_count - 1) + " numbers");
      Napi::Object d = dv.As<Napi::Object>();
      uint32_t len = d.Get("length").As<Napi::Number>().Uint32Value();
      TS_REQUIRE(env, len >= static_cast<uint32_t>(e.new_count - 1), "ERR_LENGTH",
                 At("entries", i, "divisors") + " must hold newCount - 1 = " + std::to_string(e.new_count - 1) +
                     " numbers (got " + std::to_string(len) + ")");
      for (int k = 0; k + 1 < e.new_count; ++k) {
        const std::string what = At("entries", i, "divisors") + "[" + std::to_string(k) + "]";
        double dk = ParseFinite(env, d.Get(k), what);
        float f = static_cast<float>(dk);
        TS_REQUIRE(env, f != 0.0f && std::isfinite(f), "ERR_NON_FINITE",
                   what + " must be a non-zero number representable in float32 (got " + std::to_string(dk) + ")");
        e.divisors[k] = f;
      }
    }
    TS_REQUIRE(env, !Overlaps(fresh, factors), "ERR_INVALID_ARGUMENT",
               At("entries", i, "fresh") + " must not share memory with the entry's factors");
    Napi::Value sv = o.Get("stats");
    if (!sv.IsUndefined()) {
      const std::string what = At("entries", i, "stats");
      TS_REQUIRE(env, sv.IsTypedArray() && sv.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, "ERR_INVALID_ARGUMENT",
                 what + " must be a Float32Array of at least newCount = " + std::to_string(e.new_count) +
                     " elements (host memory, also for DeviceTensor tables)");
      TensorArg stats = ParseTensor(env, sv, TS_F32, what);
      TS_REQUIRE(env, stats.length >= e.new_count, "ERR_LENGTH",
                 what + " must hold newCount = " + std::to_string(e.new_count) + " floats (got " + std::to_string(stats.length) + ")");
      TS_REQUIRE(env, !Overlaps(stats, factors) && !Overlaps(stats, fresh), "ERR_INVALID_ARGUMENT",
                 what + " must not share memory with the entry's factors or fresh");
      e.stats = static_cast<float*>(stats.data);
      t.keep.Add(sv);
    }
    e.factors = factors.data;
    e.fresh = fresh.data;
    e.n = n;
    t.updates.push_back(e);
    if (t.device) {
      EntryUse u{factors, {}, 0};
      u.Read(factors);
      u.Read(fresh);
      t.uses.push_back(u);
    }
    t.keep.Add(fv);
    t.keep.Add(xv);
  }
}

void ParseForecast(Napi::Env env, Napi::Array arr, Table& t) {
  bool first = true;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Object o = EntryObject(env, arr, i, "entries");
    Napi::Value fv = o.Get("factors"), ov = o.Get("out"), gv = o.Get("gate"), rv = o.Get("residual");
    TensorArg factors = ParseTensor(env, fv, t.storage, At("entries", i, "factors"));
    TensorArg out = ParseTensor(env, ov, t.act, At("entries", i, "out"));
    CheckSameDevice(env, first, t.device, factors, At("entries", i, "factors"));
    CheckSameDevice(env, first, t.device, out, At("entries", i, "out"));
    const int64_t n = EntryN(env, o, out, At("entries", i, "n"));
    TS_REQUIRE(env, out.length == n, "ERR_LENGTH",
               At("entries", i, "out") + " must have n = " + std::to_string(n) + " elements (got " +
                   std::to_string(out.length) + ")");
    const int64_t cap = Capacity(env, factors, t.storage, n, At("entries", i, "factors"));
    const int64_t max_count = cap < TS_MAX_FACTORS ? cap : TS_MAX_FACTORS;
    ts_forecast_entry e{};
    e.count = static_cast<int32_t>(ParseInt(env, o.Get("count"), 1, max_count, At("entries", i, "count")));
    Napi::Value cv = o.Get("coeffs");
    if (!t.indirect) {
      TS_REQUIRE(env, cv.IsArray() || cv.IsTypedArray(), "ERR_INVALID_ARGUMENT",
                 At("entries", i, "coeffs") + " must be an array of " + std::to_string(e.count) + " numbers");
      Napi::Object c = cv.As<Napi::Object>();
      uint32_t clen = c.Get("length").As<Napi::Number>().Uint32Value();
      TS_REQUIRE(env, clen >= static_cast<uint32_t>(e.count), "ERR_LENGTH",
                 At("entries", i, "coeffs") + " must hold count = " + std::to_string(e.count) + " numbers (got " +
                     std::to_string(clen) + ")");
      for (int k = 0; k < e.count; ++k) {
        const std::string what = At("entries", i, "coeffs") + "[" + std::to_string(k) + "]";
        double ck = ParseFinite(env, c.Get(k), what);
        TS_REQUIRE(env, std::isfinite(static_cast<float>(ck)), "ERR_NON_FINITE",
                   what + " must be representable in float32 (got " + std::to_string(ck) + ")");
        e.coeffs[k] = static_cast<float>(ck);
      }
    }
    TS_REQUIRE(env, !Overlaps(out, factors), "ERR_INVALID_ARGUMENT",
               At("entries", i, "out") + " must not share memory with the entry's factors");
    EntryUse use{out, {}, 0};
    use.Read(factors);
    if (!gv.IsUndefined()) {
      TensorArg gate = ParseTensor(env, gv, t.act, At("entries", i, "gate"));
      use.Read(gate);
      CheckSameDevice(env, first, t.device, gate, At("entries", i, "gate"));
      e.tokens = ParseInt(env, o.Get("tokens"), 1, kMaxElements, At("entries", i, "tokens"));
      e.dim = ParseInt(env, o.Get("dim"), 1, kMaxElements, At("entries", i, "dim"));
      TS_REQUIRE(env, e.dim <= n && e.tokens <= n / e.dim && n % (e.tokens * e.dim) == 0, "ERR_SHAPE",
                 At("entries", i, "out") + " has " + std::to_string(n) + " elements, not a multiple of tokens * dim = " +
                     std::to_string(e.tokens) + " * " + std::to_string(e.dim));
      const int64_t batch = n / (e.tokens * e.dim);
      TS_REQUIRE(env, gate.length == batch * e.dim, "ERR_SHAPE",
                 At("entries", i, "gate") + " must be [batch, dim] = [" + std::to_string(batch) + ", " +
                     std::to_string(e.dim) + "] (" + std::to_string(batch * e.dim) + " elements, got " +
                     std::to_string(gate.length) + ")");
      TS_REQUIRE(env, !Overlaps(gate, out), "ERR_INVALID_ARGUMENT",
                 At("entries", i, "gate") + " must not share memory with out");
      e.gate = gate.data;
      t.keep.Add(gv);
      if (!rv.IsUndefined()) {
        TensorArg residual = ParseTensor(env, rv, t.act, At("entries", i, "residual"));
        CheckSameDevice(env, first, t.device, residual, At("entries", i, "residual"));
        TS_REQUIRE(env, residual.length == n, "ERR_LENGTH",
                   At("entries", i, "residual") + " must have n = " + std::to_string(n) + " elements (got " +
                       std::to_string(residual.length) + ")");
        // Exactly the same memory as out is the in-place form (h += gate * F); a partial overlap would
        // read values the kernel already overwrote.
        TS_REQUIRE(env, residual.data == out.data || !Overlaps(residual, out), "ERR_INVALID_ARGUMENT",
                   At("entries", i, "residual") + " must be out itself or not overlap it");
        e.residual = residual.data;
        if (residual.data != out.data) use.Read(residual);
        t.keep.Add(rv);
      } else {
        e.residual = out.data;
      }
    } else {
      TS_REQUIRE(env, rv.IsUndefined(), "ERR_INVALID_ARGUMENT",
                 At("entries", i, "residual") + " needs a gate (the gated form is out = residual + gate * forecast)");
    }
    e.factors = factors.data;
    e.out = out.data;
    e.n = n;
    t.forecasts.push_back(e);
    if (t.device) t.uses.push_back(use);
    t.keep.Add(fv);
    t.keep.Add(ov);
  }
}

// forecast(..., { chain: true }): the entries are gated forecasts into ONE residual stream, applied in
// order in a single pass over it. Every entry must then be gated with the same out, residual and shape.
void ParseChain(Napi::Env env, Napi::Value v, Table& t) {
  if (v.IsUndefined()) return;
  TS_REQUIRE(env, v.IsObject() && !v.IsArray(), "ERR_INVALID_ARGUMENT", "options (argument 4) must be an object such as { chain: true }");
  Napi::Value c = v.As<Napi::Object>().Get("chain");
  if (c.IsUndefined()) return;
  TS_REQUIRE(env, c.IsBoolean(), "ERR_INVALID_ARGUMENT", "options.chain must be a boolean");
  t.chain = c.As<Napi::Boolean>().Value();
  if (!t.chain) return;
  const ts_forecast_entry& a = t.forecasts[0];
  for (size_t i = 0; i < t.forecasts.size(); ++i) {
    const ts_forecast_entry& e = t.forecasts[i];
    const std::string at = "entries[" + std::to_string(i) + "]";
    TS_REQUIRE(env, e.gate != nullptr, "ERR_INVALID_ARGUMENT", at + ": a chain holds gated forecasts only (give gate, tokens, dim)");
    TS_REQUIRE(env, e.out == a.out && e.residual == a.residual && e.n == a.n && e.tokens == a.tokens && e.dim == a.dim,
               "ERR_INVALID_ARGUMENT", at + ": every entry of a chain must share out, residual, tokens and dim with entries[0]");
  }
}

// The entries of one device launch run concurrently: memory one entry writes must not be written or read
// by another (host tables run their entries in order, where that is well defined). A chain (one residual
// stream) is launched entry by entry and exempt. A sweep over the spans sorted by address: O(n log n) for
// tables of hundreds of tensors.
void CheckConcurrentEntries(Napi::Env env, const Table& t) {
  struct Span {
    uintptr_t begin, end;
    size_t entry;
    bool write;
  };
  std::vector<Span> spans;
  for (size_t i = 0; i < t.uses.size(); ++i) {
    const EntryUse& u = t.uses[i];
    if (u.write.length > 0) spans.push_back({u.write.begin(), u.write.end(), i, true});
    for (int k = 0; k < u.n_reads; ++k)
      if (u.reads[k].length > 0) spans.push_back({u.reads[k].begin(), u.reads[k].end(), i, false});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.begin < y.begin; });
  std::vector<Span> active;  // spans that reach past the current one's start
  for (const Span& sp : spans) {
    active.erase(std::remove_if(active.begin(), active.end(), [&](const Span& a) { return a.end <= sp.begin; }), active.end());
    for (const Span& a : active) {
      if (a.entry == sp.entry || !(a.write || sp.write)) continue;
      const size_t w = a.write ? a.entry : sp.entry, o = a.write ? sp.entry : a.entry;
      Throw(env, "ERR_INVALID_ARGUMENT",
            "entries[" + std::to_string(w) + "] writes memory that entries[" + std::to_string(o) +
                "] also uses: the entries of one device call run concurrently; make separate calls" +
                (t.updates.empty() ? " (or { chain: true } for gated forecasts into one residual stream)" : ""));
    }
    active.push_back(sp);
  }
}

// options.values / offset / stride (argument 4), read before the entries: with values the entries may leave
// out divisors / coeffs (they would be ignored).
void ParseIndirect(Napi::Env env, Napi::Value v, Table& t) {
  if (v.IsUndefined()) return;
  TS_REQUIRE(env, v.IsObject() && !v.IsArray(), "ERR_INVALID_ARGUMENT",
             "options (argument 4) must be an object such as { chain: true } or { values, offset, stride }");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value vv = o.Get("values");
  if (vv.IsUndefined()) {
    TS_REQUIRE(env, o.Get("offset").IsUndefined() && o.Get("stride").IsUndefined(), "ERR_INVALID_ARGUMENT",
               "options.offset and options.stride need options.values");
    return;
  }
  t.values = ParseTensor(env, vv, TS_F32, "options.values");
  TS_REQUIRE(env, t.values.device, "ERR_DEVICE",
             "options.values must be a DeviceTensor of dtype f32: the kernels read it from device memory when they run");
  t.offset = o.Get("offset").IsUndefined() ? 0 : ParseInt(env, o.Get("offset"), 0, kMaxElements, "options.offset");
  t.stride = o.Get("stride").IsUndefined() ? 0 : ParseInt(env, o.Get("stride"), 0, kMaxElements, "options.stride");
  t.indirect = true;
  t.keep.Add(vv);
}

// Every value an indirect launch reads lies inside options.values, which no entry writes.
void CheckIndirect(Napi::Env env, const Table& t) {
  if (!t.indirect) return;
  TS_REQUIRE(env, t.device, "ERR_DEVICE", "options.values needs DeviceTensor entries (host tables take divisors / coeffs)");
  const size_t count = t.updates.empty() ? t.forecasts.size() : t.updates.size();
  for (size_t i = 0; i < count; ++i) {
    const int64_t used = t.updates.empty() ? t.forecasts[i].count : t.updates[i].new_count - 1;
    const int64_t end = t.offset + static_cast<int64_t>(i) * t.stride + used;
    TS_REQUIRE(env, end <= t.values.length, "ERR_LENGTH",
               "entries[" + std::to_string(i) + "] reads options.values up to element " + std::to_string(end) + " (offset + " +
                   std::to_string(i) + " * stride + " + std::to_string(used) + ") but it holds " +
                   std::to_string(t.values.length));
    TS_REQUIRE(env, !Overlaps(t.uses[i].write, t.values), "ERR_INVALID_ARGUMENT",
               "entries[" + std::to_string(i) + "] writes memory of options.values");
  }
}

std::unique_ptr<Table> ParseTable(const Napi::CallbackInfo& info, bool update) {
  Napi::Env env = info.Env();
  auto t = std::make_unique<Table>();
  t->storage = ParseStorageDtype(env, info[0], "storage dtype (argument 1)");
  t->act = ParseDtype(env, info[1], "activation dtype (argument 2)");
  Napi::Array arr = ParseEntries(env, info[2]);
  ParseIndirect(env, info[3], *t);
  if (update) ParseUpdate(env, arr, *t);
  else ParseForecast(env, arr, *t);
  if (!update) ParseChain(env, info[3], *t);
  CheckIndirect(env, *t);
  if (t->device && !t->chain) CheckConcurrentEntries(env, *t);
  // Only once the whole table is accepted: the kernel adds to the norms, the binding's contract overwrites.
  // Two entries may share one stats array only by writing disjoint parts; overlapping parts would add up.
  for (size_t i = 0; i < t->updates.size(); ++i) {
    ts_update_entry& e = t->updates[i];
    if (!e.stats) continue;
    for (size_t j = 0; j < i; ++j) {
      const ts_update_entry& p = t->updates[j];
      TS_REQUIRE(env, !p.stats || p.stats + p.new_count <= e.stats || e.stats + e.new_count <= p.stats, "ERR_INVALID_ARGUMENT",
                 At("entries", static_cast<uint32_t>(i), "stats") + " overlaps the stats of entries[" + std::to_string(j) + "]");
    }
  }
  for (ts_update_entry& e : t->updates)
    if (e.stats) std::fill(e.stats, e.stats + e.new_count, 0.0f);
  return t;
}

void RunDeviceIndirect(Napi::Env env, const Table& t) {
  const DeviceHooks* hooks = GetDeviceHooks(env);
  const float* v = static_cast<const float*>(t.values.data) + t.offset;
  if (!t.updates.empty()) {
    hooks->update_indirect(env, t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act, v, t.stride);
  } else if (t.chain) {
    for (size_t i = 0; i < t.forecasts.size(); ++i)
      hooks->forecast_indirect(env, &t.forecasts[i], 1, t.storage, t.act, v + static_cast<int64_t>(i) * t.stride, 0);
  } else {
    hooks->forecast_indirect(env, t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act, v, t.stride);
  }
}

void RunDevice(Napi::Env env, const Table& t) {
  const DeviceHooks* hooks = GetDeviceHooks(env);
  if (t.indirect) {
    RunDeviceIndirect(env, t);
  } else if (!t.updates.empty()) {
    hooks->update(env, t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act);
  } else if (t.chain) {
    // One launch per entry: the entries of one launch run concurrently, a chain's share its output.
    for (const ts_forecast_entry& e : t.forecasts) hooks->forecast(env, &e, 1, t.storage, t.act);
  } else {
    hooks->forecast(env, t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
  }
}

void RunHost(const Table& t) {
  if (!t.updates.empty()) CpuUpdate(t.updates.data(), static_cast<int32_t>(t.updates.size()), t.storage, t.act);
  else if (t.chain) CpuForecastChain(t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
  else CpuForecast(t.forecasts.data(), static_cast<int32_t>(t.forecasts.size()), t.storage, t.act);
}

Napi::Value RunSync(const Napi::CallbackInfo& info, bool update) {
  std::unique_ptr<Table> t = ParseTable(info, update);
  if (t->device) RunDevice(info.Env(), *t);
  else RunHost(*t);
  return info.Env().Undefined();
}

// Runs a host table on the libuv pool; the references in the table keep every array alive until the
// Promise settles.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::unique_ptr<Table> table)
      : Napi::AsyncWorker(env, "taylorseer:kernel"), table_(std::move(table)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { RunHost(*table_); }
  void OnOK() override {
    table_.reset();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override {
    table_.reset();
    deferred_.Reject(e.Value());
  }

 private:
  std::unique_ptr<Table> table_;
  Napi::Promise::Deferred deferred_;
};

Napi::Value RunAsync(const Napi::CallbackInfo& info, bool update) {
  Napi::Env env = info.Env();
  std::unique_ptr<Table> t;
  // A Deferred is created only where it is settled: an unsettled one stays on the heap for good.
  try {
    t = ParseTable(info, update);
    if (t->device) {
      // Device work is already asynchronous (stream-ordered); the Promise settles once it is queued.
      RunDevice(env, *t);
      auto deferred = Napi::Promise::Deferred::New(env);
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
  } catch (const Napi::Error& e) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(e.Value());
    return deferred.Promise();
  }
  auto* worker = new KernelWorker(env, std::move(t));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// findNonFinite(dtype, tensor): index of the first NaN or infinite element of a host tensor, or -1.
Napi::Value FindNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ts_dtype dtype = ParseDtype(env, info[0], "dtype (argument 1)");
  TensorArg t = ParseTensor(env, info[1], dtype, "tensor (argument 2)");
  TS_REQUIRE(env, !t.device, "ERR_DEVICE", "tensor (argument 2) must be a host TypedArray: findNonFinite scans host memory");
  return Napi::Number::New(env, static_cast<double>(t.length ? CpuFindNonFinite(t.data, t.length, dtype) : -1));
}

Napi::Value Update(const Napi::CallbackInfo& info) { return RunSync(info, true); }
Napi::Value Forecast(const Napi::CallbackInfo& info) { return RunSync(info, false); }
Napi::Value UpdateAsync(const Napi::CallbackInfo& info) { return RunAsync(info, true); }
Napi::Value ForecastAsync(const Napi::CallbackInfo& info) { return RunAsync(info, false); }

}  // namespace

void InitKernels(Napi::Env env, Napi::Object exports) {
  exports.Set("update", Napi::Function::New(env, Update, "update"));
  exports.Set("forecast", Napi::Function::New(env, Forecast, "forecast"));
  exports.Set("updateAsync", Napi::Function::New(env, UpdateAsync, "updateAsync"));
  exports.Set("forecastAsync", Napi::Function::New(env, ForecastAsync, "forecastAsync"));
  exports.Set("findNonFinite", Napi::Function::New(env, FindNonFinite, "findNonFinite"));
}

}  // namespace ts
