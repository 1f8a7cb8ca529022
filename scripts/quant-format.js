#!/usr/bin/env node
/*
 * How an 8-bit factor format would cost in quality, before writing kernels for it: the TypeScript reference
 * hook (f32) with every stored factor replaced by its quantise-dequantise round trip (the differences are
 * still taken in f32 against the stored old factors, as the kernels do). PSNR against full compute at N=5
 * O=2 W=3 on a made model's 8 quality samples. Needs `npm run build:ts`.
 *
 *   node scripts/quant-format.js [--model fixtures/dit-digits] [--formats f32,bf16,i8-row,i8-b64,e4m3-row,e4m3-b64]
 */
'use strict';
const path = require('node:path');
const { parseArgs } = require('node:util');
const root = path.join(__dirname, '..');
const lib = require(path.join(root, 'dist/pipeline/index.js'));
const { readF32 } = require(path.join(root, 'dist/pipeline/noise.js'));

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: path.join(root, 'fixtures/dit-digits') },
    formats: { type: 'string', default: 'f32,bf16,i8-row,i8-b64,i8-b32,e4m3-row,e4m3-b64,mixed-bf16-i8-b64' },
    order: { type: 'string', default: '2' },
  },
});

const bf16 = (x) => {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >> 16) & 1)) & 0xffff0000;
  return f[0];
};
const i8 = (v) => Math.max(-127, Math.min(127, Math.round(v)));
function e4m3(v) {
  const a = Math.abs(v);
  if (a === 0) return 0;
  const e = Math.max(-6, Math.floor(Math.log2(a)));
  const step = 2 ** (e - 3);
  return Math.sign(v) * Math.min(448, Math.round(a / step) * step);
}
/** round trip of x in place, blocks of `block` elements, one absmax scale (f32) each */
function blocks(x, block, kind) {
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
function quantiser(format, hidden) {
  if (format === 'f32') return () => {};
  if (format === 'bf16') return (x) => x.forEach((v, k) => (x[k] = bf16(v)));
  const m = /^(i8|e4m3)-(row|b(\d+))$/.exec(format);
  if (m) return (x) => blocks(x, m[2] === 'row' ? hidden : Number(m[3]), m[1]);
  const mixed = /^mixed-bf16-(.*)$/.exec(format);
  if (mixed) {
    const rest = quantiser(mixed[1], hidden);
    return (x, i) => (i === 0 ? x.forEach((v, k) => (x[k] = bf16(v))) : rest(x, i));
  }
  throw new Error(`unknown format ${format}`);
}

async function main() {
  const model = await lib.loadModel(values.model, { threads: 1 });
  const labels = [0, 1, 2, 3, 4, 5, 6, 7];
  const noise = readF32(path.join(values.model, 'reference/quality-noise.f32'));
  const base = { labels, steps: 50, guidance: 3, shift: 1, cfg: 'batched', noise };
  const full = await lib.sample(model, base);
  for (const format of values.formats.split(',')) {
    const q = quantiser(format, model.arch.hidden);
    const seer = new lib.ReferenceSeer({ schedule: { kind: 'fixed', steps: 50, interval: 5, warmup: 3 }, maxOrder: Number(values.order) });
    const map = seer.entries;
    map.set = function (id, e) {
      e.factors.forEach((f, i) => q(f, i));
      return Map.prototype.set.call(this, id, e);
    };
    const c = await lib.compare(model, { ...base, seer, full });
    process.stdout.write(`${JSON.stringify({ model: path.basename(values.model), format, order: Number(values.order), psnr: +c.quality.psnr.toFixed(3) })}\n`);
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
