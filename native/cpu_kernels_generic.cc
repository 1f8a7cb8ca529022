// Baseline build of the CPU kernels (SSE2 on x86-64, NEON on arm64): runs on every processor.
#define TS_ISA generic
#if defined(__x86_64__) || defined(_M_X64)
#define TS_ISA_NAME "sse2"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define TS_ISA_NAME "neon"
#else
#define TS_ISA_NAME "portable"
#endif
#define TS_ISA_BITS 128
#define TS_USE_F16C 0
#include "cpu_kernels_impl.h"
