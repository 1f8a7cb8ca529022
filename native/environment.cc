#include "environment.h"

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ts {

namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// Digits with optional surrounding whitespace, as lib/native.ts accepts them; -1 when v is not that or
// out of range.
int ParseThreads(const char* v) {
  while (std::isspace(static_cast<unsigned char>(*v))) ++v;
  long n = 0;
  int digits = 0;
  for (; std::isdigit(static_cast<unsigned char>(*v)); ++v, ++digits)
    if (n <= kMaxThreads) n = n * 10 + (*v - '0');
  while (std::isspace(static_cast<unsigned char>(*v))) ++v;
  return digits > 0 && *v == '\0' && n >= 1 && n <= kMaxThreads ? static_cast<int>(n) : -1;
}

}  // namespace

bool GenericKernelsRequested() {
  const char* v = Env("TAYLORSEER_CPU_KERNELS");
  return v && std::strcmp(v, "generic") == 0;
}

int RequestedThreads() {
  const char* v = Env("TAYLORSEER_THREADS");
  const int n = v ? ParseThreads(v) : -1;
  return n > 0 ? n : 0;
}

const char* EnvironmentProblem() {
  // Read once, like the kernel set and the pool, which are fixed at first use.
  static const std::string problem = [] {
    std::string p;
    const char* k = Env("TAYLORSEER_CPU_KERNELS");
    if (k && std::strcmp(k, "auto") != 0 && std::strcmp(k, "generic") != 0)
      p = std::string("TAYLORSEER_CPU_KERNELS=") + k + ": expected auto or generic, or unset it";
    const char* t = Env("TAYLORSEER_THREADS");
    if (p.empty() && t && ParseThreads(t) < 0)
      p = std::string("TAYLORSEER_THREADS=") + t + ": expected an integer from 1 to " + std::to_string(kMaxThreads) +
          ", or unset it to use every hardware thread";
    return p;
  }();
  return problem.c_str();
}

}  // namespace ts
