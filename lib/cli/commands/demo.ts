/**
 * `taylorseer demo`: one sample of every class with full compute and with TaylorSeer at a few settings,
 * written as titled PNGs (full vs accelerated, each row saying what it is, its full steps and PSNR) plus a
 * table of speed, quality and cache memory. The settings scale with --steps, and their labels say how.
 * A video model's clips are drawn as frame strips in the PNGs, and each comparison is also written as an
 * animated PNG (every clip playing, full compute above the accelerated run); the table adds the temporal
 * metric (relative L2 of the frame-to-frame changes).
 */
import * as path from 'node:path';
import { alternate, overheadOf, relativeSpread, type Overhead, type Timing } from '../../bench/timing';
import { prepareOutputDir, writeFileAtomic } from '../../files';
import { compareImages, type QualityReport } from '../../pipeline/metrics';
import { encodeApng, encodePng, renderRows, type RgbaImage } from '../../pipeline/image';
import { bundledModelDir } from '../../pipeline/bundled';
import type { ModelShape } from '../../pipeline/denoiser';
import { loadModel } from '../../pipeline/model';
import { gaussianNoise } from '../../pipeline/noise';
import { sample, type CfgMode, type SampleResult } from '../../pipeline/sampler';
import type { Variable } from '../../expansion';
import type { Granularity, SeerOptions } from '../../pipeline/seer-options';
import { titledImagesPng } from '../../plot';
import { FixedSchedule } from '../../schedule/fixed';
import type { ScheduleOptions } from '../../schedule/types';
import type { Command } from '../command';
import { TaylorSeerError } from '../../errors';
import { formatBytes, formatTable, parseChoice, parseInteger } from '../parse';
import { parseSchedulerFlag, SCHEDULER_FLAG } from '../scheduler-args';
import { checkSampleCount, GRAPH_FLAGS, graphOptions, MAX_REPEAT, MODEL_FLAG, parseThreads, progressBars, parseGuidance, str, THREADS_FLAG, TIMING_METHOD, warmUp } from './pipeline-shared';
import { PRESET_FLAG, presetCfgMode, presetFlag, presetLoadOptions } from '../preset-args';
import { presetSeer, type Preset } from '../../presets';

export interface DemoSetting {
  /** file-name friendly, the same at every --steps */
  id: string;
  granularity: Granularity;
  order: number;
  variable?: Variable;
  /** the schedule for a run of `steps` steps */
  schedule(steps: number): ScheduleOptions;
  /** what the row shows at `steps` steps (its label names the values actually used) */
  label(steps: number): string;
}

const fixed = (interval: number, warmup: number) => (steps: number): ScheduleOptions => ({ kind: 'fixed', steps, interval, warmup: Math.min(warmup, steps) });

/** The full steps of the reference's N=5 W=3 schedule at `steps` steps: the adaptive row's budget. */
export function adaptiveDemoBudget(steps: number): number {
  return new FixedSchedule({ steps, interval: 5, warmup: Math.min(3, steps) }).fullSteps().length;
}

/** A preset as a demo setting. */
function presetSetting(p: Preset): DemoSetting {
  const { interval: N, warmup: W } = p.schedule;
  return {
    id: p.id,
    granularity: p.granularity,
    order: p.maxOrder,
    schedule: (steps) => presetSeer(p, steps).schedule,
    label: () => `preset ${p.id} (${p.granularity} N=${N} O=${p.maxOrder} W=${W})`,
  };
}

/**
 * The accelerated settings the demo shows: the reference's fixed schedule from mild to aggressive, the
 * adaptive schedule at the same number of full steps as N=5 (12 at 50 steps; it scales with --steps), and the
 * memory-light lite mode.
 */
export const DEMO_SETTINGS: readonly DemoSetting[] = [
  { id: 'module-n3-o2', granularity: 'module', order: 2, schedule: fixed(3, 3), label: () => 'TaylorSeer N=3 O=2' },
  { id: 'module-n5-o2', granularity: 'module', order: 2, schedule: fixed(5, 3), label: () => 'TaylorSeer N=5 O=2' },
  {
    id: 'adaptive-o3',
    granularity: 'module',
    order: 3,
    variable: 'step',
    schedule: (steps) => ({ kind: 'adaptive', steps, warmup: 1, budget: adaptiveDemoBudget(steps) }),
    label: (steps) => `TaylorSeer adaptive K=${adaptiveDemoBudget(steps)} (as N=5) O=3`,
  },
  { id: 'lite-n5-o2', granularity: 'lite', order: 2, schedule: fixed(5, 3), label: () => 'TaylorSeer lite N=5 O=2' },
];

export interface DemoRow {
  id: string;
  label: string;
  fullSteps: number;
  moduleEvals: number;
  /** median wall time over --repeat rounds */
  wallMs: number;
  wallTiming: Timing;
  wallSpeedup: number;
  evalSpeedup: number;
  /** wall speedup / evaluation speedup with its verdict (null for the full-compute row) */
  overhead: Overhead | null;
  psnr: number | null;
  ssim: number | null;
  /** video: relative L2 of the frame-to-frame changes against full compute (null for images and the full row) */
  temporal: number | null;
  cacheBytes: number;
  png: string;
  /** video: the animated PNG of the row (null for images) */
  animation: string | null;
}

/** A clip animation frame's display time, ms. */
const FRAME_MS = 250;

/** Rows of clips as an animated PNG: animation frame f shows frame f of every clip. */
function animate(rows: Float32Array[], shape: { channels: number; frames: number; height: number; width: number }): Buffer {
  const frames: RgbaImage[] = [];
  for (let f = 0; f < shape.frames; f++) frames.push(renderRows(rows, shape, { scale: 4, padding: 4, rowGap: 4, frame: f }));
  return encodeApng(frames, FRAME_MS);
}

function overheadCell(o: Overhead | null): string {
  if (!o) return '-';
  if (o.verdict === 'measured') return o.rawRatio.toFixed(2);
  if (o.verdict === 'single-run') return `${o.rawRatio.toFixed(2)} (1 run)`;
  return o.verdict === 'within-noise' ? 'within noise' : 'disturbed';
}

/** A flag's value, else model.json's (held to the flag's range: ERR_MODEL), else the default. */
function demoSetting(flag: string, arg: string | undefined, fromModel: number | undefined, fallback: number, parse: (s: string, what: string) => number): number {
  if (arg !== undefined) return parse(arg, flag);
  if (fromModel === undefined) return fallback;
  try {
    return parse(String(fromModel), flag);
  } catch (e) {
    const expected = (e as Error).message.split('expected ')[1] ?? 'another value';
    throw new TaylorSeerError('ERR_MODEL', `model.json's sampler.${flag} is ${fromModel}; demo takes ${expected} (give --${flag} to override it)`);
  }
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'generate every digit with full compute and with TaylorSeer; write titled PNGs and a speed/quality table',
  details:
    'The settings scale with --steps: fixed schedules keep their interval N, and the adaptive row gets as many full steps as N=5 ' +
    `at that many steps (its label gives K). Wall times: ${TIMING_METHOD}; the overhead column is only a number when it stands out of the noise.`,
  options: {
    model: MODEL_FLAG,
    out: { type: 'string', value: 'DIR', default: 'taylorseer-demo', description: 'directory for the PNGs and summary.json (made if missing; checked before the run)' },
    steps: { type: 'string', value: 'S', defaultText: "a graph's model.json sampler.steps, else 50", description: 'sampler steps (4..10000)' },
    guidance: { type: 'string', value: 'G', defaultText: "a graph's model.json sampler.guidance, else 3", description: 'classifier-free guidance scale' },
    cfg: { type: 'string', value: 'batched|separate', defaultText: "batched, or the preset's", description: 'guidance branches in one batch or as two runs with separate caches' },
    seed: { type: 'string', value: 'N', default: '0', description: 'seed of the gaussian initial noise' },
    scheduler: SCHEDULER_FLAG,
    threads: THREADS_FLAG,
    repeat: { type: 'string', value: 'R', default: '1', description: `timed rounds of every run, alternated after a warm-up; 3 or more give the spread (1..${MAX_REPEAT})` },
    json: { type: 'boolean', description: 'print the summary as one JSON object instead of the table' },
    ...GRAPH_FLAGS,
    ...PRESET_FLAG,
    quiet: { type: 'boolean', description: 'no progress on stderr' },
  },
  examples: [
    'taylorseer demo',
    'taylorseer demo --steps 20 --out demo-20',
    'taylorseer demo --repeat 3 --json > demo.json',
    'taylorseer demo --model fixtures/mmdit-shapes --preset flux-dev --guidance 3.5',
    'taylorseer demo --model fixtures/wan-clips --guidance 4 --cfg separate --out demo-video',
  ],
  async run(v) {
    const stepsArg = str(v, 'steps');
    const guidanceArg = str(v, 'guidance');
    if (stepsArg !== undefined) parseInteger('steps', stepsArg, 4, 10_000);
    if (guidanceArg !== undefined) parseGuidance(guidanceArg);
    const seed = parseInteger('seed', str(v, 'seed')!, 0, Number.MAX_SAFE_INTEGER);
    const repeat = parseInteger('repeat', str(v, 'repeat')!, 1, MAX_REPEAT);
    const threads = parseThreads(v);
    const outDir = prepareOutputDir(str(v, 'out')!);
    const quiet = Boolean(v.quiet);

    const preset = presetFlag(v);
    // with a preset, the demo shows that one setting, full compute and it guided as the fork guides (unless --cfg)
    const cfg = parseChoice<CfgMode>('cfg', str(v, 'cfg') ?? presetCfgMode(preset), ['batched', 'separate']);
    const scheduler = parseSchedulerFlag(str(v, 'scheduler'));
    const settings = preset ? [presetSetting(preset)] : DEMO_SETTINGS;
    const model = await loadModel(str(v, 'model') ?? bundledModelDir(), { threads, ...graphOptions(v), ...presetLoadOptions(preset) });
    try {
      const arch: ModelShape = model.arch;
      const { classes, channels, imageSize, frames } = arch;
      // a single-graph model's model.json may name the sampler settings its demo uses; flags override them
      const sampler = 'sampler' in model.manifest ? model.manifest.sampler : undefined;
      const steps = demoSetting('steps', stepsArg, sampler?.steps, 50, (s, what) => parseInteger(what, s, 4, 10_000));
      const guidance = demoSetting('guidance', guidanceArg, sampler?.guidance, 3, parseGuidance);
      const labels = sampler?.labels ? [...sampler.labels] : Array.from({ length: classes }, (_, i) => i);
      checkSampleCount(model.cacheShape, labels.length, Math.max(...settings.map((s) => s.order)), 'labels');
      const noise = gaussianNoise(labels.length * model.imageElements, seed);
      const shape = { channels, ...(frames !== undefined ? { frames } : {}), height: imageSize, width: imageSize };
      const names = ['full compute', ...settings.map((s) => s.label(steps))];

      // On a terminal a bar; elsewhere (a pipe, a file, CI) one line per run, so that the output shows progress.
      const bar =
        process.stderr.isTTY && !quiet
          ? new (progressBars().SingleBar)({ format: 'demo |{bar}| {value}/{total} steps | {run}', stream: process.stderr, hideCursor: true, clearOnComplete: true })
          : undefined;
      const lines = !bar && !quiet;
      const totalRuns = names.length * repeat;
      bar?.start(steps * totalRuns, 0, { run: names[0] });
      let done = 0;
      const tick = (run: string) => () => bar?.update(++done, { run });
      if (lines) process.stderr.write(`demo: warm-up, then ${totalRuns} timed runs of ${steps} steps (${names.length} settings x ${repeat} rounds)\n`);

      const results: SampleResult[] = [];
      const variants = [
        async () => (results[0] = await sample(model, { labels, steps, guidance, scheduler, noise, cfg, onStep: tick(names[0]) })),
        ...settings.map((s, i) => async () => {
          const seer: SeerOptions = { schedule: s.schedule(steps), maxOrder: s.order, ...(s.variable ? { variable: s.variable } : {}) };
          results[i + 1] = await sample(model, { labels, steps, guidance, scheduler, noise, granularity: s.granularity, cfg, seer, onStep: tick(names[i + 1]) });
        }),
      ];
      let timings: Timing[];
      try {
        timings = await alternate(variants, {
          repeat,
          warmUp: () => warmUp(model, labels, guidance, cfg),
          onRun: (variant, round, ms) => {
            if (lines) process.stderr.write(`demo: run ${round * names.length + variant + 1}/${totalRuns}: ${names[variant]}, ${(ms / 1000).toFixed(1)} s\n`);
          },
        });
      } finally {
        bar?.stop();
      }
      const full = results[0];
      const runs: Array<{ setting: DemoSetting; label: string; result: SampleResult; quality: QualityReport; timing: Timing }> = settings.map((s, i) => ({
        setting: s,
        label: names[i + 1],
        result: results[i + 1],
        quality: compareImages(results[i + 1].images, full.images, results[i + 1].shape),
        timing: timings[i + 1],
      }));

      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      const fullTitle = `full compute: ${full.fullSteps}/${steps} full steps`;
      const titleOf = (label: string, r: SampleResult, q: QualityReport) =>
        `${label}: ${r.fullSteps}/${steps} full steps, PSNR ${Number.isFinite(q.psnr) ? q.psnr.toFixed(2) : 'inf'} dB vs full compute`;
      const what = frames !== undefined ? `clips of ${frames} frames (left to right)` : 'classes';
      const heading = `${model.manifest.name}: ${what} 0..${classes - 1}, ${steps} Euler steps, guidance ${guidance}${cfg === 'separate' ? ' (separate cond/uncond)' : ''}, seed ${seed}`;
      const grid = (images: Float32Array, title: string) => {
        // clips get wider gaps between them than between their frames
        const img = renderRows([images], shape, { scale: 3, ...(frames !== undefined ? { padding: 6 } : {}) });
        return { title, png: encodePng(img), width: img.width, height: img.height };
      };
      const fullRow = grid(full.images, fullTitle);
      const fullPng = path.join(outDir, 'full.png');
      writeFileAtomic(fullPng, titledImagesPng(heading, [fullRow]));
      const animation = (id: string, rows: Float32Array[]): string | null => {
        if (frames === undefined) return null;
        const file = path.join(outDir, `${id}.anim.png`);
        writeFileAtomic(file, animate(rows, { channels, frames, height: imageSize, width: imageSize }));
        return file;
      };
      const rows: DemoRow[] = [
        {
          id: 'full', label: 'full compute', fullSteps: full.fullSteps, moduleEvals: full.moduleEvals, wallMs: timings[0].medianMs, wallTiming: timings[0],
          wallSpeedup: 1, evalSpeedup: 1, overhead: null, psnr: null, ssim: null, temporal: null, cacheBytes: 0, png: fullPng,
          animation: animation('full', [full.images]),
        },
      ];
      const accelRows = runs.map((r) => grid(r.result.images, titleOf(r.label, r.result, r.quality)));
      runs.forEach(({ setting, label, result, quality, timing }, i) => {
        // top row full compute, bottom row accelerated: the same noise and label per column
        const png = path.join(outDir, `${setting.id}.png`);
        writeFileAtomic(png, titledImagesPng(heading, [fullRow, accelRows[i]]));
        const evalSpeedup = full.moduleEvals / Math.max(1, result.moduleEvals);
        rows.push({
          id: setting.id, label, fullSteps: result.fullSteps, moduleEvals: result.moduleEvals, wallMs: timing.medianMs, wallTiming: timing,
          wallSpeedup: timings[0].medianMs / timing.medianMs, evalSpeedup, overhead: overheadOf(evalSpeedup, timings[0], timing),
          psnr: finite(quality.psnr), ssim: quality.ssim, temporal: quality.temporal === undefined ? null : finite(quality.temporal), cacheBytes: result.cacheBytes, png,
          animation: animation(setting.id, [full.images, result.images]),
        });
      });
      const comparison = path.join(outDir, 'comparison.png');
      writeFileAtomic(comparison, titledImagesPng(heading, [fullRow, ...accelRows]));
      const summary = { model: model.manifest.name, steps, guidance, cfg, seed, labels, ...(frames !== undefined ? { frames } : {}), repeat, timing: TIMING_METHOD, comparison, rows };
      writeFileAtomic(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);

      if (v.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return 0;
      }
      const pm = (t: Timing) => (t.reps > 1 ? ` ±${(100 * relativeSpread(t)).toFixed(0)}%` : '');
      const video = frames !== undefined;
      const table = formatTable(
        ['run', 'full steps', 'module evals', 'wall ms', 'wall x', 'evals x', 'overhead', 'PSNR dB', 'SSIM', ...(video ? ['temporal'] : []), 'cache'],
        rows.map((r) => [
          r.label,
          `${r.fullSteps}/${steps}`,
          String(r.moduleEvals),
          `${r.wallMs.toFixed(0)}${pm(r.wallTiming)}`,
          r.wallSpeedup.toFixed(2),
          r.evalSpeedup.toFixed(2),
          overheadCell(r.overhead),
          r.psnr === null ? '-' : r.psnr.toFixed(2),
          r.ssim === null ? '-' : r.ssim.toFixed(4),
          ...(video ? [r.temporal === null ? '-' : r.temporal.toFixed(4)] : []),
          r.cacheBytes ? formatBytes(r.cacheBytes) : '-',
        ]),
      );
      const out = [
        heading,
        '',
        table,
        '',
        `wall times: ${TIMING_METHOD} (--repeat ${repeat})${repeat < 3 ? '; use --repeat 3 or more for a spread' : ''}.`,
        'overhead: wall x / evals x (1 = forecast steps cost nothing); "within noise" or "disturbed" when the timing noise decides it.',
        `settings scale with --steps: N=3 and N=5 keep their interval; the adaptive row spends as many full steps as N=5 (K=${adaptiveDemoBudget(steps)} here).`,
        '',
        `images in ${outDir} (each row titled with its setting, full steps and PSNR${video ? '; clips as frame strips' : ''}):`,
        `  comparison.png  rows: ${names.join(' / ')}`,
        ...runs.map((r) => `  ${r.setting.id}.png  top: full compute, bottom: ${r.label}`),
        '  full.png',
        ...(video
          ? [
              `animated PNGs (every clip playing, ${FRAME_MS} ms a frame):`,
              ...runs.map((r) => `  ${r.setting.id}.anim.png  top: full compute, bottom: ${r.label}`),
              '  full.anim.png',
              'temporal: ||d(accelerated) - d(full)|| / ||d(full)|| over frame-to-frame changes d (0 = the same motion).',
            ]
          : []),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
