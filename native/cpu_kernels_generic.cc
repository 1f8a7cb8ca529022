// Baseline build of the CPU kernels (SSE2 on x86-64): runs on every processor.
#define TS_ISA generic
#define TS_ISA_NAME "sse2"
#define TS_ISA_BITS 128
#define TS_USE_F16C 0
#include "cpu_kernels_impl.h"
