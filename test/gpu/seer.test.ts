/**
 * TaylorSeer with device 'cuda' against the CPU, with no vi.mock (this file runs in the bundled device runner
 * too): module and gated paths per storage, the adaptive schedule's norms read back from the GPU, the forecast
 * chain.
 * Skips without a usable device.
 */
import { describe, expect, it } from 'vitest';

import { factorBytes } from '../../lib/native';
import { TaylorSeer } from '../../lib/taylor-seer';
import { relErr } from '../oracle/reference';
import { cudaUsable, expectCode } from './helpers';

/** A smooth per-module feature, rounded to f32 like a real activation. */
function feature(step: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, j) => Math.sin(0.07 * step * ((j % 97) + 1)) + 0.002 * step * step - 0.003 * (j % 31));
}

describe.skipIf(!cudaUsable)("TaylorSeer on device 'cuda'", () => {
  it('an adaptive schedule reads the norms back from the GPU and decides as on the CPU', async () => {
    const n = 6000;
    const schedule = { kind: 'adaptive', steps: 50, warmup: 1, budget: 12 } as const;
    const gpu = new TaylorSeer({ schedule, maxOrder: 2, device: 'cuda' });
    const cpu = new TaylorSeer({ schedule, maxOrder: 2 });
    expect(gpu.device).toBe('cuda');
    let fullSteps = 0;
    for (let s = 0; s < 50; s++) {
      gpu.beginStep(s);
      cpu.beginStep(s);
      expect(gpu.isFull, `step ${s}`).toBe(cpu.isFull);
      if (gpu.isFull) fullSteps++;
      const want = cpu.module('m', () => feature(s, n));
      const got = await gpu.moduleAsync('m', async () => feature(s, n));
      expect(relErr(got, want), `step ${s}`).toBeLessThan(1e-6);
    }
    expect(fullSteps).toBe(12);
    gpu.dispose();
    cpu.dispose();
  });

  it('gatedResiduals(): the forecast chain on the GPU (h up once, one launch per entry, h back once) = the CPU', async () => {
    const [B, L, D] = [2, 3, 1000];
    const n = B * L * D;
    const shape = { batch: B, tokens: L, dim: D };
    const keys = ['a', 'b', 'c', 'd'];
    const gate = (s: number, k: number) => Float32Array.from({ length: B * D }, (_, i) => 0.5 + 1e-4 * i - 0.01 * s + 0.1 * k);
    const out = (s: number, k: number) => feature(s + 3 * k, n);
    const opts = { schedule: { kind: 'fixed', steps: 30, interval: 4, warmup: 3 } as const, maxOrder: 2 };
    const gpu = new TaylorSeer({ ...opts, device: 'cuda' });
    const cpu = new TaylorSeer(opts);
    for (let s = 0; s < 30; s++) {
      gpu.beginStep(s);
      cpu.beginStep(s);
      const hg = Float32Array.from({ length: n }, (_, i) => Math.cos(i + s));
      const hc = Float32Array.from(hg);
      await gpu.gatedResiduals(keys.map((key, k) => ({ key, compute: () => out(s, k), gate: gate(s, k) })), hg, shape);
      await cpu.gatedResiduals(keys.map((key, k) => ({ key, compute: () => out(s, k), gate: gate(s, k) })), hc, shape);
      expect(relErr(hg, hc), `step ${s} (${gpu.isFull ? 'full' : 'forecast'})`).toBeLessThan(1e-6);
    }
    gpu.dispose();
    cpu.dispose();
  });

  // moved from test/hook.test.ts, whose vi.mock the bundled device runner does not support
  const fixed50 = { kind: 'fixed', steps: 50, interval: 6, warmup: 3 } as const;
  for (const storage of ['f32', 'f16', 'bf16', 'i8'] as const) {
    it(`moduleAsync() and gatedResidual() match the CPU (storage ${storage})`, async () => {
      const [B, L, D] = [2, 3, 1000];
      const n = B * L * D;
      const shape = { batch: B, tokens: L, dim: D };
      const gateAt = (s: number) => Float32Array.from({ length: B * D }, (_, i) => 0.5 + 1e-4 * i - 0.01 * s);
      const opts = { schedule: fixed50, maxOrder: 2, storage };
      const gpu = new TaylorSeer({ ...opts, device: 'cuda' });
      const cpu = new TaylorSeer(opts);
      expect(gpu.device).toBe('cuda');
      for (let s = 0; s < 50; s++) {
        gpu.beginStep(s);
        cpu.beginStep(s);
        const want = cpu.module('m', () => feature(s, n));
        const got = await gpu.moduleAsync('m', async () => feature(s, n));
        expect(relErr(got, want), `step ${s}`).toBeLessThan(1e-6);
        const hg = Float32Array.from({ length: n }, (_, i) => Math.cos(i + s));
        const hc = Float32Array.from(hg);
        await gpu.gatedResidual('g', () => feature(s + 1, n), hg, gateAt(s), shape);
        await cpu.gatedResidual('g', () => feature(s + 1, n), hc, gateAt(s), shape);
        expect(relErr(hg, hc), `gated step ${s}`).toBeLessThan(1e-6);
      }
      // factors (3 per entry; 'i8': d_0 bf16, 2 differences in records) + a staging buffer per entry + the gate staging buffer of 'g'
      expect(gpu.stats.bytesHeld).toBe(2 * factorBytes(storage, n, 3) + 2 * n * 4 + B * D * 4);
      gpu.dispose();
      cpu.dispose();
    });
  }

  it('module() is ERR_DEVICE: a synchronous call cannot read the GPU back; auto picks the GPU', () => {
    const gpu = new TaylorSeer({ schedule: fixed50, maxOrder: 1, device: 'cuda' });
    gpu.beginStep(0);
    expectCode(() => gpu.module('m', () => feature(0, 5)), 'ERR_DEVICE');
    expect(gpu.stats.entries).toBe(0);
    const auto = new TaylorSeer({ schedule: fixed50, maxOrder: 1, device: 'auto' });
    expect(auto.device).toBe('cuda');
    auto.dispose();
    gpu.dispose();
  });
});
