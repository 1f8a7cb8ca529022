/**
 * `taylorseer eval`: full compute and one TaylorSeer setting on the same noise; prints one JSON object.
 */
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import { compare, type Comparison } from '../../pipeline/evaluate';
import { loadModel } from '../../pipeline/model';
import { writeF32 } from '../../pipeline/noise';
import type { CfgMode, SampleOptions, SampleResult } from '../../pipeline/sampler';
import { VARIABLES, type Variable } from '../../expansion';
import { DTYPES, type Dtype } from '../../native';
import { GRANULARITIES, type Granularity, type SeerOptions } from '../../pipeline/seer-options';
import type { HookImplementation } from '../../pipeline/hook-factory';
import type { Command } from '../command';
import { parseChoice, parseInteger, parseNumber } from '../parse';
import { parseSchedule, SCHEDULE_FLAGS, SCHEDULE_USAGE } from '../schedule-args';
import { defaultModelDir, noiseSource, samplesFromFlags, str, warmUp, type Values } from './pipeline-shared';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'full compute vs TaylorSeer on the same noise: speedups, PSNR/SSIM, cache memory (one JSON object)',
  usage:
    'taylorseer eval [--model DIR] --steps S --guidance G --labels a,b,... [--noise FILE.f32 | --seed N] [--shift X] ' +
    `${SCHEDULE_USAGE} --order O ` +
    '[--variable step|time|newton] [--granularity module|block|lite] [--storage f32|f16|bf16] [--cfg batched|separate] ' +
    '[--implementation taylorseer|reference] [--threads T] [--repeat R] [--out FILE.f32] [--json]',
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '50' },
    guidance: { type: 'string', default: '3' },
    labels: { type: 'string' },
    noise: { type: 'string' },
    seed: { type: 'string' },
    shift: { type: 'string', default: '1' },
    ...SCHEDULE_FLAGS,
    order: { type: 'string', default: '2' },
    variable: { type: 'string', default: 'step' },
    granularity: { type: 'string', default: 'module' },
    storage: { type: 'string', default: 'f32' },
    cfg: { type: 'string', default: 'batched' },
    implementation: { type: 'string', default: 'taylorseer' },
    threads: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    out: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(values) {
    const v = values as Values;
    const steps = parseInteger('steps', str(v, 'steps')!, 1, 100_000);
    const guidance = parseNumber('guidance', str(v, 'guidance')!, 0, 1e6);
    const shift = parseNumber('shift', str(v, 'shift')!, Number.MIN_VALUE, 1e6);
    const order = parseInteger('order', str(v, 'order')!, 0, 4);
    const variable = parseChoice<Variable>('variable', str(v, 'variable')!, VARIABLES);
    const granularity = parseChoice<Granularity>('granularity', str(v, 'granularity')!, GRANULARITIES);
    const storage = parseChoice<Dtype>('storage', str(v, 'storage')!, DTYPES);
    const cfg = parseChoice<CfgMode>('cfg', str(v, 'cfg')!, ['batched', 'separate']);
    const implementation = parseChoice<HookImplementation>('implementation', str(v, 'implementation')!, ['taylorseer', 'reference']);
    const repeat = parseInteger('repeat', str(v, 'repeat')!, 1, 100);
    const threadsArg = str(v, 'threads');
    const threads = threadsArg === undefined ? undefined : parseInteger('threads', threadsArg, 1, 1024);
    const source = noiseSource(v);

    const seerOptions: SeerOptions = { schedule: parseSchedule(v, steps), maxOrder: order, variable, storage };

    const modelDir = str(v, 'model') ?? defaultModelDir();
    const model = await loadModel(modelDir, { threads });
    try {
      const { labels, noise } = samplesFromFlags(v, model, source, model.manifest.reference?.labels ?? [0]);

      const base: Omit<SampleOptions, 'seer' | 'onStep'> = { labels, steps, guidance, shift, cfg, granularity, noise, implementation };
      await warmUp(model, labels, guidance, cfg);
      let best: Comparison | undefined;
      let fullBest: SampleResult | undefined;
      let accelBest: SampleResult | undefined;
      for (let r = 0; r < repeat; r++) {
        const c = await compare(model, { ...base, seer: seerOptions });
        best ??= c;
        if (!fullBest || c.full.wallMs < fullBest.wallMs) fullBest = c.full;
        if (!accelBest || c.accelerated.wallMs < accelBest.wallMs) accelBest = c.accelerated;
      }
      const c = best!;
      const wallMs = accelBest!.wallMs;
      const wallMsFull = fullBest!.wallMs;
      const evalSpeedup = c.full.moduleEvals / Math.max(1, c.accelerated.moduleEvals);
      const wallSpeedup = wallMsFull / wallMs;
      const outFile = str(v, 'out');
      if (outFile !== undefined) writeF32(outFile, c.accelerated.images);
      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      const report = {
        model: model.manifest.name,
        modelDir: model.manifest.dir,
        steps,
        guidance,
        labels,
        shift,
        cfg,
        granularity,
        schedule: seerOptions.schedule,
        order,
        variable,
        storage,
        implementation,
        threads: threads ?? null,
        repeat,
        fullSteps: c.accelerated.fullSteps,
        fullStepList: c.accelerated.fullStepList,
        forecastSteps: steps - c.accelerated.fullSteps,
        moduleEvals: c.accelerated.moduleEvals,
        moduleEvalsFull: c.full.moduleEvals,
        evalSpeedup,
        wallMs,
        wallMsFull,
        wallSpeedup,
        overheadRatio: wallSpeedup / evalSpeedup,
        psnr: finite(c.quality.psnr),
        psnrPerSample: c.quality.psnrPerSample.map(finite),
        ssim: c.quality.ssim,
        relL2: c.quality.relL2,
        cacheBytes: c.accelerated.cacheBytes,
        cacheEntries: c.accelerated.seerStats?.entries ?? 0,
        computes: c.accelerated.seerStats?.computes ?? 0,
        computesSkipped: c.accelerated.seerStats?.computesSkipped ?? 0,
        out: outFile === undefined ? null : path.resolve(outFile),
      };
      process.stdout.write(`${values.json ? JSON.stringify(report) : JSON.stringify(report, null, 2)}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
