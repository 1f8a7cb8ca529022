import { describe, expect, it } from 'vitest';
import { TaylorSeerBudgetError, TaylorSeerError } from '../lib/errors';
import { TaylorSeer, type TaylorSeerOptions } from '../lib/taylor-seer';
import { downgradeLadder } from '../lib/cache';
import { codeOf } from './helpers/code-of';
import { ResizableArrayBuffer } from './helpers/resizable';

const N = 1000; // elements per entry: f32 order 2 = 12,000 bytes, bf16 order 2 = 6,000
const schedule = { kind: 'fixed', steps: 20, interval: 3, warmup: 2 } as const;

function feature(step: number, key: string, n = N): Float32Array {
  const k = key.charCodeAt(key.length - 1) % 7;
  return Float32Array.from({ length: n }, (_, j) => Math.sin(0.05 * step * (1 + (j % 13)) + k) * (1 + j / n) + 0.01 * step * step);
}

/**
 * Runs the schedule with module() calls; `keysAt(step)` says which keys the model has at a step (a key
 * that appears later is an entry created mid-run). Returns the outputs, step by step.
 */
function run(seer: TaylorSeer, keysAt: (step: number) => string[]): number[][][] {
  const out: number[][][] = [];
  for (let s = 0; s < schedule.steps; s++) {
    seer.beginStep(s);
    out.push(keysAt(s).map((key) => Array.from(seer.module(key, () => feature(s, key)))));
  }
  return out;
}

const three = () => ['a', 'b', 'c'];
const make = (o: Partial<TaylorSeerOptions>) => new TaylorSeer({ schedule, maxOrder: 2, ...o });

describe('maxBytes with onBudget: error (the default)', () => {
  it('fails at the first update that would exceed it, saying what is needed and what would fit', () => {
    const seer = make({ maxBytes: 30_000 });
    seer.beginStep(0);
    seer.module('a', () => feature(0, 'a'));
    seer.module('b', () => feature(0, 'b'));
    let err: unknown;
    try {
      seer.module('c', () => feature(0, 'c'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TaylorSeerBudgetError);
    expect(err).toBeInstanceOf(TaylorSeerError);
    const b = err as TaylorSeerBudgetError;
    expect(b.code).toBe('ERR_BUDGET');
    expect(b.maxBytes).toBe(30_000);
    expect(b.needed).toBe(36_000);
    expect(b.fits).toEqual({ storage: 'bf16', maxOrder: 2, bytes: 18_000 });  // the first rung that fits
    expect(b.message).toContain('36000');
    expect(b.message).toContain('storage bf16, order 2');
    // Nothing allocated beyond the budget, nothing lost: the two entries are intact and the run goes on.
    expect(seer.stats.bytesHeld).toBe(24_000);
    expect(seer.stats.entries).toBe(2);
    expect(seer.stats.computes).toBe(2);
  });

  it('a run that stays within the budget is the same as an unbudgeted run', () => {
    const keys = () => ['a', 'b'];
    expect(run(make({ maxBytes: 24_000 }), keys)).toEqual(run(make({}), keys));
  });

  it('says when not even order 0 in i8 fits (fits is undefined)', () => {
    const seer = make({ maxBytes: 1000, onBudget: 'degrade' });
    seer.beginStep(0);
    let err: unknown;
    try {
      seer.module('a', () => feature(0, 'a'));
    } catch (e) {
      err = e;
    }
    expect((err as TaylorSeerBudgetError).code).toBe('ERR_BUDGET');
    expect((err as TaylorSeerBudgetError).fits).toBeUndefined();
    expect((err as Error).message).toMatch(/coarser granularity/);
    expect(seer.stats.entries).toBe(0);
    expect(seer.stats.layout).toEqual({ storage: 'f32', maxOrder: 2 });
  });
});

describe("maxBytes with onBudget: 'degrade'", () => {
  it('steps storage down first: the run then equals one that used bf16 from the start, bit for bit', () => {
    const seer = make({ maxBytes: 30_000, onBudget: 'degrade' });
    const got = run(seer, three);
    expect(got).toEqual(run(make({ storage: 'bf16' }), three));
    const st = seer.stats;
    expect(st.layout).toEqual({ storage: 'bf16', maxOrder: 2 });
    expect(st.bytesHeld).toBe(18_000);
    expect(st.budget.downgrades).toEqual([{ from: { storage: 'f32', maxOrder: 2 }, to: { storage: 'bf16', maxOrder: 2 }, neededBytes: 36_000, bytesAfter: 12_000, entries: 3 }]);
  });

  it('walks down one rung at a time as entries arrive: 9,500 bytes give bf16 (1 entry), i8 (2), i8 at order 1 (3)', () => {
    // per entry: f32 order 2 12,000 bytes, bf16 6,000, i8 4,176 (2,000 for d_0, 2 x 16 records of 68), i8 order 1 3,088
    const seer = make({ maxBytes: 9_500, onBudget: 'degrade' });
    const got = run(seer, three);
    const st = seer.stats;
    expect(st.budget.downgrades.map((d) => [d.entries, d.to])).toEqual([
      [1, { storage: 'bf16', maxOrder: 2 }],
      [2, { storage: 'i8', maxOrder: 2 }],
      [3, { storage: 'i8', maxOrder: 1 }],
    ]);
    expect(st.layout).toEqual({ storage: 'i8', maxOrder: 1 });
    expect(st.bytesHeld).toBe(3 * (2000 + 1088));
    // Every rung is taken at step 0, where only d_0 exists, and 'i8' keeps d_0 in bf16: the factors held
    // are what an i8 order-1 run holds, so the run is that run.
    expect(got).toEqual(run(make({ storage: 'i8', maxOrder: 1 }), three));
    expect(got).not.toEqual(run(make({ storage: 'i8', maxOrder: 2 }), three));
  });

  it('an entry created mid-run truncates the others to the lower order exactly (d_0..d_K\' are the lower order\'s factors)', () => {
    // 'c' first appears at step 13, a full step (N=3, W=2: full at 0, 1, 4, 7, 10, 13, ...)
    const keysAt = (s: number) => (s >= 13 ? ['a', 'b', 'c'] : ['a', 'b']);
    const seer = make({ storage: 'i8', maxBytes: 9_500, onBudget: 'degrade' });
    const got = run(seer, keysAt);
    expect(seer.stats.budget.downgrades.map((d) => d.to)).toEqual([{ storage: 'i8', maxOrder: 1 }]);
    // Before the downgrade it is the order-2 run; after, exactly the order-1 run.
    const o2 = run(make({ storage: 'i8' }), keysAt);
    const o1 = run(make({ storage: 'i8', maxOrder: 1 }), keysAt);
    expect(got.slice(0, 13)).toEqual(o2.slice(0, 13));
    expect(got.slice(13)).toEqual(o1.slice(13));
    expect(o2.slice(14)).not.toEqual(o1.slice(14)); // the orders do differ: the comparison can fail
  });

  it('the downgrade is kept across runs and reset() restores the configured layout', () => {
    const seer = make({ maxBytes: 30_000, onBudget: 'degrade' });
    run(seer, three);
    run(seer, three);
    expect(seer.stats.layout.storage).toBe('bf16');
    expect(seer.stats.budget.downgrades).toHaveLength(1);
    seer.reset();
    expect(seer.stats.layout).toEqual({ storage: 'f32', maxOrder: 2 });
    expect(seer.stats.budget.downgrades).toEqual([]);
  });
});

describe('maxBytes in a batched update (modulesAsync: one graph run returns every cached output)', () => {
  /** As run(), with all of a step's keys handed over together. */
  async function runBatched(seer: TaylorSeer, keysAt: (step: number) => string[]): Promise<number[][][]> {
    const out: number[][][] = [];
    for (let s = 0; s < schedule.steps; s++) {
      seer.beginStep(s);
      const keys = keysAt(s);
      const got = await seer.modulesAsync(keys, async () => keys.map((key) => feature(s, key)));
      out.push(got.map((t) => Array.from(t)));
    }
    return out;
  }

  it('counts every entry the update allocates together and fails before allocating any of them', async () => {
    const seer = make({ maxBytes: 30_000 });
    seer.beginStep(0);
    const err = await seer.modulesAsync(['a', 'b', 'c'], async () => three().map((key) => feature(0, key))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaylorSeerBudgetError);
    expect((err as TaylorSeerBudgetError).needed).toBe(36_000);
    expect((err as TaylorSeerBudgetError).fits).toEqual({ storage: 'bf16', maxOrder: 2, bytes: 18_000 });
    expect(seer.stats.bytesHeld).toBe(0);
    expect(seer.stats.entries).toBe(0);
  });

  it("with 'degrade' steps down once, before allocating: the run equals a bf16 run", async () => {
    const seer = make({ maxBytes: 30_000, onBudget: 'degrade' });
    const got = await runBatched(seer, three);
    expect(got).toEqual(run(make({ storage: 'bf16' }), three));
    expect(seer.stats.budget.downgrades).toEqual([{ from: { storage: 'f32', maxOrder: 2 }, to: { storage: 'bf16', maxOrder: 2 }, neededBytes: 36_000, bytesAfter: 0, entries: 3 }]);
    expect(seer.stats.bytesHeld).toBe(18_000);
  });

  it("with 'degrade', a batch one of whose entries fits no layout fails whole: no downgrade is kept for the entries before it", async () => {
    const seer = make({ maxBytes: 20_000, onBudget: 'degrade' });
    seer.beginStep(0);
    await seer.modulesAsync(['a'], async () => [feature(0, 'a')]); // 12,000 bytes in f32
    // 'b' alone would step the cache down to bf16 (24,000 -> 12,000); 'big' fits nowhere
    const err = await seer.modulesAsync(['b', 'big'], async () => [feature(0, 'b'), feature(0, 'big', 100_000)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaylorSeerBudgetError);
    expect((err as TaylorSeerBudgetError).fits).toBeUndefined();
    expect((err as Error).message).toMatch(/"big"/);
    expect(seer.stats.layout).toEqual({ storage: 'f32', maxOrder: 2 });
    expect(seer.stats.budget.downgrades).toEqual([]);
    expect(seer.stats.bytesByEntry.map((e) => [e.key, e.bytes])).toEqual([['a', 12_000]]);
    // the run goes on as if the batch had not been tried: 'a' keeps its f32 factors
    const keys = () => ['a'];
    const rest: number[][][] = [];
    for (let s = 1; s < schedule.steps; s++) {
      seer.beginStep(s);
      rest.push((await seer.modulesAsync(keys(), async () => [feature(s, 'a')])).map((t) => Array.from(t)));
    }
    expect(rest).toEqual(run(make({}), keys).slice(1));
  });
});

describe("with 'degrade', an update rejected after its downgrade was planned leaves the cache as it was", () => {
  // 'a' holds 12,000 bytes of f32 factors; 'b' would take the cache to 24,000 > 20,000: a bf16 downgrade
  const started = () => {
    const seer = make({ maxBytes: 20_000, onBudget: 'degrade', variable: 'time' });
    seer.beginStep(0, 0);
    seer.module('a', () => feature(0, 'a'));
    return seer;
  };
  const unchanged = (seer: TaylorSeer) => {
    expect(seer.stats.layout).toEqual({ storage: 'f32', maxOrder: 2 });
    expect(seer.stats.budget.downgrades).toEqual([]);
    expect(seer.stats.bytesByEntry.map((e) => [e.key, e.bytes])).toEqual([['a', 12_000]]);
  };

  it('an output the kernels refuse (a view on a resizable ArrayBuffer)', () => {
    const seer = started();
    const resizable = new Float32Array(new ResizableArrayBuffer(4 * N, { maxByteLength: 8 * N }), 0, N);
    expect(codeOf(() => seer.module('b', () => resizable))).toBe('ERR_INVALID_ARGUMENT');
    unchanged(seer);
  });

  it('a spacing of the sampler times that is 0 in float32 (1e-46)', async () => {
    const seer = started();
    seer.beginStep(1, 1e-46);
    const err = await seer.modulesAsync(['a', 'b'], async () => [feature(1, 'a'), feature(1, 'b')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaylorSeerError);
    expect((err as TaylorSeerError).code).toBe('ERR_STEP');
    expect((err as Error).message).toMatch(/spacing is a non-zero float32 \(got 1e-46\)/);
    unchanged(seer);
  });
});

describe('bytes per entry and in all', () => {
  it('stats and inspect() give each entry\'s bytes, and they add up', () => {
    const seer = make({ storage: 'bf16' });
    seer.beginStep(0);
    seer.module('a', () => feature(0, 'a'));
    seer.module('b', () => feature(0, 'b', 10), { context: 'uncond' });
    const st = seer.stats;
    expect(st.bytesByEntry).toEqual([
      { context: '', key: 'a', bytes: 3 * N * 2 },
      { context: 'uncond', key: 'b', bytes: 3 * 10 * 2 },
    ]);
    expect(st.bytesHeld).toBe(3 * N * 2 + 60);
    const list = seer.inspect();
    expect(list.map((e) => [e.bytes, e.factorBytes, e.stagingBytes])).toEqual([
      [6000, 6000, 0],
      [60, 60, 0],
    ]);
  });
});

describe('budget options are checked', () => {
  it.each([0, -1, 1.5, '1000', Number.NaN, Infinity])('maxBytes %s is ERR_INVALID_ARGUMENT', (maxBytes) => {
    expect(codeOf(() => make({ maxBytes: maxBytes as number }))).toBe('ERR_INVALID_ARGUMENT');
  });
  it('onBudget must be error or degrade', () => {
    expect(codeOf(() => make({ onBudget: 'shrink' as never }))).toBe('ERR_INVALID_ARGUMENT');
  });
  it('the downgrade order: storage first, then order down to 0', () => {
    expect(downgradeLadder({ storage: 'f32', maxOrder: 2 })).toEqual([
      { storage: 'bf16', maxOrder: 2 },
      { storage: 'i8', maxOrder: 2 },
      { storage: 'i8', maxOrder: 1 },
      { storage: 'i8', maxOrder: 0 },
    ]);
    expect(downgradeLadder({ storage: 'f16', maxOrder: 1 })).toEqual([
      { storage: 'i8', maxOrder: 1 },
      { storage: 'i8', maxOrder: 0 },
    ]);
    // at order 0 'i8' is no smaller than bf16 (d_0 is 16-bit in both): the ladder skips it
    expect(downgradeLadder({ storage: 'f32', maxOrder: 0 })).toEqual([{ storage: 'bf16', maxOrder: 0 }]);
    expect(downgradeLadder({ storage: 'i8', maxOrder: 0 })).toEqual([]);
  });
});
