/*
 * The two ways a single-graph model's forecast step can forecast its branches, timed through the hook on the
 * sizes of a DiT-XL/2-wide graph (8 branches of [4, 256, 1152], order 2): the fused chain into the stream
 * (gatedResiduals, the 'fused' path; all 8 in one call, and in groups of 4, 2 and 1) and the plain forecast of
 * all 8 into the model's arrays (modulesAsync with outputs, the 'conditioning' and 'trunk' paths, whose graph
 * then does the gated adds). Runs from the TypeScript sources with tsx.
 *
 *   TAYLORSEER_THREADS=1 npx tsx scripts/graph-forecast-kernels.ts [--rounds R]
 *
 * Prints, per factor storage (f32, bf16), the fastest of R calls (default 6) in process CPU ms.
 */
import { parseArgs } from 'node:util';
import { TaylorSeer } from '../lib/taylor-seer';

const [B, T, D] = [4, 256, 1152];
const n = B * T * D;
const keys = Array.from({ length: 8 }, (_, k) => `block${k >> 1}.${k & 1 ? 'mlp' : 'attn'}`);

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' } } });
  const rounds = Number(values.rounds ?? 6);
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, found ${values.rounds}`);
  const never = () => Promise.reject(new Error('a forecast step computes nothing'));
  for (const storage of ['f32', 'bf16'] as const) {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 3 + rounds * 5, interval: 1000, warmup: 3 }, maxOrder: 2, storage });
    const outs = keys.map((_, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.001 + k)));
    let step = 0;
    for (; step < 3; step++) {
      seer.beginStep(step);
      await seer.modulesAsync(keys, async () => outs, { shapes: keys.map(() => [B, T, D]) });
    }
    const gates = keys.map((_, k) => new Float32Array(B * D).fill(0.5 + 0.01 * k));
    const h = new Float32Array(n);
    const buffers = keys.map(() => new Float32Array(n));
    const best: Record<string, number> = {};
    const time = async (name: string, f: () => Promise<unknown>) => {
      seer.beginStep(step++);
      const c0 = cpuMs();
      await f();
      best[name] = Math.min(best[name] ?? Infinity, cpuMs() - c0);
    };
    for (let r = 0; r < rounds; r++) {
      for (const group of [8, 4, 2, 1]) {
        await time(`fused chain, ${8 / group} call(s) of ${group}`, async () => {
          for (let k0 = 0; k0 < keys.length; k0 += group) {
            await seer.gatedResiduals(keys.slice(k0, k0 + group).map((key, j) => ({ key, compute: never, gate: gates[k0 + j] })), h, { batch: B, tokens: T, dim: D });
          }
        });
      }
      await time('plain forecast of all 8 into arrays', () => seer.modulesAsync(keys, never, { outputs: buffers }));
    }
    console.log(JSON.stringify({ storage, cpuMs: Object.fromEntries(Object.entries(best).map(([k, v]) => [k, +v.toFixed(1)])) }));
    seer.dispose();
  }
}

main().catch((e: Error) => {
  console.error(`graph-forecast-kernels: ${e.message}`);
  process.exit(1);
});
