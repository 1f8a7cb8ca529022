/**
 * Indirect launches through the addon (options.values): the kernels read each entry's divisors /
 * coefficients from a DeviceTensor when they run. The result must be bit-identical to the direct launch
 * with the same values, a later change of the values must be seen by the next launch of the same entries,
 * and every read must lie inside the values tensor. The hook's prepareRun() on 'cuda' (plan values on the
 * device, launches read from there) must not change a single output. Skips without a usable device.
 */
import { describe, expect, it } from 'vitest';

import { TaylorSeer } from '../../lib/taylor-seer';
import type { DeviceTensor, NativeAddon } from '../../lib/native';
import { addon, cudaUsable, expectCode, seed } from './helpers';
import { alloc, type Arr, firstDiff, randomArray, rng } from '../oracle/device-kernels';

describe.skipIf(!cudaUsable)('indirect launches (options.values)', () => {
  const cuda = addon?.cuda as NativeAddon['cuda'];
  const r = rng(seed);
  const live: DeviceTensor[] = [];
  function dev(d: 'f32' | 'bf16', host: Arr): DeviceTensor {
    const t = cuda.alloc(d, host.length);
    live.push(t);
    cuda.upload(t, host);
    return t;
  }
  async function back(d: 'f32' | 'bf16', t: DeviceTensor): Promise<Arr> {
    const a = alloc(d, t.length);
    await cuda.download(t, a);
    return a;
  }

  it('forecast: = the direct launch, bit for bit, per-entry rows and a shared row, values re-read each launch', async () => {
    const n = 3001;
    const f1 = dev('bf16', randomArray('bf16', 3 * n, r));
    const f2 = dev('bf16', randomArray('bf16', 2 * n, r));
    const o1 = dev('bf16', alloc('bf16', n));
    const o2 = dev('bf16', alloc('bf16', n));
    const values = dev('f32', new Float32Array(10));
    for (let run = 0; run < 3; run++) {
      // the same tensor, new contents: the next launch of the same entries reads them
      const rows = Float32Array.from({ length: 10 }, () => (r() - 0.5) * 4);
      cuda.upload(values, rows);
      for (const stride of [5, 0]) {
        addon!.forecast('bf16', 'bf16', [{ factors: f1, out: o1, count: 3, coeffs: [] }, { factors: f2, out: o2, count: 2, coeffs: [] }], { values, stride });
        const got = [await back('bf16', o1), await back('bf16', o2)];
        const c2 = stride ? Array.from(rows.subarray(5, 7)) : Array.from(rows.subarray(0, 2));
        addon!.forecast('bf16', 'bf16', [{ factors: f1, out: o1, count: 3, coeffs: Array.from(rows.subarray(0, 3)) }, { factors: f2, out: o2, count: 2, coeffs: c2 }]);
        expect(firstDiff(got[0], await back('bf16', o1)), `seed ${seed} run ${run} stride ${stride}`).toBe(-1);
        expect(firstDiff(got[1], await back('bf16', o2)), `seed ${seed} run ${run} stride ${stride}`).toBe(-1);
      }
    }
    for (const t of live.splice(0)) t.dispose();
  });

  it('update: = the direct launch, bit for bit (offset into a table of rows)', async () => {
    const n = 4099;
    const start = randomArray('f32', 3 * n, r);
    const fresh = dev('f32', randomArray('f32', n, r));
    const table = Float32Array.from([0, 0, 0, 0, 0, 6, 6, 0, 0, 0]); // row 1: divisors 6, 6
    const values = dev('f32', table);
    const a = dev('f32', start);
    const b = dev('f32', start);
    addon!.update('f32', 'f32', [{ factors: a, fresh, oldCount: 2, newCount: 3 }], { values, offset: 5 });
    addon!.update('f32', 'f32', [{ factors: b, fresh, oldCount: 2, newCount: 3, divisors: [6, 6] }]);
    expect(firstDiff(await back('f32', a), await back('f32', b))).toBe(-1);
    for (const t of live.splice(0)) t.dispose();
  });

  it('rejects reads past the end of the values and values written by an entry', () => {
    const f = dev('f32', randomArray('f32', 3 * 100, r));
    const o = dev('f32', alloc('f32', 100));
    const values = dev('f32', new Float32Array(4));
    expectCode(() => addon!.forecast('f32', 'f32', [{ factors: f, out: o, count: 3, coeffs: [] }], { values, offset: 2 }), 'ERR_LENGTH');
    expectCode(() => addon!.forecast('f32', 'f32', [{ factors: f, out: o, count: 1, coeffs: [] }, { factors: f, out: values, count: 1, coeffs: [], n: 4 }], { values, stride: 1 }), 'ERR_INVALID_ARGUMENT');
    for (const t of live.splice(0)) t.dispose();
  });

  it('TaylorSeer.prepareRun() on cuda: the same outputs as without it, the plan counted in bytesHeld', async () => {
    const opts = { schedule: { kind: 'fixed', steps: 30, interval: 5, warmup: 3 }, maxOrder: 2, device: 'cuda', storage: 'bf16' } as const;
    const feature = (s: number) => Float32Array.from({ length: 2 * 8 * 64 }, (_, j) => Math.sin(0.05 * s * ((j % 13) + 1)) + 0.01 * s);
    const gate = Float32Array.from({ length: 2 * 64 }, (_, j) => 0.5 + (j % 7) * 0.1);
    const outputs = async (prepare: boolean) => {
      const seer = new TaylorSeer(opts);
      const before = seer.stats.bytesHeld;
      if (prepare) {
        seer.prepareRun();
        expect(seer.stats.bytesHeld - before).toBe(30 * 5 * 4);
      }
      const out: number[][] = [];
      for (let s = 0; s < 30; s++) {
        seer.beginStep(s);
        out.push(Array.from(await seer.moduleAsync('m', async () => feature(s))));
        const h = Float32Array.from(feature(s + 100));
        await seer.gatedResidual('g', () => feature(s + 7), h, gate, { batch: 2, tokens: 8, dim: 64 });
        out.push(Array.from(h));
      }
      seer.dispose();
      return out;
    };
    expect(await outputs(true)).toEqual(await outputs(false));
  });
});
