/*
 * Extra CUDA entry points used by the tests and the benchmark (not part of the library's contract):
 * a random fill for test data, and the EAGER-STYLE BASELINE (one kernel per elementary operation of
 * the reference's formulas), which exists only to be timed against the fused kernels.
 */
#ifndef TS_CUDA_EXTRA_H
#define TS_CUDA_EXTRA_H

#include <stdint.h>

#include "taylorseer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TS_OK when this build's kernels can run on the current device (a kernel image or PTX for it is
 * embedded); otherwise TS_ERR_CUDA with the reason in ts_cuda_last_error(). */
ts_status ts_cuda_check_kernels(void);

/* Tuning (benchmark only): caps the persistent grid at `blocks_per_sm` blocks per multiprocessor
 * (0 = the kernel's full occupancy, the default). Process-wide; not thread-safe against running launches. */
void ts_cuda_set_grid_cap(int blocks_per_sm);

/* Fills n elements of dtype d with uniform values in [lo, hi) drawn from a counter-based hash of
 * (seed, index): deterministic, and reproducible on the host with ts_fill_value(). */
ts_status ts_cuda_fill_uniform(void* p, int64_t n, ts_dtype d, uint64_t seed, float lo, float hi, void* stream);
/* The f32 value ts_cuda_fill_uniform draws for element i (before rounding to a 16-bit dtype). */
float ts_fill_value(uint64_t seed, int64_t i, float lo, float hi);

/* BASELINE. Update in the reference's op sequence, one launch per op and entry:
 *   t_1 = F - d_0; t_1 = t_1 / D_0; t_2 = t_1 - d_1; t_2 = t_2 / D_1; ...; copy d_0 <- F; copy d_i <- t_i.
 * Storage and activation dtype must be equal. scratch: at least (new_count - 1) * n elements of the
 * dtype for the largest entry. */
ts_status ts_eager_update(const ts_update_entry* entries, int32_t count, ts_dtype dtype, void* scratch,
                          int64_t scratch_bytes, void* stream);
/* BASELINE. Forecast in the reference's op sequence (o = o + (1 / i!) * d_i * x^i: two scalar multiplies
 * and one add per term, the first add being 0 + t), then for a gated entry the separate
 * h + gate * F_hat (broadcast multiply, add). The two scalars of term i are 1/i! and coeffs[i] * i!.
 * scratch: at least 2 * n elements of the dtype for the largest entry. */
ts_status ts_eager_forecast(const ts_forecast_entry* entries, int32_t count, ts_dtype dtype, void* scratch,
                            int64_t scratch_bytes, void* stream);

/* Benchmark (cuda/bench.cu): times the fused kernels, the eager-style baseline and a device-to-device
 * copy with CUDA events on the current device, on a stream of its own. Returns a malloc'd JSON object
 * {"device", "copy_GBps", "rows": [...]} (or {"error": "..."}); free it with ts_cuda_bench_free. Blocks the
 * calling thread while it runs (seconds). `log`, when given, receives one line per measurement. */
typedef struct {
  int reps;        /* timed repetitions per measurement (median reported); <= 0: 20 */
  int warmup;      /* untimed runs first; <= 0: 3 */
  int flux;        /* non-zero: the FLUX.1-dev 1024^2 step (114 tensors, bf16, orders 1 and 2) */
  int single;      /* non-zero: single tensors (DiT-XL f32, FLUX joint and HunyuanVideo 480p bf16, orders 1-3) */
} ts_bench_options;
char* ts_cuda_bench(const ts_bench_options* options, void (*log)(const char* line, void* ctx), void* ctx);
void ts_cuda_bench_free(char* json);

#ifdef __cplusplus
}
#endif

#endif /* TS_CUDA_EXTRA_H */
