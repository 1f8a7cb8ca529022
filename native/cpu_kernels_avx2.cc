// AVX2 + F16C + FMA build of the CPU kernels. The flags are set per function (target pragma), so the
// rest of the addon stays baseline and one build file serves cmake and node-gyp alike.
#if defined(__x86_64__) || defined(_M_X64)
#pragma GCC target("avx2,f16c,fma")
#define TS_ISA avx2
#define TS_ISA_NAME "avx2+f16c"
#define TS_ISA_BITS 256
#define TS_USE_F16C 1
#include "cpu_kernels_impl.h"
#endif
