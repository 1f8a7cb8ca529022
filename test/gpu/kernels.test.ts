/**
 * The CUDA kernels through the addon's update / forecast with DeviceTensors, against the TypeScript
 * oracle (update bit-exact; forecast within one ulp of the output dtype) and against the CPU kernels on
 * the same inputs: every storage x activation dtype, counts 1..5, odd lengths, misaligned pointers (views
 * wrapped one element into an allocation), the gated residual form (aliased and separate residual), and
 * one multi-tensor launch against per-tensor launches. Inputs are random, never zero, fresh every run
 * (the seed is printed on failure; TS_SEED=... reproduces it). Outputs are poisoned (NaN) before a run.
 */
import { describe, expect, it } from 'vitest';

import type { DeviceTensor, Dtype, ForecastEntry, NativeAddon, UpdateEntry } from '../../lib/native';
import { addon, checkSizes, cudaUsable, expectCode, seed } from './helpers';
import {
  alloc,
  type Arr,
  bytesOf,
  firstDiff,
  load,
  maxUlpDiff,
  randomArray,
  refForecast,
  refUpdate,
  rng,
} from '../oracle/device-kernels';

const DTYPES: Dtype[] = ['f32', 'f16', 'bf16'];

/** ||a - b|| / ||b|| over the decoded values. */
function relErr(d: Dtype, a: Arr, b: Arr): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const x = load(d, a, i);
    const y = load(d, b, i);
    num += (x - y) ** 2;
    den += y * y;
  }
  return Math.sqrt(num / (den || 1));
}
const LENGTHS = [1, 7, 13, 1001, 4099];

describe.skipIf(!cudaUsable)('CUDA kernels vs oracle', () => {
  const cuda = addon?.cuda as NativeAddon['cuda']; // the body runs at collection even when skipped
  const r = rng(seed);
  const live: DeviceTensor[] = [];

  /** Device copy of `host`; misaligned: a view one element into a larger allocation. */
  function toDevice(d: Dtype, host: Arr, misaligned = false): DeviceTensor {
    if (!misaligned) {
      const t = cuda.alloc(d, host.length);
      live.push(t);
      cuda.upload(t, host);
      return t;
    }
    const base = cuda.alloc(d, host.length + 8);
    live.push(base);
    const view = cuda.wrap(base.pointer + BigInt(bytesOf(d)), host.length * bytesOf(d), d);
    live.push(view);
    cuda.upload(view, host);
    return view;
  }
  async function toHost(d: Dtype, t: DeviceTensor): Promise<Arr> {
    const a = alloc(d, t.length);
    await cuda.download(t, a);
    return a;
  }
  function poisoned(d: Dtype, n: number): Arr {
    const a = alloc(d, n);
    if (d === 'f32') (a as Float32Array).fill(NaN);
    else (a as Uint16Array).fill(0xffff);
    return a;
  }
  function cleanup() {
    for (const t of live.splice(0)) t.dispose();
  }
  const divisorsFor = (k: number) => [6, 0.75, 3, 1.5, 7].map((_, i, a) => a[(k + i) % 5]).slice(0, 4);
  const coeffsFor = () => Array.from({ length: 5 }, () => (r() < 0.5 ? -1 : 1) * (0.1 + 2 * r()));

  for (const storage of DTYPES) {
    for (const act of DTYPES) {
      it(`update ${storage}/${act}: counts 1..5, odd lengths, misaligned, = oracle and = CPU`, async () => {
        let k = 0;
        for (let newCount = 1; newCount <= 5; newCount++) {
          for (const { n, misaligned } of checkSizes(LENGTHS, newCount)) {
            k++;
            const oldCount = k % 2 ? newCount : newCount - 1; // both forms: order kept / order grows
            const cap = 5;
            const factors = randomArray(storage, cap * n, r);
            // slots without data hold NaN: a kernel that reads them poisons its output
            const poison = poisoned(storage, (cap - oldCount) * n);
            factors.set(poison, oldCount * n);
            const fresh = randomArray(act, n, r);
            const divisors = divisorsFor(k);
            const df = toDevice(storage, factors, misaligned);
            const dx = toDevice(act, fresh, misaligned && k % 2 === 0);
            const stats = new Float32Array(newCount).fill(Number.NaN); // overwritten, never added to
            addon!.update(storage, act, [{ factors: df, fresh: dx, oldCount, newCount, divisors, stats }]);
            const got = await toHost(storage, df);
            const want = factors.slice() as Arr;
            refUpdate(storage, act, want, fresh, n, newCount, divisors);
            const at = firstDiff(got, want);
            if (at >= 0)
              throw new Error(
                `seed ${seed}: update ${storage}/${act} n=${n} counts ${oldCount}->${newCount} misaligned=${misaligned}: ` +
                  `element ${at} (factor ${Math.floor(at / n)}) is ${got[at]}, oracle ${want[at]}`,
              );
            // the CPU kernels on the same inputs give the same bits
            const cpu = factors.slice() as Arr;
            const cpuStats = new Float32Array(newCount);
            addon!.update(storage, act, [{ factors: cpu, fresh, oldCount, newCount, divisors, stats: cpuStats }]);
            expect(firstDiff(cpu, got)).toBe(-1);
            // the norms come back from the GPU; the sums differ from the CPU's only in summation order
            for (let i = 0; i < newCount; i++) expect(Math.abs(stats[i] - cpuStats[i]), `stats[${i}]`).toBeLessThanOrEqual(1e-4 * cpuStats[i]);
            const freshBack = await toHost(act, dx);
            expect(firstDiff(freshBack, fresh)).toBe(-1);
            cleanup();
          }
        }
      });

      it(`forecast ${storage}/${act}: counts 1..5, odd lengths, misaligned, plain and gated`, async () => {
        let exact = 0;
        let total = 0;
        for (let count = 1; count <= 5; count++) {
          for (const { n, misaligned } of checkSizes(LENGTHS, count)) {
            const factors = randomArray(storage, count * n, r);
            const coeffs = coeffsFor().slice(0, count);
            const df = toDevice(storage, factors, misaligned);
            const dout = toDevice(act, poisoned(act, n), misaligned);
            addon!.forecast(storage, act, [{ factors: df, out: dout, count, coeffs }]);
            const got = await toHost(act, dout);
            const want = alloc(act, n);
            refForecast(storage, act, factors, want, n, count, coeffs);
            const d = maxUlpDiff(act, got, want);
            if (d.ulps > 1)
              throw new Error(
                `seed ${seed}: forecast ${storage}/${act} n=${n} count ${count} misaligned=${misaligned}: ${d.ulps} ulp at ${d.at}`,
              );
            // The CPU kernels (FMA-contracted or not, by build) agree to rounding of the terms.
            const cpu = alloc(act, n);
            addon!.forecast(storage, act, [{ factors, out: cpu, count, coeffs }]);
            expect(relErr(act, got, cpu)).toBeLessThanOrEqual(act === 'f32' ? 1e-5 : 1e-2);
            exact += d.ulps === 0 ? 1 : 0;
            total += 1;
            cleanup();
          }
          // gated: [B, L, D]; D % 8 == 0 takes the vector path, D = 13 the scalar path
          for (const [B, L, D, mode] of [
            [2, 5, 64, 'separate'],
            [3, 7, 24, 'alias'],
            [1, 33, 40, 'omitted'],
            [2, 9, 13, 'separate'],
            [1, 300, 3072, 'alias'],
          ] as const) {
            const n = B * L * D;
            const factors = randomArray(storage, count * n, r);
            const coeffs = coeffsFor().slice(0, count);
            const gate = randomArray(act, B * D, r);
            const residual = randomArray(act, n, r);
            const df = toDevice(storage, factors);
            const dg = toDevice(act, gate);
            const dout = toDevice(act, mode === 'separate' ? poisoned(act, n) : residual);
            const dres = mode === 'separate' ? toDevice(act, residual) : mode === 'alias' ? dout : undefined;
            const entry: ForecastEntry = { factors: df, out: dout, count, coeffs, gate: dg, tokens: L, dim: D };
            if (dres) entry.residual = dres;
            addon!.forecast(storage, act, [entry]);
            const got = await toHost(act, dout);
            const want = alloc(act, n);
            refForecast(storage, act, factors, want, n, count, coeffs, { gate, residual, tokens: L, dim: D });
            const d = maxUlpDiff(act, got, want);
            if (d.ulps > 1)
              throw new Error(
                `seed ${seed}: gated forecast ${storage}/${act} [${B},${L},${D}] ${mode} count ${count}: ${d.ulps} ulp at ${d.at}`,
              );
            cleanup();
          }
        }
        if (exact < total) console.log(`note: forecast ${storage}/${act}: ${total - exact} of ${total} cases within 1 ulp but not bit-exact`);
      });
    }
  }

  it('one multi-tensor launch = per-tensor launches = oracle (mixed sizes, counts, alignment, gates)', async () => {
    for (const [storage, act] of [
      ['bf16', 'bf16'],
      ['f32', 'f16'],
      ['f16', 'f32'],
    ] as const) {
      const m = 41;
      const spec = Array.from({ length: m }, (_, k) => {
        const gated = k % 3 === 0;
        const D = k % 4 === 0 ? 24 : 16;
        const n = gated ? D * 3 * (1 + (k % 2)) : 1 + Math.floor(r() * 20000);
        const newCount = 1 + Math.floor(r() * 5);
        return { n, newCount, oldCount: k % 2 && newCount > 1 ? newCount - 1 : newCount, gated, D, misaligned: k % 5 === 0 };
      });
      const hostF = spec.map((s) => randomArray(storage, 5 * s.n, r));
      const hostX = spec.map((s) => randomArray(act, s.n, r));
      const divs = spec.map((_, k) => divisorsFor(k));
      // update: one call with all entries vs one call per entry
      const multiF = spec.map((s, k) => toDevice(storage, hostF[k], s.misaligned));
      const singleF = spec.map((s, k) => toDevice(storage, hostF[k], s.misaligned));
      const xs = spec.map((s, k) => toDevice(act, hostX[k]));
      const entries = (fs: DeviceTensor[]): UpdateEntry[] =>
        spec.map((s, k) => ({ factors: fs[k], fresh: xs[k], oldCount: s.oldCount, newCount: s.newCount, divisors: divs[k] }));
      addon!.update(storage, act, entries(multiF));
      for (const e of entries(singleF)) addon!.update(storage, act, [e]);
      for (let k = 0; k < m; k++) {
        const a = await toHost(storage, multiF[k]);
        const b = await toHost(storage, singleF[k]);
        expect(firstDiff(a, b)).toBe(-1);
        const want = hostF[k].slice() as Arr;
        refUpdate(storage, act, want, hostX[k], spec[k].n, spec[k].newCount, divs[k]);
        if (firstDiff(a, want) >= 0) throw new Error(`seed ${seed}: multi update ${storage}/${act} entry ${k} differs from the oracle`);
      }
      // forecast: same, with a gated subset
      const coeffs = spec.map(() => coeffsFor());
      const gates = spec.map((s) => (s.gated ? randomArray(act, (s.n / (3 * s.D)) * s.D, r) : undefined));
      const res = spec.map((s) => randomArray(act, s.n, r));
      const outsMulti = spec.map((s) => toDevice(act, poisoned(act, s.n)));
      const outsSingle = spec.map((s) => toDevice(act, poisoned(act, s.n)));
      const dg = gates.map((g) => (g ? toDevice(act, g) : undefined));
      const dr = res.map((x) => toDevice(act, x));
      const fe = (outs: DeviceTensor[]): ForecastEntry[] =>
        spec.map((s, k) => {
          const count = Math.max(1, Math.min(5, s.newCount));
          const e: ForecastEntry = { factors: multiF[k], out: outs[k], count, coeffs: coeffs[k].slice(0, count) };
          if (s.gated) Object.assign(e, { gate: dg[k], residual: dr[k], tokens: 3, dim: s.D });
          return e;
        });
      addon!.forecast(storage, act, fe(outsMulti));
      for (const e of fe(outsSingle)) addon!.forecast(storage, act, [e]);
      for (let k = 0; k < m; k++) {
        const a = await toHost(act, outsMulti[k]);
        const b = await toHost(act, outsSingle[k]);
        expect(firstDiff(a, b)).toBe(-1);
        const count = Math.max(1, Math.min(5, spec[k].newCount));
        const f = await toHost(storage, multiF[k]);
        const want = alloc(act, spec[k].n);
        refForecast(storage, act, f, want, spec[k].n, count, coeffs[k], spec[k].gated
          ? { gate: gates[k]!, residual: res[k], tokens: 3, dim: spec[k].D }
          : undefined);
        const d = maxUlpDiff(act, a, want);
        if (d.ulps > 1) throw new Error(`seed ${seed}: multi forecast ${storage}/${act} entry ${k}: ${d.ulps} ulp at ${d.at}`);
      }
      cleanup();
    }
  });

  it('tables larger than one launch (300 entries) are chunked correctly', async () => {
    const m = 300;
    const ns = Array.from({ length: m }, (_, k) => 1 + ((k * 37) % 500));
    const hostF = ns.map((n) => randomArray('bf16', 3 * n, r));
    const hostX = ns.map((n) => randomArray('bf16', n, r));
    const fs = hostF.map((h) => toDevice('bf16', h));
    const xs = hostX.map((h) => toDevice('bf16', h));
    addon!.update('bf16', 'bf16', fs.map((f, k) => ({ factors: f, fresh: xs[k], oldCount: 2, newCount: 3, divisors: [6, 6] })));
    for (let k = 0; k < m; k += 7) {
      const got = await toHost('bf16', fs[k]);
      const want = hostF[k].slice() as Arr;
      refUpdate('bf16', 'bf16', want, hostX[k], ns[k], 3, [6, 6]);
      expect(firstDiff(got, want)).toBe(-1);
    }
    cleanup();
  });

  it('refuses tables whose concurrent entries write memory another entry uses; shared inputs are fine', () => {
    const n = 64;
    const f1 = toDevice('f32', randomArray('f32', 2 * n, r));
    const f2 = toDevice('f32', randomArray('f32', 2 * n, r));
    const out = toDevice('f32', randomArray('f32', n, r));
    const other = toDevice('f32', randomArray('f32', n, r));
    const gate = toDevice('f32', randomArray('f32', 8, r));
    const plain = (factors: DeviceTensor, o: DeviceTensor): ForecastEntry => ({ factors, out: o, count: 2, coeffs: [1, 0.5] });
    // two entries into one out: a race on the GPU
    expectCode(() => addon!.forecast('f32', 'f32', [plain(f1, out), plain(f2, out)]), 'ERR_INVALID_ARGUMENT');
    // one entry's out is another's residual
    const gated = (factors: DeviceTensor, o: DeviceTensor, residual: DeviceTensor): ForecastEntry => ({ ...plain(factors, o), residual, gate, tokens: 8, dim: 8 });
    expectCode(() => addon!.forecast('f32', 'f32', [gated(f1, out, out), gated(f2, other, out)]), 'ERR_INVALID_ARGUMENT');
    // the same pair as a chain is the supported form (throwing fails the test)
    addon!.forecast('f32', 'f32', [gated(f1, out, out), gated(f2, out, out)], { chain: true });
    // a shared gate and shared factors are only read
    addon!.forecast('f32', 'f32', [gated(f1, out, out), gated(f1, other, other)]);
    // two updates of one factor table
    const x = toDevice('f32', randomArray('f32', n, r));
    const upd: UpdateEntry = { factors: f1, fresh: x, oldCount: 1, newCount: 2, divisors: [1] };
    expectCode(() => addon!.update('f32', 'f32', [upd, { ...upd }]), 'ERR_INVALID_ARGUMENT');
    addon!.update('f32', 'f32', [upd, { ...upd, factors: f2 }]);
    cleanup();
  });
});
