/**
 * The plan of a whole run for a schedule known in advance (fixed, mask): for every step, whether it is full,
 * the factor counts, and the step's divisors (full steps) or forecast coefficients, computed ahead with the
 * same rules the cache applies step by step (lib/expansion.ts). Every entry that takes part in every full
 * step of a run shares this history, so one row of values serves all of them.
 *
 * What it is for: the kernels can read a step's values from device memory (taylorseer.h, indirect
 * launches), so with the whole table on the device once, the launches of every step with the same counts
 * are identical and can be recorded once (a CUDA graph in native code) and replayed.
 */
import { TaylorSeerError } from './errors';
import { MAX_ORDER, forecastCoeffs, updatePlan, type Node, type Variable } from './expansion';
import type { Schedule } from './schedule';
import { requireFinite, requireInt, requireSteps, show } from './validate';

/** Floats per step in RunPlan.values: one per factor (TS_MAX_FACTORS). */
export const PLAN_ROW = MAX_ORDER + 1;

export interface StepPlan {
  step: number;
  full: boolean;
  /** factors valid before the step */
  oldCount: number;
  /** factors valid after the step's update (full) / used by its forecast */
  count: number;
  /** full: count - 1 divisors; forecast: count coefficients */
  values: number[];
}

export interface RunPlan {
  steps: StepPlan[];
  /** steps.length rows of PLAN_ROW floats: row s holds step s's values, zero-padded */
  values: Float32Array;
}

export interface RunPlanOptions {
  maxOrder: number;
  variable: Variable;
  /** the sampler's t of every step (at least `steps` values); required for 'time' and 'newton' */
  times?: readonly number[];
}

export function planRun(schedule: Schedule, options: RunPlanOptions): RunPlan {
  // read once and bounded: a custom schedule's getters could answer differently on every read
  const stepCount = requireSteps(schedule.steps);
  const warmup = requireInt('schedule.warmup', schedule.warmup, 0, stepCount);
  const full: unknown = schedule.fullSteps();
  if (full === null) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule ${schedule.describe()} decides online: a run plan needs the full steps in advance (fixed or mask)`);
  }
  if (!Array.isArray(full)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.fullSteps() must return an array of step indices or null, got ${show(full)}`);
  const maxOrder = requireInt('maxOrder', options.maxOrder, 0, MAX_ORDER, 'ERR_ORDER');
  const { variable, times } = options;
  if (variable !== 'step') {
    if (!Array.isArray(times) || times.length < stepCount) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `variable '${variable}' needs times: the sampler's t of all ${stepCount} steps, got ${show(times)}`);
    }
    times.slice(0, stepCount).forEach((t, i) => requireFinite(`times[${i}]`, t));
  }
  const isFull = new Array<boolean>(stepCount).fill(false);
  for (const s of full) isFull[requireInt('schedule.fullSteps() entry', s, 0, stepCount - 1)] = true;
  if (!isFull[0]) throw new TaylorSeerError('ERR_STEP', 'the schedule makes step 0 a forecast step, but a run must start with a full step');

  const steps: StepPlan[] = [];
  const values = new Float32Array(stepCount * PLAN_ROW);
  let history: Node[] = [];
  let count = 0;
  for (let s = 0; s < stepCount; s++) {
    const node: Node = { step: s, t: times ? times[s] : Number.NaN };
    let row: number[];
    if (isFull[s]) {
      const plan = updatePlan(variable, history, count, node, maxOrder, warmup);
      row = plan.divisors;
      steps.push({ step: s, full: true, oldCount: count, count: plan.newCount, values: row });
      history = [...history.slice(history.length - (plan.newCount - 1)), node];
      count = plan.newCount;
    } else {
      row = forecastCoeffs(variable, history, count, node);
      steps.push({ step: s, full: false, oldCount: count, count, values: row });
    }
    values.set(row, s * PLAN_ROW);
  }
  return { steps, values };
}
