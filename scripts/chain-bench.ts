/*
 * The forecast chain as the bundled DiT's forecast steps run it (12 gated entries, order 2 = 3 factors each,
 * [4, 256, 256] activations, one native call), timed with the caches flushed before every call, as they are
 * in the pipeline (onnxruntime runs in between). Runs from the TypeScript sources with tsx.
 *
 *   npx tsx scripts/chain-bench.ts [f16|bf16|f32] [--warm]
 *
 * Prints the median over 5 rounds of 40 calls (ms per chain) and the bytes moved per second. --warm skips the
 * flush: the factors (18-36 MB) then partly stay in the last-level cache and the figure flatters.
 */
import { native, type Dtype, type ForecastEntry } from '../lib/index';

const arg = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'f16';
const warm = process.argv.includes('--warm');
const storage = arg as Dtype;
if (!['f16', 'bf16', 'f32'].includes(storage)) {
  console.error(`chain-bench: storage must be f16, bf16 or f32, found '${storage}'`);
  process.exit(2);
}
const batch = 4, tokens = 256, dim = 256, n = batch * tokens * dim, entriesCount = 12, factors = 3;
const random = (): Float32Array | Uint16Array => {
  if (storage === 'f32') return Float32Array.from({ length: factors * n }, () => Math.random() - 0.5);
  const src = Float32Array.from({ length: factors * n }, () => Math.random() - 0.5);
  const dst = new Uint16Array(src.length);
  native().toHalf(src, storage as 'f16' | 'bf16', dst);
  return dst;
};
const h = Float32Array.from({ length: n }, () => Math.random() - 0.5);
const entries: ForecastEntry[] = [];
for (let q = 0; q < entriesCount; q++) {
  entries.push({ factors: random(), count: factors, coeffs: [1, 0.5, 0.125], out: h, residual: h, gate: new Float32Array(batch * dim).fill(0.01), tokens, dim, n });
}
const flush = new Float32Array(16 << 20); // 64 MiB, more than any last-level cache here
const run = () => native().forecast(storage, 'f32', entries, { chain: true });
for (let i = 0; i < 10; i++) run();
const rounds: number[] = [];
for (let r = 0; r < 5; r++) {
  let ns = 0n;
  for (let i = 0; i < 40; i++) {
    if (!warm) for (let k = 0; k < flush.length; k += 16) flush[k]++; // one write per cache line
    const t0 = process.hrtime.bigint();
    run();
    ns += process.hrtime.bigint() - t0;
  }
  rounds.push(Number(ns) / 1e6 / 40);
}
rounds.sort((a, b) => a - b);
const bytes = entriesCount * factors * n * (storage === 'f32' ? 4 : 2) + 2 * n * 4;
console.log(`${storage}${warm ? ' (warm)' : ''}: chain ${rounds[2].toFixed(3)} ms (min ${rounds[0].toFixed(3)}), ${(bytes / rounds[2] / 1e6).toFixed(1)} GB/s`);
