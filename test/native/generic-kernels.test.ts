/**
 * The portable CPU kernels (what arm64 and x86 without AVX2 run) meet the same specification as the AVX2
 * ones: TAYLORSEER_CPU_KERNELS=generic picks them in this process, and the kernel and 8-bit storage
 * suites run again on them. Each test file runs in its own process (vitest.config.ts), and the variable is
 * set by the first import, before the addon loads.
 */
import '../helpers/generic-kernels-env';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native';
import './kernels.test';
import './q8.test';

describe('TAYLORSEER_CPU_KERNELS=generic', () => {
  it('loads the portable kernels', () => {
    expect(native().cpuInfo().vector).toMatch(/^(sse2|neon|portable) \(128-bit\)$/);
  });
});
