// Child process for test/lifetimes.test.ts: a caller detaches (structuredClone transfer) the buffers of a
// native updateAsync / forecastAsync call while it runs on the libuv pool, and drops the clone, so the memory
// can be freed and reused. The call must then fail with a typed error, never touch freed memory.
//   node --expose-gc test/helpers/detach-in-flight.cjs <n> <rounds>
// Prints one JSON line: { outcomes: ['resolved' | error code, ...], corrupted: <filler elements changed> }.
'use strict';
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
require('tsx/cjs/api').register();
const { native } = require('../../lib/native.ts');

const n = Number(process.argv[2] ?? 8 << 20);
const rounds = Number(process.argv[3] ?? 4);
const addon = native();

async function outcome(p) {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return e && e.name === 'TaylorSeerError' ? e.code : `untyped: ${e}`;
  }
}

async function main() {
  const outcomes = [];
  let corrupted = 0;
  for (let r = 0; r < rounds; r++) {
    let factors = new Float32Array(3 * n);
    let out = new Float32Array(n);
    const fresh = new Float32Array(n).fill(1);
    const p =
      r % 2 === 0
        ? addon.updateAsync('f32', 'f32', [{ factors, fresh, oldCount: 0, newCount: 1 }])
        : addon.forecastAsync('f32', 'f32', [{ factors: fresh, out, count: 1, coeffs: [2] }]);
    const victim = r % 2 === 0 ? factors : out;
    structuredClone(victim.buffer, { transfer: [victim.buffer] }); // the clone is dropped at once
    factors = out = null;
    globalThis.gc();
    globalThis.gc();
    const filler = Array.from({ length: 6 }, () => new Float32Array(3 * n).fill(7));
    outcomes.push(await outcome(p));
    for (const f of filler) for (let j = 0; j < f.length; j += 1024) if (f[j] !== 7) corrupted++;
  }
  process.stdout.write(JSON.stringify({ outcomes, corrupted }) + '\n');
}

main();
