// Standalone benchmark (no Node): the same measurements as the addon's cuda.bench.
//   ts_cuda_tool bench [--reps N] [--warmup N] [--no-flux] [--no-single] [--out FILE]
// Progress lines go to stderr, the JSON object to FILE (or stdout).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "../ts_cuda_extra.h"

static void Log(const char* line, void*) {
  fprintf(stderr, "%s\n", line);
  fflush(stderr);
}

int BenchMain(int argc, char** argv) {
  ts_bench_options o{};
  o.flux = 1;
  o.single = 1;
  const char* out = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) o.warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--no-flux")) o.flux = 0;
    else if (!strcmp(argv[i], "--no-single")) o.single = 0;
    else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
    else {
      fprintf(stderr, "usage: ts_cuda_tool bench [--reps N] [--warmup N] [--no-flux] [--no-single] [--out FILE]\n");
      return 2;
    }
  }
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    fprintf(stderr, "no CUDA device: %s\n", cudaGetErrorString(e));
    return 77;
  }
  char* json = ts_cuda_bench(&o, Log, nullptr);
  if (!json) return 1;
  const bool failed = strncmp(json, "{\"error\"", 8) == 0;
  if (out) {
    FILE* f = fopen(out, "w");
    if (!f) {
      perror(out);
      return 1;
    }
    fputs(json, f);
    fclose(f);
  } else {
    puts(json);
  }
  if (failed) fprintf(stderr, "%s\n", json);
  ts_cuda_bench_free(json);
  return failed ? 1 : 0;
}
