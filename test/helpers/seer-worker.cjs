// worker_threads entry for test/native/threads.test.ts and test/helpers/terminate-workers.cjs. Loads the
// TypeScript sources through tsx (each worker loads the addon into its own environment) and runs one mode:
//  - 'sequence':    runs test/helpers/thread-sequence.ts for workerData.seed, posts { digests, errors }.
//  - 'kernel-loop': endless updateAsync / forecastAsync (plain and gated) / sync forecast on workerData.n
//                   elements; posts 'started' after the first round. For terminate() while work is in flight.
//  - 'hook-loop':   endless TaylorSeer moduleAsync / gatedResidual steps on workerData.n elements; same.
//  - 'idle':        holds a TaylorSeer with factors and waits on a timer; posts 'started'.
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
require('tsx/cjs/api').register();

const { mode, seed = 0, n = 1 << 20, index = 0 } = workerData;

async function kernelLoop() {
  const { native } = require('../../lib/native.ts');
  const addon = native();
  const [storage, act] = [['f32', 'f32'], ['bf16', 'bf16'], ['f16', 'f32'], ['bf16', 'f16']][index % 4];
  const host = (d, len) => (d === 'f32' ? new Float32Array(len) : new Uint16Array(len));
  const factors = host(storage, 3 * n);
  const fresh = host(act, n).fill(act === 'f32' ? 1 : 0x3c00);
  const out = host(act, n);
  const h = host(act, n);
  const dim = 4096;
  const tokens = n / dim; // gated form: h is [1, tokens, dim], gate is [1, dim]
  const gate = host(act, dim);
  for (let i = 0; ; i++) {
    const oldCount = Math.min(i, 2);
    await addon.updateAsync(storage, act, [{ factors, fresh, oldCount, newCount: Math.min(oldCount + 1, 3), divisors: [3, 3] }]);
    const count = Math.min(i + 1, 3);
    await addon.forecastAsync(storage, act, [{ factors, out, count, coeffs: [1, 0.5, 0.25] }]);
    await addon.forecastAsync(storage, act, [{ factors, out: h, residual: h, gate, tokens, dim, count, coeffs: [1, 0.5, 0.25] }]);
    addon.forecast(storage, act, [{ factors, out, count: 1, coeffs: [1] }]);
    if (i === 0) parentPort.postMessage('started');
  }
}

async function hookLoop() {
  const { TaylorSeer } = require('../../lib/taylor-seer.ts');
  const dim = 4096;
  const shape = { batch: 1, tokens: n / dim, dim };
  const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 50, interval: 3, warmup: 2 }, maxOrder: 2, storage: index % 2 ? 'bf16' : 'f32' });
  const x = new Float32Array(n).fill(0.5);
  const h = new Float32Array(n);
  const gate = new Float32Array(dim).fill(1);
  for (let i = 0; ; i++) {
    const s = i % 50;
    seer.beginStep(s);
    x[s] = s; // a cheap change per step
    await seer.moduleAsync('mlp', async () => x.slice());
    await seer.gatedResidual('res', async () => x.slice(), h, gate, shape);
    if (i === 2) parentPort.postMessage('started');
  }
}

function idle() {
  const { TaylorSeer } = require('../../lib/taylor-seer.ts');
  const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 50, interval: 3, warmup: 2 }, maxOrder: 2 });
  seer.beginStep(0);
  seer.module('a', () => new Float32Array(n).fill(1));
  setInterval(() => seer.stats, 1000);
  parentPort.postMessage('started');
}

async function main() {
  if (mode === 'sequence') {
    const { runSequence, errorClasses } = require('./thread-sequence.ts');
    const digests = await runSequence(seed);
    parentPort.postMessage({ seed, digests, errors: errorClasses() });
  } else if (mode === 'kernel-loop') await kernelLoop();
  else if (mode === 'hook-loop') await hookLoop();
  else if (mode === 'idle') idle();
  else throw new Error(`unknown mode ${mode}`);
}

main().catch((e) => process.nextTick(() => {
  throw e; // surfaces as the Worker's 'error' event
}));
