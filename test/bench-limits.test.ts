/** The CPU benchmark checks every size against its documented limit and the memory a cell needs before it allocates. */
import { describe, expect, it } from 'vitest';
import { MAX_BENCH_BYTES, benchPeakBytes, runCpuBench } from '../lib/bench/cpu-bench';
import { codeOf } from './helpers/code-of';

describe('benchmark sizes', () => {
  const opts = { orders: [1], dtypes: ['f32' as const], budgetMs: 1, naive: false };

  it('refuses sizes beyond MAX_BENCH_BYTES (256 MiB: 1 GiB, 2^40 refused) or below one element with ERR_INVALID_ARGUMENT, at once', () => {
    for (const bytes of [MAX_BENCH_BYTES + 4, 1 << 30, 2 ** 40, 0, 2.5, Number.NaN]) {
      const t0 = Date.now();
      expect(codeOf(() => runCpuBench({ ...opts, sizes: [64 << 10, bytes] }))).toBe('ERR_INVALID_ARGUMENT');
      expect(Date.now() - t0).toBeLessThan(5000); // nothing ran: the first, valid size is checked with the rest
    }
  });

  it('estimates the peak of a cell from what it holds at once', () => {
    const n = (256 << 20) / 4;
    // order 3, f32, naive: feature + 4 factors + output (24n bytes) and the naive temporaries (32n)
    expect(benchPeakBytes(256 << 20, 3, 'f32', true)).toBe(24 * n + 32 * n);
    expect(benchPeakBytes(256 << 20, 1, 'bf16', false)).toBeLessThan(benchPeakBytes(256 << 20, 1, 'f32', false));
  });

  it('runs a size within the limits', () => {
    expect(runCpuBench({ ...opts, sizes: [64 << 10] }).length).toBeGreaterThan(0);
  });
});
