import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FixedSchedule, MaskSchedule, createSchedule, type Schedule } from '../lib/schedule';
import { refFullSteps } from './oracle/reference';
import { codeOf } from './helpers/code-of';

describe('fixed schedule', () => {
  it('reproduces the documented example: 50 steps, W=3, N=6', () => {
    const s = createSchedule({ kind: 'fixed', steps: 50, interval: 6, warmup: 3 });
    expect(s.fullSteps()).toEqual([0, 1, 2, 8, 14, 20, 26, 32, 38, 44]);
    expect(s.warmup).toBe(3);
    expect(s.describe()).toBe('fixed(steps=50, interval=6, warmup=3, cooldown=0): 10 full of 50');
  });

  it('matches the reference counter loop for random (steps, N, W, C)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }).chain((steps) =>
          fc.record({
            steps: fc.constant(steps),
            interval: fc.integer({ min: 1, max: 15 }),
            warmup: fc.integer({ min: 1, max: steps }),
            cooldown: fc.integer({ min: 0, max: steps }),
          }),
        ),
        (o) => {
          const s = createSchedule({ kind: 'fixed', ...o });
          const expected = refFullSteps(o);
          expect(Array.from({ length: o.steps }, (_, i) => s.isFull(i))).toEqual(expected);
          expect(s.fullSteps()).toEqual(expected.flatMap((f, i) => (f ? [i] : [])));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('answers any step in any order (it keeps no state)', () => {
    const s = new FixedSchedule({ steps: 30, interval: 4, warmup: 2, cooldown: 3 });
    const forward = Array.from({ length: 30 }, (_, i) => s.isFull(i));
    const backward = Array.from({ length: 30 }, (_, i) => s.isFull(29 - i)).reverse();
    expect(backward).toEqual(forward);
    expect(s.fullSteps()).toEqual([0, 1, 5, 9, 13, 17, 21, 25, 27, 28, 29]);
  });

  it('interval 1 computes every step', () => {
    expect(createSchedule({ kind: 'fixed', steps: 5, interval: 1, warmup: 1 }).fullSteps()).toEqual([0, 1, 2, 3, 4]);
  });

  it.each([
    [{ steps: 0, interval: 6, warmup: 1 }, 'ERR_INVALID_ARGUMENT', /steps must be >= 1, got 0/],
    [{ steps: 10, interval: 0, warmup: 1 }, 'ERR_INVALID_ARGUMENT', /interval must be >= 1/],
    [{ steps: 10, interval: 2.5, warmup: 1 }, 'ERR_INVALID_ARGUMENT', /interval must be an integer, got 2.5/],
    [{ steps: 10, interval: 2, warmup: 0 }, 'ERR_INVALID_ARGUMENT', /warmup must be in 1..10, got 0/],
    [{ steps: 10, interval: 2, warmup: 11 }, 'ERR_INVALID_ARGUMENT', /warmup must be in 1..10/],
    [{ steps: 10, interval: 2, warmup: 1, cooldown: -1 }, 'ERR_INVALID_ARGUMENT', /cooldown must be in 0..10/],
    [{ steps: 10, interval: 2, warmup: 1, fresh_threshold: 3 }, 'ERR_INVALID_ARGUMENT', /unknown option "fresh_threshold"/],
    [{ steps: '10', interval: 2, warmup: 1 }, 'ERR_INVALID_ARGUMENT', /steps must be an integer, got "10"/],
  ])('rejects %j with %s', (o, code, message) => {
    const call = () => createSchedule({ kind: 'fixed', ...(o as object) } as never);
    expect(codeOf(call)).toBe(code);
    expect(call).toThrow(message);
  });

  it('rejects steps outside the run with ERR_STEP, and non-integers with ERR_INVALID_ARGUMENT', () => {
    const s = createSchedule({ kind: 'fixed', steps: 10, interval: 2, warmup: 1 });
    expect(codeOf(() => s.isFull(10))).toBe('ERR_STEP');
    expect(codeOf(() => s.isFull(-1))).toBe('ERR_STEP');
    expect(codeOf(() => s.isFull(1.5))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('mask schedule', () => {
  it('runs exactly the listed steps, in any listed order', () => {
    const s = createSchedule({ kind: 'mask', steps: 10, full: [5, 0, 1, 9] });
    expect(s.fullSteps()).toEqual([0, 1, 5, 9]);
    expect(Array.from({ length: 10 }, (_, i) => s.isFull(i))).toEqual([true, true, false, false, false, true, false, false, false, true]);
    expect(s.describe()).toBe('mask(steps=10, warmup=0): 4 full of 10 [0,1,5,9]');
  });

  it('has warm-up 0 unless given (every full step after the first grows the order)', () => {
    expect(createSchedule({ kind: 'mask', steps: 10, full: [0] }).warmup).toBe(0);
    expect(new MaskSchedule({ steps: 10, full: [0, 1, 2], warmup: 3 }).warmup).toBe(3);
  });

  it('equals the fixed schedule when given its full steps', () => {
    const fixed = createSchedule({ kind: 'fixed', steps: 50, interval: 6, warmup: 3 });
    const mask = createSchedule({ kind: 'mask', steps: 50, full: fixed.fullSteps()!, warmup: 3 });
    expect(Array.from({ length: 50 }, (_, i) => mask.isFull(i))).toEqual(Array.from({ length: 50 }, (_, i) => fixed.isFull(i)));
  });

  it.each([
    [{ steps: 10, full: [1, 2] }, /must contain step 0/],
    [{ steps: 10, full: [0, 3, 3] }, /lists step 3 twice/],
    [{ steps: 10, full: [0, 10] }, /full\[1\] must be in 0..9, got 10/],
    [{ steps: 10, full: [0, 0.5] }, /full\[1\] must be an integer/],
    [{ steps: 10, full: '0,1' }, /full must be an array/],
    [{ steps: 10, full: [0], warmup: 11 }, /warmup must be in 0..10/],
  ])('rejects %j', (o, message) => {
    const call = () => createSchedule({ kind: 'mask', ...(o as object) } as never);
    expect(codeOf(call)).toBe('ERR_INVALID_ARGUMENT');
    expect(call).toThrow(message);
  });
});

describe('createSchedule', () => {
  it('rejects an unknown kind or a non-object', () => {
    expect(codeOf(() => createSchedule({ kind: 'random', steps: 3 } as never))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => createSchedule({ kind: 'random', steps: 3 } as never)).toThrow(/kind must be "fixed", "mask" or "adaptive"/);
    expect(codeOf(() => createSchedule(null as never))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('returns a custom Schedule object as is, after checking its shape', () => {
    const custom: Schedule = {
      kind: 'every-other',
      steps: 4,
      warmup: 1,
      isFull: (s) => s % 2 === 0,
      fullSteps: () => [0, 2],
      describe: () => 'every other step',
    };
    expect(createSchedule(custom)).toBe(custom);
    expect(codeOf(() => createSchedule({ ...custom, steps: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => createSchedule({ ...custom, describe: 'x' } as never))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => createSchedule({ ...custom, observe: 1 } as never))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('schedules are pure TypeScript: nothing under lib/schedule imports the native addon', () => {
    const dir = path.join(__dirname, '../lib/schedule');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      expect(readFileSync(path.join(dir, file), 'utf8'), file).not.toMatch(/from '\.\.\/(native|cache|hook)'/);
    }
  });
});
