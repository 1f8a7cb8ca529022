/* Links libtaylorseer from C (no Node) and checks its host path: the CPU twins against values computed
 * here (f32 storage, and TS_I8 storage byte for byte against the layout and rounding taylorseer.h
 * documents), their argument checks, and the CUDA probe, which must answer (TS_OK, TS_ERR_CUDA or
 * TS_ERR_NOT_COMPILED with a reason) without crashing on machines without a GPU or driver.
 *   cc -std=c99 link_test.c -I../../cuda -L<lib dir> -ltaylorseer -Wl,-rpath,<lib dir> -lm && ./a.out
 * With --expect-refused it checks instead that every call is refused with the reason (run it with a
 * malformed TAYLORSEER_THREADS or TAYLORSEER_CPU_KERNELS).
 * Prints one line per failed check; exit status 0 only when all passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "taylorseer.h"

static int failures = 0;
#define CHECK(cond, ...)               \
  do {                                 \
    if (!(cond)) {                     \
      ++failures;                      \
      printf("FAIL line %d: ", __LINE__); \
      printf(__VA_ARGS__);             \
      printf("\n");                    \
    }                                  \
  } while (0)

enum { N = 1000 };

static float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* One record as taylorseer.h documents the store: scale = m / 127, q = rint(clamp(x * (127 / m))). */
static void Quantise(const float* x, int len, ts_q8_block* out) {
  float m = 0.0f;
  for (int t = 0; t < len; ++t) m = fabsf(x[t]) > m ? fabsf(x[t]) : m;
  const float inv = m > 0.0f ? 127.0f / m : 0.0f;
  memset(out, 0, sizeof *out);
  out->scale = m / 127.0f;
  for (int t = 0; t < len; ++t) {
    float v = x[t] * inv;
    v = v < -127.0f ? -127.0f : v > 127.0f ? 127.0f : v;
    out->q[t] = (int8_t)rintf(v);
  }
}

/* A factor of n values as records, and back. */
static void QuantiseFactor(const float* x, int n, ts_q8_block* recs) {
  for (int b = 0; b * TS_Q8_BLOCK < n; ++b) {
    const int len = n - b * TS_Q8_BLOCK < TS_Q8_BLOCK ? n - b * TS_Q8_BLOCK : TS_Q8_BLOCK;
    Quantise(x + b * TS_Q8_BLOCK, len, &recs[b]);
  }
}

static float Dequantised(const ts_q8_block* recs, int j) {
  return (float)recs[j / TS_Q8_BLOCK].q[j % TS_Q8_BLOCK] * recs[j / TS_Q8_BLOCK].scale;
}

/* An update entry of N elements with divisors 6 (the reference's interval), and the forecast 3 steps after
 * the last full step (coefficients 1, 3, 3^2/2) of its first three factors. */
static ts_update_entry UpdateEntry(void* factors, const float* fresh) {
  ts_update_entry u;
  memset(&u, 0, sizeof u);
  u.factors = factors;
  u.fresh = fresh;
  u.n = N;
  u.divisors[0] = 6.0f;
  u.divisors[1] = 6.0f;
  return u;
}

static ts_forecast_entry ForecastEntry(const void* factors, float* out) {
  ts_forecast_entry f;
  memset(&f, 0, sizeof f);
  f.factors = factors;
  f.out = out;
  f.n = N;
  f.count = 3;
  f.coeffs[0] = 1.0f;
  f.coeffs[1] = 3.0f;
  f.coeffs[2] = 4.5f;
  return f;
}

/* Three full steps of one entry with TS_I8 storage, then a forecast: every byte of the factors and every
 * output against the documented layout and arithmetic, computed here from the values alone. */
static void TestI8Storage(void) {
  const int64_t d0_bytes = ts_i8_d0_bytes(N), rec_bytes = ts_q8_factor_bytes(N);
  const int blocks = (int)ts_q8_blocks(N);
  unsigned char* factors = malloc((size_t)ts_i8_bytes(N, 3));
  ts_q8_block* want = calloc((size_t)(2 * blocks), sizeof(ts_q8_block));
  float fresh[N], d1[N], d2[N], out[N];
  if (!factors || !want) {
    CHECK(0, "out of memory");
    return;
  }
  ts_update_entry u = UpdateEntry(factors, fresh);
  for (int step = 0; step < 3; ++step) {
    /* Pseudo-random multiples of 1/16 from 1 to 5: exact in bf16, so d_0 holds them unrounded, and varied
     * enough that records get different scales and the rounding of every step shows. */
    for (int j = 0; j < N; ++j) {
      const float before = step > 0 ? fresh[j] : 0.0f;
      const uint32_t hash = (uint32_t)j * 2654435761u + (uint32_t)step * 40503u;
      fresh[j] = 1.0f + (float)((hash >> 16) % 64) * 0.0625f;
      if (step >= 1) d1[j] = (fresh[j] - before) / 6.0f;
      if (step == 2) d2[j] = (d1[j] - Dequantised(want, j)) / 6.0f;
    }
    if (step >= 1) QuantiseFactor(d1, N, want);
    if (step == 2) QuantiseFactor(d2, N, want + blocks);
    u.old_count = step;
    u.new_count = step + 1;
    const ts_status st = ts_cpu_update(&u, 1, TS_I8, TS_F32);
    CHECK(st == TS_OK, "ts_cpu_update TS_I8 step %d: status %d (%s)", step, (int)st, ts_cpu_last_error());
  }
  int bad = 0;
  for (int j = 0; j < N; ++j) {
    uint16_t h;
    memcpy(&h, factors + 2 * j, sizeof h);
    if (Bf16ToFloat(h) != fresh[j]) ++bad;
  }
  CHECK(bad == 0, "TS_I8: %d values of d_0 (bf16 at the start of the factors) differ from the feature", bad);
  CHECK(memcmp(factors + d0_bytes, want, (size_t)rec_bytes) == 0, "TS_I8: the records of d_1 differ from the documented store");
  CHECK(memcmp(factors + d0_bytes + rec_bytes, want + blocks, (size_t)rec_bytes) == 0,
        "TS_I8: the records of d_2 differ from the documented store");

  /* The forecast: y = d_0, then fma(coeff * scale, q, y) per factor. */
  ts_forecast_entry f = ForecastEntry(factors, out);
  const ts_status st = ts_cpu_forecast(&f, 1, TS_I8, TS_F32);
  CHECK(st == TS_OK, "ts_cpu_forecast TS_I8: status %d (%s)", (int)st, ts_cpu_last_error());
  bad = 0;
  for (int j = 0; j < N; ++j) {
    const ts_q8_block* r1 = &want[j / TS_Q8_BLOCK];
    const ts_q8_block* r2 = &want[blocks + j / TS_Q8_BLOCK];
    float y = fresh[j];
    y = fmaf(3.0f * r1->scale, (float)r1->q[j % TS_Q8_BLOCK], y);
    y = fmaf(4.5f * r2->scale, (float)r2->q[j % TS_Q8_BLOCK], y);
    if (out[j] != y) ++bad;
  }
  CHECK(bad == 0, "TS_I8 forecast: %d outputs differ from the documented dequantising chain", bad);
  CHECK(ts_cpu_forecast(&f, 1, TS_F32, TS_I8) == TS_ERR_INVALID_ARGUMENT && strstr(ts_cpu_last_error(), "activation dtype"),
        "TS_I8 as the activation dtype: '%s'", ts_cpu_last_error());
  free(want);
  free(factors);
}

/* Every call refused while the environment is malformed, with the variable named; nothing written. */
static int ExpectRefused(void) {
  static float fresh[N], factors[N];
  for (int j = 0; j < N; ++j) fresh[j] = 1.0f;
  ts_update_entry u = UpdateEntry(factors, fresh);
  u.new_count = 1;
  const ts_status st = ts_cpu_update(&u, 1, TS_F32, TS_F32);
  printf("refused: %s\n", ts_cpu_last_error());
  CHECK(st == TS_ERR_INVALID_ARGUMENT && strstr(ts_cpu_last_error(), "TAYLORSEER_"), "status %d, message '%s'", (int)st,
        ts_cpu_last_error());
  CHECK(factors[0] == 0.0f, "a refused update wrote its factors");
  printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--expect-refused") == 0) return ExpectRefused();
  printf("ts_cpu_kernels: %s, ts_cpu_threads: %d\n", ts_cpu_kernels(), (int)ts_cpu_threads());
  /* Three full steps of one entry, f32 storage and activations. */
  static float factors[TS_MAX_FACTORS * N], fresh[N], out[N], want1[N];
  ts_update_entry u = UpdateEntry(factors, fresh);
  for (int step = 0; step < 3; ++step) {
    for (int j = 0; j < N; ++j) fresh[j] = (float)(j % 17) * 0.25f + (float)(step * step) * 0.5f + 1.0f;
    u.old_count = step;
    u.new_count = step + 1;
    ts_status st = ts_cpu_update(&u, 1, TS_F32, TS_F32);
    CHECK(st == TS_OK, "ts_cpu_update step %d: status %d (%s)", step, (int)st, ts_cpu_last_error());
  }
  /* fresh(step) = base + 0.5 step^2: d_1 = (F2 - F1) / 6 = 1.5 / 6, d_2 = (d_1 - (F1 - F0) / 6) / 6 = 1 / 36 */
  for (int j = 0; j < N; ++j) want1[j] = (float)(j % 17) * 0.25f + 3.0f;
  int bad = 0;
  for (int j = 0; j < N; ++j) {
    if (factors[j] != want1[j]) ++bad;
    if (fabsf(factors[N + j] - 0.25f) > 1e-6f) ++bad;
    if (fabsf(factors[2 * N + j] - 1.0f / 36.0f) > 1e-6f) ++bad;
  }
  CHECK(bad == 0, "update: %d factor values differ from the closed form", bad);

  /* Forecast 3 steps after the last full step. */
  ts_forecast_entry f = ForecastEntry(factors, out);
  for (int j = 0; j < N; ++j) out[j] = NAN;
  ts_status st = ts_cpu_forecast(&f, 1, TS_F32, TS_F32);
  CHECK(st == TS_OK, "ts_cpu_forecast: status %d (%s)", (int)st, ts_cpu_last_error());
  bad = 0;
  for (int j = 0; j < N; ++j) {
    const float y = fmaf(4.5f, factors[2 * N + j], fmaf(3.0f, factors[N + j], factors[j]));
    if (out[j] != y) ++bad;
  }
  CHECK(bad == 0, "forecast: %d outputs differ from the f32 fused multiply-add chain", bad);

  /* Argument checks: a rejected call says why and writes nothing. */
  f.count = 6;
  out[0] = -1.0f;
  st = ts_cpu_forecast(&f, 1, TS_F32, TS_F32);
  CHECK(st == TS_ERR_INVALID_ARGUMENT && strstr(ts_cpu_last_error(), "count out of range"),
        "count 6: status %d, message '%s'", (int)st, ts_cpu_last_error());
  CHECK(out[0] == -1.0f, "a rejected forecast wrote its output");
  u.old_count = 0;
  u.new_count = 2;
  st = ts_cpu_update(&u, 1, TS_F32, TS_F32);
  CHECK(st == TS_ERR_INVALID_ARGUMENT && strstr(ts_cpu_last_error(), "new_count out of range"),
        "new_count 2 after 0 factors: status %d, message '%s'", (int)st, ts_cpu_last_error());
  CHECK(ts_cpu_update(NULL, 0, TS_F32, TS_F32) == TS_OK, "an empty table is rejected");
  f.count = 3;
  CHECK(ts_cpu_forecast(&f, 1, (ts_dtype)7, TS_F32) == TS_ERR_INVALID_ARGUMENT && strstr(ts_cpu_last_error(), "storage dtype 7"),
        "storage dtype 7: '%s'", ts_cpu_last_error());

  TestI8Storage();

  /* CUDA: usable, or a clean refusal with a reason; the launch functions then refuse the same way. */
  st = ts_cuda_usable();
  printf("ts_cuda_usable: %d (%s)\n", (int)st, st == TS_OK ? "a device is usable" : ts_cuda_last_error());
  CHECK(st == TS_OK || ((st == TS_ERR_CUDA || st == TS_ERR_NOT_COMPILED) && strlen(ts_cuda_last_error()) > 0),
        "ts_cuda_usable: status %d without a reason", (int)st);
  if (st != TS_OK) {
    const float coeffs[TS_MAX_FACTORS] = {1.0f, 3.0f, 4.5f, 0.0f, 0.0f};
    ts_status fs = ts_cuda_forecast_indirect(&f, 1, TS_F32, TS_F32, coeffs, 0, NULL);
    CHECK(fs != TS_OK && fs != TS_ERR_INVALID_ARGUMENT, "ts_cuda_forecast_indirect without a device: status %d", (int)fs);
    CHECK(ts_cuda_forecast_indirect(&f, 1, TS_F32, TS_F32, NULL, 0, NULL) != TS_OK, "a NULL coefficient pointer accepted");
  }
  printf("%s (%d failures)\n", failures ? "FAILED" : "ok", failures);
  return failures ? 1 : 0;
}
