import { expect } from 'vitest';
import { TaylorSeerError } from '../../lib/errors';

/** The `code` of the error a call throws, or undefined when it does not throw. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

/** The TaylorSeerError a call throws; success or any other kind of error fails the test. */
export function taylorSeerErrorOf(fn: () => unknown): TaylorSeerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TaylorSeerError);
    return e as TaylorSeerError;
  }
  throw new Error('expected a TaylorSeerError');
}

/**
 * The `code` of the TaylorSeerError a call throws or rejects with ('no error' when it succeeds); any other
 * kind of error fails the test.
 */
export async function typedCodeOf(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (e) {
    expect(e).toBeInstanceOf(TaylorSeerError);
    return (e as TaylorSeerError).code;
  }
  return 'no error';
}
