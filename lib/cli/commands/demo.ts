/**
 * `taylorseer demo`: one sample of every class with full compute and with TaylorSeer at a few settings,
 * written as PNGs (full vs accelerated side by side) plus a table of speed, quality and cache memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { TaylorSeerError } from '../../errors';
import { compareImages, type QualityReport } from '../../pipeline/metrics';
import { renderRows, writePng } from '../../pipeline/image';
import { loadModel } from '../../pipeline/model';
import { gaussianNoise } from '../../pipeline/noise';
import { sample, type SampleResult } from '../../pipeline/sampler';
import type { Variable } from '../../expansion';
import type { Granularity, SeerOptions } from '../../pipeline/seer-options';
import type { ScheduleOptions } from '../../schedule/types';
import type { Command } from '../command';
import { formatBytes, formatTable, parseInteger, parseNumber } from '../parse';
import { defaultModelDir, str, warmUp, type Values } from './pipeline-shared';

export interface DemoSetting {
  /** file-name friendly */
  id: string;
  label: string;
  granularity: Granularity;
  order: number;
  variable?: Variable;
  /** the schedule for a run of `steps` steps */
  schedule(steps: number): ScheduleOptions;
}

const fixed = (interval: number, warmup: number) => (steps: number): ScheduleOptions => ({ kind: 'fixed', steps, interval, warmup: Math.min(warmup, steps) });

/**
 * The accelerated settings the demo shows: the reference's fixed schedule from mild to aggressive, the
 * adaptive schedule at the same 12 full steps as N=5, and the memory-light lite mode.
 */
export const DEMO_SETTINGS: readonly DemoSetting[] = [
  { id: 'module-n3-o2', label: 'TaylorSeer N=3 O=2', granularity: 'module', order: 2, schedule: fixed(3, 3) },
  { id: 'module-n5-o2', label: 'TaylorSeer N=5 O=2', granularity: 'module', order: 2, schedule: fixed(5, 3) },
  {
    id: 'adaptive-12-o3',
    label: 'TaylorSeer adaptive 12 full O=3',
    granularity: 'module',
    order: 3,
    variable: 'step',
    // the budget of N=5 W=3 at 50 steps (12 full steps), scaled to --steps
    schedule: (steps) => ({ kind: 'adaptive', steps, warmup: 1, budget: Math.max(2, Math.min(steps, Math.round((12 * steps) / 50))) }),
  },
  { id: 'lite-n5-o2', label: 'TaylorSeer lite N=5 O=2', granularity: 'lite', order: 2, schedule: fixed(5, 3) },
];

export interface DemoRow {
  id: string;
  label: string;
  fullSteps: number;
  moduleEvals: number;
  wallMs: number;
  wallSpeedup: number;
  evalSpeedup: number;
  psnr: number | null;
  ssim: number | null;
  cacheBytes: number;
  png: string;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'generate every digit with full compute and with TaylorSeer; write PNGs and a speed/quality table',
  usage: 'taylorseer demo [--model DIR] [--out DIR] [--steps S] [--guidance G] [--seed N] [--threads T] [--json]',
  options: {
    model: { type: 'string' },
    out: { type: 'string', default: 'taylorseer-demo' },
    steps: { type: 'string', default: '50' },
    guidance: { type: 'string', default: '3' },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const v = values as Values;
    const steps = parseInteger('steps', str(v, 'steps')!, 4, 10_000);
    const guidance = parseNumber('guidance', str(v, 'guidance')!, 0, 1e6);
    const seed = parseInteger('seed', str(v, 'seed')!, 0, Number.MAX_SAFE_INTEGER);
    const threadsArg = str(v, 'threads');
    const threads = threadsArg === undefined ? undefined : parseInteger('threads', threadsArg, 1, 1024);
    const outDir = path.resolve(str(v, 'out')!);
    try {
      fs.mkdirSync(outDir, { recursive: true });
    } catch (e) {
      throw new TaylorSeerError('ERR_IO', `cannot create ${outDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }

    const model = await loadModel(str(v, 'model') ?? defaultModelDir(), { threads });
    try {
      const { classes, channels, imageSize } = model.arch;
      const labels = Array.from({ length: classes }, (_, i) => i);
      const noise = gaussianNoise(labels.length * model.imageElements, seed);
      const shape = { channels, height: imageSize, width: imageSize };

      const bar =
        process.stderr.isTTY && !values.json
          ? new SingleBar({ format: 'demo |{bar}| {value}/{total} steps | {run}', stream: process.stderr, hideCursor: true, clearOnComplete: true })
          : undefined;
      bar?.start(steps * (1 + DEMO_SETTINGS.length), 0, { run: 'full compute' });
      let done = 0;
      const tick = (run: string) => () => bar?.update(++done, { run });
      let full: SampleResult;
      const runs: Array<{ setting: DemoSetting; result: SampleResult; quality: QualityReport }> = [];
      try {
        await warmUp(model, labels, guidance, 'batched');
        full = await sample(model, { labels, steps, guidance, noise, onStep: tick('full compute') });
        for (const s of DEMO_SETTINGS) {
          const seer: SeerOptions = { schedule: s.schedule(steps), maxOrder: s.order, ...(s.variable ? { variable: s.variable } : {}) };
          const result = await sample(model, { labels, steps, guidance, noise, granularity: s.granularity, seer, onStep: tick(s.label) });
          runs.push({ setting: s, result, quality: compareImages(result.images, full.images, result.shape) });
        }
      } finally {
        bar?.stop();
      }

      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      const fullPng = path.join(outDir, 'full.png');
      writePng(fullPng, renderRows([full.images], shape, { scale: 3 }));
      const rows: DemoRow[] = [
        {
          id: 'full',
          label: 'full compute',
          fullSteps: full.fullSteps,
          moduleEvals: full.moduleEvals,
          wallMs: full.wallMs,
          wallSpeedup: 1,
          evalSpeedup: 1,
          psnr: null,
          ssim: null,
          cacheBytes: 0,
          png: fullPng,
        },
      ];
      for (const { setting, result, quality } of runs) {
        // top row full compute, bottom row accelerated: the same noise and label per column
        const png = path.join(outDir, `${setting.id}.png`);
        writePng(png, renderRows([full.images, result.images], shape, { scale: 3 }));
        rows.push({
          id: setting.id,
          label: setting.label,
          fullSteps: result.fullSteps,
          moduleEvals: result.moduleEvals,
          wallMs: result.wallMs,
          wallSpeedup: full.wallMs / result.wallMs,
          evalSpeedup: full.moduleEvals / Math.max(1, result.moduleEvals),
          psnr: finite(quality.psnr),
          ssim: quality.ssim,
          cacheBytes: result.cacheBytes,
          png,
        });
      }
      const comparison = path.join(outDir, 'comparison.png');
      writePng(comparison, renderRows([full.images, ...runs.map((r) => r.result.images)], shape, { scale: 3, rowGap: 4 }));
      const summary = { model: model.manifest.name, steps, guidance, seed, labels, comparison, rows };
      fs.writeFileSync(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);

      if (values.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return 0;
      }
      const table = formatTable(
        ['run', 'full steps', 'module evals', 'wall ms', 'wall x', 'evals x', 'PSNR dB', 'SSIM', 'cache'],
        rows.map((r) => [
          r.label,
          `${r.fullSteps}/${steps}`,
          String(r.moduleEvals),
          r.wallMs.toFixed(0),
          r.wallSpeedup.toFixed(2),
          r.evalSpeedup.toFixed(2),
          r.psnr === null ? '-' : r.psnr.toFixed(2),
          r.ssim === null ? '-' : r.ssim.toFixed(4),
          r.cacheBytes ? formatBytes(r.cacheBytes) : '-',
        ]),
      );
      const lines = [
        `${model.manifest.name}: digits 0..${classes - 1}, ${steps} Euler steps, guidance ${guidance}, seed ${seed}`,
        '',
        table,
        '',
        `images in ${outDir}:`,
        `  comparison.png  rows: ${['full compute', ...runs.map((r) => r.setting.label)].join(' / ')}`,
        ...runs.map((r) => `  ${r.setting.id}.png  top: full compute, bottom: ${r.setting.label}`),
        '  full.png',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
