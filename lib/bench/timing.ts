/** Host-side timing helpers shared by the benchmarks: warm-up, then the median of repeated runs. */

export interface Timing {
  medianMs: number;
  reps: number;
}

/** Runs fn once to warm up, then until `budgetMs` is spent (at least minReps, at most maxReps). */
export function timeMedian(fn: () => void, budgetMs = 300, minReps = 3, maxReps = 200): Timing {
  fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minReps || (samples.length < maxReps && performance.now() - start < budgetMs)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { medianMs: samples[samples.length >> 1], reps: samples.length };
}

/** GB/s (1e9 bytes per second) of `bytes` moved in `ms`. */
export function gbps(bytes: number, ms: number): number {
  return bytes / (ms * 1e6);
}

/**
 * Two functions timed in alternation (a, b, a, b, ...) so that both see the same machine state; returns
 * the median of each. For ratios between variants on a shared machine.
 */
export function timePair(a: () => void, b: () => void, budgetMs = 300, minReps = 5, maxReps = 400): [Timing, Timing] {
  a();
  b();
  const sa: number[] = [];
  const sb: number[] = [];
  const start = performance.now();
  while (sa.length < minReps || (sa.length < maxReps && performance.now() - start < 2 * budgetMs)) {
    let t0 = performance.now();
    a();
    sa.push(performance.now() - t0);
    t0 = performance.now();
    b();
    sb.push(performance.now() - t0);
  }
  const med = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1];
  return [
    { medianMs: med(sa), reps: sa.length },
    { medianMs: med(sb), reps: sb.length },
  ];
}
