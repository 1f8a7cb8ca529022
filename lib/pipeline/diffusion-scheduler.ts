/**
 * DDIM and DDPM for noise-prediction (eps) models, as the DiT paper samples: a beta table over the training
 * timesteps (linear, DDPM's 1e-4..0.02 over 1000, or cosine), the `steps` timesteps a sampler visits
 * (0, k, 2k, .. with k = T / steps, largest first, as guided-diffusion's respacing picks them), and the
 * update of one step. Pure arithmetic in float64; the sampler (sampler.ts) runs the model and calls these.
 *
 * With a = alpha_bar(tau_i), a' = alpha_bar(tau_{i+1}) (1 after the last step) and x0 = (x - sqrt(1-a) eps) / sqrt(a):
 *   DDIM (eta 0): x' = sqrt(a') x0 + sqrt(1-a') eps
 *   DDPM:         x' = (beta sqrt(a') x0 + (1-a') sqrt(1-beta) x) / (1-a) + sqrt(beta (1-a') / (1-a)) z,
 *                 beta = 1 - a/a' (the respaced step's beta), z standard normal, none after the last step.
 */
import { TaylorSeerError } from '../errors';
import { isRecord, MAX_STEPS, show } from '../validate';

export const DIFFUSION_KINDS = ['ddim', 'ddpm'] as const;
export const BETA_SCHEDULES = ['linear', 'cosine'] as const;
export type BetaSchedule = (typeof BETA_SCHEDULES)[number];

/** What a noise-prediction model was trained with and how the sampler walks back through it. */
export interface DiffusionScheduler {
  kind: (typeof DIFFUSION_KINDS)[number];
  /** what the model predicts: the noise (the only prediction DDIM/DDPM here take) */
  prediction: 'epsilon';
  betaSchedule: BetaSchedule;
  /** the linear table's first and last beta (unused by cosine) */
  betaStart: number;
  betaEnd: number;
  /** T, the training timesteps 0..T-1 */
  trainSteps: number;
}

/** Rectified flow: the model predicts a velocity, Euler steps from t = 1 to 0 (the sampler's default). */
export interface FlowScheduler {
  kind: 'flow';
}

export type Scheduler = FlowScheduler | DiffusionScheduler;

/** What a caller may give: the kind, and for DDIM/DDPM any fields to change (the rest: the model's, else DiT's). */
export type SchedulerSpec = FlowScheduler | ({ kind: DiffusionScheduler['kind'] } & Partial<Omit<DiffusionScheduler, 'kind'>>);

/** DiT's training schedule: linear betas 1e-4..0.02 over 1000 timesteps, sampled by DDIM. */
export const DIT_SCHEDULER: DiffusionScheduler = { kind: 'ddim', prediction: 'epsilon', betaSchedule: 'linear', betaStart: 1e-4, betaEnd: 0.02, trainSteps: 1000 };

const FIELDS = ['kind', 'prediction', 'betaSchedule', 'betaStart', 'betaEnd', 'trainSteps'] as const;

/**
 * A scheduler from a caller's spec over a base (the model's scheduler when it is DDIM/DDPM, else DiT's).
 * `fail` throws the caller's typed error (ERR_INVALID_ARGUMENT for options, ERR_MODEL for a model.json).
 */
export function resolveScheduler(spec: unknown, base: Scheduler | undefined, fail: (message: string) => never, where = 'scheduler'): Scheduler {
  if (!isRecord(spec)) fail(`${where} must be an object with a kind (flow, ddim, ddpm), found ${show(spec)}`);
  for (const k of Object.keys(spec)) {
    if (!(FIELDS as readonly string[]).includes(k)) fail(`${where}.${k} is not a scheduler field (expected some of ${FIELDS.join(', ')})`);
  }
  if (spec.kind === 'flow') {
    if (Object.keys(spec).length > 1) fail(`${where}: the flow scheduler takes no other fields (found ${Object.keys(spec).filter((k) => k !== 'kind').join(', ')})`);
    return { kind: 'flow' };
  }
  if (!(DIFFUSION_KINDS as readonly unknown[]).includes(spec.kind)) fail(`${where}.kind must be flow, ddim or ddpm, found ${show(spec.kind)}`);
  const from = base && base.kind !== 'flow' ? base : DIT_SCHEDULER;
  const s: DiffusionScheduler = { ...from, ...(spec as Partial<DiffusionScheduler>), kind: spec.kind as DiffusionScheduler['kind'] };
  if (s.prediction !== 'epsilon') fail(`${where}.prediction must be "epsilon" for ${s.kind} (a noise-prediction model), found ${show(s.prediction)}`);
  if (!(BETA_SCHEDULES as readonly unknown[]).includes(s.betaSchedule)) fail(`${where}.betaSchedule must be linear or cosine, found ${show(s.betaSchedule)}`);
  if (!Number.isInteger(s.trainSteps) || s.trainSteps < 2 || s.trainSteps > MAX_STEPS) {
    fail(`${where}.trainSteps must be an integer in 2..${MAX_STEPS}, found ${show(s.trainSteps)}`);
  }
  for (const k of ['betaStart', 'betaEnd'] as const) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v >= 1) fail(`${where}.${k} must be a number in (0, 1), found ${show(v)}`);
  }
  if (s.betaStart > s.betaEnd) fail(`${where}: betaStart ${s.betaStart} is above betaEnd ${s.betaEnd} (a linear table grows)`);
  return s;
}

/** beta_0..beta_{T-1}: linear from betaStart to betaEnd, or cosine (alpha_bar(u) = cos((u + 0.008) / 1.008 * pi / 2)^2, beta <= 0.999). */
export function betaTable(s: Pick<DiffusionScheduler, 'betaSchedule' | 'betaStart' | 'betaEnd' | 'trainSteps'>): Float64Array {
  const T = s.trainSteps;
  const out = new Float64Array(T);
  if (s.betaSchedule === 'linear') {
    for (let i = 0; i < T; i++) out[i] = s.betaStart + ((s.betaEnd - s.betaStart) * i) / (T - 1);
  } else {
    const ab = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let i = 0; i < T; i++) out[i] = Math.min(1 - ab((i + 1) / T) / ab(i / T), 0.999);
  }
  return out;
}

/** alpha_bar_t = prod_{i <= t} (1 - beta_i), t = 0..T-1. */
export function alphaBars(s: Pick<DiffusionScheduler, 'betaSchedule' | 'betaStart' | 'betaEnd' | 'trainSteps'>): Float64Array {
  const b = betaTable(s);
  const out = new Float64Array(b.length);
  let p = 1;
  for (let i = 0; i < b.length; i++) out[i] = p *= 1 - b[i];
  return out;
}

/** The training timesteps of a `steps`-step sampler, largest first: k (steps - 1), .., k, 0 with k = floor(T / steps). */
export function diffusionTimesteps(steps: number, trainSteps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `steps must be an integer in 1..${trainSteps} (the model's training timesteps), found ${steps}`);
  }
  const k = Math.floor(trainSteps / steps);
  return Array.from({ length: steps }, (_, i) => k * (steps - 1 - i));
}

/** The coefficients of one step from alpha_bar a to a' (1 after the last step): x' = cx x + ce eps + sigma z. */
export interface StepCoefficients {
  cx: number;
  ce: number;
  sigma: number;
}

/** DDIM (eta 0): x' = sqrt(a'/a) x + (sqrt(1-a') - sqrt(a' (1-a) / a)) eps. */
export function ddimCoefficients(a: number, aNext: number): StepCoefficients {
  return { cx: Math.sqrt(aNext / a), ce: Math.sqrt(1 - aNext) - Math.sqrt((aNext * (1 - a)) / a), sigma: 0 };
}

/** DDPM with the posterior variance: the mean (beta sqrt(a') x0 + (1-a') sqrt(1-beta) x) / (1-a) written in x and eps. */
export function ddpmCoefficients(a: number, aNext: number): StepCoefficients {
  const beta = 1 - a / aNext;
  const c0 = (beta * Math.sqrt(aNext)) / (1 - a); // on x0
  const c1 = ((1 - aNext) * Math.sqrt(1 - beta)) / (1 - a); // on x
  return { cx: c1 + c0 / Math.sqrt(a), ce: (-c0 * Math.sqrt(1 - a)) / Math.sqrt(a), sigma: Math.sqrt((beta * (1 - aNext)) / (1 - a)) };
}

/** The plan of a DDIM/DDPM run: per step the timestep, the sampler time tau / T, and the update's coefficients. */
export interface DiffusionPlan {
  timesteps: number[];
  /** tau_i / T: what the hook and the graph see (the graph gets it times its timestep scale) */
  times: number[];
  coefficients: StepCoefficients[];
}

export function diffusionPlan(s: DiffusionScheduler, steps: number): DiffusionPlan {
  const ab = alphaBars(s);
  const timesteps = diffusionTimesteps(steps, s.trainSteps);
  const coef = s.kind === 'ddim' ? ddimCoefficients : ddpmCoefficients;
  return {
    timesteps,
    times: timesteps.map((tau) => tau / s.trainSteps),
    coefficients: timesteps.map((tau, i) => coef(ab[tau], i + 1 < steps ? ab[timesteps[i + 1]] : 1)),
  };
}
