// Child process for test/lifetimes.test.ts: JS heap growth over many successful updateAsync /
// forecastAsync calls on small tensors (nothing of a settled call may stay reachable).
//   node --expose-gc test/helpers/async-heap.cjs <calls>
// Prints one JSON line: { calls, heapGrowthBytes, bytesPerCall }.
'use strict';
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
require('tsx/cjs/api').register();
const { native } = require('../../lib/native.ts');

const calls = Number(process.argv[2] ?? 20000);
const addon = native();
const factors = new Float32Array(3 * 64);
const fresh = new Float32Array(64).fill(1);
const out = new Float32Array(64);

function heap() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

async function round(n) {
  for (let i = 0; i < n; i += 2) {
    await addon.updateAsync('f32', 'f32', [{ factors, fresh, oldCount: 2, newCount: 3, divisors: [3, 3] }]);
    await addon.forecastAsync('f32', 'f32', [{ factors, out, count: 3, coeffs: [1, 0.5, 0.25] }]);
  }
}

async function main() {
  await round(2000); // warm-up
  const before = heap();
  await round(calls);
  const growth = heap() - before;
  process.stdout.write(JSON.stringify({ calls, heapGrowthBytes: growth, bytesPerCall: growth / calls }) + '\n');
}

main();
