#include "kernel_table.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "device.h"
#include "errors.h"

namespace ts {
namespace {

std::string At(const char* table, uint32_t i, const char* field) {
  return std::string(table) + "[" + std::to_string(i) + "]." + field;
}

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

// Phase one: the values of one entry as the caller's object gives them, read once.
struct RawEntry {
  Napi::Value factors, tensor, gate, residual, stats;  // tensor: fresh (update) or out (forecast)
  Napi::Value n, count, new_count, tokens, dim;         // count: oldCount (update) or count (forecast)
  Napi::Value list, list_length;                        // divisors (update) or coeffs (forecast)
  std::array<Napi::Value, TS_MAX_FACTORS> items;
  uint32_t n_items = 0;
};

// The first TS_MAX_FACTORS numbers of divisors/coeffs (no call needs more); `length` is checked in phase two.
void ReadList(Napi::Value list, RawEntry& r) {
  r.list = list;
  if (!(list.IsArray() || list.IsTypedArray())) return;
  Napi::Object o = list.As<Napi::Object>();
  r.list_length = o.Get("length");
  if (!r.list_length.IsNumber()) return;
  const double len = r.list_length.As<Napi::Number>().DoubleValue();
  while (r.n_items < TS_MAX_FACTORS && static_cast<double>(r.n_items) < len) {
    r.items[r.n_items] = o.Get(r.n_items);
    ++r.n_items;
  }
}

std::vector<RawEntry> ReadEntries(Napi::Env env, Napi::Array arr, bool update) {
  // The length once: a getter that appends entries cannot make the table grow while it is read.
  const uint32_t count = arr.Length();
  std::vector<RawEntry> raw(count);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Object o = EntryObject(env, arr, i, "entries");
    RawEntry& r = raw[i];
    r.factors = o.Get("factors");
    r.tensor = o.Get(update ? "fresh" : "out");
    r.n = o.Get("n");
    if (update) {
      r.count = o.Get("oldCount");
      r.new_count = o.Get("newCount");
      ReadList(o.Get("divisors"), r);
      r.stats = o.Get("stats");
    } else {
      r.count = o.Get("count");
      ReadList(o.Get("coeffs"), r);
      r.gate = o.Get("gate");
      r.residual = o.Get("residual");
      r.tokens = o.Get("tokens");
      r.dim = o.Get("dim");
    }
  }
  return raw;
}

// Phase two: `count` finite numbers of a list read in phase one, each representable in float32.
void ParseList(Napi::Env env, const RawEntry& r, int count, bool nonzero, const std::string& what, float* dst) {
  const std::string kind = nonzero ? "non-zero numbers" : "numbers";
  TS_REQUIRE(env, r.list.IsArray() || r.list.IsTypedArray(), "ERR_INVALID_ARGUMENT",
             what + " must be an array of " + std::to_string(count) + " numbers");
  const int64_t len = ParseInt(env, r.list_length, 0, UINT32_MAX, what + ".length");
  TS_REQUIRE(env, len >= count, "ERR_LENGTH",
             what + " must hold " + (nonzero ? "newCount - 1" : "count") + " = " + std::to_string(count) + " numbers (got " +
                 std::to_string(len) + ")");
  for (int k = 0; k < count; ++k) {
    const std::string at = what + "[" + std::to_string(k) + "]";
    const double v = ParseFinite(env, r.items[k], at);
    const float f = static_cast<float>(v);
    if (nonzero)
      TS_REQUIRE(env, f != 0.0f && std::isfinite(f), "ERR_NON_FINITE",
                 at + " must be a non-zero number representable in float32 (got " + std::to_string(v) + ")");
    else
      TS_REQUIRE(env, std::isfinite(f), "ERR_NON_FINITE", at + " must be representable in float32 (got " + std::to_string(v) + ")");
    dst[k] = f;
  }
}

// Element count per factor: explicit `n`, or the length of `basis`.
int64_t EntryN(Napi::Env env, Napi::Value nv, const TensorArg& basis, const std::string& what) {
  int64_t n = nv.IsUndefined() ? basis.length : ParseInt(env, nv, 1, kMaxElements, what);
  TS_REQUIRE(env, n >= 1, "ERR_LENGTH", what + " must be at least 1 element (the tensor is empty or detached)");
  return n;
}

// Factor capacity of a factors tensor holding whole factors of n elements (FactorUnits).
int64_t Capacity(Napi::Env env, const TensorArg& f, ts_dtype storage, int64_t n, const std::string& what) {
  const int64_t first = FactorUnits(storage, n, 1), per = FactorUnits(storage, n, 2) - first;
  const int64_t cap = f.length < first ? 0 : 1 + (f.length - first) / per;
  if (cap >= 1 && FactorUnits(storage, n, cap) == f.length) return cap;
  const std::string sizes = storage == TS_I8 ? std::to_string(first) + " bytes for d_0, " + std::to_string(per) + " bytes per further factor"
                                             : std::to_string(per) + " elements each";
  const std::string unit = storage == TS_I8 ? " bytes" : " elements";
  Throw(env, "ERR_LENGTH",
        what + " must hold a whole number (>= 1) of factors of " + std::to_string(n) + " elements (" + sizes + "; got " +
            std::to_string(f.length) + unit + ")");
}

// A factor count the factors tensor has no room for: ERR_LENGTH naming the room it needs, instead of the
// bare integer range ParseInt would report. Other values are left to ParseInt.
void RequireRoom(Napi::Env env, Napi::Value v, int64_t cap, int64_t n, uint32_t i, const char* field) {
  if (!v.IsNumber()) return;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::isfinite(d) && d == std::floor(d) && d > static_cast<double>(cap) && d <= TS_MAX_FACTORS)) return;
  const int64_t k = static_cast<int64_t>(d);
  Throw(env, "ERR_LENGTH",
        At("entries", i, field) + " = " + std::to_string(k) + " needs " + std::to_string(k) + " factors of n = " +
            std::to_string(n) + " elements (" + std::to_string(k * n) + " elements), but " + At("entries", i, "factors") +
            " holds " + std::to_string(cap * n) + " elements (" + std::to_string(cap) + " factor" + (cap == 1 ? "" : "s") +
            "): size it as (order + 1) * n");
}

// What every entry has: its factors and its activation tensor (`field`: fresh or out) on the table's
// device, n elements per factor (the activation tensor's length unless given), the factors' capacity and the
// most factors a kernel may use of it.
struct EntryBase {
  TensorArg factors, tensor;
  int64_t n, cap, max_count;
};

EntryBase ParseEntryBase(Napi::Env env, const RawEntry& r, uint32_t i, const char* field, bool& first, Table& t) {
  EntryBase b;
  b.factors = ParseTensor(env, r.factors, t.storage, At("entries", i, "factors"));
  b.tensor = ParseTensor(env, r.tensor, t.act, At("entries", i, field));
  CheckSameDevice(env, first, t.device, b.factors, At("entries", i, "factors"));
  CheckSameDevice(env, first, t.device, b.tensor, At("entries", i, field));
  b.n = EntryN(env, r.n, b.tensor, At("entries", i, "n"));
  TS_REQUIRE(env, b.tensor.length == b.n, "ERR_LENGTH",
             At("entries", i, field) + " must have n = " + std::to_string(b.n) + " elements (got " +
                 std::to_string(b.tensor.length) + ")");
  b.cap = Capacity(env, b.factors, t.storage, b.n, At("entries", i, "factors"));
  b.max_count = b.cap < TS_MAX_FACTORS ? b.cap : TS_MAX_FACTORS;
  return b;
}

// The activation tensor of entry i (`field`: fresh or out) must not share memory with the entry's factors.
// Checked after the counts, whose errors come first.
void RequireApart(Napi::Env env, const TensorArg& tensor, const TensorArg& factors, uint32_t i, const char* field) {
  TS_REQUIRE(env, !Overlaps(tensor, factors), "ERR_INVALID_ARGUMENT",
             At("entries", i, field) + " must not share memory with the entry's factors");
}

void ParseUpdateEntry(Napi::Env env, const RawEntry& r, uint32_t i, bool& first, Table& t) {
  auto [factors, fresh, n, cap, max_count] = ParseEntryBase(env, r, i, "fresh", first, t);
  ts_update_entry e{};
  RequireRoom(env, r.count, cap, n, i, "oldCount");
  RequireRoom(env, r.new_count, cap, n, i, "newCount");
  e.old_count = static_cast<int32_t>(ParseInt(env, r.count, 0, max_count, At("entries", i, "oldCount")));
  const int64_t new_max = e.old_count + 1 < max_count ? e.old_count + 1 : max_count;
  e.new_count = static_cast<int32_t>(ParseInt(env, r.new_count, 1, new_max, At("entries", i, "newCount")));
  // Indirect launches read the divisors from options.values on the device.
  if (e.new_count > 1 && !t.indirect) ParseList(env, r, e.new_count - 1, true, At("entries", i, "divisors"), e.divisors);
  RequireApart(env, fresh, factors, i, "fresh");
  if (!r.stats.IsUndefined()) {
    const std::string what = At("entries", i, "stats");
    TS_REQUIRE(env, r.stats.IsTypedArray() && r.stats.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, "ERR_INVALID_ARGUMENT",
               what + " must be a Float32Array of at least newCount = " + std::to_string(e.new_count) +
                   " elements (host memory, also for DeviceTensor tables)");
    TensorArg stats = ParseTensor(env, r.stats, TS_F32, what);
    TS_REQUIRE(env, stats.length >= e.new_count, "ERR_LENGTH",
               what + " must hold newCount = " + std::to_string(e.new_count) + " floats (got " + std::to_string(stats.length) + ")");
    TS_REQUIRE(env, !Overlaps(stats, factors) && !Overlaps(stats, fresh), "ERR_INVALID_ARGUMENT",
               what + " must not share memory with the entry's factors or fresh");
    e.stats = static_cast<float*>(stats.data);
    stats.length = e.new_count;
    t.keep.Add(r.stats, stats, false, true, i, "stats");
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
  // The kernel reads and writes the first new_count factors only (in the storage's units: bytes for 'i8').
  factors.length = FactorUnits(t.storage, n, e.new_count);
  t.keep.Add(r.factors, factors, true, true, i, "factors");
  t.keep.Add(r.tensor, fresh, true, false, i, "fresh");
}

void ParseForecastEntry(Napi::Env env, const RawEntry& r, uint32_t i, bool& first, Table& t) {
  auto [factors, out, n, cap, max_count] = ParseEntryBase(env, r, i, "out", first, t);
  ts_forecast_entry e{};
  RequireRoom(env, r.count, cap, n, i, "count");
  e.count = static_cast<int32_t>(ParseInt(env, r.count, 1, max_count, At("entries", i, "count")));
  if (!t.indirect) ParseList(env, r, e.count, false, At("entries", i, "coeffs"), e.coeffs);
  RequireApart(env, out, factors, i, "out");
  EntryUse use{out, {}, 0};
  use.Read(factors);
  bool out_read = false;  // the in-place gated form reads out as its residual
  if (!r.gate.IsUndefined()) {
    TensorArg gate = ParseTensor(env, r.gate, t.act, At("entries", i, "gate"));
    use.Read(gate);
    CheckSameDevice(env, first, t.device, gate, At("entries", i, "gate"));
    e.tokens = ParseInt(env, r.tokens, 1, kMaxElements, At("entries", i, "tokens"));
    e.dim = ParseInt(env, r.dim, 1, kMaxElements, At("entries", i, "dim"));
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
    t.keep.Add(r.gate, gate, true, false, i, "gate");
    if (!r.residual.IsUndefined()) {
      TensorArg residual = ParseTensor(env, r.residual, t.act, At("entries", i, "residual"));
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
      else out_read = true;
      t.keep.Add(r.residual, residual, true, false, i, "residual");
    } else {
      e.residual = out.data;
      out_read = true;
    }
  } else {
    TS_REQUIRE(env, r.residual.IsUndefined(), "ERR_INVALID_ARGUMENT",
               At("entries", i, "residual") + " needs a gate (the gated form is out = residual + gate * forecast)");
  }
  e.factors = factors.data;
  e.out = out.data;
  e.n = n;
  t.forecasts.push_back(e);
  if (t.device) t.uses.push_back(use);
  factors.length = FactorUnits(t.storage, n, e.count);  // the factors the kernel reads, in the storage's units
  t.keep.Add(r.factors, factors, true, false, i, "factors");
  t.keep.Add(r.tensor, out, out_read, true, i, "out");
}

// forecast(..., { chain: true }): the entries are gated forecasts into ONE residual stream, applied in
// order in a single pass over it. Every entry must then be gated with the same out, residual and shape.
// Phase one: options.chain as given (undefined when there are no options).
// Phase one of options (argument 4): chain (forecasts), values / offset / stride (indirect launches).
struct RawOptions {
  Napi::Value chain, values, offset, stride;
};
RawOptions ReadOptions(Napi::Env env, Napi::Value v, bool update) {
  RawOptions r{env.Undefined(), env.Undefined(), env.Undefined(), env.Undefined()};
  if (v.IsUndefined()) return r;
  TS_REQUIRE(env, v.IsObject() && !v.IsArray(), "ERR_INVALID_ARGUMENT",
             "options (argument 4) must be an object such as { chain: true } or { values, offset, stride }");
  Napi::Object o = v.As<Napi::Object>();
  if (!update) r.chain = o.Get("chain");
  r.values = o.Get("values");
  r.offset = o.Get("offset");
  r.stride = o.Get("stride");
  return r;
}

void ParseChain(Napi::Env env, Napi::Value c, Table& t) {
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

// Phase two of options.values / offset / stride (read in phase one by ReadOptions): with values the entries
// may leave out divisors / coeffs (they would be ignored).
void ParseIndirect(Napi::Env env, const RawOptions& o, Table& t) {
  if (o.values.IsUndefined()) {
    TS_REQUIRE(env, o.offset.IsUndefined() && o.stride.IsUndefined(), "ERR_INVALID_ARGUMENT",
               "options.offset and options.stride need options.values");
    return;
  }
  t.values = ParseTensor(env, o.values, TS_F32, "options.values");
  TS_REQUIRE(env, t.values.device, "ERR_DEVICE",
             "options.values must be a DeviceTensor of dtype f32: the kernels read it from device memory when they run");
  t.offset = o.offset.IsUndefined() ? 0 : ParseInt(env, o.offset, 0, kMaxElements, "options.offset");
  t.stride = o.stride.IsUndefined() ? 0 : ParseInt(env, o.stride, 0, kMaxElements, "options.stride");
  t.indirect = true;
  t.keep.Add(o.values, t.values, true, false, 0, "values");
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

}  // namespace

std::unique_ptr<Table> ParseTable(const Napi::CallbackInfo& info, bool update, bool async) {
  Napi::Env env = info.Env();
  auto t = std::make_unique<Table>();
  t->keep.enabled = async;
  t->storage = ParseStorageDtype(env, info[0], "storage dtype (argument 1)");
  t->act = ParseDtype(env, info[1], "activation dtype (argument 2)");
  Napi::Array arr = ParseEntries(env, info[2]);
  // Phase one: every property the call reads (see the top of this file).
  const std::vector<RawEntry> raw = ReadEntries(env, arr, update);
  const RawOptions opts = ReadOptions(env, info[3], update);
  // Phase two: pointers and lengths; no code of the caller runs from here to the kernel.
  ParseIndirect(env, opts, *t);
  bool first = true;  // no tensor seen yet: the first sets the table's device (CheckSameDevice)
  for (uint32_t i = 0; i < raw.size(); ++i) {
    if (update) ParseUpdateEntry(env, raw[i], i, first, *t);
    else ParseForecastEntry(env, raw[i], i, first, *t);
  }
  if (!update) ParseChain(env, opts.chain, *t);
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
  return t;
}

}  // namespace ts
