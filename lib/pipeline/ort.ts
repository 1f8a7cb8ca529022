/**
 * onnxruntime-node, an optional peer dependency (lib/optional.ts): loaded when the first model is, not on
 * import, so `taylorseer/pipeline` and the CLI load without it.
 */
import type * as Ort from 'onnxruntime-node';
import { TaylorSeerError } from '../errors';
import { requireOptional } from '../optional';
import { firstLine } from '../validate';

export type { Ort };

let loaded: typeof Ort | undefined;

export function ort(): typeof Ort {
  return (loaded ??= requireOptional<typeof Ort>('onnxruntime-node', 'running an ONNX model'));
}

/**
 * session.run with onnxruntime's own failure (an index outside a table, a shape its kernels refuse) as
 * ERR_MODEL naming the graph (`what`), the original kept as its cause; the caller's errors are not involved.
 */
export async function runSession(session: Ort.InferenceSession, feeds: Ort.InferenceSession.FeedsType, fetches: readonly string[] | undefined, what: string): Promise<Ort.InferenceSession.ReturnType> {
  try {
    return fetches === undefined ? await session.run(feeds) : await session.run(feeds, [...fetches]);
  } catch (e) {
    throw new TaylorSeerError('ERR_MODEL', `${what}: onnxruntime failed: ${firstLine(String((e as Error)?.message ?? e))}`, { cause: e });
  }
}

