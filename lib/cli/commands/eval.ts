/**
 * `taylorseer eval`: full compute and one TaylorSeer setting on the same noise; prints one JSON object.
 */
import { prepareOutputFile } from '../../files';
import { compareTimed } from '../../pipeline/evaluate';
import { bundledModelDir } from '../../pipeline/bundled';
import type { ModelShape } from '../../pipeline/denoiser';
import { loadModel } from '../../pipeline/model';
import { writeF32 } from '../../pipeline/noise';
import type { CfgMode, SampleOptions } from '../../pipeline/sampler';
import { VARIABLES, type Variable } from '../../expansion';
import { STORAGE_DTYPES, type StorageDtype } from '../../native';
import { GRANULARITIES, type Granularity, type SeerOptions } from '../../pipeline/seer-options';
import type { HookImplementation } from '../../pipeline/hook-factory';
import type { Command } from '../command';
import { parseChoice, parseInteger } from '../parse';
import { parseSchedule, SCHEDULE_FLAGS } from '../schedule-args';
import { parseSchedulerFlag, SCHEDULER_FLAG } from '../scheduler-args';
import { PRESET_FLAG, presetCfgMode, presetFlag, presetLoadOptions, presetScheduleFlags } from '../preset-args';
import {
  GRAPH_FLAGS, graphOptions, MAX_REPEAT, MODEL_FLAG, NOISE_FLAG, noiseSource, ORDER_FLAG, parseThreads, samplesFromFlags, SEED_FLAG, SHIFT_FLAG, str, STUDY_FLAGS, THREADS_FLAG, TIMING_METHOD,
  VARIABLE_FLAG, warmUp, parseShift, parseStudySampling,
} from './pipeline-shared';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'full compute vs TaylorSeer on the same noise: speedups, PSNR/SSIM, cache memory (one JSON object)',
  details:
    'Wall times: an untimed warm-up, then full compute and the accelerated run alternate --repeat times; the report gives ' +
    'medians, their range, and an overhead ratio (wall speedup / evaluation speedup) only when it stands out of the timing noise. ' +
    'Video models: PSNR and SSIM per clip (the mean over its frames), and "temporal", the relative L2 of the frame-to-frame changes.',
  options: {
    model: MODEL_FLAG,
    steps: STUDY_FLAGS.steps,
    guidance: STUDY_FLAGS.guidance,
    labels: { type: 'string', value: 'a,b,...', defaultText: "the model's reference labels", description: 'the classes to sample, one sample each' },
    noise: NOISE_FLAG,
    seed: SEED_FLAG,
    shift: SHIFT_FLAG,
    scheduler: SCHEDULER_FLAG,
    ...SCHEDULE_FLAGS,
    ...PRESET_FLAG,
    // order, granularity and cfg get their defaults in run(), where a --preset can give them
    order: { ...ORDER_FLAG, default: undefined, defaultText: "2, or the preset's" },
    variable: VARIABLE_FLAG('step'),
    granularity: { type: 'string', value: 'module|block|lite', defaultText: "module, or the preset's", description: 'what is cached: every attention and MLP output, every block, or the last block only' },
    storage: { type: 'string', value: 'f32|f16|bf16|i8', default: 'f32', description: 'number format of the cached factors (i8: d_0 in bf16, the differences in 8-bit records)' },
    cfg: { type: 'string', value: 'batched|separate', defaultText: "batched, or the preset's", description: 'guidance branches in one batch or as two runs' },
    implementation: { type: 'string', value: 'taylorseer|reference', default: 'taylorseer', description: 'the fused kernels, or the plain TypeScript port of the reference code' },
    threads: THREADS_FLAG,
    repeat: { type: 'string', value: 'R', default: '3', description: `timed rounds of full and accelerated run, alternated after a warm-up (1..${MAX_REPEAT})` },
    out: { type: 'string', value: 'FILE.f32', description: 'write the accelerated samples here (float32, [labels, C, H, W] or [labels, C, F, H, W]); checked before the run' },
    json: { type: 'boolean', description: 'print the report on one line' },
    ...GRAPH_FLAGS,
  },
  examples: [
    'taylorseer eval --labels 3,7 --schedule fixed --interval 5 --warmup 3 --order 2',
    'taylorseer eval --labels 0,1,2 --seed 4 --schedule adaptive --budget 12 --warmup 1 --order 3 --repeat 5',
    'taylorseer eval --schedule mask --full 0,1,2,5,9,14,20,27,34,41,46,49 --order 2 --out accel.f32 --json',
    'taylorseer eval --model fixtures/mmdit-shapes --preset flux-dev --guidance 3.5 --labels 3,7',
  ],
  async run(v) {
    const { steps, guidance } = parseStudySampling(v, 1, 100_000);
    const shift = parseShift(str(v, 'shift')!);
    const scheduler = parseSchedulerFlag(str(v, 'scheduler'));
    const preset = presetFlag(v);
    const order = parseInteger('order', str(v, 'order') ?? String(preset?.maxOrder ?? 2), 0, 4);
    const variable = parseChoice<Variable>('variable', str(v, 'variable')!, VARIABLES);
    const granularity = parseChoice<Granularity>('granularity', str(v, 'granularity') ?? preset?.granularity ?? 'module', GRANULARITIES);
    const storage = parseChoice<StorageDtype>('storage', str(v, 'storage')!, STORAGE_DTYPES);
    const cfg = parseChoice<CfgMode>('cfg', str(v, 'cfg') ?? presetCfgMode(preset), ['batched', 'separate']);
    const implementation = parseChoice<HookImplementation>('implementation', str(v, 'implementation')!, ['taylorseer', 'reference']);
    const repeat = parseInteger('repeat', str(v, 'repeat')!, 1, MAX_REPEAT);
    const threads = parseThreads(v);
    const source = noiseSource(v);

    const seerOptions: SeerOptions = { schedule: parseSchedule(presetScheduleFlags(preset, v), steps), maxOrder: order, variable, storage };
    const outArg = str(v, 'out');
    const outFile = outArg === undefined ? undefined : prepareOutputFile(outArg);

    const modelDir = str(v, 'model') ?? bundledModelDir();
    const model = await loadModel(modelDir, { threads, ...graphOptions(v), ...presetLoadOptions(preset) });
    try {
      const { labels, noise } = samplesFromFlags(v, model, source, model.manifest.reference?.labels ?? [0], '', order);

      const base: Omit<SampleOptions, 'seer' | 'onStep'> = { labels, steps, guidance, shift, scheduler, cfg, granularity, noise, implementation };
      const c = await compareTimed(model, { ...base, seer: seerOptions, repeat, warmUp: () => warmUp(model, labels, guidance, cfg) });
      if (outFile !== undefined) writeF32(outFile, c.accelerated.images);
      const finite = (x: number) => (Number.isFinite(x) ? x : null);
      const arch: ModelShape = model.arch;
      const { overhead } = c.timing;
      const report = {
        model: model.manifest.name,
        // as the user wrote it, so saved results do not carry this machine's absolute paths
        modelDir: str(v, 'model') ?? model.manifest.dir,
        steps,
        guidance,
        labels,
        ...(arch.frames !== undefined ? { frames: arch.frames } : {}),
        shift,
        scheduler: c.accelerated.scheduler,
        cfg,
        granularity,
        preset: preset?.id ?? null,
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
        evalSpeedup: c.evalSpeedup,
        wallMs: c.timing.accelerated.medianMs,
        wallMsFull: c.timing.full.medianMs,
        wallSpeedup: c.wallSpeedup,
        overheadRatio: overhead.ratio,
        overhead: { verdict: overhead.verdict, rawRatio: overhead.rawRatio, noise: overhead.noise, note: overhead.note },
        timing: { method: TIMING_METHOD, full: c.timing.full, accelerated: c.timing.accelerated },
        psnr: finite(c.quality.psnr),
        psnrPerSample: c.quality.psnrPerSample.map(finite),
        ssim: c.quality.ssim,
        relL2: c.quality.relL2,
        // video clips: relative L2 of the frame-to-frame changes against full compute, per clip and mean
        ...(c.quality.temporal !== undefined ? { temporal: finite(c.quality.temporal), temporalPerSample: c.quality.temporalPerSample!.map(finite) } : {}),
        cacheBytes: c.accelerated.cacheBytes,
        cacheEntries: c.accelerated.seerStats?.entries ?? 0,
        computes: c.accelerated.seerStats?.computes ?? 0,
        computesSkipped: c.accelerated.seerStats?.computesSkipped ?? 0,
        out: outFile ?? null,
      };
      process.stdout.write(`${v.json ? JSON.stringify(report) : JSON.stringify(report, null, 2)}\n`);
      return 0;
    } finally {
      await model.dispose();
    }
  },
};
