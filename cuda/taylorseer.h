/*
 * taylorseer: plain C interface to the fused TaylorSeer kernels.
 *
 * Other native code (a C++ diffusion pipeline, another Node addon) can link these kernels without Node.
 * The CPU twins (native/cpu_kernels.h) take the same entry structs, so one host-side table drives both.
 *
 * Semantics (per entry, element-wise over n elements):
 *   update:   factors hold d_0..d_{old_count-1}. Writes d_0..d_{new_count-1} in one pass:
 *             new d_0 = F; new d_{i+1} = (new d_i - old d_i) / divisors[i]   for i < new_count-1.
 *             new_count must be in 1..min(old_count + 1, TS_MAX_FACTORS).
 *             Optionally adds the sum of squares of every new d_i to stats[i] (see the struct).
 *   forecast: y = sum_{i < count} coeffs[i] * d_i (accumulated in f32)
 *             plain: out = y;  gated: out = residual + gate[b, c] * y  for element (b, l, c) of [B, L, D]
 *             (gate is [B, D] and broadcasts over tokens; residual may alias out).
 * Factor i of an entry lives at factors + i * n elements (storage dtype). Arithmetic is f32; 16-bit stores
 * round to nearest even.
 *
 * Storage TS_I8 (8-bit differences; storage only, never an activation dtype): d_0, the feature itself,
 * is kept in bf16 and the differences d_1.. in 8-bit records (measured: 8-bit d_0 cost 0.3-0.5 dB of PSNR
 * on a made model, 8-bit differences behind a 16-bit d_0 nothing; docs/memory.md). An entry's factors:
 *   d_0          n bf16 values (round to nearest even, saturating as TS_BF16), padded to ts_i8_d0_bytes(n)
 *                (a multiple of 16 bytes, so the records that follow start 16-byte aligned);
 *   d_i, i >= 1  at byte ts_i8_d0_bytes(n) + (i - 1) * ts_q8_factor_bytes(n): ceil(n / TS_Q8_BLOCK)
 *                ts_q8_block records of TS_Q8_BLOCK consecutive elements (the last one zero-padded).
 * `factors` of count factors takes ts_i8_bytes(n, count) bytes. A record holds one f32 scale and
 * TS_Q8_BLOCK signed bytes:
 *   store (update):  m = max |x| over the block (NaN ignored); scale = m / 127; q = rint(clamp(x * (127 / m)))
 *                    with clamp to [-127, 127] (NaN -> -127; m = 0 gives q = 0, scale = 0); rint rounds to
 *                    nearest even. The new differences are computed in f32 from the dequantised old factors.
 *   load (forecast): x = q * scale; the forecast adds coeff * scale * q per block as fma(coeff * scale, q, y).
 * Bytes per element: 2 for d_0, 68/64 for each difference (order 2: 4.125 bytes for 3 factors, 69% of bf16).
 * The update writes whole records, so it needs every call's range to start on a record (the CPU splits
 * work on multiples of 1024 elements, the GPU on tiles of whole records).
 *
 * Linking without Node: the package builds these functions as a shared library, libtaylorseer
 * (build/Release/libtaylorseer.so on Linux; `taylorseer info --lib` prints its path and this header's).
 *   cc app.c -I<package>/cuda -L<dir of libtaylorseer> -ltaylorseer -Wl,-rpath,<dir of libtaylorseer>
 * It exports the functions below with default visibility; its CUDA runtime is linked statically, so it
 * loads on machines without a driver (the ts_cuda_* functions then return TS_ERR_CUDA, see
 * ts_cuda_usable). In a build without nvcc the ts_cuda_* functions return TS_ERR_NOT_COMPILED.
 */
#ifndef TAYLORSEER_H
#define TAYLORSEER_H

#include <stdint.h>

/* TS_EXPORTS is defined while libtaylorseer itself is compiled: only then are the functions exported
 * (the Node addon keeps its copy of them hidden). */
#if defined(TS_EXPORTS) && (defined(__GNUC__) || defined(__clang__))
#define TS_API __attribute__((visibility("default")))
#else
#define TS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define TS_MAX_ORDER 4
#define TS_MAX_FACTORS (TS_MAX_ORDER + 1)

typedef enum { TS_F32 = 0, TS_F16 = 1, TS_BF16 = 2, TS_I8 = 3 } ts_dtype;

/* Inline helpers of this header: callable from CUDA device code too (the kernels use them). */
#if defined(__CUDACC__)
#define TS_INLINE static inline __host__ __device__
#else
#define TS_INLINE static inline
#endif

#define TS_Q8_BLOCK 64
typedef struct {
  float scale;
  int8_t q[TS_Q8_BLOCK];
} ts_q8_block;

/* Records of one 8-bit factor of n elements. */
TS_INLINE int64_t ts_q8_blocks(int64_t n) { return (n + TS_Q8_BLOCK - 1) / TS_Q8_BLOCK; }
/* Bytes of one 8-bit factor (d_1.. of TS_I8) of n elements. */
TS_INLINE int64_t ts_q8_factor_bytes(int64_t n) { return ts_q8_blocks(n) * (int64_t)sizeof(ts_q8_block); }
/* Bytes of the bf16 d_0 of a TS_I8 entry of n elements, padded to 16 bytes. */
TS_INLINE int64_t ts_i8_d0_bytes(int64_t n) { return (2 * n + 15) / 16 * 16; }
/* Bytes of `count` (>= 1) TS_I8 factors of n elements: d_0, then count - 1 factors of records. */
TS_INLINE int64_t ts_i8_bytes(int64_t n, int64_t count) {
  return ts_i8_d0_bytes(n) + (count - 1) * ts_q8_factor_bytes(n);
}

typedef enum {
  TS_OK = 0,
  TS_ERR_INVALID_ARGUMENT = 1, /* a count, length, dtype or pointer is out of range */
  TS_ERR_CUDA = 2,             /* a CUDA runtime call failed: see ts_cuda_last_error() */
  TS_ERR_NOT_COMPILED = 3      /* this build has no CUDA */
} ts_status;

typedef struct {
  void* factors;        /* (TS storage dtype) capacity * n elements; factor i at offset i * n (TS_I8: see above) */
  const void* fresh;    /* (activation dtype) n elements: the freshly computed feature F */
  int64_t n;            /* elements per factor */
  int32_t old_count;    /* factors valid before the update */
  int32_t new_count;    /* factors valid after the update */
  float divisors[TS_MAX_ORDER];
  /* NULL, or new_count floats (host memory for the CPU twins, device memory for ts_cuda_update) to which
   * the update ADDS, per new factor d_i, the sum over elements of d_i^2 (d_i as computed in f32, before
   * rounding to the storage dtype). Zero it first. The values are in registers during the update anyway,
   * so the norms cost no memory traffic; they let a schedule estimate the error of the next forecasts. */
  float* stats;
} ts_update_entry;

typedef struct {
  const void* factors;  /* (storage dtype) */
  void* out;            /* (activation dtype) n elements */
  const void* residual; /* gated form only: n elements (activation dtype); may equal out */
  const void* gate;     /* gated form only: batch * dim elements (activation dtype); NULL = plain forecast */
  int64_t n;            /* elements per factor = batch * tokens * dim in the gated form */
  int64_t tokens;       /* gated form: L */
  int64_t dim;          /* gated form: D */
  int32_t count;        /* factors used: 1..TS_MAX_FACTORS */
  float coeffs[TS_MAX_FACTORS];
} ts_forecast_entry;

/* CUDA entry points. Pointers are device pointers; the table itself is host memory and is copied by
 * value into the launch. All work is ordered on `stream` (a cudaStream_t, 0 = legacy default). */
TS_API ts_status ts_cuda_update(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                         void* stream);
TS_API ts_status ts_cuda_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                           void* stream);
/* The message of the last CUDA error seen by these functions on this thread ("" if none). */
TS_API const char* ts_cuda_last_error(void);

/* Graph-capturable stepping. The same launches, except that each entry's forecast coefficients (or update
 * divisors) are read by the kernel from `coeffs` (`divisors`), memory the device can read (device or
 * managed memory), when the kernel runs, instead of from the table: entry i uses
 *   coeffs[i * stride + k]    for k < count          (the entry's `coeffs` field is ignored)
 *   divisors[i * stride + k]  for k < new_count - 1  (the entry's `divisors` field is ignored)
 * where i counts every entry of `entries` (empty ones included); stride 0 gives every entry the same row.
 * So a step captured once in a CUDA graph (cudaStreamBeginCapture on `stream`) can be replayed with new
 * coefficients: write them before each replay, e.g. by a cudaMemcpyAsync captured in the same graph from a
 * pinned host buffer the host refills between replays. Counts, pointers and sizes stay part of the launch
 * (a step with other counts needs its own graph). The values are not validated: divisors must be finite
 * and non-zero, coefficients finite. stride must be >= 0 and the pointer non-NULL. */
TS_API ts_status ts_cuda_update_indirect(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act,
                                  const float* divisors, int64_t stride, void* stream);
TS_API ts_status ts_cuda_forecast_indirect(const ts_forecast_entry* entries, int32_t count, ts_dtype storage,
                                    ts_dtype act, const float* coeffs, int64_t stride, void* stream);

/* TS_OK when a CUDA device is present and this build's kernels can run on the current one; TS_ERR_CUDA
 * (the reason in ts_cuda_last_error()) when there is no driver, no device or no kernel image for it;
 * TS_ERR_NOT_COMPILED in a build without CUDA. Cheap after the first call. */
TS_API ts_status ts_cuda_usable(void);

/* The CPU twins on host memory, same semantics and the same f32 rounding as the CUDA kernels (bit-equal
 * results), parallel over a pool of threads created on first use. Validation as for the CUDA calls (every
 * storage dtype, TS_I8 included), plus for gated forecast entries n % (tokens * dim) == 0.
 * Two environment variables, read at the first call: TAYLORSEER_THREADS (1..256, default every hardware
 * thread) caps the pool; TAYLORSEER_CPU_KERNELS=generic runs the portable kernels (auto or unset: the
 * fastest this processor runs). While either is malformed every call returns TS_ERR_INVALID_ARGUMENT and
 * says so, rather than run a configuration nobody asked for. Errors: ts_cpu_last_error(), per thread. */
TS_API ts_status ts_cpu_update(const ts_update_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
TS_API ts_status ts_cpu_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype storage, ts_dtype act);
TS_API const char* ts_cpu_last_error(void);
/* The CPU kernel set the twins run (e.g. "avx2+f16c"; the portable set: "sse2" on x86-64, "neon" on
 * arm64) and the threads of their pool (the calling thread included). Fixed at first use. */
TS_API const char* ts_cpu_kernels(void);
TS_API int32_t ts_cpu_threads(void);

/* sizeof(ts_update_entry) and sizeof(ts_forecast_entry) as this library was compiled: a binding that lays
 * the structs out itself (Python ctypes, another FFI) checks them before its first call. */
TS_API void ts_entry_sizes(int64_t* update_entry, int64_t* forecast_entry);

#ifdef __cplusplus
}
#endif

#endif /* TAYLORSEER_H */
