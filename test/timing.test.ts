/**
 * The shared timing method (lib/bench/timing.ts) on a synthetic clock: runs alternate after an untimed
 * warm-up, medians and ranges are reported, and an overhead ratio is a result only when it stands out of
 * the timing noise.
 */
import { describe, expect, it } from 'vitest';
import { alternate, overheadOf, summarize, timePair, type Timing } from '../lib/bench/timing';

/** A clock that advances only when a run "takes" time. */
function syntheticClock() {
  let t = 0;
  return { now: () => t, spend: (ms: number) => void (t += ms) };
}

const timing = (samples: number[]): Timing => summarize(samples);

describe('alternate', () => {
  it('runs an untimed warm-up, then the variants in rounds (A B A B ...), and reports median and range per variant', async () => {
    const clock = syntheticClock();
    const order: string[] = [];
    // The first call of A is slow (a cold cache): the warm-up must absorb it, not A's timing.
    let aCalls = 0;
    const a = () => {
      order.push('A');
      clock.spend(aCalls++ === 0 ? 1000 : 100 + aCalls);
    };
    const bTimes = [50, 70, 60];
    let bCalls = 0;
    const b = () => {
      order.push('B');
      clock.spend(bTimes[bCalls++]);
    };
    const [ta, tb] = await alternate([a, b], { repeat: 3, warmUp: () => a(), now: clock.now });
    expect(order).toEqual(['A', 'A', 'B', 'A', 'B', 'A', 'B']);
    expect(ta).toEqual({ medianMs: 103, minMs: 102, maxMs: 104, reps: 3 });
    expect(tb).toEqual({ medianMs: 60, minMs: 50, maxMs: 70, reps: 3 });
  });

  it('rejects a repeat that is not a positive integer', async () => {
    await expect(alternate([() => undefined], { repeat: 0 })).rejects.toThrow(/repeat/);
  });
});

describe('timePair', () => {
  it('alternates the two functions after one untimed call of each', () => {
    const clock = syntheticClock();
    const order: string[] = [];
    const [ta, tb] = timePair(
      () => (order.push('a'), clock.spend(order.length === 1 ? 500 : 10)),
      () => (order.push('b'), clock.spend(20)),
      0,
      3,
      3,
      clock.now,
    );
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(ta.medianMs).toBe(10);
    expect(tb.medianMs).toBe(20);
  });
});

describe('overheadOf', () => {
  it('reports a ratio below 1 that stands out of the noise as a measured overhead', () => {
    // full 1000 ms, accelerated 300 ms at a 4x evaluation speedup: wall 3.33x, ratio 0.83, noise 2%
    const o = overheadOf(4, timing([990, 1000, 1010]), timing([297, 300, 303]));
    expect(o.verdict).toBe('measured');
    expect(o.ratio).toBeCloseTo(1000 / 300 / 4, 12);
    expect(o.noise).toBeCloseTo(0.01 + 0.01, 12);
  });

  it('never reports a ratio above 1 as a result: the full run was disturbed (e.g. it absorbed a warm-up)', () => {
    const o = overheadOf(4, timing([1100, 1200, 1150]), timing([250, 251, 252]));
    expect(o.rawRatio).toBeGreaterThan(1);
    expect(o.verdict).toBe('disturbed');
    expect(o.ratio).toBeNull();
    expect(o.note).toMatch(/--repeat/);
    // one run each: the same
    const single = overheadOf(4, timing([1200]), timing([250]));
    expect(single.verdict).toBe('disturbed');
    expect(single.ratio).toBeNull();
  });

  it('says "within noise" when the ratio is closer to 1 than the runs spread', () => {
    // ratio 0.97, but the accelerated runs spread by +-10%
    const o = overheadOf(4, timing([1000, 1000, 1000]), timing([232, 258, 284]));
    expect(o.rawRatio).toBeCloseTo(1000 / 258 / 4, 12);
    expect(o.verdict).toBe('within-noise');
    expect(o.ratio).toBeNull();
  });

  it('gives one run a ratio but says that its spread is unknown', () => {
    const o = overheadOf(4, timing([1000]), timing([300]));
    expect(o.verdict).toBe('single-run');
    expect(o.ratio).toBeCloseTo(1000 / 300 / 4, 12);
    expect(o.noise).toBeNull();
  });
});
