/**
 * The one timing method of the project (benchmarks, `demo`, `eval`, `sweep`): an untimed warm-up, then the
 * variants run in alternation (A B A B ... or A B C A B C ...) so that every variant sees the same machine
 * state, and medians with their spread. A ratio of two variants is reported with the noise it carries, and
 * an overhead ratio (wall speedup / evaluation speedup) is only given as a result when it stands out of
 * that noise (overheadOf). docs/cli.md says the method in words.
 */

export interface Timing {
  medianMs: number;
  /** fastest and slowest timed run */
  minMs: number;
  maxMs: number;
  reps: number;
}

/** Median and range of timed runs (ms). */
export function summarize(samples: readonly number[]): Timing {
  if (samples.length === 0) throw new RangeError('summarize needs at least one sample');
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const medianMs = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { medianMs, minMs: s[0], maxMs: s[s.length - 1], reps: s.length };
}

/** Half the range relative to the median: how far one run may sit from the typical one (0 for one run). */
export function relativeSpread(t: Timing): number {
  return t.medianMs > 0 ? (t.maxMs - t.minMs) / (2 * t.medianMs) : 0;
}

/** Runs fn once to warm up, then until `budgetMs` is spent (at least minReps, at most maxReps). */
export function timeMedian(fn: () => void, budgetMs = 300, minReps = 3, maxReps = 200, now: () => number = () => performance.now()): Timing {
  fn();
  const samples: number[] = [];
  const start = now();
  while (samples.length < minReps || (samples.length < maxReps && now() - start < budgetMs)) {
    const t0 = now();
    fn();
    samples.push(now() - t0);
  }
  return summarize(samples);
}

/** GB/s (1e9 bytes per second) of `bytes` moved in `ms`. */
export function gbps(bytes: number, ms: number): number {
  return bytes / (ms * 1e6);
}

/**
 * Two functions timed in alternation (a, b, a, b, ...) after one untimed call of each, so that both see the
 * same machine state; returns the median and range of each. For ratios between variants on a shared machine.
 */
export function timePair(a: () => void, b: () => void, budgetMs = 300, minReps = 5, maxReps = 400, now: () => number = () => performance.now()): [Timing, Timing] {
  a();
  b();
  const sa: number[] = [];
  const sb: number[] = [];
  const start = now();
  while (sa.length < minReps || (sa.length < maxReps && now() - start < 2 * budgetMs)) {
    let t0 = now();
    a();
    sa.push(now() - t0);
    t0 = now();
    b();
    sb.push(now() - t0);
  }
  return [summarize(sa), summarize(sb)];
}

export interface AlternateOptions {
  /** timed rounds (each runs every variant once, in order); at least 1 */
  repeat: number;
  /** untimed, before the first round (e.g. one short run that sizes the allocators) */
  warmUp?: () => Promise<unknown> | unknown;
  /** called after each timed run: the variant's index, the round, the run's ms */
  onRun?: (variant: number, round: number, ms: number) => void;
  /** the clock (ms); performance.now by default, a synthetic one in tests */
  now?: () => number;
}

/** Async variants timed in rounds (A B C, A B C, ...) after an untimed warm-up: one Timing per variant. */
export async function alternate(variants: ReadonlyArray<() => Promise<unknown> | unknown>, options: AlternateOptions): Promise<Timing[]> {
  const { repeat, warmUp, onRun, now = () => performance.now() } = options;
  if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`repeat must be a positive integer, found ${repeat}`);
  if (warmUp) await warmUp();
  const samples: number[][] = variants.map(() => []);
  for (let round = 0; round < repeat; round++) {
    for (let v = 0; v < variants.length; v++) {
      const t0 = now();
      await variants[v]();
      const ms = now() - t0;
      samples[v].push(ms);
      onRun?.(v, round, ms);
    }
  }
  return samples.map(summarize);
}

export type OverheadVerdict = 'measured' | 'single-run' | 'within-noise' | 'disturbed';

export interface Overhead {
  /** wall speedup / evaluation speedup when it is a result (verdict measured or single-run), else null */
  ratio: number | null;
  /** the ratio as computed, whatever the verdict */
  rawRatio: number;
  /** the relative timing noise the ratio carries (sum of both variants' relativeSpread); null for one run */
  noise: number | null;
  verdict: OverheadVerdict;
  /** one sentence for people */
  note: string;
}

/**
 * What the overhead ratio of an accelerated run says. Forecast steps are never free, so a ratio above 1
 * (wall speedup above evaluation speedup) cannot be a result: it is the noise of the machine or a warm-up the
 * full run absorbed. With the variants' spreads known (repeat >= 2), a ratio within that noise of 1 is
 * reported as "within noise", a ratio above it as "disturbed"; only one below it is a measured overhead.
 */
export function overheadOf(evalSpeedup: number, full: Timing, accelerated: Timing): Overhead {
  const wallSpeedup = full.medianMs / accelerated.medianMs;
  const rawRatio = wallSpeedup / evalSpeedup;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const single = full.reps < 2 || accelerated.reps < 2;
  const noise = single ? null : relativeSpread(full) + relativeSpread(accelerated);
  if (rawRatio > 1 + (noise ?? 0)) {
    return {
      ratio: null, rawRatio, noise, verdict: 'disturbed',
      note: `wall speedup above evaluation speedup (ratio ${rawRatio.toFixed(3)}${noise === null ? '' : `, noise ${pct(noise)}`}): other load or warm-up disturbed the timing; rerun with --repeat 5 on an idle machine`,
    };
  }
  if (noise === null) {
    return { ratio: rawRatio, rawRatio, noise, verdict: 'single-run', note: `one timed run each: the spread is unknown; use --repeat 3 or more to judge the noise` };
  }
  if (rawRatio >= 1 - noise) {
    return { ratio: null, rawRatio, noise, verdict: 'within-noise', note: `overhead below the timing noise (ratio ${rawRatio.toFixed(3)}, noise ${pct(noise)})` };
  }
  return { ratio: rawRatio, rawRatio, noise, verdict: 'measured', note: `forecast steps and cache cost ${pct(1 - rawRatio)} of the ideal speedup (noise ${pct(noise)})` };
}
