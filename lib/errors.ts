/**
 * Every failure the library reports is a TaylorSeerError with a stable `code`, so callers can branch on
 * the code and never have to parse messages. The native addon constructs the same class (it is handed to
 * the addon at load time), so errors raised in C++ and in TypeScript are indistinguishable.
 */
export type TaylorSeerErrorCode =
  | 'ERR_INVALID_ARGUMENT' // wrong type, missing field, value out of range
  | 'ERR_DTYPE' // dtype name unknown, or data does not match its dtype tag
  | 'ERR_LENGTH' // element count does not match the entry or the other arguments
  | 'ERR_SHAPE' // a shape that does not multiply out, or differs from the entry's
  | 'ERR_ORDER' // order / factor count out of range
  | 'ERR_NON_FINITE' // NaN or Infinity where a finite number is required
  | 'ERR_NO_FACTORS' // forecasting an entry that has no full step yet
  | 'ERR_DISPOSED' // use after dispose()
  | 'ERR_STEP' // step lifecycle misuse (no beginStep, steps out of order, t missing)
  | 'ERR_DEVICE' // the requested device is unusable, or tensors live on different devices
  | 'ERR_BUSY' // an async operation on the same object is still in flight
  | 'ERR_CUDA' // a CUDA runtime call failed
  | 'ERR_MODEL' // a model directory or manifest is unusable
  | 'ERR_DEPENDENCY' // an optional package the pipeline or CLI needs is not installed (the message says how)
  | 'ERR_IO' // reading or writing a file failed
  | 'ERR_BUDGET'; // the factors would exceed maxBytes (a TaylorSeerBudgetError says what is needed and what fits)

export class TaylorSeerError extends Error {
  readonly code: TaylorSeerErrorCode;
  constructor(code: TaylorSeerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaylorSeerError';
    this.code = code;
  }
}

export function fail(code: TaylorSeerErrorCode, message: string): never {
  throw new TaylorSeerError(code, message);
}

/** A cache configuration: factor storage dtype and highest Taylor order. */
export interface FactorLayout {
  storage: string;
  maxOrder: number;
}

/**
 * ERR_BUDGET: caching one more output would take the cache past its maxBytes. Nothing was allocated and the
 * cache is unchanged. `needed` is what the entries known so far (this one included) take at the current
 * layout; `fits` the most accurate layout of the documented downgrade order under which they would fit
 * (undefined when none does: cache at a coarser granularity, fewer tokens, or give more memory).
 */
export class TaylorSeerBudgetError extends TaylorSeerError {
  readonly maxBytes: number;
  readonly needed: number;
  readonly fits: (FactorLayout & { bytes: number }) | undefined;
  constructor(message: string, maxBytes: number, needed: number, fits: (FactorLayout & { bytes: number }) | undefined) {
    super('ERR_BUDGET', message);
    this.name = 'TaylorSeerBudgetError';
    this.maxBytes = maxBytes;
    this.needed = needed;
    this.fits = fits;
  }
}
