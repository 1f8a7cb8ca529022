/**
 * `taylorseer sweep`: quality against speed for fixed and adaptive schedules at equal compute. For every
 * shift it runs full compute once, then, for every budget of full steps, every order and variable: each
 * fixed schedule (interval, warm-up 1-3, cool-down 0-2) that spends exactly that budget, and the adaptive
 * schedule with that budget for each warm-up and cool-down asked for (default 1-3 and 0-2, as the fixed ones). Prints a table (best fixed against best adaptive per budget), writes
 * sweep.json and one PNG plot per shift (PSNR against evaluation speedup). With --holdout-labels, the best
 * fixed and the best adaptive configuration of every row run again on samples the choice did not see (their
 * own labels and noise), so that a gain that only holds on the sweep's samples shows.
 */
import * as path from 'node:path';
import type { OverheadVerdict, Timing } from '../../bench/timing';
import { TaylorSeerError } from '../../errors';
import { prepareOutputDir, writeFileAtomic } from '../../files';
import { compare, compareTimed } from '../../pipeline/evaluate';
import { bundledModelDir } from '../../pipeline/bundled';
import { loadModel } from '../../pipeline/model';
import { sample, type SampleOptions } from '../../pipeline/sampler';
import { VARIABLES, type Variable } from '../../expansion';
import { renderChartPng } from '../../plot';
import { fixedByInterval } from '../../schedule/fixed';
import type { ScheduleOptions } from '../../schedule/types';
import type { Command } from '../command';
import { parseChoice, parseInteger, parseList } from '../parse';
import { graphOptions, MAX_REPEAT, noiseSource, samplesFromFlags, parseShift, parseStudySampling, str, STUDY_FLAGS, TIMING_METHOD, warmUp, type Values } from './pipeline-shared';
import { PRESET_FLAG, presetCfgMode, presetFlag, presetLoadOptions } from '../preset-args';

export interface SweepRow {
  shift: number;
  budget: number;
  schedule: ScheduleOptions;
  order: number;
  variable: Variable;
  fullSteps: number;
  fullStepList: number[];
  evalSpeedup: number;
  psnr: number;
  ssim: number;
  relL2: number;
  wallMs: number;
}

/** The fixed schedules (warm-up 1-3, cool-down 0-2, any interval) with exactly `budget` full steps. */
export function fixedWithBudget(steps: number, budget: number): ScheduleOptions[] {
  const out: ScheduleOptions[] = [];
  for (let warmup = 1; warmup <= 3; warmup++) {
    for (let cooldown = 0; cooldown <= 2; cooldown++) {
      const intervals: number[] = [];
      for (const { interval, full } of fixedByInterval(steps, warmup, cooldown)) {
        if (full.length > budget || interval < 2) break;
        if (full.length === budget) intervals.push(interval);
      }
      for (const interval of intervals.reverse()) out.push({ kind: 'fixed', steps, interval, warmup, cooldown });
    }
  }
  return out;
}

/** The adaptive schedules (default bounds) for each warm-up and cool-down that the budget allows. */
export function adaptiveWithBudget(steps: number, budget: number, warmups: number[], cooldowns: number[]): ScheduleOptions[] {
  const out: ScheduleOptions[] = [];
  for (const warmup of warmups) {
    for (const cooldown of cooldowns) {
      if (warmup + cooldown <= budget && warmup + cooldown <= steps) out.push({ kind: 'adaptive', steps, warmup, cooldown, budget });
    }
  }
  return out;
}

function scheduleLabel(s: ScheduleOptions): string {
  if (s.kind === 'fixed') return `fixed N=${s.interval} W=${s.warmup} C=${s.cooldown ?? 0}`;
  if (s.kind === 'adaptive') return `adaptive K=${s.budget ?? `tol ${s.tolerance}`} W=${s.warmup} C=${s.cooldown ?? 0}`;
  return `mask ${s.full.length}`;
}

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'quality vs speed of fixed and adaptive schedules at equal compute: table, sweep.json, PNG plots',
  details:
    'Rows compare at equal full steps, so their speed is the evaluation speedup. With --repeat R the best fixed and the best ' +
    'adaptive configuration of every row are also timed against full compute, the way eval times them (warm-up, alternated runs, medians).',
  options: {
    ...STUDY_FLAGS,
    shifts: { type: 'string', value: 'a,b,...', default: '1,3', description: 'sampler time shifts; one full-compute run and one plot per shift' },
    budgets: { type: 'string', value: 'K,...', default: '8,10,12,18', description: 'numbers of full steps to compare at (2..S)' },
    orders: { type: 'string', value: 'O,...', default: '0,1,2,3', description: 'Taylor orders (0..4)' },
    variables: { type: 'string', value: 'step,time,newton', default: 'step,time,newton', description: 'variables of the Taylor expansion' },
    'adaptive-warmups': { type: 'string', value: 'W,...', default: '1,2,3', description: 'warm-ups of the adaptive schedules' },
    'adaptive-cooldowns': { type: 'string', value: 'C,...', default: '0,1,2', description: 'cool-downs of the adaptive schedules' },
    'holdout-labels': { type: 'string', value: 'a,b,...', description: "run each row's best configurations again on these samples, which the choice did not see" },
    'holdout-noise': { type: 'string', value: 'FILE.f32', description: 'initial noise of the held-out samples (excludes --holdout-seed)' },
    'holdout-seed': { type: 'string', value: 'N', defaultText: '0', description: 'seed of the held-out samples\' gaussian noise' },
    repeat: { type: 'string', value: 'R', default: '0', description: `time each row's best configurations against full compute over R alternated rounds (0: no wall timing; at most ${MAX_REPEAT})` },
    out: { type: 'string', value: 'DIR', default: 'taylorseer-sweep', description: 'directory for sweep.json and plot-shift-*.png (made if missing; checked before the run)' },
    json: { type: 'boolean', description: 'also print rows and summary as one JSON object' },
    quiet: { type: 'boolean', description: 'no progress lines on stderr' },
    ...PRESET_FLAG,
  },
  examples: [
    'taylorseer sweep --budgets 10,12 --orders 2,3 --shifts 1',
    'taylorseer sweep --labels 0,1,2,3 --holdout-labels 4,5,6,7 --holdout-seed 1 --out sweep-out',
    'taylorseer sweep --budgets 12 --orders 3 --variables newton --repeat 3',
  ],
  async run(v) {
    const { steps, guidance } = parseStudySampling(v, 2, 10_000);
    const shifts = parseList('shifts', str(v, 'shifts')!, (s) => parseShift(s, 'shifts'));
    const budgets = parseList('budgets', str(v, 'budgets')!, (s) => parseInteger('budgets', s, 2, steps));
    const orders = parseList('orders', str(v, 'orders')!, (s) => parseInteger('orders', s, 0, 4));
    const variables = parseList('variables', str(v, 'variables')!, (s) => parseChoice<Variable>('variables', s, VARIABLES));
    const warmups = parseList('adaptive-warmups', str(v, 'adaptive-warmups')!, (s) => parseInteger('adaptive-warmups', s, 1, steps));
    const cooldowns = parseList('adaptive-cooldowns', str(v, 'adaptive-cooldowns')!, (s) => parseInteger('adaptive-cooldowns', s, 0, steps));
    const source = noiseSource(v);
    const holdoutFlags: Values = { labels: v['holdout-labels'], noise: v['holdout-noise'], seed: v['holdout-seed'] };
    if (holdoutFlags.labels === undefined && (holdoutFlags.noise !== undefined || holdoutFlags.seed !== undefined)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', '--holdout-noise and --holdout-seed need --holdout-labels (the held-out samples\' labels)');
    }
    const holdoutSource = holdoutFlags.labels === undefined ? undefined : noiseSource(holdoutFlags, 'holdout-');
    const repeat = parseInteger('repeat', str(v, 'repeat')!, 0, MAX_REPEAT);
    const outDir = prepareOutputDir(str(v, 'out')!);
    const log = (line: string) => {
      if (!v.quiet) process.stderr.write(`${line}\n`);
    };

    // a preset sweeps the schedules on its module map, granularity and CFG mode
    const preset = presetFlag(v);
    const granularity = preset?.granularity ?? 'module';
    const cfg = presetCfgMode(preset);
    const model = await loadModel(str(v, 'model') ?? bundledModelDir(), { ...graphOptions(v), ...presetLoadOptions(preset) });
    try {
      const maxOrder = Math.max(...orders);
      const { labels, noise } = samplesFromFlags(v, model, source, [], '', maxOrder);
      const holdout = holdoutSource && samplesFromFlags(holdoutFlags, model, holdoutSource, [], 'holdout-', maxOrder);
      await warmUp(model, labels, guidance, cfg);
      const rows: SweepRow[] = [];
      for (const shift of shifts) {
        const base: Omit<SampleOptions, 'seer' | 'onStep'> = { labels, steps, guidance, shift, noise, granularity, cfg };
        const full = await sample(model, base);
        log(`shift ${shift}: full compute ${full.wallMs.toFixed(0)} ms`);
        for (const budget of budgets) {
          const fixed = fixedWithBudget(steps, budget);
          const adaptive = adaptiveWithBudget(steps, budget, warmups, cooldowns);
          for (const order of orders) {
            for (const variable of variables) {
              // Order 0 has no differences: the variable changes nothing, so it runs once, and an adaptive
              // schedule has no error estimate to work from (it would only spread the budget evenly).
              if (order === 0 && variable !== variables[0]) continue;
              for (const schedule of order === 0 ? fixed : [...fixed, ...adaptive]) {
                const { accelerated: r, quality: q, evalSpeedup } = await compare(model, { ...base, full, seer: { schedule, maxOrder: order, variable } });
                const row: SweepRow = {
                  shift, budget, schedule, order, variable,
                  fullSteps: r.fullSteps, fullStepList: r.fullStepList, evalSpeedup,
                  psnr: q.psnr, ssim: q.ssim, relL2: q.relL2, wallMs: r.wallMs,
                };
                rows.push(row);
                log(`shift ${shift} K=${budget} O=${order} ${variable.padEnd(6)} ${scheduleLabel(schedule).padEnd(26)} ${q.psnr.toFixed(2)} dB`);
              }
            }
          }
        }
        writePlot(outDir, model.manifest.name, shift, rows.filter((r) => r.shift === shift));
      }
      const summary = summarise(rows);
      if (holdout) {
        for (const shift of shifts) {
          const base: Omit<SampleOptions, 'seer' | 'onStep'> = { labels: holdout.labels, steps, guidance, shift, noise: holdout.noise, granularity, cfg };
          const full = await sample(model, base);
          const run = async (b: SweepBest | null) => {
            if (!b) return null;
            return (await compare(model, { ...base, full, seer: { schedule: b.schedule, maxOrder: b.order, variable: b.variable } })).quality.psnr;
          };
          for (const row of summary.filter((r) => r.shift === shift)) {
            const fixedPsnr = await run(row.bestFixed);
            const adaptivePsnr = await run(row.bestAdaptive);
            row.holdout = { fixedPsnr, adaptivePsnr, gain: fixedPsnr !== null && adaptivePsnr !== null ? adaptivePsnr - fixedPsnr : null };
            log(`held out, shift ${shift} K=${row.budget}: fixed ${fixedPsnr?.toFixed(2) ?? '-'} dB, adaptive ${adaptivePsnr?.toFixed(2) ?? '-'} dB`);
          }
        }
      }
      if (repeat > 0) {
        for (const row of summary) {
          const base: Omit<SampleOptions, 'seer' | 'onStep'> = { labels, steps, guidance, shift: row.shift, noise, granularity, cfg };
          const time = async (b: SweepBest | null): Promise<SweepTiming | null> => {
            if (!b) return null;
            const c = await compareTimed(model, { ...base, seer: { schedule: b.schedule, maxOrder: b.order, variable: b.variable }, repeat });
            const o = c.timing.overhead;
            return { wallSpeedup: c.wallSpeedup, fullMs: c.timing.full, acceleratedMs: c.timing.accelerated, overheadRatio: o.ratio, verdict: o.verdict, note: o.note };
          };
          row.timing = { repeat, fixed: await time(row.bestFixed), adaptive: await time(row.bestAdaptive) };
          log(`timed shift ${row.shift} K=${row.budget}: wall speedup fixed ${row.timing.fixed?.wallSpeedup.toFixed(2) ?? '-'}, adaptive ${row.timing.adaptive?.wallSpeedup.toFixed(2) ?? '-'}`);
        }
      }
      const holdoutInfo = holdout ? { labels: holdout.labels } : undefined;
      const timingInfo = repeat > 0 ? { method: TIMING_METHOD, repeat } : undefined;
      writeFileAtomic(path.join(outDir, 'sweep.json'), `${JSON.stringify({ model: model.manifest.name, steps, guidance, labels, holdout: holdoutInfo, timing: timingInfo, rows, summary }, null, 1)}\n`);
      if (v.json) process.stdout.write(`${JSON.stringify({ rows, summary })}\n`);
      else process.stdout.write(renderSummary(summary) + `\nwrote ${path.join(outDir, 'sweep.json')} and plot-shift-*.png\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};

/** The best configuration of one kind in a row of the summary. */
export interface SweepBest {
  label: string;
  schedule: ScheduleOptions;
  order: number;
  variable: Variable;
  psnr: number;
}

export interface SweepSummaryRow {
  shift: number;
  budget: number;
  evalSpeedup: number;
  bestFixed: SweepBest | null;
  bestAdaptive: SweepBest | null;
  /** best adaptive minus best fixed, dB */
  gain: number | null;
  /** with --holdout-labels: the same two configurations on the held-out samples */
  holdout?: { fixedPsnr: number | null; adaptivePsnr: number | null; gain: number | null };
  /** with --repeat R: the same two configurations timed against full compute */
  timing?: { repeat: number; fixed: SweepTiming | null; adaptive: SweepTiming | null };
}

/** Wall time of one configuration against full compute (lib/bench/timing.ts's method). */
export interface SweepTiming {
  wallSpeedup: number;
  fullMs: Timing;
  acceleratedMs: Timing;
  /** null when the ratio does not stand out of the timing noise (see verdict) */
  overheadRatio: number | null;
  verdict: OverheadVerdict;
  note: string;
}

function best(rows: SweepRow[]): SweepBest | null {
  if (rows.length === 0) return null;
  const r = rows.reduce((a, b) => (b.psnr > a.psnr ? b : a));
  return { label: scheduleLabel(r.schedule), schedule: r.schedule, order: r.order, variable: r.variable, psnr: r.psnr };
}

export function summarise(rows: SweepRow[]): SweepSummaryRow[] {
  const keys = [...new Set(rows.map((r) => `${r.shift}/${r.budget}`))];
  return keys.map((k) => {
    const group = rows.filter((r) => `${r.shift}/${r.budget}` === k);
    const f = best(group.filter((r) => r.schedule.kind === 'fixed'));
    const a = best(group.filter((r) => r.schedule.kind === 'adaptive'));
    return {
      shift: group[0].shift,
      budget: group[0].budget,
      evalSpeedup: group[0].evalSpeedup,
      bestFixed: f,
      bestAdaptive: a,
      gain: f && a ? a.psnr - f.psnr : null,
    };
  });
}

function renderSummary(summary: SweepSummaryRow[]): string {
  const dB = (x: number | null | undefined, signed = false) => (x === null || x === undefined ? '-' : `${signed && x >= 0 ? '+' : ''}${x.toFixed(2)}`);
  const held = summary.some((s) => s.holdout);
  const head = ['shift', 'full steps', 'eval speedup', 'best fixed', 'PSNR', 'best adaptive', 'PSNR', 'gain', ...(held ? ['held out: fixed', 'adaptive', 'gain'] : [])];
  const body = summary.map((s) => [
    String(s.shift),
    String(s.budget),
    `${s.evalSpeedup.toFixed(2)}x`,
    s.bestFixed ? `${s.bestFixed.label} O=${s.bestFixed.order} ${s.bestFixed.variable}` : '-',
    s.bestFixed ? s.bestFixed.psnr.toFixed(2) : '-',
    s.bestAdaptive ? `O=${s.bestAdaptive.order} ${s.bestAdaptive.variable}` : '-',
    s.bestAdaptive ? s.bestAdaptive.psnr.toFixed(2) : '-',
    s.gain === null ? '-' : `${dB(s.gain, true)} dB`,
    ...(held ? [dB(s.holdout?.fixedPsnr), dB(s.holdout?.adaptivePsnr), s.holdout?.gain == null ? '-' : `${dB(s.holdout.gain, true)} dB`] : []),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function writePlot(outDir: string, modelName: string, shift: number, rows: SweepRow[]): void {
  const budgets = [...new Set(rows.map((r) => r.budget))].sort((a, b) => a - b);
  const series = [];
  for (const kind of ['fixed', 'adaptive'] as const) {
    for (const order of [...new Set(rows.map((r) => r.order))].sort()) {
      const points = budgets.flatMap((b) => {
        const g = rows.filter((r) => r.budget === b && r.order === order && r.schedule.kind === kind);
        if (g.length === 0) return [];
        const top = g.reduce((a, c) => (c.psnr > a.psnr ? c : a));
        return Number.isFinite(top.psnr) ? [{ x: top.evalSpeedup, y: top.psnr }] : [];
      });
      if (points.length > 0) series.push({ name: `${kind} O=${order} (best)`, points, dashed: kind === 'fixed' });
    }
  }
  if (series.length === 0) return;
  const png = renderChartPng({
    title: `${modelName}, shift ${shift}: PSNR vs full compute, best fixed and adaptive schedule per budget`,
    xLabel: 'evaluation speedup (x)',
    yLabel: 'PSNR (dB)',
    series,
    width: 1000,
    height: 600,
  });
  writeFileAtomic(path.join(outDir, `plot-shift-${shift}.png`), png);
}
