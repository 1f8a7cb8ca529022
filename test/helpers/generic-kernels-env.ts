// Imported first by test/native/generic-kernels.test.ts: the variable must be set before the addon loads.
process.env.TAYLORSEER_CPU_KERNELS = 'generic';
