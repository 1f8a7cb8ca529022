/**
 * What the pipeline needs from a cache hook: the subset of TaylorSeer's API (lib/hook.ts) that the
 * transformer forward calls. Anything with this shape can accelerate sampling; the library's TaylorSeer
 * is the default, ReferenceSeer (reference-seer.ts) the plain-TypeScript oracle of the reference semantics.
 */
import type { Variable } from '../expansion';
import type { GateShape, TaylorSeerStats } from '../hook';
import type { Dtype } from '../native';
import type { ScheduleOptions } from '../schedule/types';

export type Granularity = 'module' | 'block' | 'lite';
export const GRANULARITIES: readonly Granularity[] = ['module', 'block', 'lite'];

// The hook's own types: the pipeline speaks the same vocabulary as lib/hook.ts.
export type SeerVariable = Variable;
export type SeerStorage = Dtype;
export type SeerStats = TaylorSeerStats;
export type GatedShape = GateShape;

export interface SeerCallOptions {
  context?: string;
}

export interface CacheHook {
  beginStep(step: number, t?: number): void;
  readonly isFull: boolean;
  moduleAsync(key: string, compute: () => Promise<Float32Array>, opts?: SeerCallOptions): Promise<Float32Array>;
  gatedResidual(
    key: string,
    compute: () => Float32Array | Promise<Float32Array>,
    h: Float32Array,
    gate: Float32Array,
    shape: GatedShape,
    opts?: SeerCallOptions,
  ): Promise<void>;
  /** Optional: several gated residuals into the same h in one call (fused on forecast steps). */
  gatedResiduals?(
    items: ReadonlyArray<{ key: string; compute: () => Float32Array | Promise<Float32Array>; gate: Float32Array }>,
    h: Float32Array,
    shape: GatedShape,
    opts?: SeerCallOptions,
  ): Promise<void>;
  readonly stats: SeerStats;
  reset(): void;
  dispose(): void;
}

/** Options of a TaylorSeer (lib/hook.ts) as the pipeline passes them through. */
export interface SeerOptions {
  schedule: ScheduleOptions;
  maxOrder: number;
  variable?: SeerVariable;
  storage?: SeerStorage;
  activation?: 'f32';
  device?: 'auto' | 'cpu' | 'cuda';
}

export function isCacheHook(v: unknown): v is CacheHook {
  return typeof v === 'object' && v !== null && typeof (v as CacheHook).beginStep === 'function' && typeof (v as CacheHook).gatedResidual === 'function';
}
