/**
 * How the pipeline asks for a cache hook: the granularity at which a DiT forward is cached, and the
 * TaylorSeer options (lib/taylor-seer.ts) it passes through to the hook it creates.
 */
import type { Variable } from '../expansion';
import type { StorageDtype } from '../native';
import type { ScheduleOptions } from '../schedule/types';

export type Granularity = 'module' | 'block' | 'lite';
export const GRANULARITIES: readonly Granularity[] = ['module', 'block', 'lite'];

/** Options of a TaylorSeer as the pipeline passes them through. */
export interface SeerOptions {
  schedule: ScheduleOptions;
  maxOrder: number;
  variable?: Variable;
  storage?: StorageDtype;
  activation?: 'f32';
  device?: 'auto' | 'cpu' | 'cuda';
}
