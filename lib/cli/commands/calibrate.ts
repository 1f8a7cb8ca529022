/**
 * `taylorseer calibrate`: searches which `--budget` steps of a run should be full (lib/pipeline/calibrate.ts)
 * on calibration samples, and prints the schedule as one JSON object with the `eval` flags that reuse it.
 */
import { TaylorSeerError } from '../../errors';
import { CALIBRATE_MOVES, calibrateSchedule, calibrationRunBound, type Calibration } from '../../pipeline/calibrate';
import { bundledModelDir } from '../../pipeline/bundled';
import { loadModel } from '../../pipeline/model';
import { VARIABLES, type Variable } from '../../expansion';
import type { Command } from '../command';
import { parseChoice, parseInteger, parseList } from '../parse';
import { graphOptions, noiseSource, progressBars, samplesFromFlags, ORDER_FLAG, SHIFT_FLAG, parseGuidance, parseShift, str, STUDY_FLAGS, VARIABLE_FLAG, warmUp } from './pipeline-shared';

export const calibrateCommand: Command = {
  name: 'calibrate',
  summary: 'offline search for where K full steps should go, on calibration samples (a mask schedule to reuse)',
  options: {
    ...STUDY_FLAGS,
    budget: { type: 'string', value: 'K', description: 'required: how many of the steps run in full' },
    shift: SHIFT_FLAG,
    order: ORDER_FLAG,
    variable: VARIABLE_FLAG('newton'),
    warmup: { type: 'string', value: 'W', defaultText: '3, or K when K is smaller', description: 'the first W steps stay full (0..K)' },
    start: { type: 'string', value: 'fixed|adaptive|0,a,b,...', default: 'fixed', description: 'where the search starts: fixed = the first K full steps of the fixed schedule (with --warmup) of the largest interval that has K; adaptive = the full steps the adaptive schedule with this budget, --warmup and --cooldown takes; or a list of K full steps with 0' },
    cooldown: { type: 'string', value: 'C', default: '0', description: 'the cool-down of the adaptive start (its last C steps full); the other starts take none' },
    sweeps: { type: 'string', value: 'N', default: '3', description: 'at most N passes over the full steps (1..1000); stops early when a pass finds nothing' },
    quiet: { type: 'boolean', description: 'no progress on stderr' },
    json: { type: 'boolean', description: 'print the result on one line' },
  },
  examples: [
    'taylorseer calibrate --budget 12 --labels 0,1,2,3 --seed 5',
    'taylorseer calibrate --budget 8 --steps 30 --order 3 --start adaptive --json',
  ],
  async run(v) {
    const steps = parseInteger('steps', str(v, 'steps')!, 2, 100_000);
    const budgetArg = str(v, 'budget');
    if (budgetArg === undefined) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'calibrate needs --budget K: how many of the steps run in full');
    const budget = parseInteger('budget', budgetArg, 1, steps);
    const guidance = parseGuidance(str(v, 'guidance')!);
    const shift = parseShift(str(v, 'shift')!);
    const order = parseInteger('order', str(v, 'order')!, 0, 4);
    const variable = parseChoice<Variable>('variable', str(v, 'variable')!, VARIABLES);
    // Unset, the warm-up is 3 steps but never more than the budget: an error must only name flags the user gave.
    const warmupArg = str(v, 'warmup');
    const warmup = warmupArg === undefined ? Math.min(3, budget) : parseInteger('warmup', warmupArg, 0, budget);
    const maxSweeps = parseInteger('sweeps', str(v, 'sweeps')!, 1, 1000);
    const startArg = str(v, 'start')!;
    const start = startArg === 'fixed' || startArg === 'adaptive' ? startArg : parseList('start', startArg, (s) => parseInteger('start', s, 0, steps - 1));
    const cooldown = parseInteger('cooldown', str(v, 'cooldown')!, 0, steps);
    const source = noiseSource(v);
    const log = (line: string) => {
      if (!v.quiet) process.stderr.write(`${line}\n`);
    };

    const model = await loadModel(str(v, 'model') ?? bundledModelDir(), graphOptions(v));
    try {
      const { labels, noise } = samplesFromFlags(v, model, source, [], '', order);
      await warmUp(model, labels, guidance, 'batched');
      // On a terminal a bar (the search stops early when a sweep finds nothing, so the total is a bound);
      // elsewhere one line per improvement.
      const bar =
        process.stderr.isTTY && !v.quiet
          ? new (progressBars().SingleBar)({ format: 'calibrate |{bar}| run {value} of at most {total} | sweep {sweep} | best {best} dB', stream: process.stderr, hideCursor: true, clearOnComplete: true })
          : undefined;
      bar?.start(calibrationRunBound(budget, maxSweeps, CALIBRATE_MOVES), 0, { sweep: 0, best: '-' });
      let c: Calibration;
      try {
        c = await calibrateSchedule(model, {
          labels, steps, guidance, shift, noise, budget, order, variable, warmup, start, cooldown, maxSweeps, moves: CALIBRATE_MOVES,
          onProgress: (p) => {
            bar?.update(p.runs, { sweep: p.sweep, best: p.bestPsnr.toFixed(2) });
            if (!bar && (p.runs === 1 || p.improved)) log(`calibrate: run ${p.runs} (sweep ${p.sweep}): ${p.bestPsnr.toFixed(2)} dB [${p.best.full.join(',')}] W=${p.best.warmup}`);
          },
        });
      } finally {
        bar?.stop();
      }
      const report = {
        model: model.manifest.name,
        steps,
        guidance,
        shift,
        labels,
        budget,
        order,
        variable,
        schedule: c.schedule,
        psnr: c.psnr,
        start: { fullStepList: c.start.schedule.full, warmup: c.start.schedule.warmup, psnr: c.start.psnr },
        gainDb: c.psnr - c.start.psnr,
        runs: c.runs,
        sweeps: c.sweeps,
        evalFlags: `--schedule mask --full ${c.schedule.full.join(',')} --warmup ${c.schedule.warmup} --order ${order} --variable ${variable}`,
      };
      process.stdout.write(`${v.json ? JSON.stringify(report) : JSON.stringify(report, null, 2)}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
