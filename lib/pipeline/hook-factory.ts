/**
 * Creates the cache hook a sampling run uses from TaylorSeer options: the library's TaylorSeer (native
 * fused kernels; the default) or the plain-TypeScript ReferenceSeer (the oracle of the reference
 * semantics, f32 only).
 */
import { TaylorSeerError } from '../errors';
import { TaylorSeer } from '../taylor-seer';
import { ReferenceSeer } from './reference-seer';
import type { CacheHook } from '../cache-hook';
import type { SeerOptions } from './seer-options';

export type HookImplementation = 'taylorseer' | 'reference';

export function createHook(options: SeerOptions, implementation: HookImplementation = 'taylorseer'): CacheHook {
  if (implementation === 'reference') return new ReferenceSeer(options);
  if (implementation !== 'taylorseer') {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `implementation must be taylorseer or reference, found ${String(implementation)}`);
  }
  return new TaylorSeer({ ...options, device: options.device ?? 'cpu' });
}
