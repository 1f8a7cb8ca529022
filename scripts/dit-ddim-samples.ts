/*
 * The sample sets behind docs/studies/dit-ddim.md: full compute once, then each TaylorSeer configuration on the
 * same noise (the model's own sampler: DDIM 50 steps, guidance 4, cond and uncond batched through one shared
 * cache), written as float32 files for the distribution metrics (scripts/train-dit/shape_classifier.py score),
 * with PSNR/SSIM against full compute and one PNG per set (the first `--png` samples, a row each).
 * Runs from the TypeScript sources with tsx (no build step); one onnxruntime thread.
 *
 *   npx tsx scripts/dit-ddim-samples.ts --model fixtures/dit-ddim --per-class 20 --seed 21 --out DIR \
 *       --run n3o3=fixed:3:2:3 --run n5o3=fixed:5:2:3 --run cal18=mask:0,1,4,...:2:3
 *
 * A run is NAME=fixed:N:W:O[:C] (fixed schedule, interval N, warm-up W, order O, cool-down C) or
 * NAME=mask:STEPS:W:O (the listed full steps). Every run expands in the step variable. Labels: 0..9, `--per-class` of each, class-major. Writes DIR/full.f32, DIR/NAME.f32,
 * DIR/samples.json ({labels, seed, runs: {NAME: {schedule, fullSteps, psnr, ssim}}}), DIR/NAME.png and
 * DIR/comparison.png (the first sample of each class: full compute on top, then one row per run, in order).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { compareImages, loadModel, renderRows, sample, writeF32, writeImageGrid, writePng } from '../lib/pipeline/index';
import type { ScheduleOptions } from '../lib/schedule/types';

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'fixtures/dit-ddim' },
    'per-class': { type: 'string', default: '20' },
    seed: { type: 'string', default: '21' },
    out: { type: 'string' },
    run: { type: 'string', multiple: true, default: [] },
    png: { type: 'string', default: '20' },
  },
});
if (!a.out) throw new Error('--out DIR is required');
const steps = 50;
const perClass = Number(a['per-class']);
const labels = Array.from({ length: 10 * perClass }, (_, i) => Math.floor(i / perClass));
const seed = Number(a.seed);

function parseRun(spec: string): { name: string; schedule: ScheduleOptions; order: number } {
  const [name, rest] = spec.split('=');
  const [kind, what, w, o, c] = rest.split(':');
  const warmup = Number(w);
  const schedule: ScheduleOptions =
    kind === 'fixed'
      ? { kind: 'fixed', steps, interval: Number(what), warmup, cooldown: Number(c ?? 0) }
      : { kind: 'mask', steps, full: what.split(',').map(Number), warmup };
  return { name, schedule, order: Number(o) };
}

(async () => {
  const model = await loadModel(a.model!, { threads: 1 });
  fs.mkdirSync(a.out!, { recursive: true });
  const base = { labels, steps, guidance: 4, seed, cfg: 'batched' as const };
  const full = await sample(model, base);
  writeF32(path.join(a.out!, 'full.f32'), full.images);
  const shown = Math.min(Number(a.png), labels.length);
  const per = model.imageElements;
  const png = (name: string, images: Float32Array) => {
    // row r: the r-th sample of each class (labels are class-major)
    const rows = Math.max(1, Math.floor(shown / 10));
    const grid = new Float32Array(rows * 10 * per);
    for (let r = 0; r < rows; r++) for (let c = 0; c < 10; c++) grid.set(images.subarray((c * perClass + r) * per, (c * perClass + r + 1) * per), (r * 10 + c) * per);
    writeImageGrid(path.join(a.out!, `${name}.png`), grid, { ...full.shape, batch: rows * 10 }, 10, { scale: 3 });
  };
  png('full', full.images);
  const firstOfClass = (images: Float32Array) => {
    const out = new Float32Array(10 * per);
    for (let c = 0; c < 10; c++) out.set(images.subarray(c * perClass * per, (c * perClass + 1) * per), c * per);
    return out;
  };
  const rows = [firstOfClass(full.images)];
  const runs: Record<string, unknown> = {};
  for (const spec of a.run!) {
    const { name, schedule, order } = parseRun(spec);
    const r = await sample(model, { ...base, seer: { schedule, maxOrder: order } });
    const q = compareImages(r.images, full.images, full.shape);
    runs[name] = { schedule, order, fullSteps: r.fullStepList, psnr: q.psnr, ssim: q.ssim, relL2: q.relL2 };
    writeF32(path.join(a.out!, `${name}.f32`), r.images);
    png(name, r.images);
    rows.push(firstOfClass(r.images));
    console.error(`${name}: ${r.fullSteps} full steps, PSNR ${q.psnr.toFixed(2)} dB, SSIM ${q.ssim.toFixed(4)}`);
  }
  const { channels, height, width } = full.shape;
  writePng(path.join(a.out!, 'comparison.png'), renderRows(rows, { channels, height, width }, { scale: 3, rowGap: 2 }));
  fs.writeFileSync(path.join(a.out!, 'samples.json'), `${JSON.stringify({ model: model.manifest.name, steps, guidance: 4, seed, perClass, labels: 'class-major 0..9', runs }, null, 1)}\n`);
  await model.dispose();
})();
