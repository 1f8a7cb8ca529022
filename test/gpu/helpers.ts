/**
 * Shared setup of the GPU tests: loads the addon (TAYLORSEER_ADDON=path/to/taylorseer.node overrides the
 * normal lookup, for a GPU machine where the tests run as one bundled script, docs/gpu-checks.md), and decides whether
 * CUDA is usable. Every GPU suite is `describe.skipIf(!cudaUsable)`, so without a device they skip.
 */
import { TaylorSeerError } from '../../lib/errors';
import { native, type NativeAddon } from '../../lib/native';

function load(): NativeAddon | undefined {
  const explicit = process.env.TAYLORSEER_ADDON;
  try {
    if (explicit) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const a = require(explicit) as NativeAddon;
      a.setErrorClass(TaylorSeerError as unknown as new (code: string, message: string) => Error);
      return a;
    }
    return native();
  } catch (e) {
    if (explicit) throw e; // asked for a specific addon: failing to load it is an error, not a skip
    return undefined;
  }
}

const loaded = load();
/** The addon, when it is built and has the CUDA half of the API (cudaInfo / cuda). */
export const addon = loaded && typeof loaded.cudaInfo === 'function' && loaded.cuda ? loaded : undefined;
export const cudaInfo = (() => {
  try {
    return addon?.cudaInfo();
  } catch {
    return undefined;
  }
})();
export const cudaUsable = !!cudaInfo?.usable;

/** Seed for this run's random inputs (fresh each run; TS_SEED reproduces one). */
export const seed = process.env.TS_SEED ? Number(process.env.TS_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0;

function codeOf(e: unknown): string | undefined {
  return e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

/** Runs fn and asserts it throws a TaylorSeerError with `code`; returns the message. */
export function expectCode(fn: () => unknown, code: string): string {
  let threw = false;
  let message = '';
  try {
    fn();
  } catch (e) {
    threw = true;
    message = (e as Error).message;
    if (!(e instanceof TaylorSeerError) && process.env.TAYLORSEER_ADDON === undefined && !(e instanceof Error))
      throw new Error(`expected a TaylorSeerError, got ${String(e)}`);
    if (codeOf(e) !== code) throw new Error(`expected error code ${code}, got ${codeOf(e)}: ${message}`);
  }
  if (!threw) throw new Error(`expected an error with code ${code}, but nothing was thrown`);
  return message;
}

export async function expectReject(p: Promise<unknown>, code: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (codeOf(e) !== code) throw new Error(`expected rejection code ${code}, got ${codeOf(e)}: ${(e as Error).message}`);
    return (e as Error).message;
  }
  throw new Error(`expected a rejection with code ${code}, but the promise resolved`);
}

/**
 * The sizes the kernel checks run at a factor count: each of `lengths` (and 65537 at count 3), and 1001
 * once more with its tensors misaligned.
 */
export function* checkSizes(lengths: readonly number[], count: number): Generator<{ n: number; misaligned: boolean }> {
  for (const n of [...lengths, ...(count === 3 ? [65537] : [])]) {
    yield { n, misaligned: false };
    if (n === 1001) yield { n, misaligned: true };
  }
}
