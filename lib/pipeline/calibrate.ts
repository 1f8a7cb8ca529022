/**
 * Offline schedule calibration: which K steps of a run should be full? A local search over explicit
 * ('mask') schedules, each scored by running the sampler on calibration samples and comparing with full
 * compute. It spends extra forward passes (one accelerated run per candidate), so it is a tool to run once
 * per model, sampler grid and budget, not a schedule that decides online: the result is a mask schedule to
 * reuse (`--schedule mask --full ...`).
 *
 * Why a search and not a formula: on the bundled model at shift 1, where full steps should go depends on how
 * much a forecast error at each step costs the final image, which the kernels' error estimates do not see
 * (docs/studies/calibrated-schedules.md).
 */
import { TaylorSeerError } from '../errors';
import { fixedByInterval } from '../schedule/fixed';
import { MaskSchedule } from '../schedule/mask';
import type { MaskScheduleOptions } from '../schedule/types';
import { requireInt, show } from '../validate';
import { compare } from './evaluate';
import type { DenoiserModel } from './denoiser';
import { sample, type SampleOptions, type SampleResult } from './sampler';
import type { Variable } from '../expansion';

export interface CalibrateOptions extends Omit<SampleOptions, 'seer' | 'onStep' | 'implementation'> {
  /** full steps per run (step 0 included) */
  budget: number;
  /** the Taylor order and the variable of the differences, as in SeerOptions */
  order: number;
  variable?: Variable;
  /**
   * W of the update rule (full steps s <= W - 2 restart every entry at order 0) and of the default start;
   * the search also tries W = 0..4. Default 3 (the reference's).
   */
  warmup?: number;
  /**
   * Where the search starts: 'fixed' (default: fixedStart(steps, budget, warmup)), 'adaptive' (the full steps
   * the adaptive schedule with this budget, max(1, warmup) and `cooldown` chooses on these samples, with this
   * order and variable: a local search refines a start, so a good one matters), or an explicit list of exactly
   * `budget` distinct steps with 0.
   */
  start?: 'fixed' | 'adaptive' | readonly number[];
  /** cool-down C of the adaptive start (default 0) */
  cooldown?: number;
  /** at most this many sweeps (default 3); a sweep without improvement ends the search */
  maxSweeps?: number;
  /** how far one move shifts one full step (both directions; default CALIBRATE_MOVES) */
  moves?: readonly number[];
  /** a candidate must beat the best by more than this to be kept (dB, default 0.02) */
  minGainDb?: number;
  /** a full-compute result of the same sample options, to reuse */
  full?: SampleResult;
  /** after every scored candidate */
  onProgress?: (p: CalibrateProgress) => void;
}

export interface CalibrateProgress {
  sweep: number;
  runs: number;
  bestPsnr: number;
  best: MaskScheduleOptions;
  improved: boolean;
}

export interface Calibration {
  /** the best schedule found (a mask schedule with exactly `budget` full steps) */
  schedule: MaskScheduleOptions;
  /** its PSNR against full compute on the calibration samples (dB, mean over samples as in compareImages) */
  psnr: number;
  start: { schedule: MaskScheduleOptions; psnr: number };
  /** accelerated runs spent (distinct candidates) */
  runs: number;
  sweeps: number;
  full: SampleResult;
}

/** The default moves of the search: one full step shifted by this many steps, either way. */
export const CALIBRATE_MOVES: readonly number[] = [1, 2, 3, 5, 8];

/**
 * The most accelerated runs calibrateSchedule can spend: the start, then per sweep every full step but step 0
 * moved each way by each move, then W = 0..4 (or up to the budget). The search stops early when a sweep
 * finds nothing, so this is a bound (a progress bar's total).
 */
export function calibrationRunBound(budget: number, maxSweeps: number, moves: readonly number[] = CALIBRATE_MOVES): number {
  return 1 + maxSweeps * ((budget - 1) * 2 * moves.length + Math.min(4, budget));
}

function fail(message: string): never {
  throw new TaylorSeerError('ERR_INVALID_ARGUMENT', message);
}

/**
 * The reference's family as a start: steps 0..W-1, then the widest even interval whose run has at least
 * `budget` full steps, cut to `budget`.
 */
export function fixedStart(steps: number, budget: number, warmup: number): number[] {
  requireInt('steps', steps, 1, 1_000_000);
  requireInt('budget', budget, 1, steps);
  const w = Math.max(1, requireInt('warmup', warmup, 0, budget));
  for (const { full } of fixedByInterval(steps, w)) {
    if (full.length >= budget) return full.slice(0, budget);
  }
  return Array.from({ length: budget }, (_, i) => i);
}

/** An explicit start: a valid mask schedule's full steps (step 0, in range, no repeats), exactly `budget` of them. */
function checkStart(start: readonly number[], steps: number, budget: number): number[] {
  const list = new MaskSchedule({ steps, full: start }).fullSteps();
  if (list.length !== budget) fail(`start has ${list.length} steps, expected the budget (${budget})`);
  return list;
}

const mask = (steps: number, full: number[], warmup: number): MaskScheduleOptions => ({ kind: 'mask', steps, full, warmup });

/** Searches for the placement of `budget` full steps with the best PSNR on the given samples. */
export async function calibrateSchedule(model: DenoiserModel, options: CalibrateOptions): Promise<Calibration> {
  const { budget, order, variable, warmup = 3, start = 'fixed', cooldown = 0, maxSweeps = 3, moves = CALIBRATE_MOVES, minGainDb = 0.02, full: given, onProgress, ...base } = options;
  const steps = requireInt('steps', base.steps, 1, 1_000_000);
  requireInt('budget', budget, 1, steps);
  requireInt('order', order, 0, 4);
  requireInt('warmup', warmup, 0, budget);
  requireInt('maxSweeps', maxSweeps, 1, 1000);
  if (!Array.isArray(moves) || moves.length === 0) fail('moves must be a non-empty array of positive integers');
  moves.forEach((m, i) => requireInt(`moves[${i}]`, m, 1, 1_000_000));
  if (typeof minGainDb !== 'number' || !(minGainDb >= 0)) fail(`minGainDb must be a number >= 0, got ${show(minGainDb)}`);
  if (start !== 'fixed' && start !== 'adaptive' && !Array.isArray(start)) fail(`start must be 'fixed', 'adaptive' or a list of steps, got ${show(start)}`);
  requireInt('cooldown', cooldown, 0, Math.max(0, budget - Math.max(1, warmup)));
  let cur = start === 'fixed' ? fixedStart(steps, budget, warmup) : start === 'adaptive' ? [] : checkStart(start as readonly number[], steps, budget);

  const full = given ?? (await sample(model, base));
  if (start === 'adaptive') {
    const schedule = { kind: 'adaptive', steps, warmup: Math.max(1, warmup), cooldown, budget } as const;
    cur = (await sample(model, { ...base, seer: { schedule, maxOrder: order, variable } })).fullStepList;
  }
  const scores = new Map<string, number>();
  let sweep = 0;
  let W = warmup;
  let best = -Infinity;
  const score = async (list: number[], w: number): Promise<number> => {
    const key = `${w}:${list.join(',')}`;
    let p = scores.get(key);
    if (p === undefined) {
      p = (await compare(model, { ...base, full, seer: { schedule: mask(steps, list, w), maxOrder: order, variable } })).quality.psnr;
      // a non-finite PSNR (identical images) ranks first; NaN would never compare
      if (Number.isNaN(p)) p = -Infinity;
      scores.set(key, p);
      const improved = p > best + minGainDb;
      onProgress?.({ sweep, runs: scores.size, bestPsnr: improved ? p : best, best: improved ? mask(steps, list, w) : mask(steps, cur, W), improved });
    }
    return p;
  };

  const startPsnr = await score(cur, W);
  best = startPsnr;
  const startSchedule = mask(steps, [...cur], W);
  const signed = moves.flatMap((m) => [m, -m]);
  for (; sweep < maxSweeps; sweep++) {
    let improved = false;
    for (let i = 1; i < cur.length; i++) {
      for (const m of signed) {
        const s = cur[i] + m;
        if (s <= 0 || s >= steps || cur.includes(s)) continue;
        const cand = [...cur];
        cand[i] = s;
        cand.sort((a, b) => a - b);
        const p = await score(cand, W);
        if (p > best + minGainDb) {
          best = p;
          cur = cand;
          improved = true;
          break;
        }
      }
    }
    for (let w = 0; w <= Math.min(4, budget); w++) {
      if (w === W) continue;
      const p = await score(cur, w);
      if (p > best + minGainDb) {
        best = p;
        W = w;
        improved = true;
      }
    }
    if (!improved) {
      sweep++;
      break;
    }
  }
  return { schedule: mask(steps, cur, W), psnr: best, start: { schedule: startSchedule, psnr: startPsnr }, runs: scores.size, sweeps: sweep, full };
}
