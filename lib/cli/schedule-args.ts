/** The schedule flags shared by `eval` and `sweep`: --schedule fixed|mask|adaptive and their parameters. */
import { TaylorSeerError } from '../errors';
import type { ScheduleOptions } from '../schedule/types';
import type { OptionSpecs } from './command';
import { parseChoice, parseInteger, parseList, parseNumber } from './parse';

export const SCHEDULE_FLAGS = {
  schedule: { type: 'string', value: 'fixed|mask|adaptive', defaultText: 'fixed', description: 'which steps run in full: every N-th (fixed), a given list (mask) or chosen from the forecast error as the run goes (adaptive)' },
  interval: { type: 'string', value: 'N', defaultText: '5', description: 'fixed: one full step every N steps after the warm-up' },
  warmup: { type: 'string', value: 'W', defaultText: '3; mask: 0', description: 'fixed, adaptive: the first W steps run in full; mask: W of the update rule (full steps after the first W grow the order)' },
  cooldown: { type: 'string', value: 'C', defaultText: '0', description: 'fixed, adaptive: the last C steps run in full' },
  full: { type: 'string', value: '0,a,b,...', description: 'mask (required): the full steps, including step 0' },
  budget: { type: 'string', value: 'K', description: 'adaptive: exactly K full steps per run (give --budget or --tolerance)' },
  tolerance: { type: 'string', value: 'E', description: 'adaptive: run a step in full when the estimated relative forecast error passes E, e.g. 0.05' },
  'min-interval': { type: 'string', value: 'A', defaultText: '1 with --tolerance; 0.6x the even pace with --budget', description: 'adaptive: at least A steps between full steps' },
  'max-interval': { type: 'string', value: 'B', defaultText: '10 with --tolerance; 1.6x the even pace with --budget', description: 'adaptive: at most B steps between full steps' },
  weighting: { type: 'string', value: 'sampler|none', defaultText: 'sampler', description: "adaptive: weigh the error estimate by the sampler's step sizes, or not" },
} as const satisfies OptionSpecs;

type Flags = Record<string, string | boolean | (string | boolean)[] | undefined>;

function only(v: Flags, kind: string, allowed: readonly string[]): void {
  for (const flag of ['interval', 'full', 'budget', 'tolerance', 'min-interval', 'max-interval', 'weighting']) {
    if (v[flag] !== undefined && !allowed.includes(flag)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${flag} does not apply to --schedule ${kind}`);
    }
  }
}

/** Schedule options from parsed flags (string values), for a run of `steps` steps. */
export function parseSchedule(v: Flags, steps: number): ScheduleOptions {
  const s = (name: string) => v[name] as string | undefined;
  const kind = parseChoice('schedule', s('schedule') ?? 'fixed', ['fixed', 'mask', 'adaptive'] as const);
  if (kind === 'fixed') {
    only(v, kind, ['interval']);
    const interval = parseInteger('interval', s('interval') ?? '5', 1, 100_000);
    const warmup = parseInteger('warmup', s('warmup') ?? '3', 1, steps);
    const cooldown = parseInteger('cooldown', s('cooldown') ?? '0', 0, steps);
    return { kind, steps, interval, warmup, cooldown };
  }
  if (kind === 'mask') {
    only(v, kind, ['full']);
    const fullArg = s('full');
    if (fullArg === undefined) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', '--schedule mask needs --full with the full steps, e.g. --full 0,1,2,8,14');
    const full = parseList('full', fullArg, (x) => parseInteger('full', x, 0, steps - 1));
    if (!full.includes(0)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--full ${fullArg}: expected a list that contains step 0`);
    if (new Set(full).size !== full.length) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--full ${fullArg}: expected no repeated steps`);
    const warmup = parseInteger('warmup', s('warmup') ?? '0', 0, steps);
    return { kind, steps, full, warmup };
  }
  only(v, kind, ['budget', 'tolerance', 'min-interval', 'max-interval', 'weighting']);
  if ((s('budget') === undefined) === (s('tolerance') === undefined)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', '--schedule adaptive needs exactly one of --budget K (full steps per run) or --tolerance E (a relative error, e.g. 0.05)');
  }
  const warmup = parseInteger('warmup', s('warmup') ?? '3', 1, steps);
  const cooldown = parseInteger('cooldown', s('cooldown') ?? '0', 0, steps - warmup);
  const o: ScheduleOptions = { kind, steps, warmup, cooldown };
  if (s('budget') !== undefined) o.budget = parseInteger('budget', s('budget')!, warmup + cooldown, steps);
  if (s('tolerance') !== undefined) o.tolerance = parseNumber('tolerance', s('tolerance')!, Number.MIN_VALUE, 1e9);
  if (s('min-interval') !== undefined) o.minInterval = parseInteger('min-interval', s('min-interval')!, 1, steps);
  if (s('max-interval') !== undefined) o.maxInterval = parseInteger('max-interval', s('max-interval')!, o.minInterval ?? 1, steps);
  if (s('weighting') !== undefined) o.weighting = parseChoice('weighting', s('weighting')!, ['sampler', 'none'] as const);
  return o;
}
