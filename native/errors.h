// Errors thrown from C++ are instances of the JS class lib/native.ts registers (TaylorSeerError), with
// the same stable codes as lib/errors.ts. Validation helpers in the style of better-sqlite3's macros.
#pragma once
#include <napi.h>

#include <string>

namespace ts {

// Stores the constructor used for every error this addon throws (per environment: each worker_thread
// loads its own instance of the addon).
void SetErrorClass(Napi::Env env, Napi::Function ctor);

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message);

[[noreturn]] inline void Throw(Napi::Env env, const char* code, const std::string& message) {
  throw MakeError(env, code, message);
}

}  // namespace ts

// TS_REQUIRE(env, condition, "ERR_CODE", message expression): throws unless condition holds.
#define TS_REQUIRE(env, cond, code, message)      \
  do {                                            \
    if (!(cond)) ::ts::Throw((env), (code), (message)); \
  } while (0)
