/*
 * The forecast chain as a pipeline's forecast steps run it: E gated entries (default 12, the bundled DiT's
 * modules), order 2 = 3 factors each, [B, T, D] activations (default [4, 256, 256]), f32 activations, one
 * native call, timed with the caches flushed before every call, as they are in the pipeline (onnxruntime
 * runs in between). Runs from the TypeScript sources with tsx.
 *
 *   npx tsx scripts/chain-bench.ts [--storage f16|bf16|f32|i8] [--shape B,T,D] [--entries E] [--warm]
 *     [--against OTHER.node] [--calls N]
 *
 * Prints the median wall ms per chain over N calls (default 200) and the bytes moved per second. --warm skips
 * the flush: the factors then partly stay in the last-level cache and the figure flatters. --against loads a
 * second build of the addon (e.g. the previous commit's build/Release/taylorseer.node, copied aside) and
 * alternates the two call by call on the same inputs, each into its own h: it prints both medians, their
 * ratio, and whether the two h are the same bits after the same number of calls.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { factorBytes, factorUnits, native, STORAGE_DTYPES, writeI8Factor, type ForecastEntry, type NativeAddon, type StorageDtype } from '../lib/native';

const { values } = parseArgs({
  options: {
    storage: { type: 'string', default: 'f16' },
    shape: { type: 'string', default: '4,256,256' },
    entries: { type: 'string', default: '12' },
    calls: { type: 'string', default: '200' },
    against: { type: 'string' },
    warm: { type: 'boolean', default: false },
  },
});
const fail = (what: string): never => {
  console.error(`chain-bench: ${what}`);
  process.exit(2);
};
const storage = values.storage as StorageDtype;
if (!STORAGE_DTYPES.includes(storage)) fail(`--storage must be one of ${STORAGE_DTYPES.join(', ')}, found '${storage}'`);
const shape = values.shape.split(',').map(Number);
if (shape.length !== 3 || !shape.every((v) => Number.isInteger(v) && v > 0)) fail(`--shape must be B,T,D (positive integers), found '${values.shape}'`);
const [batch, tokens, dim] = shape;
const entriesCount = Number(values.entries);
const calls = Number(values.calls);
if (!Number.isInteger(entriesCount) || entriesCount < 1 || entriesCount > 64) fail(`--entries must be an integer in [1, 64], found '${values.entries}'`);
if (!Number.isInteger(calls) || calls < 10) fail(`--calls must be an integer of at least 10, found '${values.calls}'`);
const n = batch * tokens * dim;
const factors = 3;
if (entriesCount * factorBytes(storage, n, factors) > 4 * 2 ** 30) fail('the factors would take more than 4 GiB; use a smaller --shape or fewer --entries');

function randomFactors(): Float32Array | Uint16Array | Uint8Array {
  const src = Float32Array.from({ length: factors * n }, () => Math.random() - 0.5);
  if (storage === 'f32') return src;
  if (storage === 'i8') {
    const dst = new Uint8Array(factorUnits('i8', n, factors));
    for (let i = 0; i < factors; i++) writeI8Factor(src.subarray(i * n, (i + 1) * n), dst, i, n);
    return dst;
  }
  const dst = new Uint16Array(src.length);
  native().toHalf(src, storage, dst);
  return dst;
}

const h0 = Float32Array.from({ length: n }, () => Math.random() - 0.5);
const gate = Float32Array.from({ length: batch * dim }, () => 0.01 + 0.01 * Math.random());
const terms = Array.from({ length: entriesCount }, () => ({ factors: randomFactors(), count: factors, coeffs: [1, 0.5, 0.125], gate, tokens, dim, n }));
const entriesInto = (h: Float32Array): ForecastEntry[] => terms.map((t) => ({ ...t, out: h, residual: h }) as ForecastEntry);

const builds: { name: string; addon: NativeAddon; h: Float32Array; ms: number[] }[] = [{ name: 'this build', addon: native(), h: h0.slice(), ms: [] }];
if (values.against) {
  const file = path.resolve(values.against);
  builds.push({ name: path.basename(file), addon: createRequire(__filename)(file) as NativeAddon, h: h0.slice(), ms: [] });
}
const runs = builds.map((b) => {
  const entries = entriesInto(b.h);
  return () => b.addon.forecast(storage, 'f32', entries, { chain: true });
});

const flush = new Float32Array(16 << 20); // 64 MiB, more than any last-level cache here
for (let i = 0; i < 10; i++) runs.forEach((r) => r());
for (let c = 0; c < calls; c++) {
  // alternate which build goes first, so neither always follows the flush
  for (let k = 0; k < runs.length; k++) {
    const j = (c + k) % runs.length;
    if (!values.warm) for (let x = 0; x < flush.length; x += 16) flush[x]++; // one write per cache line
    const t0 = process.hrtime.bigint();
    runs[j]();
    builds[j].ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
const median = (a: number[]) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const bytes = entriesCount * factorBytes(storage, n, factors) + 2 * n * 4;
const label = `${storage}${values.warm ? ' (warm)' : ''} [${batch}, ${tokens}, ${dim}] x ${entriesCount}`;
for (const b of builds) {
  const m = median(b.ms);
  console.log(`${label}, ${b.name}: chain ${m.toFixed(3)} ms (min ${Math.min(...b.ms).toFixed(3)}), ${(bytes / m / 1e6).toFixed(1)} GB/s`);
}
if (builds.length === 2) {
  const [a, b] = builds;
  const same = Buffer.compare(Buffer.from(a.h.buffer), Buffer.from(b.h.buffer)) === 0;
  console.log(`${label}: ${b.name} / this build = ${(median(b.ms) / median(a.ms)).toFixed(2)}x the time; h the same bits: ${same}`);
}
