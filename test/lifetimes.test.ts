/**
 * Lifetimes: dispose(), objects dropped without it, arrays the caller keeps using (or detaches) after
 * handing them over, and reset().
 *
 * Spec checked here (from the doc comments of lib/taylor-seer.ts and lib/cache.ts):
 *  - dispose() frees everything and is idempotent; afterwards every method and getter is ERR_DISPOSED
 *    (synchronous ones throw, Promise-returning ones reject) and no compute callback is called.
 *  - A TaylorSeer dropped without dispose() is garbage like any object: host factors are plain TypedArrays,
 *    nothing in the addon keeps them alive.
 *  - Ownership: module() returns the computed array itself on full steps (the caller's) and a new array on
 *    forecast steps (the caller's); the cache keeps its own copy of every computed output in its factors, so
 *    whatever the caller does with its arrays afterwards (write, detach) changes no later result.
 *  - A detached array handed in is an empty array: a typed error, and the rejected call changes nothing.
 *  - reset() makes the object behave exactly like a new one: same bytes, stats and inspect().
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaylorSeerError } from '../lib/errors';
import { TaylorSeer, type TaylorSeerOptions } from '../lib/taylor-seer';
import { native, type Dtype, type HostTensor } from '../lib/native';
import type { Schedule, StepObservation } from '../lib/schedule';
import { typedCodeOf as codeOf } from './helpers/code-of';

const helpers = path.resolve(__dirname, 'helpers');
const schedule = { kind: 'fixed', steps: 12, interval: 3, warmup: 2 } as const; // full: 0, 1, 4, 7, 10
const shape = { batch: 2, tokens: 3, dim: 4 };
const N = shape.batch * shape.tokens * shape.dim;

function f32(step: number, key: string, n = N): Float32Array {
  const k = [...key].reduce((a, c) => a + c.charCodeAt(0), 0) % 13;
  return Float32Array.from({ length: n }, (_, j) => Math.sin(0.2 * step * (1 + (j % 5)) + k) + 0.003 * step * step - 0.1 * j);
}

function feature(dtype: Dtype, step: number, key: string, n = N): HostTensor {
  const x = f32(step, key, n);
  if (dtype === 'f32') return x;
  const bits = new Uint16Array(n);
  native().toHalf(x, dtype, bits);
  return bits;
}

const bytes = (a: HostTensor) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

function detach<T extends HostTensor>(a: T): T {
  structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  expect(a.length).toBe(0);
  return a;
}

function childJson(args: string[]) {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env, timeout: 110_000, maxBuffer: 16 << 20 });
  let json: any;
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
  } catch {
    json = undefined;
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr.slice(-2000), json };
}

describe('dispose()', () => {
  const states: Array<[string, (s: TaylorSeer) => Promise<void> | void]> = [
    ['a new object', () => {}],
    ['mid-step with entries', async (s) => {
      for (let i = 0; i < 5; i++) {
        s.beginStep(i);
        s.module('a', () => f32(i, 'a'));
        await s.gatedResidual('g', () => f32(i, 'g'), new Float32Array(N), new Float32Array(shape.batch * shape.dim), shape);
      }
    }],
    ['after reset()', (s) => {
      s.beginStep(0);
      s.module('a', () => f32(0, 'a'));
      s.reset();
    }],
  ];

  it.each(states)('on %s: idempotent; every later use is ERR_DISPOSED and calls no compute', async (_, prepare) => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    await prepare(seer);
    seer.dispose();
    expect(() => seer.dispose()).not.toThrow();
    seer.dispose();
    let computes = 0;
    const compute = () => (computes++, f32(0, 'a'));
    const h = new Float32Array(N).fill(5);
    const syncUses: Array<[string, () => unknown]> = [
      ['beginStep(0)', () => seer.beginStep(0)],
      ['beginStep(1)', () => seer.beginStep(1)],
      ['isFull', () => seer.isFull],
      ['step', () => seer.step],
      ['module', () => seer.module('a', compute)],
      ['stats', () => seer.stats],
      ['inspect', () => seer.inspect()],
      ['reset', () => seer.reset()],
    ];
    for (const [what, use] of syncUses) {
      let thrown: unknown;
      try {
        use();
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(TaylorSeerError);
      expect((thrown as TaylorSeerError).code, what).toBe('ERR_DISPOSED');
    }
    // Promise-returning methods reject (they never throw synchronously)
    const asyncUses: Array<[string, () => Promise<unknown>]> = [
      ['moduleAsync', () => seer.moduleAsync('a', async () => compute())],
      ['gatedResidual', () => seer.gatedResidual('g', compute, h, new Float32Array(shape.batch * shape.dim), shape)],
    ];
    for (const [what, use] of asyncUses) {
      let p: Promise<unknown> | undefined;
      expect(() => (p = use()), what).not.toThrow();
      await expect(p, what).rejects.toMatchObject({ name: 'TaylorSeerError', code: 'ERR_DISPOSED' });
    }
    expect(computes).toBe(0);
    expect(Array.from(h)).toEqual(new Array(N).fill(5));
    // the options stay readable: they are plain fields
    expect(seer.maxOrder).toBe(2);
  });
});

describe('objects dropped without dispose()', () => {
  // Regression: RunAsync used to create a Promise::Deferred up front that the host path never settled, so every
  // successful call left a pending Promise (~48 B of heap) and its napi_deferred behind (valgrind: definitely
  // lost under napi_create_promise). scripts/leak-check.sh checks the same with valgrind.
  it('20,000 successful updateAsync/forecastAsync calls leave nothing on the JS heap', () => {
    const { status, signal, stderr, json } = childJson(['--expose-gc', path.join(helpers, 'async-heap.cjs'), '20000']);
    expect({ status, signal, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(json.bytesPerCall).toBeLessThan(5);
  });

  it('5000 TaylorSeers holding factors (1.8 GB if kept), dropped: collected, RSS and heap stay bounded', () => {
    const { status, signal, stderr, json } = childJson(['--expose-gc', '--max-semi-space-size=1', path.join(helpers, 'gc-drop.cjs'), '5000', '16384']);
    expect({ status, signal, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    const { baseline, samples, created, collected, retainedIfLeakedMB } = json;
    console.log(
      `gc-drop: ${created} created, ${collected} collected; RSS ${baseline.rssMB} MB after warm-up, then ` +
        samples.map((s: { rssMB: number }) => s.rssMB).join(', ') + ` MB (${retainedIfLeakedMB} MB if leaked)`,
    );
    expect(collected).toBeGreaterThanOrEqual(0.95 * created);
    const { bytesEachMax } = json;
    for (const s of samples) {
      // RSS also holds freed pages the allocator keeps and fragmentation (seen up to ~55 MB on a 2-core VM), so
      // its bound scales with what a leak would hold by then: keeping even a fifth of the dropped factors fails.
      const leakedByNowMB = ((s.created - baseline.created) * bytesEachMax) / 2 ** 20;
      expect(s.rssMB - baseline.rssMB, `RSS at ${s.created}`).toBeLessThan(Math.max(64, 0.2 * leakedByNowMB));
      expect(s.heapUsedMB - baseline.heapUsedMB, `heap at ${s.created}`).toBeLessThan(20);
      expect(s.arrayBuffersMB - baseline.arrayBuffersMB, `array buffers at ${s.created}`).toBeLessThan(20);
    }
  });
});

describe('arrays the caller keeps after handing them over', () => {
  const configs: Array<[Dtype, Dtype]> = [
    ['f32', 'f32'],
    ['bf16', 'bf16'],
    ['f16', 'f32'],
  ];
  type Abuse = (a: HostTensor) => void;
  const scribble: Abuse = (a) => (a instanceof Float32Array ? a.fill(1e6) : a.fill(0x7e00)); // 1e6 / NaN bits
  const detachIt: Abuse = (a) => detach(a);

  /**
   * Runs module / moduleAsync / gatedResidual for every step and returns the bytes each call produced, read
   * immediately. `abuse` is applied afterwards to every array the caller handed over or got back.
   */
  async function runWith(activation: Dtype, storage: Dtype, abuse?: Abuse): Promise<string[]> {
    const seer = new TaylorSeer<Dtype>({ schedule, maxOrder: 3, activation, storage });
    const seen: string[] = [];
    for (let s = 0; s < schedule.steps; s++) {
      seer.beginStep(s);
      const x = feature(activation, s, 'm');
      const y = seer.module('m', () => x);
      if (seer.isFull) expect(y).toBe(x); // full step: the computed array itself, not a copy
      seen.push(bytes(y));
      const ya = await seer.moduleAsync('ma', async () => feature(activation, s, 'ma'));
      seen.push(bytes(ya));
      const h = feature(activation, s, 'h');
      const gate = feature(activation, s, 'gate', shape.batch * shape.dim);
      const F = feature(activation, s, 'g');
      await seer.gatedResidual('g', () => F, h, gate, shape);
      seen.push(bytes(h));
      if (abuse) for (const a of [x, y, ya, h, gate, F]) if (a.length) abuse(a);
    }
    return seen;
  }

  it.each(configs)('activation %s, storage %s: writing into every array afterwards changes no later result', async (act, storage) => {
    const want = await runWith(act, storage);
    expect(await runWith(act, storage, scribble)).toEqual(want);
  });

  it.each(configs)('activation %s, storage %s: detaching every array afterwards changes no later result', async (act, storage) => {
    const want = await runWith(act, storage);
    expect(await runWith(act, storage, detachIt)).toEqual(want);
  });

  it('a forecast is a new array every step', () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 1 });
    const outs: Float32Array[] = [];
    for (let s = 0; s < 4; s++) {
      seer.beginStep(s);
      outs.push(seer.module('m', () => f32(s, 'm')));
    }
    expect(new Set(outs.map((o) => o.buffer)).size).toBe(4);
  });
});

describe('detached arrays handed in: a typed error, nothing changes', () => {
  /** A TaylorSeer whose entries 'm' and 'g' were computed at steps 0 .. last-1, now at step `last`. */
  async function at(last: number) {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    for (let s = 0; s <= last; s++) {
      seer.beginStep(s);
      if (s === last) break;
      seer.module('m', () => f32(s, 'm'));
      await seer.gatedResidual('g', () => f32(s, 'g'), new Float32Array(N), new Float32Array(shape.batch * shape.dim), shape);
    }
    return seer;
  }
  const gate = () => new Float32Array(shape.batch * shape.dim).fill(0.5);

  it.each([
    ['module() whose compute returns a detached array', 'ERR_LENGTH', (s: TaylorSeer) => s.module('m', () => detach(f32(1, 'm')))],
    ['moduleAsync() whose compute returns a detached array', 'ERR_LENGTH', (s: TaylorSeer) => s.moduleAsync('m', async () => detach(f32(1, 'm')))],
    ['gatedResidual() whose compute returns a detached array', 'ERR_LENGTH', (s: TaylorSeer) => s.gatedResidual('g', () => detach(f32(1, 'g')), new Float32Array(N), gate(), shape)],
    ['gatedResidual() with a detached h', 'ERR_SHAPE', (s: TaylorSeer) => s.gatedResidual('g', () => f32(1, 'g'), detach(new Float32Array(N)), gate(), shape)],
    ['gatedResidual() with a detached gate', 'ERR_SHAPE', (s: TaylorSeer) => s.gatedResidual('g', () => f32(1, 'g'), new Float32Array(N), detach(gate()), shape)],
  ] as const)('on a full step: %s is %s', async (_, code, call) => {
    const seer = await at(1);
    expect(seer.isFull).toBe(true);
    const before = [seer.inspect(), seer.stats];
    expect(await codeOf(() => call(seer))).toBe(code);
    expect([seer.inspect(), seer.stats]).toEqual(before);
    // nothing was recorded: the key is still free in this step
    seer.module('m', () => f32(1, 'm'));
    await seer.gatedResidual('g', () => f32(1, 'g'), new Float32Array(N), gate(), shape);
    expect(seer.stats).toMatchObject({ computes: 4 });
  });

  it.each([
    ['gatedResidual() with a detached h', 'ERR_SHAPE', (s: TaylorSeer) => s.gatedResidual('g', () => f32(2, 'g'), detach(new Float32Array(N)), gate(), shape)],
    ['gatedResidual() with a detached gate', 'ERR_SHAPE', (s: TaylorSeer) => s.gatedResidual('g', () => f32(2, 'g'), new Float32Array(N), detach(gate()), shape)],
  ] as const)('on a forecast step: %s is %s', async (_, code, call) => {
    const seer = await at(2);
    expect(seer.isFull).toBe(false);
    const before = [seer.inspect(), seer.stats];
    expect(await codeOf(() => call(seer))).toBe(code);
    expect([seer.inspect(), seer.stats]).toEqual(before);
  });

  it('the addon: detached factors, fresh or out are ERR_LENGTH', () => {
    const addon = native();
    const factors = new Float32Array(3 * N);
    const fresh = new Float32Array(N);
    const out = new Float32Array(N);
    expect(() => addon.update('f32', 'f32', [{ factors: detach(new Float32Array(3 * N)), fresh, oldCount: 0, newCount: 1, divisors: [] }])).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    expect(() => addon.update('f32', 'f32', [{ factors, fresh: detach(new Float32Array(N)), oldCount: 0, newCount: 1, divisors: [] }])).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    expect(() => addon.forecast('f32', 'f32', [{ factors, out: detach(new Float32Array(N)), count: 1, coeffs: [1] }])).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    expect(() => addon.forecast('f32', 'f32', [{ factors: detach(new Float32Array(3 * N)), out, count: 1, coeffs: [1] }])).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
  });

  // Regression: h and gate are checked before `await compute()`; the caller may detach them meanwhile. The hook
  // re-checks them before the cache takes the step's factor, so the rejected call changes nothing.
  it('h detached while a full step\'s compute is pending: typed error, cache unchanged, key reusable', async () => {
    const seer = await at(1);
    const before = [seer.inspect(), seer.stats];
    const h = new Float32Array(N);
    const code = await codeOf(() => seer.gatedResidual('g', async () => (detach(h), f32(1, 'g')), h, gate(), shape));
    expect(code).toBe('ERR_LENGTH');
    expect([seer.inspect(), seer.stats]).toEqual(before);
    await seer.gatedResidual('g', () => f32(1, 'g'), new Float32Array(N), gate(), shape);
  });

  // An async call works on private copies of its ArrayBuffer memory (native/async_staging.h): a buffer
  // transferred away while the kernel runs is never touched, and the call rejects without writing anything.
  it('the addon: buffers detached while updateAsync/forecastAsync run reject the call, never a crash or a write', () => {
    const { status, signal, stderr, json } = childJson(['--expose-gc', path.join(helpers, 'detach-in-flight.cjs'), String(1 << 20), '4']);
    expect({ status, signal, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(json.outcomes).toEqual(['ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT', 'ERR_INVALID_ARGUMENT']);
    expect(json.corrupted).toBe(0);
  });
});

describe('reset() makes the object behave exactly like a new one', () => {
  /** An online schedule with state: full at 0 and 1, then after every 2 observed forecast steps. */
  class Adaptive implements Schedule {
    readonly kind = 'adaptive-test';
    readonly steps = 12;
    readonly warmup = 2;
    private forecastsSinceFull = 0;
    isFull(step: number): boolean {
      return step < 2 || this.forecastsSinceFull >= 2;
    }
    observe(o: StepObservation): void {
      this.forecastsSinceFull = o.full ? 0 : this.forecastsSinceFull + 1;
    }
    reset(): void {
      this.forecastsSinceFull = 0;
    }
    fullSteps(): null {
      return null;
    }
    describe(): string {
      return 'adaptive-test';
    }
  }

  const configs: Array<[string, () => TaylorSeerOptions<Dtype>]> = [
    ['f32/f32 K2 step', () => ({ schedule, maxOrder: 2 })],
    ['bf16/bf16 K4 newton', () => ({ schedule, maxOrder: 4, variable: 'newton', activation: 'bf16', storage: 'bf16' })],
    ['f16/f32 K1 time, shape policy reset', () => ({ schedule, maxOrder: 1, variable: 'time', activation: 'f16', storage: 'f32', onShapeChange: 'reset' })],
    ['f32/f16 K3, a stateful schedule', () => ({ schedule: new Adaptive(), maxOrder: 3, storage: 'f16' })],
  ];
  const tAt = (s: number) => 1 - s / 13;

  /** A full run recording every output's bytes, stats and inspect() after each step. */
  async function record(seer: TaylorSeer<Dtype>, steps = 12): Promise<unknown[]> {
    const act = seer.activation;
    const log: unknown[] = [];
    for (let s = 0; s < steps; s++) {
      seer.beginStep(s, seer.variable === 'step' ? undefined : tAt(s));
      const row: unknown[] = [s, seer.isFull];
      row.push(bytes(seer.module('a', () => feature(act, s, 'a'))));
      row.push(bytes(await seer.moduleAsync('b', async () => feature(act, s, 'b'), { context: 'uncond' })));
      const h = feature(act, s, 'h');
      await seer.gatedResidual('g', () => feature(act, s, 'g'), h, feature(act, s, 'gate', shape.batch * shape.dim), shape);
      row.push(bytes(h), seer.stats, seer.inspect());
      log.push(row);
    }
    return log;
  }

  it.each(configs)('%s: after full and partial runs, rejected calls and a shape change', async (_, options) => {
    const used = new TaylorSeer<Dtype>(options());
    const act = used.activation;
    await record(used);
    // a second run left in the middle, with rejected calls and an entry of another shape
    used.beginStep(0, used.variable === 'step' ? undefined : tAt(0));
    used.module('a', () => feature(act, 0, 'a', 2 * N));
    used.module('other', () => feature(act, 0, 'other', 7));
    expect(await codeOf(() => used.module('a', () => feature(act, 0, 'a')))).toBe('ERR_STEP');
    used.beginStep(1, used.variable === 'step' ? undefined : tAt(1));
    expect(await codeOf(() => used.module('a', () => feature(act, 1, 'a', 3 * N)))).toBe(used.onShapeChange === 'error' ? 'ERR_SHAPE' : 'no error');
    expect(await codeOf(() => used.module('x', () => feature(act, 1, 'x', 0)))).toBe('ERR_LENGTH');
    used.reset();

    const fresh = new TaylorSeer<Dtype>(options());
    expect(used.step).toBeUndefined();
    expect(await codeOf(() => used.isFull)).toBe(await codeOf(() => fresh.isFull));
    expect(await codeOf(() => used.beginStep(1))).toBe(await codeOf(() => fresh.beginStep(1)));
    expect(used.stats).toEqual(fresh.stats);
    expect(used.inspect()).toEqual(fresh.inspect());
    expect(await record(used)).toEqual(await record(fresh));
    // and once more, reset after a complete run
    used.reset();
    fresh.dispose();
    expect(await record(used)).toEqual(await record(new TaylorSeer<Dtype>(options())));
  });

  it('beginStep(0) replays the same outputs without reset() (a new run keeps only the allocations)', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 3, storage: 'bf16' });
    const first = (await record(seer)).map((row) => (row as unknown[]).slice(0, 5));
    const second = (await record(seer)).map((row) => (row as unknown[]).slice(0, 5));
    expect(second).toEqual(first);
  });
});
