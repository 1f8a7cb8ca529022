/*
 * How a factor format would cost in quality, before writing kernels for it: the TypeScript reference hook
 * (f32) with every stored factor replaced by its quantise-dequantise round trip (the differences are still
 * taken in f32 against the stored old factors, as the kernels do). PSNR against full compute at N=5 W=3 on
 * the sample sets of quality-samples.ts. Runs from the TypeScript sources with tsx.
 *
 *   npx tsx scripts/quant-format.ts [--model fixtures/dit-digits] [--order 2] [--sets in]
 *       [--formats f32,bf16,i8-row,i8-b64,e4m3-row,e4m3-b64,bf16+i8-b64]
 *
 * Formats: f32, bf16; i8-<blocks> / e4m3-<blocks> (one absmax f32 scale per row of the model's hidden size,
 * 'row', or per bN elements); '<d0>+<rest>' stores d_0 in the first format and d_1.. in the second.
 */
import { parseArgs } from 'node:util';
import { compare, ReferenceSeer } from '../lib/pipeline/index';
import { list, loadQualityModel, modelName, MODEL_OPTION, sampleSet, STEPS } from './quality-samples';

const { values } = parseArgs({
  options: {
    model: MODEL_OPTION,
    formats: { type: 'string', default: 'f32,bf16,i8-row,i8-b64,i8-b32,e4m3-row,e4m3-b64,bf16+i8-b64' },
    order: { type: 'string', default: '2' },
    sets: { type: 'string', default: 'in' },
  },
});

/** Round trip of one factor in place; i is the factor's index (0: d_0). */
type Quantiser = (x: Float32Array, i: number) => void;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** f32 -> bf16 -> f32, round to nearest even (finite values) */
function bf16(x: number): number {
  f32[0] = x;
  u32[0] = (u32[0] + 0x7fff + ((u32[0] >> 16) & 1)) & 0xffff0000;
  return f32[0];
}
/** round half to even, as the kernels' rint */
function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
const i8 = (v: number): number => Math.max(-127, Math.min(127, rint(v)));
function e4m3(v: number): number {
  const a = Math.abs(v);
  if (a === 0) return 0;
  const e = Math.max(-6, Math.floor(Math.log2(a)));
  const step = 2 ** (e - 3);
  return Math.sign(v) * Math.min(448, Math.round(a / step) * step);
}
/** blocks of `block` elements, one absmax scale (f32) each */
function blocks(x: Float32Array, block: number, kind: 'i8' | 'e4m3'): void {
  const max = kind === 'i8' ? 127 : 448;
  for (let b = 0; b < x.length; b += block) {
    const end = Math.min(x.length, b + block);
    let m = 0;
    for (let k = b; k < end; k++) m = Math.max(m, Math.abs(x[k]));
    if (m === 0) continue;
    const scale = Math.fround(m / max);
    for (let k = b; k < end; k++) x[k] = Math.fround((kind === 'i8' ? i8(x[k] / scale) : e4m3(x[k] / scale)) * scale);
  }
}
function quantiser(format: string, hidden: number): Quantiser {
  const mixed = /^([^+]+)\+(.+)$/.exec(format);
  if (mixed) {
    const first = quantiser(mixed[1], hidden);
    const rest = quantiser(mixed[2], hidden);
    return (x, i) => (i === 0 ? first(x, i) : rest(x, i));
  }
  if (format === 'f32') return () => {};
  if (format === 'bf16') return (x) => x.forEach((v, k) => (x[k] = bf16(v)));
  const m = /^(i8|e4m3)-(row|b(\d+))$/.exec(format);
  if (m) return (x) => blocks(x, m[2] === 'row' ? hidden : Number(m[3]), m[1] as 'i8' | 'e4m3');
  throw new Error(`unknown format '${format}' (f32, bf16, i8-row, i8-bN, e4m3-row, e4m3-bN, or <d0>+<rest>)`);
}

/** The reference hook's factor table: private to it, reached here to round every stored factor. */
interface FactorTable {
  entries: Map<string, { factors: Float32Array[] }>;
}

async function main(): Promise<void> {
  const dir = values.model;
  const model = await loadQualityModel(dir);
  const hidden = (model.arch as { hidden: number }).hidden;
  const order = Number(values.order);
  for (const name of list(values.sets)) {
    const set = await sampleSet(model, dir, name);
    for (const format of list(values.formats)) {
      const q = quantiser(format, hidden);
      const seer = new ReferenceSeer({ schedule: { kind: 'fixed', steps: STEPS, interval: 5, warmup: 3 }, maxOrder: order });
      const map = (seer as unknown as FactorTable).entries;
      map.set = function (id, e) {
        e.factors.forEach((f, i) => q(f, i));
        return Map.prototype.set.call(this, id, e) as typeof map;
      };
      const c = await compare(model, { ...set.base, seer, full: set.full });
      process.stdout.write(`${JSON.stringify({ model: modelName(dir), set: name, format, order, psnr: +c.quality.psnr.toFixed(3) })}\n`);
    }
  }
  await model.dispose();
}
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
