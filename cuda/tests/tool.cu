// ts_cuda_tool: the standalone CUDA programs in one binary (the kernels' fatbin once, for the carry limit).
//   ts_cuda_tool test [--emulate] [--quick]     kernel checks against a CPU reference (kernel_test.cu)
//   ts_cuda_tool bench [options]                the benchmark (bench_main.cu)
#include <stdio.h>
#include <string.h>

int TestMain(int argc, char** argv);
int BenchMain(int argc, char** argv);

int main(int argc, char** argv) {
  if (argc >= 2 && !strcmp(argv[1], "test")) return TestMain(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "bench")) return BenchMain(argc - 1, argv + 1);
  fprintf(stderr, "usage: ts_cuda_tool test [--emulate] [--quick] | bench [--reps N] [--warmup N] [--no-flux] [--no-single] [--out FILE]\n");
  return 2;
}
