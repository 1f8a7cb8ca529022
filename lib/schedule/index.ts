/** Schedules: which denoising steps run in full. Pure TypeScript; never touches the native addon. */
import { TaylorSeerError } from '../errors';
import { AdaptiveSchedule } from './adaptive';
import { FixedSchedule } from './fixed';
import { MaskSchedule } from './mask';
import type { Schedule, ScheduleOptions } from './types';
import { requireInt, requireObject, requireSteps, show } from '../validate';

export type { Schedule, ScheduleOptions, FixedScheduleOptions, MaskScheduleOptions, AdaptiveScheduleOptions, StepObservation } from './types';
export { AdaptiveSchedule } from './adaptive';
export { FixedSchedule } from './fixed';
export { MaskSchedule } from './mask';

/**
 * Builds a schedule from options, or checks and returns a Schedule object as is (so custom schedules, e.g.
 * an adaptive one, plug in wherever options are accepted).
 */
export function createSchedule(options: ScheduleOptions | Schedule): Schedule {
  const o = requireObject('schedule', options);
  if (typeof o.isFull === 'function') return checkSchedule(options as Schedule);
  switch (o.kind) {
    case 'fixed':
      return new FixedSchedule(options as ScheduleOptions & { kind: 'fixed' });
    case 'mask':
      return new MaskSchedule(options as ScheduleOptions & { kind: 'mask' });
    case 'adaptive':
      return new AdaptiveSchedule(options as ScheduleOptions & { kind: 'adaptive' });
    default:
      throw new TaylorSeerError(
        'ERR_INVALID_ARGUMENT',
        `schedule.kind must be "fixed", "mask" or "adaptive" (or pass a Schedule object), got ${show(o.kind)}`,
      );
  }
}

function checkSchedule(s: Schedule): Schedule {
  requireSteps(s.steps);
  requireInt('schedule.warmup', s.warmup, 0, s.steps);
  for (const m of ['fullSteps', 'describe'] as const) {
    if (typeof s[m] !== 'function') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.${m} must be a function`);
  }
  for (const m of ['reset', 'observe'] as const) {
    if (s[m] !== undefined && typeof s[m] !== 'function') {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.${m} must be a function when present, got ${show(s[m])}`);
    }
  }
  return s;
}
