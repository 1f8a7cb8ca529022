/**
 * The hook under random use: option sets (mostly valid, some with any field wrong) and call sequences
 * (mostly well-formed steps, mixed with calls out of order, wrong arrays, shapes and keys, reset, dispose).
 * Every call succeeds or throws a TaylorSeerError, and a rejected call changes neither `stats` nor
 * `inspect()`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaylorSeerError } from '../lib/errors';
import { TaylorSeer } from '../lib/taylor-seer';

const weird = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(NaN, Infinity, -1, 0, 0.5, 2 ** 53, 1e300, 3, 7),
  fc.string({ maxLength: 3 }),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
);

const validOptions = fc.record({
  schedule: fc.oneof(
    fc.record({ kind: fc.constant('fixed'), steps: fc.integer({ min: 2, max: 12 }), interval: fc.integer({ min: 1, max: 4 }), warmup: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('adaptive'), steps: fc.integer({ min: 4, max: 12 }), warmup: fc.integer({ min: 1, max: 3 }), tolerance: fc.double({ min: 0.01, max: 1, noNaN: true }) }),
    fc.record({ kind: fc.constant('mask'), steps: fc.integer({ min: 2, max: 12 }), full: fc.constant([0, 1, 4, 7]) }),
  ),
  maxOrder: fc.integer({ min: 0, max: 4 }),
  storage: fc.constantFrom('f32', 'f16', 'bf16', 'i8'),
  activation: fc.constantFrom('f32', 'f32', 'bf16'),
  checkFinite: fc.boolean(),
  maxBytes: fc.option(fc.integer({ min: 0, max: 4096 }), { nil: undefined }),
  onBudget: fc.constantFrom('error', 'degrade'),
});
// a valid set with one field replaced by anything
const options = fc.oneof(
  { weight: 4, arbitrary: validOptions },
  { weight: 1, arbitrary: fc.tuple(validOptions, fc.constantFrom('schedule', 'maxOrder', 'variable', 'storage', 'activation', 'checkFinite', 'maxBytes', 'onBudget', 'device'), weird).map(([o, k, v]) => ({ ...o, [k]: v })) },
);

const array = fc.oneof(
  fc.integer({ min: 0, max: 30 }).map((n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i))),
  fc.integer({ min: 0, max: 30 }).map((n) => new Uint16Array(n).fill(0x3c00)),
  fc.constant(Float32Array.from([NaN, 1, 2, 3])),
  fc.constant(new Float64Array(8)),
  weird,
);
const call = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ op: 'step' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('begin' as const), step: fc.oneof(fc.integer({ min: -1, max: 13 }), weird), t: fc.oneof(fc.double({ min: 0, max: 1 }), weird) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('module' as const), key: fc.oneof(fc.constantFrom('m', 'n'), weird), out: array, context: fc.oneof(fc.constantFrom('', 'u'), weird) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('gated' as const),
      key: fc.constantFrom('m', 'g'),
      out: array,
      h: array,
      gate: array,
      shape: fc.oneof(fc.record({ batch: fc.integer({ min: 0, max: 3 }), tokens: fc.integer({ min: 0, max: 5 }), dim: fc.integer({ min: 0, max: 8 }) }), weird),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('reset' as const, 'prepare' as const, 'dispose' as const) }) },
);

describe('the hook under random use', () => {
  it('1000 random option sets and call sequences: success or a TaylorSeerError that changes neither stats nor inspect()', async () => {
    const outcomes = { ok: 0, rejected: 0 };
    await fc.assert(
      fc.asyncProperty(options, fc.array(call, { maxLength: 24 }), async (o, calls) => {
        let seer: TaylorSeer<'f32' | 'bf16'> | undefined;
        const state = () => {
          try {
            return JSON.stringify([seer?.stats, seer?.inspect()]);
          } catch (e) {
            expect((e as TaylorSeerError).code).toBe('ERR_DISPOSED');
            return 'disposed';
          }
        };
        const attempt = async (f: () => unknown) => {
          const before = state();
          try {
            await f();
            outcomes.ok++;
          } catch (e) {
            expect(e).toBeInstanceOf(TaylorSeerError);
            expect(state()).toBe(before);
            outcomes.rejected++;
          }
        };
        await attempt(() => (seer = new TaylorSeer(o as never)));
        if (!seer) return;
        const s = seer;
        const act = (o as { activation?: unknown }).activation === 'bf16' ? 'bf16' : 'f32';
        const tensor = (n: number, v: number) => (act === 'f32' ? Float32Array.from({ length: n }, (_, i) => Math.sin(i + v)) : new Uint16Array(n).fill(0x3c00 + (v & 7)));
        for (const c of calls) {
          if (c.op === 'step') {
            // a well-formed step: the next step, a module in two contexts, a gated residual [2, 3, 4]
            let next = 0;
            await attempt(() => (next = (s.step ?? -1) + 1));
            await attempt(() => s.beginStep(next, 1 - next / 12));
            await attempt(() => s.module('m', () => tensor(12, next) as never));
            await attempt(() => s.module('m', () => tensor(12, next) as never, { context: 'u' }));
            await attempt(() => s.gatedResidual('g', () => tensor(24, next) as never, tensor(24, 1) as never, tensor(8, 2) as never, { batch: 2, tokens: 3, dim: 4 }));
          } else if (c.op === 'begin') await attempt(() => s.beginStep(c.step as never, c.t as never));
          else if (c.op === 'module') await attempt(() => s.module(c.key as never, () => c.out as never, { context: c.context as never }));
          else if (c.op === 'gated') await attempt(() => s.gatedResidual(c.key, () => c.out as never, c.h as never, c.gate as never, c.shape as never));
          else if (c.op === 'reset') await attempt(() => s.reset());
          else if (c.op === 'prepare') await attempt(() => s.prepareRun());
          else await attempt(() => s.dispose());
        }
        await attempt(() => s.dispose());
      }),
      { numRuns: 1000, seed: 3 },
    );
    // both kinds happen in earnest
    expect(outcomes.ok).toBeGreaterThan(5000);
    expect(outcomes.rejected).toBeGreaterThan(1000);
  }, 60_000);
});
