/**
 * gatedResidual and the state it leaves: memory shared with h through a second SharedArrayBuffer object
 * (as a buffer that went through postMessage is) is seen by address, so such a call is rejected before the
 * cache changes; and gated calls in flight together write h in the order they were called.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { TaylorSeer } from '../lib/taylor-seer';
import { typedCodeOf as codeOf } from './helpers/code-of';

const shape = { batch: 2, tokens: 4, dim: 8 };
const N = 64;
const G = 16;
const schedule = { kind: 'fixed', steps: 10, interval: 3, warmup: 2 } as const;

/** The same memory as `sab`, through a different SharedArrayBuffer object. */
async function alias(sab: SharedArrayBuffer): Promise<SharedArrayBuffer> {
  const { port1, port2 } = new MessageChannel();
  const other = await new Promise<SharedArrayBuffer>((resolve) => {
    port2.once('message', resolve);
    port1.postMessage(sab);
  });
  port1.close();
  port2.close();
  return other;
}

const history = (seer: TaylorSeer) => seer.inspect().map((e) => ({ key: e.key, count: e.count, history: e.history.map((n) => n.step) }));

describe('gatedResidual memory aliasing h through another SharedArrayBuffer object', () => {
  it('an output aliasing h on a full step is rejected and changes nothing; the key works again in that step', async () => {
    const sab = new SharedArrayBuffer(N * 4);
    const other = await alias(sab);
    expect(other).not.toBe(sab);
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const gate = new Float32Array(G).fill(0.5);
    const h = new Float32Array(sab).fill(0.25);
    for (let s = 0; s < 4; s++) {
      seer.beginStep(s);
      await seer.gatedResidual('g', () => new Float32Array(N).fill(s), new Float32Array(N), gate, shape);
    }
    seer.beginStep(4); // a full step
    const before = [history(seer), seer.stats, Array.from(h)];
    expect(await codeOf(() => seer.gatedResidual('g', () => new Float32Array(other), h, gate, shape))).toBe('ERR_INVALID_ARGUMENT');
    expect([history(seer), seer.stats, Array.from(h)]).toEqual(before);
    await seer.gatedResidual('g', () => new Float32Array(N).fill(4), new Float32Array(N), gate, shape);
  });

  it('a gate aliasing h is rejected before the compute runs', async () => {
    const sab = new SharedArrayBuffer(N * 4);
    const other = await alias(sab);
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    seer.beginStep(0);
    let computed = false;
    const h = new Float32Array(sab).fill(0.25);
    const code = await codeOf(() => seer.gatedResidual('g', () => ((computed = true), new Float32Array(N).fill(1)), h, new Float32Array(other, 0, G), shape));
    expect(code).toBe('ERR_INVALID_ARGUMENT');
    expect([computed, seer.inspect(), seer.stats.computes]).toEqual([false, [], 0]);
  });
});

describe('gated calls in flight together', () => {
  const fresh = (s: number, k: number) => Float32Array.from({ length: N }, (_, i) => Math.sin(0.37 * s + 0.11 * i + k) * (1 + 0.01 * s));
  const gate = (s: number) => Float32Array.from({ length: G }, (_, i) => 0.5 + 0.1 * Math.cos(0.3 * s + i));

  async function run(concurrent: boolean): Promise<number[][]> {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const h = new Float32Array(N).fill(0.25);
    const steps: number[][] = [];
    for (let s = 0; s < 10; s++) {
      seer.beginStep(s);
      // computes finish in an order unrelated to the order of the calls
      const call = (k: number) =>
        seer.gatedResidual(`g${k}`, () => new Promise<Float32Array>((r) => setTimeout(() => r(fresh(s, k)), (k * 3) % 4)), h, gate(s), shape);
      if (concurrent) await Promise.all(Array.from({ length: 12 }, (_, k) => call(k)));
      else for (let k = 0; k < 12; k++) await call(k);
      steps.push(Array.from(h));
    }
    seer.dispose();
    return steps;
  }

  it('write h in call order: the bytes equal those of awaiting the calls one by one, on full and forecast steps', async () => {
    expect(await run(true)).toEqual(await run(false));
  });

  it('a compute that starts with a gated call into its own h (which would wait for it) gets ERR_BUSY at once, and the outer call completes', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const h = new Float32Array(N).fill(0.25);
    const other = new Float32Array(N).fill(0.5);
    seer.beginStep(0);
    const inner: string[] = [];
    await seer.gatedResidual(
      'outer',
      async () => {
        // before the compute's first await: the calls are known to be made from inside it
        const calls = [
          seer.gatedResidual('inner', () => fresh(0, 1), h, gate(0), shape),
          seer.gatedResiduals([{ key: 'inner2', compute: () => fresh(0, 2), gate: gate(0) }], h, shape),
        ].map((p) => p.then(() => 'resolved', (e: { code?: string }) => String(e.code)));
        // another h is free: its turn is not held
        const elsewhere = seer.gatedResidual('elsewhere', () => fresh(0, 3), other, gate(0), shape);
        inner.push(...(await Promise.all(calls)));
        await elsewhere;
        return fresh(0, 0);
      },
      h,
      gate(0),
      shape,
    );
    expect(inner).toEqual(['ERR_BUSY', 'ERR_BUSY']);
    expect(seer.inspect().map((e) => e.key).sort()).toEqual(['elsewhere', 'outer']);
    // the refused keys are still free in this step
    await seer.gatedResidual('inner', () => fresh(0, 1), h, gate(0), shape);
  });
});
