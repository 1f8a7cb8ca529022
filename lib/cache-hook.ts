/**
 * CacheHook: what a model's forward pass needs from a feature cache. TaylorSeer (taylor-seer.ts) is the
 * library's implementation; anything with this shape can accelerate sampling, for instance the pipeline's
 * plain-TypeScript oracle of the reference semantics. A is the activation dtype of module outputs, h and gate.
 */
import type { Dtype } from './native';
import type { ActivationTensor, GateShape, ModuleOptions, ModulesOptions, TaylorSeerStats } from './taylor-seer';

/** A module's computation: its output, or a Promise of it. */
export type ModuleCompute<A extends Dtype = 'f32'> = () => ActivationTensor<A> | Promise<ActivationTensor<A>>;

/** One of several gated residuals into the same h: the module's key, computation and gate. */
export interface GatedItem<A extends Dtype = 'f32'> {
  key: string;
  compute: ModuleCompute<A>;
  gate: ActivationTensor<A>;
}

export interface CacheHook<A extends Dtype = 'f32'> {
  beginStep(step: number, t?: number): void;
  readonly isFull: boolean;
  moduleAsync(key: string, compute: () => Promise<ActivationTensor<A>>, opts?: ModuleOptions): Promise<ActivationTensor<A>>;
  gatedResidual(
    key: string,
    compute: ModuleCompute<A>,
    h: ActivationTensor<A>,
    gate: ActivationTensor<A>,
    shape: GateShape,
    opts?: ModuleOptions,
  ): Promise<void>;
  /** Optional: several gated residuals into the same h in one call (fused on forecast steps). */
  gatedResiduals?(
    items: ReadonlyArray<GatedItem<A>>,
    h: ActivationTensor<A>,
    shape: GateShape,
    opts?: ModuleOptions,
  ): Promise<void>;
  /**
   * Optional: several keys whose outputs one computation produces together (full step: compute once, one
   * cache update; forecast step: one forecast call for all). Without it a model falls back to moduleAsync
   * per key. `opts.outputs`, when given, are the arrays forecast steps write into and return.
   */
  modulesAsync?(keys: readonly string[], compute: () => Promise<ReadonlyArray<ActivationTensor<A>>>, opts?: ModulesOptions<A>): Promise<ActivationTensor<A>[]>;
  readonly stats: TaylorSeerStats;
  reset(): void;
  dispose(): void;
}

export function isCacheHook(v: unknown): v is CacheHook {
  return typeof v === 'object' && v !== null && typeof (v as CacheHook).beginStep === 'function' && typeof (v as CacheHook).gatedResidual === 'function';
}
