// The one place a runtime dtype or factor count becomes a template argument, shared by the CPU twins
// (native/) and the CUDA kernels (cuda/). The dtype macros expand into a switch whose cases
// `return FN<...>(args...)`; a dtype pair outside the list falls through to the code after the macro
// (callers validate dtypes first). A new storage dtype is added here once, then to the Io / Dt
// specialisations of each side.
#pragma once
#include <type_traits>

#include "taylorseer.h"

namespace ts_dispatch {

// fn(std::integral_constant<int, K>{}) with K = count, for a factor count in 1..TS_MAX_FACTORS (callers
// validate counts first; anything else takes the largest).
template <typename F>
inline auto ByCount(int count, F&& fn) {
  static_assert(TS_MAX_FACTORS == 5, "one case per factor count");
  switch (count) {
    case 1: return fn(std::integral_constant<int, 1>{});
    case 2: return fn(std::integral_constant<int, 2>{});
    case 3: return fn(std::integral_constant<int, 3>{});
    case 4: return fn(std::integral_constant<int, 4>{});
    default: return fn(std::integral_constant<int, 5>{});
  }
}

}  // namespace ts_dispatch

// FN<S>(args...) for an activation dtype S (f32, f16, bf16).
#define TS_DISPATCH_DTYPE(FN, dtype, ...)  \
  switch (dtype) {                         \
    case TS_F32: return FN<TS_F32>(__VA_ARGS__);   \
    case TS_F16: return FN<TS_F16>(__VA_ARGS__);   \
    case TS_BF16: return FN<TS_BF16>(__VA_ARGS__); \
    default: break;                        \
  }

// FN<S, A>(args...) for storage S and activation A, both in f32, f16, bf16.
#define TS_DISPATCH_FLOAT_DTYPES(FN, storage, act, ...)                         \
  switch (static_cast<int>(storage) * 3 + static_cast<int>(act)) {              \
    case TS_F32 * 3 + TS_F32: return FN<TS_F32, TS_F32>(__VA_ARGS__);          \
    case TS_F32 * 3 + TS_F16: return FN<TS_F32, TS_F16>(__VA_ARGS__);          \
    case TS_F32 * 3 + TS_BF16: return FN<TS_F32, TS_BF16>(__VA_ARGS__);        \
    case TS_F16 * 3 + TS_F32: return FN<TS_F16, TS_F32>(__VA_ARGS__);          \
    case TS_F16 * 3 + TS_F16: return FN<TS_F16, TS_F16>(__VA_ARGS__);          \
    case TS_F16 * 3 + TS_BF16: return FN<TS_F16, TS_BF16>(__VA_ARGS__);        \
    case TS_BF16 * 3 + TS_F32: return FN<TS_BF16, TS_F32>(__VA_ARGS__);        \
    case TS_BF16 * 3 + TS_F16: return FN<TS_BF16, TS_F16>(__VA_ARGS__);        \
    case TS_BF16 * 3 + TS_BF16: return FN<TS_BF16, TS_BF16>(__VA_ARGS__);      \
    default: break;                                                             \
  }

// The same with 8-bit storage (TS_I8, storage only) as well: every pair the CPU twins take.
#define TS_DISPATCH_DTYPES(FN, storage, act, ...)                              \
  if ((storage) == TS_I8) {                                                    \
    switch (act) {                                                             \
      case TS_F32: return FN<TS_I8, TS_F32>(__VA_ARGS__);                      \
      case TS_F16: return FN<TS_I8, TS_F16>(__VA_ARGS__);                      \
      case TS_BF16: return FN<TS_I8, TS_BF16>(__VA_ARGS__);                    \
      default: break;                                                          \
    }                                                                          \
  }                                                                            \
  TS_DISPATCH_FLOAT_DTYPES(FN, storage, act, __VA_ARGS__)
