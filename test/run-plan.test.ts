/**
 * The run plan (lib/run-plan.ts): every step's counts and divisors / coefficients computed ahead from a
 * schedule known in advance must be exactly what the hook's cache computes step by step, for the reference
 * setting and the other variables; schedules that decide online have no plan. The Python benchmark
 * harness (bench/e2e/plan.py) derives the same plan independently and must agree with it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { TaylorSeerError } from '../lib/errors';
import { forecastCoeffs } from '../lib/expansion';
import { TaylorSeer } from '../lib/taylor-seer';
import { PLAN_ROW, planRun } from '../lib/run-plan';
import { AdaptiveSchedule, FixedSchedule, MaskSchedule } from '../lib/schedule';
import { codeOf } from './helpers/code-of';

const fixed50 = new FixedSchedule({ steps: 50, interval: 6, warmup: 3 });

describe('planRun', () => {
  it('gives the reference setting (50 steps, N=6, W=3, order 2) its full steps, counts, divisors and coefficients', () => {
    const plan = planRun(fixed50, { maxOrder: 2, variable: 'step' });
    expect(plan.steps.filter((p) => p.full).map((p) => p.step)).toEqual([0, 1, 2, 8, 14, 20, 26, 32, 38, 44]);
    expect(plan.steps.filter((p) => p.full).map((p) => [p.oldCount, p.count])).toEqual([
      [0, 1], [1, 1], [1, 2], [2, 3], [3, 3], [3, 3], [3, 3], [3, 3], [3, 3], [3, 3],
    ]);
    expect(plan.steps[8].values).toEqual([6, 6]); // every order divides by the latest spacing
    expect(plan.steps[11]).toEqual({ step: 11, full: false, oldCount: 3, count: 3, values: [1, 3, 4.5] });
    expect(plan.steps[4]).toEqual({ step: 4, full: false, oldCount: 2, count: 2, values: [1, 2] });
    expect(plan.values.length).toBe(50 * PLAN_ROW);
    expect(Array.from(plan.values.subarray(11 * PLAN_ROW, 12 * PLAN_ROW))).toEqual([1, 3, 4.5, 0, 0]);
  });

  it.each([
    ['step', undefined],
    ['time', Array.from({ length: 30 }, (_, s) => 1 - (s / 30) ** 1.3)],
    ['newton', Array.from({ length: 30 }, (_, s) => 1 - (s / 30) ** 1.3)],
  ] as const)("equals, step by step, what the hook's cache computes (variable '%s', mask schedule, order 3)", (variable, times) => {
    const schedule = { kind: 'mask', steps: 30, full: [0, 1, 2, 3, 7, 8, 13, 19, 24, 29], warmup: 2 } as const;
    const plan = planRun(new MaskSchedule(schedule), { maxOrder: 3, variable, times });
    const seer = new TaylorSeer({ schedule, maxOrder: 3, variable });
    for (let s = 0; s < 30; s++) {
      seer.beginStep(s, times?.[s]);
      const before = seer.inspect()[0];
      seer.module('m', () => Float32Array.from({ length: 4 }, (_, j) => Math.cos(s * 0.1 + j)));
      const after = seer.inspect()[0];
      const p = plan.steps[s];
      expect(p.full).toBe(seer.isFull);
      expect(p.oldCount).toBe(before?.count ?? 0);
      expect(p.count).toBe(after.count);
      const node = { step: s, t: times ? times[s] : Number.NaN };
      if (!p.full) expect(p.values).toEqual(forecastCoeffs(variable, after.history, after.count, node));
      else expect(p.values.length).toBe(p.count - 1);
    }
  });

  it('refuses schedules that decide online, missing times and a forecast step 0', () => {
    const adaptive = new AdaptiveSchedule({ steps: 20, warmup: 3, tolerance: 0.1 });
    expect(() => planRun(adaptive, { maxOrder: 2, variable: 'step' })).toThrow(TaylorSeerError);
    expect(codeOf(() => planRun(adaptive, { maxOrder: 2, variable: 'step' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => planRun(fixed50, { maxOrder: 2, variable: 'time' }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => planRun(fixed50, { maxOrder: 2, variable: 'time', times: [1, 0.5] }))).toBe('ERR_INVALID_ARGUMENT');
    const nan = Array.from({ length: 50 }, (_, s) => (s === 7 ? Number.NaN : 1 - s / 50));
    expect(codeOf(() => planRun(fixed50, { maxOrder: 2, variable: 'time', times: nan }))).toBe('ERR_NON_FINITE');
    expect(codeOf(() => planRun(fixed50, { maxOrder: 5, variable: 'step' }))).toBe('ERR_ORDER');
    const custom = { kind: 'custom', steps: 3, warmup: 1, isFull: () => true, fullSteps: () => [1, 2], describe: () => 'custom' };
    expect(codeOf(() => planRun(custom, { maxOrder: 1, variable: 'step' }))).toBe('ERR_STEP');
    expect(codeOf(() => planRun({ ...custom, fullSteps: () => 'all' as never }, { maxOrder: 1, variable: 'step' }))).toBe('ERR_INVALID_ARGUMENT');
  });

  it("reads a custom schedule's steps once and bounds them: a getter that grows after construction allocates nothing", () => {
    let reads = 0;
    const growing = { kind: 'custom', warmup: 1, isFull: () => true, fullSteps: () => [0], describe: () => 'growing', get steps() { return ++reads <= 2 ? 10 : 4e8; } };
    const seer = new TaylorSeer({ schedule: growing, maxOrder: 1 });
    expect(codeOf(() => seer.prepareRun())).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('TaylorSeer.prepareRun', () => {
  it('returns the plan and leaves every output unchanged (host)', () => {
    const opts = { schedule: { kind: 'fixed', steps: 20, interval: 4, warmup: 2 }, maxOrder: 2 } as const;
    const outputs = (prepare: boolean): number[][] => {
      const seer = new TaylorSeer(opts);
      if (prepare) expect(seer.prepareRun().steps.length).toBe(20);
      const out: number[][] = [];
      for (let s = 0; s < 20; s++) {
        seer.beginStep(s);
        out.push(Array.from(seer.module('m', () => Float32Array.from({ length: 8 }, (_, j) => Math.sin(0.2 * s + j)))));
      }
      return out;
    };
    expect(outputs(true)).toEqual(outputs(false));
  });

  it('checks its options', () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 3, warmup: 2 }, maxOrder: 1, variable: 'time' });
    expect(codeOf(() => seer.prepareRun())).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => seer.prepareRun({ times: [1, 2, 3] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => seer.prepareRun({ grid: [] } as never))).toBe('ERR_INVALID_ARGUMENT');
    expect(seer.prepareRun({ times: Array.from({ length: 10 }, (_, s) => 1 - s / 10) }).steps[9].count).toBe(2);
  });
});

// The benchmark harness's own plan (Python, no PyTorch needed): the same numbers from an independent derivation.
const python = spawnSync('python3', ['-c', 'import json'], { encoding: 'utf8' }).status === 0;
describe.skipIf(!python)('bench/e2e/plan.py', () => {
  it.each([
    [50, 6, 3, 2],
    [50, 5, 3, 3],
    [28, 4, 1, 4],
  ])('matches planRun for the fixed schedule (steps %i, N=%i, W=%i, order %i)', (steps, interval, warmup, order) => {
    const r = spawnSync('python3', [path.join(__dirname, '..', 'bench', 'e2e', 'plan.py'), ...[steps, interval, warmup, order].map(String)], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const py = JSON.parse(r.stdout) as Array<{ step: number; full: boolean; old_count: number; count: number; row: number[] }>;
    const plan = planRun(new FixedSchedule({ steps, interval, warmup }), { maxOrder: order, variable: 'step' });
    expect(py.map((p) => [p.step, p.full, p.old_count, p.count])).toEqual(plan.steps.map((p) => [p.step, p.full, p.oldCount, p.count]));
    py.forEach((p, s) => expect(Float32Array.from(p.row)).toEqual(plan.values.subarray(s * PLAN_ROW, (s + 1) * PLAN_ROW)));
  });
});
