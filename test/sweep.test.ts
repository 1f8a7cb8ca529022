/** The sweep's enumeration of schedules at equal compute, its summary, and the shared schedule flags. */
import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../lib/cli/schedule-args';
import { adaptiveWithBudget, fixedWithBudget, summarise, type SweepRow } from '../lib/cli/commands/sweep';
import { createSchedule } from '../lib/schedule';
import { codeOf } from './helpers/code-of';

describe('fixed schedules at a budget', () => {
  it.each([8, 10, 12, 18])('every one spends exactly %i full steps of 50, and all (interval, warm-up 1-3, cool-down 0-2) that do are listed', (budget) => {
    const list = fixedWithBudget(50, budget);
    expect(list.length).toBeGreaterThan(0);
    for (const s of list) expect(createSchedule(s).fullSteps()!.length).toBe(budget);
    let all = 0;
    for (let w = 1; w <= 3; w++)
      for (let c = 0; c <= 2; c++)
        for (let n = 2; n <= 50; n++) if (createSchedule({ kind: 'fixed', steps: 50, interval: n, warmup: w, cooldown: c }).fullSteps()!.length === budget) all++;
    expect(list).toHaveLength(all);
  });

  it('lists the adaptive schedules whose warm-up and cool-down fit the budget', () => {
    expect(adaptiveWithBudget(50, 10, [1, 3], [0, 1]).map((s) => [s.kind, (s as { warmup: number }).warmup, (s as { cooldown: number }).cooldown])).toEqual([
      ['adaptive', 1, 0], ['adaptive', 1, 1], ['adaptive', 3, 0], ['adaptive', 3, 1],
    ]);
    expect(adaptiveWithBudget(50, 3, [1, 3], [0, 1])).toHaveLength(3);
  });
});

describe('sweep summary', () => {
  const row = (budget: number, kind: 'fixed' | 'adaptive', psnr: number, order = 2): SweepRow => ({
    shift: 3, budget, order, variable: 'time', psnr, ssim: 1, relL2: 0, wallMs: 1, fullSteps: budget, fullStepList: [], evalSpeedup: 50 / budget,
    schedule: kind === 'fixed' ? { kind, steps: 50, interval: 5, warmup: 1, cooldown: 0 } : { kind, steps: 50, warmup: 1, budget },
  });
  it('compares the best fixed with the best adaptive configuration per budget', () => {
    const s = summarise([row(10, 'fixed', 40), row(10, 'fixed', 42, 1), row(10, 'adaptive', 43), row(10, 'adaptive', 41), row(12, 'fixed', 45)]);
    expect(s).toHaveLength(2);
    expect(s[0].bestFixed).toMatchObject({ psnr: 42, order: 1 });
    expect(s[0].bestAdaptive).toMatchObject({ psnr: 43 });
    expect(s[0].gain).toBeCloseTo(1);
    expect(s[1].bestAdaptive).toBeNull();
    expect(s[1].gain).toBeNull();
  });
});

describe('schedule flags (eval, sweep)', () => {
  it('builds each kind of schedule', () => {
    expect(parseSchedule({ schedule: 'fixed', interval: '6', warmup: '3' }, 50)).toEqual({ kind: 'fixed', steps: 50, interval: 6, warmup: 3, cooldown: 0 });
    expect(parseSchedule({ schedule: 'mask', full: '0,1,5' }, 50)).toEqual({ kind: 'mask', steps: 50, full: [0, 1, 5], warmup: 0 });
    expect(parseSchedule({ schedule: 'adaptive', budget: '12', warmup: '1', cooldown: '1' }, 50)).toEqual({ kind: 'adaptive', steps: 50, warmup: 1, cooldown: 1, budget: 12 });
    expect(parseSchedule({ schedule: 'adaptive', tolerance: '0.05', 'max-interval': '8' }, 50)).toMatchObject({ tolerance: 0.05, maxInterval: 8, warmup: 3 });
  });

  it.each([
    ['adaptive without budget or tolerance', { schedule: 'adaptive' }],
    ['adaptive with both', { schedule: 'adaptive', budget: '10', tolerance: '0.1' }],
    ['a budget below warm-up + cool-down', { schedule: 'adaptive', budget: '2', warmup: '3' }],
    ['--budget with a fixed schedule', { schedule: 'fixed', budget: '10' }],
    ['--interval with an adaptive schedule', { schedule: 'adaptive', budget: '10', interval: '5' }],
    ['a mask without step 0', { schedule: 'mask', full: '1,2' }],
    ['an unknown kind', { schedule: 'random' }],
    ['a negative tolerance', { schedule: 'adaptive', tolerance: '-1' }],
  ])('rejects %s with a one-line typed error', (_, flags) => {
    expect(codeOf(() => parseSchedule(flags, 50))).toBe('ERR_INVALID_ARGUMENT');
  });
});
