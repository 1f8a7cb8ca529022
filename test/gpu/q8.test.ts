/**
 * 8-bit factors ('i8': d_0 in bf16, the differences in 64-element records, cuda/taylorseer.h) on the GPU:
 * the CUDA update writes the bytes the CPU kernels write and the forecast the same output bits, for every
 * activation dtype, counts 1..5, odd lengths and a misaligned view, plain and gated; a budget downgrade on
 * 'cuda' can reach 'i8' (the hook's 'i8' runs against the CPU are in seer.test.ts). The CPU kernels'
 * records are checked against the format's definition in test/native/q8.test.ts.
 * Skips without a usable device.
 */
import { describe, expect, it } from 'vitest';

import { factorUnits, type DeviceTensor, type Dtype, type HostFactors, type NativeAddon } from '../../lib/native';
import { TaylorSeer } from '../../lib/taylor-seer';
import { alloc, type Arr, firstDiff, randomArray, rng } from '../oracle/device-kernels';
import { relErr } from '../oracle/reference';
import { addon, checkSizes, cudaUsable, seed } from './helpers';

const DTYPES: Dtype[] = ['f32', 'f16', 'bf16'];
const LENGTHS = [1, 63, 64, 65, 1001, 4099];

function firstByteDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe.skipIf(!cudaUsable)("CUDA kernels with 'i8' factors vs the CPU kernels", () => {
  const cuda = addon?.cuda as NativeAddon['cuda']; // the body runs at collection even when skipped
  const r = rng(seed);
  const live: DeviceTensor[] = [];

  /** Device copy of `host`; misaligned: a view 4 bytes (one element of 16-bit and f32 data) into a larger allocation. */
  function toDevice(d: Dtype | 'i8', host: HostFactors, misaligned = false): DeviceTensor {
    const t = cuda.alloc(d, host.length + (misaligned ? 8 : 0));
    live.push(t);
    if (!misaligned) {
      cuda.upload(t, host);
      return t;
    }
    const view = cuda.wrap(t.pointer + 4n, host.byteLength, d);
    live.push(view);
    cuda.upload(view, host);
    return view;
  }
  async function bytesBack(t: DeviceTensor): Promise<Uint8Array> {
    const a = new Uint8Array(t.length);
    await cuda.download(t, a);
    return a;
  }
  async function back(d: Dtype, t: DeviceTensor): Promise<Arr> {
    const a = alloc(d, t.length);
    await cuda.download(t, a);
    return a;
  }
  function cleanup() {
    for (const t of live.splice(0)) t.dispose();
  }
  /** `count` valid factors of n elements, made by CPU updates of random features. */
  function factorsOf(n: number, count: number, capacity = count): Uint8Array {
    const f = new Uint8Array(factorUnits('i8', n, Math.max(1, capacity)));
    for (let s = 0; s < count; s++) {
      const fresh = randomArray('f32', n, r) as Float32Array;
      addon!.update('i8', 'f32', [{ factors: f, fresh, oldCount: s, newCount: s + 1, divisors: [6, 0.75, 3, 1.5] }]);
    }
    return f;
  }
  const coeffsFor = () => Array.from({ length: 5 }, () => (r() < 0.5 ? -1 : 1) * (0.1 + 2 * r()));

  for (const act of DTYPES) {
    it(`update i8/${act}: counts 1..5, odd lengths, misaligned, the bytes the CPU writes`, async () => {
      let k = 0;
      for (let newCount = 1; newCount <= 5; newCount++) {
        for (const { n, misaligned } of checkSizes(LENGTHS, newCount)) {
          k++;
          const oldCount = k % 2 ? newCount : newCount - 1;
          const factors = factorsOf(n, oldCount, 5);
          const fresh = randomArray(act, n, r);
          const divisors = [[6, 0.75, 3, 1.5], [0.5, 2, 7, 3]][k % 2];
          const df = toDevice('i8', factors, misaligned);
          const dx = toDevice(act, fresh, misaligned && k % 2 === 0);
          addon!.update('i8', act, [{ factors: df, fresh: dx, oldCount, newCount, divisors }]);
          const got = await bytesBack(df);
          const want = factors.slice();
          addon!.update('i8', act, [{ factors: want, fresh, oldCount, newCount, divisors }]);
          const at = firstByteDiff(got, want);
          if (at >= 0) throw new Error(`seed ${seed}: update i8/${act} n=${n} counts ${oldCount}->${newCount} misaligned=${misaligned}: byte ${at} is ${got[at]}, CPU ${want[at]}`);
          cleanup();
        }
      }
    });

    it(`forecast i8/${act}: counts 1..5, odd lengths, misaligned, plain and gated, the CPU's bits`, async () => {
      for (let count = 1; count <= 5; count++) {
        for (const { n, misaligned } of checkSizes(LENGTHS, count)) {
          const factors = factorsOf(n, count);
          const coeffs = coeffsFor().slice(0, count);
          const df = toDevice('i8', factors, misaligned);
          const dout = toDevice(act, alloc(act, n), misaligned);
          addon!.forecast('i8', act, [{ factors: df, out: dout, count, coeffs }]);
          const got = await back(act, dout);
          const want = alloc(act, n);
          addon!.forecast('i8', act, [{ factors, out: want, count, coeffs }]);
          const at = firstDiff(got, want);
          if (at >= 0) throw new Error(`seed ${seed}: forecast i8/${act} n=${n} count ${count} misaligned=${misaligned}: element ${at} is ${got[at]}, CPU ${want[at]}`);
          cleanup();
        }
        for (const [B, L, D] of [[2, 5, 64], [3, 7, 24], [2, 9, 13]]) {
          const n = B * L * D;
          const factors = factorsOf(n, count);
          const coeffs = coeffsFor().slice(0, count);
          const h = randomArray(act, n, r);
          const gate = randomArray(act, B * D, r);
          const dh = toDevice(act, h);
          addon!.forecast('i8', act, [{ factors: toDevice('i8', factors), out: dh, residual: dh, gate: toDevice(act, gate), tokens: L, dim: D, count, coeffs }]);
          const got = await back(act, dh);
          const want = h.slice() as Arr;
          addon!.forecast('i8', act, [{ factors, out: want, residual: want, gate, tokens: L, dim: D, count, coeffs }]);
          const at = firstDiff(got, want);
          if (at >= 0) throw new Error(`seed ${seed}: gated forecast i8/${act} [${B}, ${L}, ${D}] count ${count}: element ${at} is ${got[at]}, CPU ${want[at]}`);
          cleanup();
        }
      }
    });
  }
});

describe.skipIf(!cudaUsable)("TaylorSeer's budget on device 'cuda' with 'i8'", () => {
  const fixed50 = { kind: 'fixed', steps: 50, interval: 6, warmup: 3 } as const;
  const feature = (step: number, n: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(0.07 * step * ((j % 97) + 1)) + 0.002 * step * step - 0.003 * (j % 31));

  it("a budget downgrade on 'cuda' steps down to 'i8' as on the CPU", async () => {
    const n = 6000;
    // with 24,000 bytes of staging: f32 order 2 96,000 bytes, bf16 60,000, i8 48,784 (12,000 + 2 x 94 x 68 + 24,000)
    const opts = { schedule: fixed50, maxOrder: 2, maxBytes: 50_000, onBudget: 'degrade' } as const;
    const gpu = new TaylorSeer({ ...opts, device: 'cuda' });
    // the CPU holds no staging buffer: its budget is the factors' share of the GPU's
    const cpu = new TaylorSeer({ ...opts, maxBytes: 50_000 - n * 4 });
    for (let s = 0; s < 10; s++) {
      gpu.beginStep(s);
      cpu.beginStep(s);
      const got = await gpu.moduleAsync('m', async () => feature(s, n));
      expect(relErr(got, cpu.module('m', () => feature(s, n))), `step ${s}`).toBeLessThan(1e-6);
    }
    expect(gpu.stats.layout).toEqual({ storage: 'i8', maxOrder: 2 });
    expect(cpu.stats.layout).toEqual(gpu.stats.layout);
    expect(gpu.stats.bytesHeld).toBe(factorUnits('i8', n, 3) + n * 4);
    gpu.dispose();
    cpu.dispose();
  });
});
