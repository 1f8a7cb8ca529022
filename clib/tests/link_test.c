/* Links libtaylorseer from C (no Node) and checks its host path: the CPU twins against values computed
 * here, their argument checks, and the CUDA probe, which must answer (TS_OK, TS_ERR_CUDA or
 * TS_ERR_NOT_COMPILED with a reason) without crashing on machines without a GPU or driver.
 *   cc -std=c99 link_test.c -I../../cuda -L<lib dir> -ltaylorseer -Wl,-rpath,<lib dir> -lm && ./a.out
 * Prints one line per check; exit status 0 only when all passed. */
#include <math.h>
#include <stdio.h>
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

int main(void) {
  /* Three full steps of one entry, f32 storage and activations, divisor 6 (the reference's interval). */
  static float factors[TS_MAX_FACTORS * N], fresh[N], out[N], want1[N];
  ts_update_entry u;
  memset(&u, 0, sizeof u);
  u.factors = factors;
  u.fresh = fresh;
  u.n = N;
  u.divisors[0] = 6.0f;
  u.divisors[1] = 6.0f;
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

  /* Forecast 3 steps after the last full step: coefficients 1, 3, 3^2/2. */
  ts_forecast_entry f;
  memset(&f, 0, sizeof f);
  f.factors = factors;
  f.out = out;
  f.n = N;
  f.count = 3;
  f.coeffs[0] = 1.0f;
  f.coeffs[1] = 3.0f;
  f.coeffs[2] = 4.5f;
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
  CHECK(ts_cpu_forecast(&f, 1, (ts_dtype)7, TS_F32) == TS_ERR_INVALID_ARGUMENT, "dtype 7 accepted");

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
