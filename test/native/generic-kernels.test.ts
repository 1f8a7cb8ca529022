/**
 * The portable CPU kernels (what arm64 and x86 without AVX2 run) meet the same specification as the AVX2
 * ones: TAYLORSEER_CPU_KERNELS=generic picks them in this process, and the kernel and 8-bit storage
 * suites run again on them. Each test file runs in its own process (vitest.config.ts), so the variable
 * reaches the addon before it loads.
 */
import { describe, expect, it } from 'vitest';

process.env.TAYLORSEER_CPU_KERNELS = 'generic';
const { native } = await import('../../lib/native');

describe('TAYLORSEER_CPU_KERNELS=generic', () => {
  it('loads the portable kernels', () => {
    expect(native().cpuInfo().vector).toMatch(/^(sse2|neon|portable) \(128-bit\)$/);
  });
});

await import('./kernels.test');
await import('./q8.test');
