#include "kernel_async.h"

#include <memory>
#include <string>

#include "async_staging.h"
#include "errors.h"
#include "kernel_run.h"
#include "kernel_table.h"

namespace ts {
namespace {

// Points a host table's entries at the private copies of its memory (see async_staging.h).
void StageTable(Napi::Env env, Table& t, Staging& staging) {
  staging.Stage(env, t.keep.host);
  for (ts_update_entry& e : t.updates) {
    e.factors = staging.Map(e.factors);
    e.fresh = staging.Map(e.fresh);
    if (e.stats) e.stats = staging.Map(e.stats);
  }
  for (ts_forecast_entry& e : t.forecasts) {
    e.factors = staging.Map(e.factors);
    e.out = staging.Map(e.out);
    e.residual = staging.Map(e.residual);
    if (e.gate) e.gate = staging.Map(e.gate);
  }
}

// Runs a host table on the libuv pool, on private copies of its ArrayBuffer memory; the references in the
// table keep every array alive until the Promise settles, when the results are copied back.
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, std::unique_ptr<Table> table, std::unique_ptr<Staging> staging)
      : Napi::AsyncWorker(env, "taylorseer:kernel"),
        table_(std::move(table)),
        staging_(std::move(staging)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { RunHost(*table_); }
  void OnOK() override {
    const std::string moved = staging_->Commit(Env(), table_->keep.host, table_->keep.refs);
    table_.reset();
    staging_.reset();
    if (moved.empty()) {
      deferred_.Resolve(Env().Undefined());
    } else {
      deferred_.Reject(MakeError(Env(), "ERR_INVALID_ARGUMENT",
                                 "entries" + moved + " was detached or transferred while the call ran; nothing was written")
                           .Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    table_.reset();
    staging_.reset();
    deferred_.Reject(e.Value());
  }

 private:
  std::unique_ptr<Table> table_;
  std::unique_ptr<Staging> staging_;
  Napi::Promise::Deferred deferred_;
};

}  // namespace

Napi::Value RunAsync(const Napi::CallbackInfo& info, bool update) {
  Napi::Env env = info.Env();
  std::unique_ptr<Table> t;
  auto staging = std::make_unique<Staging>();
  // A Deferred is created only where it is settled: an unsettled one stays on the heap for good.
  try {
    t = ParseTable(info, update, true);
    if (t->device) {
      // Device work is already asynchronous (stream-ordered); the Promise settles once it is queued.
      RunDevice(env, *t);
      auto deferred = Napi::Promise::Deferred::New(env);
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    StageTable(env, *t, *staging);
  } catch (const Napi::Error& e) {
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(e.Value());
    return deferred.Promise();
  }
  auto* worker = new KernelWorker(env, std::move(t), std::move(staging));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace ts
