/** An explicit list of full steps, e.g. one tuned offline or copied from another implementation. */
import { TaylorSeerError } from '../errors';
import type { MaskScheduleOptions, Schedule } from './types';
import { requireInt, requireKnownKeys, requireObject, requireSteps, show } from '../validate';

export class MaskSchedule implements Schedule {
  readonly kind = 'mask';
  readonly steps: number;
  readonly warmup: number;
  private readonly full: readonly number[];
  private readonly isFullStep: readonly boolean[];

  constructor(options: Omit<MaskScheduleOptions, 'kind'> & { kind?: 'mask' }) {
    const o = requireObject('mask schedule options', options);
    requireKnownKeys('mask schedule options', o, ['kind', 'steps', 'full', 'warmup']);
    this.steps = requireSteps(o.steps);
    this.warmup = requireInt('schedule.warmup', o.warmup ?? 0, 0, this.steps);
    if (!Array.isArray(o.full)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.full must be an array of step indices, got ${show(o.full)}`);
    }
    const flags: boolean[] = new Array<boolean>(this.steps).fill(false);
    (o.full as unknown[]).forEach((s, i) => {
      const step = requireInt(`schedule.full[${i}]`, s, 0, this.steps - 1);
      if (flags[step]) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.full lists step ${step} twice`);
      flags[step] = true;
    });
    // Step 0 has no earlier factors to forecast from.
    if (!flags[0]) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'schedule.full must contain step 0 (a run starts with a full step)');
    this.isFullStep = flags;
    this.full = flags.flatMap((f, s) => (f ? [s] : []));
  }

  isFull(step: number): boolean {
    requireInt('step', step, 0, this.steps - 1, 'ERR_STEP');
    return this.isFullStep[step];
  }

  fullSteps(): number[] {
    return [...this.full];
  }

  describe(): string {
    return `mask(steps=${this.steps}, warmup=${this.warmup}): ${this.full.length} full of ${this.steps} [${this.full.join(',')}]`;
  }
}
