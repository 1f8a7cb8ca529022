// The environment variables the CPU kernels read, parsed in one place. The Node side refuses malformed
// values before the addon loads (lib/native.ts, the same rules); the C library refuses its calls while
// one is malformed (clib/cpu_entry.cc), so no caller silently gets a configuration it did not ask for.
#pragma once

namespace ts {

// The most threads TAYLORSEER_THREADS may ask for.
constexpr int kMaxThreads = 256;

// TAYLORSEER_CPU_KERNELS=generic: the portable kernels even where faster ones would run.
bool GenericKernelsRequested();

// TAYLORSEER_THREADS when it is a valid count (1..kMaxThreads), else 0 (unset, empty or malformed).
int RequestedThreads();

// Why TAYLORSEER_CPU_KERNELS or TAYLORSEER_THREADS is malformed, or an empty string when neither is.
const char* EnvironmentProblem();

}  // namespace ts
