/**
 * Threads: the addon in several worker_threads at once, terminate() while kernels are in flight, and what
 * concurrent Promise-returning calls on one TaylorSeer do.
 *
 * Spec checked here (derived from lib/taylor-seer.ts, lib/cache.ts and native/kernel_binding.cc):
 *  - Every worker_thread that loads the addon gets its own state (error class, device hooks: AddonData);
 *    the CPU thread pool is process-wide and shared, a caller that finds it busy runs inline. Workers with
 *    their own TaylorSeer objects produce exactly the bytes the main thread produces (no cross-talk).
 *  - terminate() of a worker whose kernels are running or queued must not crash the process, and workers
 *    started afterwards work.
 *  - On one TaylorSeer, concurrent Promise-returning calls are either rejected or effectively serialised:
 *    the same (context, key) twice in a step is ERR_STEP; beginStep()/reset() while a call is in flight is
 *    ERR_BUSY; different keys may be in flight together and give the same bytes as awaiting them one by
 *    one (the cache is only touched on the JS thread, after each compute resolves); dispose() is not
 *    refused, the in-flight calls then end with ERR_DISPOSED and write nothing.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { TaylorSeer } from '../../lib/taylor-seer';
import { native } from '../../lib/native';
import { CONFIGS, errorClasses, runSequence, type Digests } from '../helpers/thread-sequence';
import { typedCodeOf as codeOf } from '../helpers/code-of';

const helpers = path.resolve(__dirname, '../helpers');
const workerEntry = path.join(helpers, 'seer-worker.cjs');

interface SequenceResult {
  seed: number;
  digests: Digests;
  errors: ReturnType<typeof errorClasses>;
}

function sequenceInWorker(seed: number): Promise<SequenceResult> {
  const w = new Worker(workerEntry, { workerData: { mode: 'sequence', seed } });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`worker for seed ${seed} exited with code ${code} before posting`)));
  });
}

function digestsOf(d: Digests, prefix: string): string[] {
  return d.filter(([label]) => label.includes(prefix)).map(([, h]) => h);
}

describe('the addon in worker_threads', () => {
  it('4 workers at once, each with its own TaylorSeers, give the main thread\'s bytes exactly', async () => {
    const seeds = [11, 22, 33, 44];
    const inWorkers = seeds.map(sequenceInWorker);
    // The main thread runs the same sequences meanwhile: 5 environments share the CPU pool.
    const onMain: Digests[] = [];
    for (const seed of seeds) onMain.push(await runSequence(seed));
    const got = await Promise.all(inWorkers);

    got.forEach((r, i) => {
      expect(r.seed).toBe(seeds[i]);
      expect(r.digests).toEqual(onMain[i]);
      // each environment constructs its own TaylorSeerError class, from TS and from C++ alike
      expect(r.errors).toEqual([
        ['hook', true, 'ERR_ORDER'],
        ['addon', true, 'ERR_INVALID_ARGUMENT'],
      ]);
    });
    // the comparison means something: seeds differ, and the workload covers every config and step kind
    expect(new Set(onMain.map((d) => d[0][1])).size).toBe(seeds.length);
    expect(onMain[0].length).toBe(CONFIGS.length * (14 + 6 + 1 + 6));
    expect(onMain[0].some(([l]) => l.includes('(forecast)'))).toBe(true);
    // beginStep(0) (a new run) and reset() replay the first run's bytes
    for (const c of CONFIGS) {
      const first6 = digestsOf(onMain[0], `${c.name} run 1 step`).slice(0, 6);
      expect(digestsOf(onMain[0], `${c.name} run 2 step`)).toEqual(first6);
      expect(digestsOf(onMain[0], `${c.name} after reset step`)).toEqual(first6);
    }
  });

  it('workers that load and unload the addon one after another keep working (3 generations of 3)', async () => {
    const want = await runSequence(7);
    for (let gen = 0; gen < 3; gen++) {
      const got = await Promise.all([7, 7, 7].map(sequenceInWorker));
      for (const r of got) expect(r.digests).toEqual(want);
    }
  });

  it('the main thread\'s own error class is unaffected by the workers', () => {
    expect(errorClasses()).toEqual([
      ['hook', true, 'ERR_ORDER'],
      ['addon', true, 'ERR_INVALID_ARGUMENT'],
    ]);
  });
});

/** Runs test/helpers/terminate-workers.cjs in a child process: a crash there is an exit status here. */
function terminateScenario(scenario: 'idle' | 'in-flight', rounds: number, n: number) {
  const r = spawnSync(process.execPath, [path.join(helpers, 'terminate-workers.cjs'), scenario, String(rounds), String(n)], {
    encoding: 'utf8',
    env: process.env,
    // a crash test, not a timing one: on a 2-core machine shared with other jobs the in-flight scenario took
    // 160-200 s, so the child's limit only stops a hang
    timeout: 400_000,
    maxBuffer: 64 << 20,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let result: { ok: boolean; exitCodes: number[][]; after: SequenceResult[] } | undefined;
  try {
    result = JSON.parse(line);
  } catch {
    result = undefined;
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr.slice(-2000), result };
}

describe('terminate() while work is in flight', () => {
  it('terminating idle workers that hold factors, then starting new ones, works', async () => {
    const { status, signal, stderr, result } = terminateScenario('idle', 3, 1 << 20);
    expect({ status, signal, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(result!.exitCodes).toEqual([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]]);
    for (const r of result!.after) expect(r.digests).toEqual(await runSequence(r.seed));
  }, 420_000);

  // Regression: terminate() of a worker whose kernels were in flight aborted the whole process (exit 134:
  // at teardown the pending AsyncWorker completion cannot throw into JS, node-addon-api rethrew out of a C
  // callback). Built with NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS (CMakeLists.txt, binding.gyp) it cannot.
  it('terminating 4 workers in updateAsync/forecastAsync/hook loops on 8M-element tensors does not crash; later workers work', async () => {
    const { status, signal, stderr, result } = terminateScenario('in-flight', 6, 8 << 20);
    expect({ status, signal, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(result!.exitCodes).toEqual(Array.from({ length: 6 }, () => [1, 1, 1, 1]));
    for (const r of result!.after) expect(r.digests).toEqual(await runSequence(r.seed));
  }, 420_000);
});

describe('concurrent Promise-returning calls on one TaylorSeer', () => {
  const schedule = { kind: 'fixed', steps: 10, interval: 3, warmup: 2 } as const; // full: 0, 1, 4, 7
  const shape = { batch: 1, tokens: 4, dim: 8 };
  const n = 32;
  const F = (s: number, k: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(0.3 * s + j + k) + 0.01 * s * s);
  const gate = () => Float32Array.from({ length: shape.dim }, (_, j) => 0.5 + 0.1 * j);
  /** a compute whose result the test releases by hand */
  function manual<T>(value: () => T) {
    let release!: () => void;
    const promise = new Promise<T>((r) => (release = () => r(value())));
    return { compute: () => promise, release: () => release() };
  }

  it('the same (context, key) twice in one step: the second call is ERR_STEP and changes nothing', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    seer.beginStep(0);
    const first = manual(() => F(0, 0));
    const p1 = seer.moduleAsync('a', first.compute);
    let secondCalled = false;
    const p2 = seer.moduleAsync('a', async () => ((secondCalled = true), F(0, 9)));
    expect(await codeOf(() => p2)).toBe('ERR_STEP');
    const h = new Float32Array(n).fill(3);
    expect(await codeOf(() => seer.gatedResidual('a', async () => F(0, 9), h, gate(), shape))).toBe('ERR_STEP');
    expect(Array.from(h)).toEqual(new Array(n).fill(3));
    first.release();
    expect(Array.from(await p1)).toEqual(Array.from(F(0, 0)));
    expect(secondCalled).toBe(false);
    expect(seer.stats).toMatchObject({ computes: 1, entries: 1 });
    // another context is another cache entry: allowed alongside
    expect(Array.from(await seer.moduleAsync('a', async () => F(0, 5), { context: 'uncond' }))).toEqual(Array.from(F(0, 5)));
  });

  it('beginStep() and reset() while calls are in flight are ERR_BUSY; afterwards the run continues as if they never happened', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2 });
    const control = new TaylorSeer({ schedule, maxOrder: 2 });
    seer.beginStep(0);
    control.beginStep(0);
    const a = manual(() => F(0, 0));
    const pending = [seer.moduleAsync('a', a.compute), seer.gatedResidual('g', async () => F(0, 1), new Float32Array(n), gate(), shape)];
    expect(await codeOf(() => seer.beginStep(1))).toBe('ERR_BUSY');
    expect(await codeOf(() => seer.beginStep(0))).toBe('ERR_BUSY');
    expect(await codeOf(() => seer.reset())).toBe('ERR_BUSY');
    a.release();
    await Promise.all(pending);
    await control.moduleAsync('a', async () => F(0, 0));
    await control.gatedResidual('g', async () => F(0, 1), new Float32Array(n), gate(), shape);
    for (let s = 1; s < 10; s++) {
      seer.beginStep(s);
      control.beginStep(s);
      expect(Array.from(await seer.moduleAsync('a', async () => F(s, 0)))).toEqual(Array.from(await control.moduleAsync('a', async () => F(s, 0))));
    }
    expect(seer.stats).toEqual(control.stats);
  });

  it('different keys in flight together (computes resolving in reverse order) give the bytes of one-by-one awaiting', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    const together = new TaylorSeer({ schedule, maxOrder: 3, storage: 'bf16' });
    const oneByOne = new TaylorSeer({ schedule, maxOrder: 3, storage: 'bf16' });
    for (let s = 0; s < 10; s++) {
      together.beginStep(s);
      oneByOne.beginStep(s);
      const computes = keys.map((_, k) => manual(() => F(s, k)));
      const hT = keys.map(() => new Float32Array(n).fill(1));
      const calls = keys.map((key, k) =>
        k % 2 ? together.gatedResidual(key, computes[k].compute, hT[k], gate(), shape) : together.moduleAsync(key, computes[k].compute),
      );
      [...computes].reverse().forEach((c) => c.release());
      const got = await Promise.all(calls);
      for (let k = 0; k < keys.length; k++) {
        if (k % 2) {
          const h = new Float32Array(n).fill(1);
          await oneByOne.gatedResidual(keys[k], async () => F(s, k), h, gate(), shape);
          expect(hT[k], `step ${s} ${keys[k]}`).toEqual(h);
        } else {
          expect(got[k], `step ${s} ${keys[k]}`).toEqual(await oneByOne.moduleAsync(keys[k], async () => F(s, k)));
        }
      }
    }
    expect(together.stats).toEqual(oneByOne.stats);
    // inspect() lists entries in creation order, which here is the order the computes resolved
    const byKey = (s: TaylorSeer) => s.inspect().sort((a, b) => a.key.localeCompare(b.key));
    expect(byKey(together)).toEqual(byKey(oneByOne));
  });

  it('dispose() is not refused while calls are in flight: they end with ERR_DISPOSED and write nothing', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 1 });
    seer.beginStep(0);
    const h = new Float32Array(n).fill(2);
    const a = manual(() => F(0, 0));
    const g = manual(() => F(0, 1));
    const pending = [seer.moduleAsync('a', a.compute), seer.gatedResidual('g', g.compute, h, gate(), shape)];
    seer.dispose();
    a.release();
    g.release();
    const codes = await Promise.all(pending.map((p) => codeOf(() => p)));
    expect(codes).toEqual(['ERR_DISPOSED', 'ERR_DISPOSED']);
    expect(Array.from(h)).toEqual(new Array(n).fill(2));
  });

  it('a compute that rejects frees its key: the same key can be computed again in that step', async () => {
    const seer = new TaylorSeer({ schedule, maxOrder: 1 });
    seer.beginStep(0);
    await expect(seer.moduleAsync('a', async () => Promise.reject(new Error('model failed')))).rejects.toThrow('model failed');
    expect(seer.stats).toMatchObject({ computes: 0, entries: 0 });
    expect(Array.from(await seer.moduleAsync('a', async () => F(0, 0)))).toEqual(Array.from(F(0, 0)));
  });
});

describe('native async calls from one thread', () => {
  it('8 updateAsync/forecastAsync calls in flight at once on distinct buffers give the bytes of the sync calls', async () => {
    const addon = native();
    const len = 1 << 17; // above the parallel threshold: the libuv threads compete for the CPU pool
    const mk = (i: number) => ({
      factors: Float32Array.from({ length: 3 * len }, (_, j) => Math.sin(j * 0.001 + i)),
      fresh: Float32Array.from({ length: len }, (_, j) => Math.cos(j * 0.002 + i)),
      out: new Float32Array(len),
    });
    const asyncSets = Array.from({ length: 8 }, (_, i) => mk(i));
    const syncSets = Array.from({ length: 8 }, (_, i) => mk(i));
    await Promise.all(asyncSets.map((b, i) => addon.updateAsync('f32', 'f32', [{ factors: b.factors, fresh: b.fresh, oldCount: 2, newCount: 3, divisors: [i + 1, 2] }])));
    syncSets.forEach((b, i) => addon.update('f32', 'f32', [{ factors: b.factors, fresh: b.fresh, oldCount: 2, newCount: 3, divisors: [i + 1, 2] }]));
    await Promise.all(asyncSets.map((b) => addon.forecastAsync('f32', 'f32', [{ factors: b.factors, out: b.out, count: 3, coeffs: [1, 2, 0.5] }])));
    syncSets.forEach((b) => addon.forecast('f32', 'f32', [{ factors: b.factors, out: b.out, count: 3, coeffs: [1, 2, 0.5] }]));
    asyncSets.forEach((b, i) => {
      expect(Buffer.from(b.factors.buffer).equals(Buffer.from(syncSets[i].factors.buffer))).toBe(true);
      expect(Buffer.from(b.out.buffer).equals(Buffer.from(syncSets[i].out.buffer))).toBe(true);
    });
  });
});
