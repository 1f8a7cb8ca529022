/** --scheduler KIND[,FIELD=VALUE...]: what demo and eval sample with instead of the model's scheduler. */
import { describe, expect, it } from 'vitest';
import { parseSchedulerFlag } from '../lib/cli/scheduler-args';
import { resolveScheduler, DIT_SCHEDULER } from '../lib/pipeline/diffusion-scheduler';
import { TaylorSeerError } from '../lib/errors';

function rejection(value: string): TaylorSeerError {
  try {
    parseSchedulerFlag(value);
  } catch (e) {
    return e as TaylorSeerError;
  }
  throw new Error(`--scheduler ${value} was accepted`);
}

describe('--scheduler', () => {
  it('absent: undefined, so the model keeps the scheduler its model.json names', () => {
    expect(parseSchedulerFlag(undefined)).toBeUndefined();
  });

  it('a kind alone changes only the kind; the beta table stays the model\'s', () => {
    const spec = parseSchedulerFlag('ddpm');
    expect(spec).toEqual({ kind: 'ddpm' });
    const model = { ...DIT_SCHEDULER, betaSchedule: 'cosine' as const };
    expect(resolveScheduler(spec, model, () => { throw new Error('unreachable'); })).toEqual({ ...model, kind: 'ddpm' });
  });

  it("takes model.json's field names and turns them into the sampler's", () => {
    expect(parseSchedulerFlag('ddim,beta_schedule=cosine,train_timesteps=500')).toEqual({ kind: 'ddim', betaSchedule: 'cosine', trainSteps: 500 });
    expect(parseSchedulerFlag(' ddpm , beta_start=0.0005 , beta_end=0.03 ')).toEqual({ kind: 'ddpm', betaStart: 0.0005, betaEnd: 0.03 });
    expect(parseSchedulerFlag('flow')).toEqual({ kind: 'flow' });
  });

  it.each([
    ['euler', /--scheduler euler: expected flow, ddim or ddpm first, found "euler"/],
    ['', /expected flow, ddim or ddpm first/],
    ['flow,beta_schedule=linear', /the flow scheduler takes no fields/],
    ['ddim,beta_schedule=sqrt', /beta_schedule must be one of linear, cosine, found "sqrt"/],
    ['ddim,beta_start=0', /beta_start must be a number in \(0, 1\), found "0"/],
    ['ddim,beta_end=1.5', /beta_end must be a number in \(0, 1\)/],
    ['ddim,beta_end=', /beta_end must be a number in \(0, 1\), found ""/],
    ['ddim,train_timesteps=2.5', /train_timesteps must be an integer in 2\.\.100000/],
    ['ddim,train_timesteps=1', /train_timesteps must be an integer/],
    ['ddim,train_timesteps=0x10', /train_timesteps must be an integer in 2\.\.100000, found "0x10"/],
    ['ddim,beta_start=0b1', /beta_start must be a number in \(0, 1\), found "0b1"/],
    ['ddim,eta=1', /expected FIELD=VALUE with FIELD one of beta_schedule, beta_start, beta_end, train_timesteps, found "eta=1"/],
    ['ddim,cosine', /expected FIELD=VALUE/],
    ['ddim,beta_start=0.1=2', /expected FIELD=VALUE/],
    ['ddim,__proto__=1', /expected FIELD=VALUE/],
    ['ddim,beta_end=0.02,beta_end=0.03', /beta_end is given twice/],
  ])('rejects %j with ERR_INVALID_ARGUMENT naming the flag', (value, message) => {
    const e = rejection(value);
    expect(e).toBeInstanceOf(TaylorSeerError);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });
});
