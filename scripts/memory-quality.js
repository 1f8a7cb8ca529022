#!/usr/bin/env node
/*
 * The quality table behind `taylorseer plan`'s ordering and docs/memory.md: PSNR against full compute of
 * every order x storage x granularity at the reference's fixed schedule N=5, W=3 (50 steps, guidance 3,
 * batched CFG, shift 1) on a made-small DiT, for the quality samples (labels 0-7, <model>/reference/
 * quality-noise.f32) and held-out samples (labels 8,9,0,1,2,3,4,5, seed 1). Full compute runs once per
 * sample set and is reused. Needs `npm run build:ts` first. Prints one JSON line per row.
 *
 *   node scripts/memory-quality.js --model fixtures/dit-digits [--orders 0,1,2,3] [--storages f32,bf16]
 *       [--granularities module,block,lite] [--sets in,held]
 */
'use strict';
const path = require('node:path');
const { parseArgs } = require('node:util');

const root = path.join(__dirname, '..');
const lib = require(path.join(root, 'dist/pipeline/index.js'));
const { readF32, gaussianNoise } = require(path.join(root, 'dist/pipeline/noise.js'));

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: path.join(root, 'fixtures/dit-digits') },
    orders: { type: 'string', default: '0,1,2,3' },
    storages: { type: 'string', default: 'f32,bf16,f16' },
    granularities: { type: 'string', default: 'module,block,lite' },
    sets: { type: 'string', default: 'in,held' },
    interval: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
  },
});
const list = (s) => s.split(',').map((x) => x.trim());

async function main() {
  const model = await lib.loadModel(values.model, { threads: 1 });
  const name = path.basename(path.resolve(values.model));
  const steps = 50;
  const schedule = { kind: 'fixed', steps, interval: Number(values.interval), warmup: Number(values.warmup) };
  for (const set of list(values.sets)) {
    const labels = set === 'in' ? [0, 1, 2, 3, 4, 5, 6, 7] : [8, 9, 0, 1, 2, 3, 4, 5];
    const noise = set === 'in' ? readF32(path.join(values.model, 'reference/quality-noise.f32')) : gaussianNoise(labels.length * model.imageElements, 1);
    const base = { labels, steps, guidance: 3, shift: 1, cfg: 'batched', noise };
    const full = await lib.sample(model, base);
    for (const granularity of list(values.granularities)) {
      for (const order of list(values.orders).map(Number)) {
        for (const storage of list(values.storages)) {
          const c = await lib.compare(model, { ...base, granularity, full, seer: { schedule, maxOrder: order, storage } });
          const row = { model: name, set, granularity, order, storage, interval: schedule.interval, warmup: schedule.warmup, fullSteps: c.accelerated.fullSteps, psnr: +c.quality.psnr.toFixed(3), cacheBytes: c.accelerated.cacheBytes };
          process.stdout.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  }
  model.dispose?.();
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
