/**
 * The contract between a schedule and the hook. A schedule answers one question per denoising step: run the
 * cached modules in full, or forecast them. Fixed and mask schedules know the answer ahead of time (so a
 * forecast step needs no host round-trip); an adaptive schedule decides online, which is why the hook calls
 * isFull exactly once per step, in increasing order within a run, and reports back through observe().
 */

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
}

export interface StepObservation {
  step: number;
  /** the sampler time given to beginStep, if any */
  t: number | undefined;
  full: boolean;
  /** cache entries used in the step (computed on full steps, forecast otherwise) */
  entries: number;
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

export type ScheduleOptions = FixedScheduleOptions | MaskScheduleOptions;
