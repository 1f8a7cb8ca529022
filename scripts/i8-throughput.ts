/*
 * The CPU kernels' throughput with 'i8' factors against bf16: update and forecast of one entry, orders 1-3,
 * factors of 16 and 64 MiB (the f32 size of one factor), the two storages alternated call by call. Times
 * are process CPU time (process.cpuUsage), not wall time, so jobs sharing the machine lengthen neither
 * side; the kernels run on one thread (TAYLORSEER_THREADS=1 unless set). Prints one JSON line per cell:
 * the median CPU ms of each storage, ns per element, the throughput ratio i8 / bf16 (bf16 ms / i8 ms), and
 * the ratio of the bytes each moves, the most a memory-bound kernel can gain: bytesRatio counts what is
 * read and written, boundRatio adds the reads a cache makes before it writes a line nobody read (the
 * update's last factor; the forecast's output below 8 Mi elements, from where the kernels stream it).
 * Then the load average while it ran. --against OTHER.node also times that build's kernels against this
 * one's, per storage alternated call by call on copies of the same factors, in a pass of their own
 * (`against.bf16`, `against.i8`: both medians and speedup = other's CPU time / this build's).
 *
 *   npx tsx scripts/i8-throughput.ts [--sizes 16,64] [--orders 1,2,3] [--budget-ms 1500] [--against OTHER.node]
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

process.env.TAYLORSEER_THREADS ??= '1';

/** the kernels' streaming-store threshold for f32 outputs (kStreamElements, native/cpu_kernels_impl.h) */
const STREAM_ELEMENTS = 8 << 20;

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,64' },
    orders: { type: 'string', default: '1,2,3' },
    'budget-ms': { type: 'string', default: '1500' },
    against: { type: 'string' },
  },
});

/** process CPU time (user + system, every thread) in ms */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  // loaded after TAYLORSEER_THREADS is set: the pool reads it when the addon starts
  const { factorBytes, factorUnits, native, writeI8Factor } = await import('../lib/native');
  const { timePair } = await import('../lib/bench/timing');
  const addon = native();
  const other = values.against ? (createRequire(__filename)(path.resolve(values.against)) as typeof addon) : undefined;
  const budgetMs = Number(values['budget-ms']);
  const load0 = os.loadavg()[0];
  for (const mib of values.sizes.split(',').map(Number)) {
    const n = (mib << 20) / 4;
    const fresh = Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
    const out = new Float32Array(n);
    for (const order of values.orders.split(',').map(Number)) {
      const count = order + 1;
      const src = Float32Array.from({ length: count * n }, () => Math.random() * 2 - 1);
      const bf16 = new Uint16Array(count * n);
      addon.toHalf(src, 'bf16', bf16);
      const i8 = new Uint8Array(factorUnits('i8', n, count));
      for (let i = 0; i < count; i++) writeI8Factor(src.subarray(i * n, (i + 1) * n), i8, i, n);
      const bf16Other = bf16.slice();
      const i8Other = i8.slice();
      const divisors = Array.from({ length: order }, () => 2);
      const coeffs = Array.from({ length: count }, (_, i) => 1 / (i + 1));
      const ops = {
        update: {
          bf16: () => addon.update('bf16', 'f32', [{ factors: bf16, fresh, oldCount: count, newCount: count, divisors }]),
          i8: () => addon.update('i8', 'f32', [{ factors: i8, fresh, oldCount: count, newCount: count, divisors }]),
          other: {
            bf16: () => other?.update('bf16', 'f32', [{ factors: bf16Other, fresh, oldCount: count, newCount: count, divisors }]),
            i8: () => other?.update('i8', 'f32', [{ factors: i8Other, fresh, oldCount: count, newCount: count, divisors }]),
          },
          // fresh read; d_0..d_{K-1} read; d_0..d_K written
          bytes: (s: 'bf16' | 'i8') => 4 * n + factorBytes(s, n, order) + factorBytes(s, n, count),
          // d_K is written without being read: its lines are read in first
          allocate: (s: 'bf16' | 'i8') => factorBytes(s, n, count) - factorBytes(s, n, order),
        },
        forecast: {
          bf16: () => addon.forecast('bf16', 'f32', [{ factors: bf16, out, count, coeffs }]),
          i8: () => addon.forecast('i8', 'f32', [{ factors: i8, out, count, coeffs }]),
          other: {
            bf16: () => other?.forecast('bf16', 'f32', [{ factors: bf16Other, out, count, coeffs }]),
            i8: () => other?.forecast('i8', 'f32', [{ factors: i8Other, out, count, coeffs }]),
          },
          bytes: (s: 'bf16' | 'i8') => factorBytes(s, n, count) + 4 * n,
          allocate: (_s: 'bf16' | 'i8') => (n >= STREAM_ELEMENTS ? 0 : 4 * n),
        },
      };
      for (const [op, o] of Object.entries(ops)) {
        const [tb, ti] = timePair(o.bf16, o.i8, budgetMs, 5, 200, cpuMs);
        const row = {
          op, order, mib, bf16CpuMs: +tb.medianMs.toFixed(2), i8CpuMs: +ti.medianMs.toFixed(2),
          bf16NsPerElement: +((tb.medianMs * 1e6) / n).toFixed(3), i8NsPerElement: +((ti.medianMs * 1e6) / n).toFixed(3),
          throughputRatio: +(tb.medianMs / ti.medianMs).toFixed(3), bytesRatio: +(o.bytes('bf16') / o.bytes('i8')).toFixed(3),
          boundRatio: +((o.bytes('bf16') + o.allocate('bf16')) / (o.bytes('i8') + o.allocate('i8'))).toFixed(3), reps: tb.reps,
        };
        if (other) {
          const against: Record<string, { cpuMs: number; otherCpuMs: number; speedup: number }> = {};
          for (const s of ['bf16', 'i8'] as const) {
            const [ta, to] = timePair(o[s], o.other[s], budgetMs, 5, 200, cpuMs);
            against[s] = { cpuMs: +ta.medianMs.toFixed(2), otherCpuMs: +to.medianMs.toFixed(2), speedup: +(to.medianMs / ta.medianMs).toFixed(3) };
          }
          Object.assign(row, { against });
        }
        process.stdout.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ threads: process.env.TAYLORSEER_THREADS, loadavg1: [+load0.toFixed(2), +os.loadavg()[0].toFixed(2)], cpus: os.cpus().length })}\n`);
}
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
