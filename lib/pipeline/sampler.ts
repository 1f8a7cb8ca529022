/**
 * Rectified-flow Euler sampling from t = 1 (noise) to t = 0 on a uniform grid, optionally shifted
 * (t' = s t / (1 + (s - 1) t)), with classifier-free guidance v = v_u + g (v_c - v_u) either batched
 * (cond and uncond in one forward of batch 2B, one shared cache entry per module) or as two forwards with
 * separate cache contexts ('cond', 'uncond'). A cache hook, when given, sees beginStep(step, t) with the
 * shifted t of every step.
 *
 * A noise-prediction model (its description's scheduler, or the `scheduler` option) is sampled by DDIM or
 * DDPM instead (diffusion-scheduler.ts), guidance on the predicted noise; the model and the hook see
 * t = tau / T for the training timestep tau of each step (the graph gets t times its timestep scale).
 */
import { TaylorSeerError } from '../errors';
import { sampleDims, type DenoiserModel } from './denoiser';
import { sampleShape, type ImageShape } from './metrics';
import { gaussianNoise } from './noise';
import { createHook, type HookImplementation } from './hook-factory';
import { isCacheHook, type CacheHook } from '../cache-hook';
import type { TaylorSeerStats } from '../taylor-seer';
import { GRANULARITIES, type Granularity, type SeerOptions } from './seer-options';
import { getPreset, presetSeer, type Preset, type PresetId } from '../presets';
import { diffusionPlan, resolveScheduler, type Scheduler, type SchedulerSpec, type StepCoefficients } from './diffusion-scheduler';
import { Rng } from './noise';
import { isRecord, MAX_STEPS, requireObject, show } from '../validate';

/** `seer: { preset: 'flux-dev' }`: the preset's schedule and order, and its granularity and CFG mode unless given. */
export interface PresetRequest {
  preset: PresetId;
}

function presetOf(seer: SampleOptions['seer']): Preset | undefined {
  return typeof seer === 'object' && seer !== null && 'preset' in seer ? getPreset(seer.preset) : undefined;
}

export type CfgMode = 'batched' | 'separate';

export interface StepInfo {
  step: number;
  steps: number;
  /** the (shifted) time of the step */
  t: number;
  full: boolean;
}

export interface SampleOptions {
  /** one class label per sample (0..classes-1, or the null class for unconditional samples) */
  labels: readonly number[];
  steps: number;
  /**
   * Classifier-free guidance scale; 1 runs the conditional branch only (default 1). A model with a guidance
   * input (guidance-distilled, `model.guidanceInput`) gets the scale through that input instead, and every
   * step is one conditional forward.
   */
  guidance?: number;
  /** initial noise [B, C, H, W] ([B, C, F, H, W] for a video model); default: gaussianNoise(seed) */
  noise?: Float32Array;
  /** seed of the default noise (default 0); DDPM's per-step noise continues its stream */
  seed?: number;
  /** timestep shift s (default 1: the uniform grid); flow only */
  shift?: number;
  /**
   * How to sample: 'flow' (Euler on the velocity) or DDIM/DDPM on the predicted noise. Default: the model's
   * (a graph's model.json "scheduler"), else flow. DDIM/DDPM fields not given come from the model's
   * scheduler, else DiT's (linear betas 1e-4..0.02 over 1000 timesteps).
   */
  scheduler?: SchedulerSpec;
  /** default 'batched' (or the preset's) */
  cfg?: CfgMode;
  /** where the cache sits (default 'module', or the preset's) */
  granularity?: Granularity;
  /**
   * Acceleration: TaylorSeer options (a hook is created for the run and disposed after it) or a hook the
   * caller owns (the run starts with beginStep(0), which makes it forget earlier factors; it is left alive
   * and its stats keep accumulating; the result's seerStats are this run's share). Absent: full compute.
   */
  seer?: SeerOptions | CacheHook | PresetRequest;
  /** which hook `seer` options create: the library's TaylorSeer (default) or the TypeScript reference */
  implementation?: HookImplementation;
  /** called after every step */
  onStep?: (info: StepInfo) => void;
}

export interface SampleResult {
  /** final samples [B, C, H, W] ([B, C, F, H, W] for a video model) */
  images: Float32Array;
  shape: ImageShape;
  steps: number;
  /**
   * flow: the sampler's (shifted) grid, steps + 1 values from 1 to 0; DDIM/DDPM: each step's tau / T
   * (steps values, the last 0)
   */
  timesteps: number[];
  /** the scheduler that ran */
  scheduler: Scheduler;
  /** steps on which the model ran in full */
  fullSteps: number;
  fullStepList: number[];
  /** attention + MLP graph evaluations (each session run counts once, whatever its batch) */
  moduleEvals: number;
  /** forwards started (per step: 1 batched, 2 separate, 1 without guidance) */
  forwards: number;
  wallMs: number;
  /** bytes the cache held at the end of the run (0 without a hook) */
  cacheBytes: number;
  seerStats?: TaylorSeerStats;
}

const FLOW: Scheduler = { kind: 'flow' };

/** One DDIM/DDPM step in place: eps = eps_u + g (eps_c - eps_u), x' = cx x + ce eps (+ sigma z, z from rng). */
function diffusionUpdate(x: Float32Array, ec: Float32Array, eu: Float32Array, off: number, guidance: number, c: StepCoefficients, rng: Rng | undefined): void {
  for (let i = 0; i < x.length; i++) {
    const u = eu[off + i];
    const eps = u + guidance * (ec[i] - u);
    x[i] = c.cx * x[i] + c.ce * eps + (c.sigma > 0 && rng ? c.sigma * rng.normal() : 0);
  }
}

/** t_0 = 1 .. t_steps = 0, uniform, then shifted: t' = s t / (1 + (s - 1) t). */
export function timesteps(steps: number, shift = 1): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `steps must be an integer in 1..${MAX_STEPS}, found ${show(steps)}`);
  if (!Number.isFinite(shift) || shift <= 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `shift must be a finite number > 0, found ${shift}`);
  const out: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const t = 1 - s / steps;
    out.push(shift === 1 ? t : (shift * t) / (1 + (shift - 1) * t));
  }
  return out;
}

/** The most sample elements one run holds (its batch of samples, before guidance doubles it): 4 GiB of float32. */
export const MAX_BATCH_ELEMENTS = 2 ** 30;

function checkLabels(model: DenoiserModel, labels: readonly number[]): BigInt64Array {
  const { classes, nullClass } = model.arch;
  if (!Array.isArray(labels) || labels.length === 0) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'labels must be a non-empty array of class labels');
  }
  if (labels.length * model.imageElements > MAX_BATCH_ELEMENTS) {
    throw new TaylorSeerError(
      'ERR_INVALID_ARGUMENT',
      `${labels.length} labels of ${model.imageElements} elements each would hold ${labels.length * model.imageElements} sample elements at once, more than ${MAX_BATCH_ELEMENTS} (4 GiB of float32): sample in smaller batches`,
    );
  }
  return BigInt64Array.from(
    labels.map((l) => {
      if (!Number.isInteger(l) || l < 0 || (l >= classes && l !== nullClass)) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `label ${l} is not a class of this model (0..${classes - 1}, or ${nullClass} for unconditional)`);
      }
      return BigInt(l);
    }),
  );
}

/** Generates samples. Errors are TaylorSeerErrors (ERR_INVALID_ARGUMENT for bad options). */
export async function sample(model: DenoiserModel, options: SampleOptions): Promise<SampleResult> {
  requireObject('sample options', options);
  if (options.seer !== undefined && !isRecord(options.seer)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `seer must be TaylorSeer options, { preset } or a hook, got ${show(options.seer)}`);
  }
  if (options.onStep !== undefined && typeof options.onStep !== 'function') {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `onStep must be a function, got ${show(options.onStep)}`);
  }
  const preset = presetOf(options.seer);
  const { steps, guidance = 1, shift = 1, seed = 0, onStep } = options;
  const granularity = options.granularity ?? preset?.granularity ?? 'module';
  const cfg = options.cfg ?? (preset?.cfg === 'separate' ? 'separate' : 'batched');
  if (preset && granularity !== preset.granularity) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity '${granularity}' contradicts preset ${preset.id}, which caches at '${preset.granularity}'`);
  }
  const y = checkLabels(model, options.labels);
  const B = y.length;
  const per = model.imageElements;
  const invalid = (message: string): never => {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', message);
  };
  const scheduler = options.scheduler === undefined ? (model.scheduler ?? FLOW) : resolveScheduler(options.scheduler, model.scheduler, invalid);
  if (scheduler.kind !== 'flow' && shift !== 1) invalid(`shift ${shift} applies to the flow scheduler only; ${scheduler.kind} walks the training timesteps (give shift 1)`);
  const plan = scheduler.kind === 'flow' ? undefined : diffusionPlan(scheduler, steps);
  const ts = plan ? plan.times : timesteps(steps, shift);
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `guidance must be a finite number, found ${guidance}`);
  }
  if (cfg !== 'batched' && cfg !== 'separate') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `cfg must be batched or separate, found ${String(cfg)}`);
  if (!GRANULARITIES.includes(granularity)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity must be ${GRANULARITIES.join(', ')}, found ${String(granularity)}`);
  }
  if (!model.granularities.includes(granularity)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity '${granularity}' is not available for ${model.manifest.name}: it supports ${model.granularities.join(', ')}`);
  }
  let x: Float32Array;
  if (options.noise !== undefined) {
    if (!(options.noise instanceof Float32Array) || options.noise.length !== B * per) {
      const found = options.noise instanceof Float32Array ? `${options.noise.length} values` : Object.prototype.toString.call(options.noise);
      throw new TaylorSeerError('ERR_LENGTH', `noise must be a Float32Array of ${B * per} values ([${sampleDims(model.arch, B).join(', ')}]), found ${found}`);
    }
    x = Float32Array.from(options.noise);
  } else {
    x = gaussianNoise(B * per, seed);
  }
  // DDPM's per-step noise: the seed's stream, after the initial noise when that came from it too
  let rng: Rng | undefined;
  if (scheduler.kind === 'ddpm') {
    rng = new Rng(seed);
    if (options.noise === undefined) for (let i = 0; i < x.length; i++) rng.normal();
  }

  let hook: CacheHook | undefined;
  let owned = false;
  if (options.seer !== undefined) {
    if (isCacheHook(options.seer)) {
      hook = options.seer;
    } else if (preset) {
      hook = createHook(presetSeer(preset, steps), options.implementation);
      owned = true;
    } else {
      const sched = (options.seer as SeerOptions).schedule;
      if (sched && sched.steps !== steps) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `the TaylorSeer schedule has ${sched.steps} steps but the sampler runs ${steps}`);
      }
      // An adaptive schedule weighs and measures forecasts on the sampler's own grid unless told otherwise.
      const seerOptions = sched?.kind === 'adaptive' && sched.times === undefined ? { ...(options.seer as SeerOptions), schedule: { ...sched, times: ts } } : (options.seer as SeerOptions);
      hook = createHook(seerOptions, options.implementation);
      owned = true;
    }
  }

  // a guidance-distilled model takes the scale as an input: one conditional forward per step
  const embedded = model.guidanceInput === true;
  const guided = guidance !== 1 && !embedded;
  const fed = embedded ? { guidance } : {};
  const nullY = BigInt64Array.from({ length: B }, () => BigInt(model.arch.nullClass));
  const yBatched = guided ? BigInt64Array.from([...y, ...nullY]) : y;
  const xBatched = guided && cfg === 'batched' ? new Float32Array(2 * B * per) : x;
  if (hook && granularity === 'module') {
    model.prepare?.(ts.slice(0, steps), guided ? (cfg === 'batched' ? [yBatched] : [y, nullY]) : [y], embedded ? { guidance } : {});
  }
  const fullStepList: number[] = [];
  let forwards = 0;
  const evals0 = model.counters.moduleEvals;
  const stats0 = hook && !owned ? { ...hook.stats } : undefined;
  const t0 = performance.now();
  try {
    for (let s = 0; s < steps; s++) {
      const t = ts[s];
      const dt = plan ? 0 : ts[s + 1] - t;
      if (hook) hook.beginStep(s, t);
      const full = hook ? hook.isFull : true;
      if (full) fullStepList.push(s);
      if (!guided) {
        const v = await model.forward(x, t, y, B, { hook, granularity, ...fed });
        forwards++;
        if (plan) diffusionUpdate(x, v, v, 0, 1, plan.coefficients[s], rng);
        else for (let i = 0; i < x.length; i++) x[i] += dt * v[i];
      } else {
        let vc: Float32Array;
        let vu: Float32Array;
        let off = 0;
        if (cfg === 'batched') {
          xBatched.set(x, 0);
          xBatched.set(x, B * per);
          vc = vu = await model.forward(xBatched, t, yBatched, 2 * B, { hook, granularity });
          off = B * per;
          forwards++;
        } else {
          vc = await model.forward(x, t, y, B, { hook, granularity, context: 'cond' });
          vu = await model.forward(x, t, nullY, B, { hook, granularity, context: 'uncond' });
          forwards += 2;
        }
        if (plan) {
          diffusionUpdate(x, vc, vu, off, guidance, plan.coefficients[s], rng);
        } else {
          for (let i = 0; i < x.length; i++) {
            const u = vu[off + i];
            x[i] += dt * (u + guidance * (vc[i] - u));
          }
        }
      }
      onStep?.({ step: s, steps, t, full });
    }
    const wallMs = performance.now() - t0;
    let seerStats: TaylorSeerStats | undefined;
    if (hook) {
      const st = hook.stats;
      seerStats = {
        fullSteps: st.fullSteps - (stats0?.fullSteps ?? 0),
        forecastSteps: st.forecastSteps - (stats0?.forecastSteps ?? 0),
        computes: st.computes - (stats0?.computes ?? 0),
        computesSkipped: st.computesSkipped - (stats0?.computesSkipped ?? 0),
        bytesHeld: st.bytesHeld,
        entries: st.entries,
        bytesByEntry: st.bytesByEntry,
        layout: st.layout,
        budget: st.budget,
      };
    }
    return {
      images: x,
      shape: sampleShape(model.arch, B),
      steps,
      timesteps: ts,
      scheduler,
      fullSteps: fullStepList.length,
      fullStepList,
      moduleEvals: model.counters.moduleEvals - evals0,
      forwards,
      wallMs,
      cacheBytes: seerStats?.bytesHeld ?? 0,
      seerStats,
    };
  } finally {
    if (owned) hook?.dispose();
  }
}
