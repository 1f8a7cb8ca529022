// Child process for test/lifetimes.test.ts: TaylorSeer objects dropped without dispose() must be collected
// with everything they hold.
//   node --expose-gc test/helpers/gc-drop.cjs <count> <n>
// Creates <count> TaylorSeers in batches of 500 (storage f32/f16/bf16 in turn, 2 entries x 3 factors of n
// elements each, left mid-run; every 10th also has a moduleAsync whose compute never resolves), drops them,
// runs gc() after each batch and samples process.memoryUsage(). Prints one JSON line.
'use strict';
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
require('tsx/cjs/api').register();
const { TaylorSeer } = require('../../lib/taylor-seer.ts');

const count = Number(process.argv[2] ?? 5000);
const n = Number(process.argv[3] ?? 16384);
const x = { f32: new Float32Array(n).fill(0.25), f16: new Uint16Array(n).fill(0x3400), bf16: new Uint16Array(n).fill(0x3e80) };
let collected = 0;
const registry = new FinalizationRegistry(() => collected++);
const dtypes = ['f32', 'f16', 'bf16'];

function makeAndDrop(i) {
  const act = dtypes[(i >> 1) % 3];
  const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 3, warmup: 2 }, maxOrder: 2, storage: dtypes[i % 3], activation: act });
  for (let s = 0; s < 3; s++) {
    seer.beginStep(s);
    seer.module('a', () => x[act]);
    seer.module('b', () => x[act]);
  }
  if (i % 10 === 0) {
    seer.beginStep(3);
    seer.moduleAsync('c', () => new Promise(() => {})).catch(() => {}); // never settles
  }
  registry.register(seer, i);
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function collect() {
  for (let k = 0; k < 3; k++) {
    globalThis.gc();
    await settle();
  }
}

const mb = (v) => Math.round((v / 2 ** 20) * 10) / 10;
function sample(created) {
  const m = process.memoryUsage();
  return { created, rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), arrayBuffersMB: mb(m.arrayBuffers) };
}

async function main() {
  const bytesEach = 2 * 3 * n * 4; // upper bound (f32 storage)
  let created = 0;
  for (; created < 500; created++) makeAndDrop(created); // warm-up: JIT, allocator arenas
  await collect();
  const baseline = sample(created);
  const samples = [];
  while (created < count) {
    for (let k = 0; k < 500 && created < count; k++) makeAndDrop(created++);
    await collect();
    samples.push(sample(created));
  }
  await collect();
  process.stdout.write(JSON.stringify({ count, n, bytesEachMax: bytesEach, retainedIfLeakedMB: mb(bytesEach * count), baseline, samples, created, collected }) + '\n');
}

main();
