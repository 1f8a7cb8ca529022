/**
 * The reference schedule. The Python reference keeps a counter of forecast steps since the last full step;
 * because W >= 1 makes step W-1 full and cool-down steps are all at the end, the counter reduces to the
 * closed form below, which lets isFull answer any step without replaying the run.
 */
import type { FixedScheduleOptions, Schedule } from './types';
import { requireInt, requireKnownKeys, requireObject } from '../validate';

export class FixedSchedule implements Schedule {
  readonly kind = 'fixed';
  readonly steps: number;
  readonly interval: number;
  readonly warmup: number;
  readonly cooldown: number;

  constructor(options: Omit<FixedScheduleOptions, 'kind'> & { kind?: 'fixed' }) {
    const o = requireObject('fixed schedule options', options);
    requireKnownKeys('fixed schedule options', o, ['kind', 'steps', 'interval', 'warmup', 'cooldown']);
    this.steps = requireInt('schedule.steps', o.steps, 1);
    this.interval = requireInt('schedule.interval', o.interval, 1);
    this.warmup = requireInt('schedule.warmup', o.warmup, 1, this.steps);
    this.cooldown = requireInt('schedule.cooldown', o.cooldown ?? 0, 0, this.steps);
  }

  isFull(step: number): boolean {
    requireInt('step', step, 0, this.steps - 1, 'ERR_STEP');
    if (step < this.warmup || step >= this.steps - this.cooldown) return true;
    // The last warm-up step W-1 is full; from there every N-th step is.
    return (step - (this.warmup - 1)) % this.interval === 0;
  }

  fullSteps(): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.steps; s++) if (this.isFull(s)) out.push(s);
    return out;
  }

  describe(): string {
    const n = this.fullSteps().length;
    return `fixed(steps=${this.steps}, interval=${this.interval}, warmup=${this.warmup}, cooldown=${this.cooldown}): ${n} full of ${this.steps}`;
  }
}

/**
 * The fixed schedules of `steps` steps with one warm-up and cool-down, widest interval first (N = steps down
 * to 1), each with its full steps. Narrowing the interval never removes a full step, so a caller looking for
 * a number of full steps stops as soon as it is passed.
 */
export function* fixedByInterval(steps: number, warmup: number, cooldown = 0): Generator<{ interval: number; full: number[] }> {
  for (let interval = steps; interval >= 1; interval--) {
    yield { interval, full: new FixedSchedule({ steps, interval, warmup, cooldown }).fullSteps() };
  }
}
