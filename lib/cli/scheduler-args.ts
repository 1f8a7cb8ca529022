/**
 * --scheduler: sample a model with another scheduler than its model.json names, e.g. a noise-prediction
 * model by DDPM instead of DDIM, or over a cosine beta table. The fields carry model.json's names; those not
 * given come from the model's scheduler, else DiT's (the sampler resolves and checks the whole).
 */
import { TaylorSeerError } from '../errors';
import { BETA_SCHEDULES, DIFFUSION_KINDS, type DiffusionScheduler, type SchedulerSpec } from '../pipeline/diffusion-scheduler';
import { MAX_STEPS } from '../validate';
import type { OptionSpec } from './command';
import { isDecimal } from './parse';

export const SCHEDULER_FLAG = {
  type: 'string',
  value: 'KIND[,FIELD=VALUE...]',
  defaultText: 'the model\'s ("scheduler" in model.json), else flow',
  description:
    'sampler: flow, ddim or ddpm; ddim and ddpm take fields beta_schedule=linear|cosine, beta_start=B, beta_end=B, train_timesteps=T (not given: the model\'s, else DiT\'s 1e-4..0.02 linear over 1000)',
} as const satisfies OptionSpec;

type DiffusionFields = Partial<Omit<DiffusionScheduler, 'kind' | 'prediction'>>;

const FIELDS: Record<string, (value: string, bad: (expected: string) => never) => DiffusionFields> = {
  beta_schedule: (v, bad) => {
    if (!(BETA_SCHEDULES as readonly string[]).includes(v)) bad(`one of ${BETA_SCHEDULES.join(', ')}`);
    return { betaSchedule: v as DiffusionScheduler['betaSchedule'] };
  },
  beta_start: (v, bad) => ({ betaStart: beta(v, bad) }),
  beta_end: (v, bad) => ({ betaEnd: beta(v, bad) }),
  train_timesteps: (v, bad) => {
    const n = Number(v);
    if (!isDecimal(v) || !Number.isInteger(n) || n < 2 || n > MAX_STEPS) bad(`an integer in 2..${MAX_STEPS}`);
    return { trainSteps: n };
  },
};

function beta(v: string, bad: (expected: string) => never): number {
  const n = Number(v);
  if (!isDecimal(v) || !Number.isFinite(n) || n <= 0 || n >= 1) bad('a number in (0, 1)');
  return n;
}

/** The scheduler spec of --scheduler, or undefined when it is not given (the model's scheduler runs). */
export function parseSchedulerFlag(value: string | undefined): SchedulerSpec | undefined {
  if (value === undefined) return undefined;
  const fail = (message: string): never => {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--scheduler ${value}: ${message}`);
  };
  const [kind, ...pairs] = value.split(',').map((s) => s.trim());
  if (kind === 'flow') {
    if (pairs.length > 0) fail('the flow scheduler takes no fields');
    return { kind };
  }
  if (!(DIFFUSION_KINDS as readonly string[]).includes(kind)) fail(`expected flow, ddim or ddpm first, found "${kind}"`);
  let spec: SchedulerSpec = { kind: kind as DiffusionScheduler['kind'] };
  const seen = new Set<string>();
  for (const pair of pairs) {
    const [field, v, ...rest] = pair.split('=');
    const parse = Object.hasOwn(FIELDS, field) ? FIELDS[field] : undefined;
    if (!parse || v === undefined || rest.length > 0) fail(`expected FIELD=VALUE with FIELD one of ${Object.keys(FIELDS).join(', ')}, found "${pair}"`);
    if (seen.has(field)) fail(`${field} is given twice`);
    seen.add(field);
    spec = { ...spec, ...parse!(v, (expected) => fail(`${field} must be ${expected}, found "${v}"`)) };
  }
  return spec;
}
