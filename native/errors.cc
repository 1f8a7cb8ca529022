#include "errors.h"

#include "addon_data.h"

namespace ts {

void SetErrorClass(Napi::Env env, Napi::Function ctor) { Data(env)->error_ctor = Napi::Persistent(ctor); }

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  AddonData* data = Data(env);
  if (!data->error_ctor.IsEmpty()) {
    // setErrorClass checked the class once; a constructor that throws or returns a non-Error later still
    // gets the plain Error below, never its own exception in place of ours.
    try {
      Napi::Value err = data->error_ctor.New({Napi::String::New(env, code), Napi::String::New(env, message)});
      if (err.IsObject() && err.As<Napi::Object>().Get("code").StrictEquals(Napi::String::New(env, code))) return Napi::Error(env, err);
    } catch (const Napi::Error&) {
    }
  }
  // Before lib/native.ts registered its class (direct use of the .node file): a plain Error with a code.
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace ts
