/** Re-exports for the model tests, plus a helper that extracts a TaylorSeerError's code. */
import { TaylorSeerError } from '../../lib/errors';

export * from '../../lib/pipeline';
export { TaylorSeerError };

export function errorCode(e: unknown): string {
  return e instanceof TaylorSeerError ? e.code : `not a TaylorSeerError: ${String(e)}`;
}
