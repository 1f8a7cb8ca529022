/**
 * PSNR of TaylorSeer against full compute reproduces fixtures/taylorseer-quality.json (module granularity,
 * batched CFG, fixed schedule, 50 steps, 8 samples) to within 0.05 dB. By default a subset (shift 3,
 * N=5, O=2, each variable) keeps CI short; TAYLORSEER_QUALITY=all checks every row (about 5 minutes on
 * 2 cores). TAYLORSEER_QUALITY_MODEL=PATH runs the same rows on another form of the bundled model, e.g. its
 * whole-graph export (scripts/train-dit/export.py --graph --from-pieces fixtures/dit-digits).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compare, loadModel, readF32, sample, type DenoiserModel, type SampleResult } from './imports';
import { openModel, QUALITY_FILE } from './helpers';

interface Row {
  shift: number;
  interval: number;
  order: number;
  warmup: number;
  variable: 'step' | 'time' | 'newton';
  fullSteps: number;
  evalSpeedup: number;
  psnr: number;
  relL2: number;
}
const table = JSON.parse(fs.readFileSync(QUALITY_FILE, 'utf8')) as {
  steps: number;
  guidance: number;
  labels: number[];
  noise: string;
  rows: Row[];
};
const all = process.env.TAYLORSEER_QUALITY === 'all';
const rows = table.rows.filter((r) => all || (r.shift === 3 && r.interval === 5 && r.order === 2));

let model: DenoiserModel;
let noise: Float32Array;
const fulls = new Map<number, SampleResult>();

beforeAll(async () => {
  const other = process.env.TAYLORSEER_QUALITY_MODEL;
  model = other ? await loadModel(other, { threads: 1 }) : await openModel();
  noise = readF32(path.resolve(path.dirname(QUALITY_FILE), table.noise));
});
afterAll(async () => {
  await model?.dispose();
});

describe('quality vs taylorseer-quality.json', () => {
  it('the subset covers every variable', () => {
    expect(new Set(rows.map((r) => r.variable))).toEqual(new Set(['step', 'time', 'newton']));
  });

  it.each(rows.map((r) => [`shift ${r.shift} N=${r.interval} O=${r.order} ${r.variable}: ${r.psnr} dB`, r] as const))('%s', async (_name, row) => {
    const base = { labels: table.labels, steps: table.steps, guidance: table.guidance, noise, shift: row.shift };
    if (!fulls.has(row.shift)) fulls.set(row.shift, await sample(model, base));
    const c = await compare(model, {
      ...base,
      full: fulls.get(row.shift),
      seer: {
        schedule: { kind: 'fixed', steps: table.steps, interval: row.interval, warmup: row.warmup },
        maxOrder: row.order,
        variable: row.variable,
      },
    });
    expect(c.accelerated.fullSteps).toBe(row.fullSteps);
    expect(c.evalSpeedup).toBeCloseTo(row.evalSpeedup, 2);
    expect(Math.abs(c.quality.psnr - row.psnr)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(c.quality.relL2 - row.relL2)).toBeLessThanOrEqual(0.0006);
  });
});
