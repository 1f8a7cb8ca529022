/**
 * The contract between a schedule and the hook. A schedule answers one question per denoising step: run the
 * cached modules in full, or forecast them. Fixed and mask schedules know the answer ahead of time (so a
 * forecast step needs no host round-trip); an adaptive schedule decides online, which is why the hook calls
 * isFull exactly once per step, in increasing order within a run, and reports back through observe().
 */
import type { Variable } from '../expansion';

export interface Schedule {
  /** a short name: 'fixed', 'mask', ... */
  readonly kind: string;
  /** denoising steps per run; valid step indices are 0..steps-1 */
  readonly steps: number;
  /**
   * The reference's warm-up W (`first_enhance`) as seen by the update rule: a full step s grows the order of
   * its factors only when s > W - 2; earlier full steps restart every entry at order 0.
   */
  readonly warmup: number;
  /**
   * Whether step `step` runs in full. The hook calls it once per step, in order, starting at 0 for each
   * run, so a stateful schedule may advance internal state here. Step 0 must be full.
   */
  isFull(step: number): boolean;
  /** The full steps of a run in increasing order, or null for a schedule that decides online. */
  fullSteps(): number[] | null;
  /** One line for logs, e.g. "fixed(steps=50, interval=6, warmup=3, cooldown=0): 10 full of 50". */
  describe(): string;
  /** A new run starts (before isFull(0)); stateful schedules clear their state here. */
  reset?(): void;
  /** Called once a step is over (at the next beginStep), so an adaptive schedule can learn from it. */
  observe?(observation: StepObservation): void;
  /** true: the hook asks the update kernel for the norms of the new factors and reports them in observe() */
  readonly needsNorms?: boolean;
}

export interface StepObservation {
  step: number;
  /** the sampler time given to beginStep, if any */
  t: number | undefined;
  full: boolean;
  /** cache entries used in the step (computed on full steps, forecast otherwise) */
  entries: number;
  /**
   * Full steps, when the schedule asks for them (needsNorms): per new factor i, the L2 norm of d_i over all
   * the step's entries together (sqrt of the summed sums of squares, from the update kernel); one value per
   * factor the entries hold after the step. Absent on forecast steps and for hooks that do not report them.
   */
  norms?: readonly number[];
  /** what the differences d_i are taken in (the hook's variable) */
  variable?: Variable;
}

export interface FixedScheduleOptions {
  kind: 'fixed';
  steps: number;
  /** N (`fresh_threshold`): after a full step, N-1 steps are forecast, then the next one is full */
  interval: number;
  /** W (`first_enhance`): steps 0..W-1 are full; at least 1 because step 0 has nothing to forecast from */
  warmup: number;
  /** C (`last_enhance`): the last C steps are full; default 0 */
  cooldown?: number;
}

export interface MaskScheduleOptions {
  kind: 'mask';
  steps: number;
  /** the full steps; must contain 0; any order, no duplicates */
  full: readonly number[];
  /** W for the update rule (see Schedule.warmup); default 0: every full step after the first grows the order */
  warmup?: number;
}

export interface AdaptiveScheduleOptions {
  kind: 'adaptive';
  steps: number;
  /** W: steps 0..W-1 are full (as in the fixed schedule); decisions start after step W-1 */
  warmup: number;
  /** C: the last C steps are full; default 0 */
  cooldown?: number;
  /** bounds of the interval between full steps; defaults 1 and 10 */
  minInterval?: number;
  maxInterval?: number;
  /** exactly one: the largest weighted relative error estimate a forecast step may have ... */
  tolerance?: number;
  /** ... or the number of full steps per run (warm-up and cool-down included), met exactly */
  budget?: number;
  /** the sampler's time grid t_0..t_steps (steps or steps + 1 values); needed for 'time' and 'newton' */
  times?: readonly number[];
  /** 'sampler' (default when times are given): weight step j's estimate by |t_{j+1} - t_j| / mean */
  weighting?: 'sampler' | 'none';
}

export type ScheduleOptions = FixedScheduleOptions | MaskScheduleOptions | AdaptiveScheduleOptions;
