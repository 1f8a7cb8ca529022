/*
 * What the private copies of async kernel calls cost (native/async_staging.h): updateAsync and forecastAsync
 * on ArrayBuffer-backed arrays (copied in when queued, results copied back when done) against the same calls
 * on SharedArrayBuffer-backed arrays (used in place) and against the synchronous calls. f32, order 2
 * (3 factors), n elements per factor. Runs from the TypeScript sources with tsx, through the package entry.
 *
 *   npx tsx scripts/async-copy-bench.ts [n = 4194304] [reps = 15]
 *
 * Prints per call the median milliseconds until the Promise settles and the median milliseconds the call
 * blocks the JS thread before returning (the copy-in happens there).
 */
import { native } from '../lib/index';

const n = Number(process.argv[2] ?? 1 << 22);
const reps = Number(process.argv[3] ?? 15);
const addon = native();

function arrays(shared: boolean) {
  const make = (len: number) => new Float32Array(shared ? new SharedArrayBuffer(len * 4) : new ArrayBuffer(len * 4)).fill(0.5);
  return { factors: make(3 * n), fresh: make(n), out: make(n) };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(label: string, call: () => unknown): Promise<void> {
  const total: number[] = [];
  const blocked: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const t0 = process.hrtime.bigint();
    const p = call();
    const t1 = process.hrtime.bigint();
    await p;
    const t2 = process.hrtime.bigint();
    if (r < 2) continue; // warm-up
    blocked.push(Number(t1 - t0) / 1e6);
    total.push(Number(t2 - t0) / 1e6);
  }
  console.log(`${label.padEnd(36)} settles after ${median(total).toFixed(2)} ms, blocks the JS thread ${median(blocked).toFixed(2)} ms`);
}

async function main(): Promise<void> {
  console.log(`n = ${n} f32 elements per factor, 3 factors, median of ${reps}`);
  for (const [name, shared] of [['ArrayBuffer (copied)', false], ['SharedArrayBuffer (in place)', true]] as const) {
    const a = arrays(shared);
    const up = [{ factors: a.factors, fresh: a.fresh, oldCount: 3, newCount: 3, divisors: [1, 1] }];
    const fc = [{ factors: a.factors, out: a.out, count: 3, coeffs: [1, 0.5, 0.25] }];
    await time(`updateAsync, ${name}`, () => addon.updateAsync('f32', 'f32', up));
    await time(`forecastAsync, ${name}`, () => addon.forecastAsync('f32', 'f32', fc));
    if (!shared) {
      await time('update (sync)', () => addon.update('f32', 'f32', up));
      await time('forecast (sync)', () => addon.forecast('f32', 'f32', fc));
    }
  }
}

void main();
