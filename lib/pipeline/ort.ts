/**
 * onnxruntime-node, an optional peer dependency (lib/optional.ts): loaded when the first model is, not on
 * import, so `taylorseer/pipeline` and the CLI load without it.
 */
import type * as Ort from 'onnxruntime-node';
import { requireOptional } from '../optional';

export type { Ort };

let loaded: typeof Ort | undefined;

export function ort(): typeof Ort {
  return (loaded ??= requireOptional<typeof Ort>('onnxruntime-node', 'running an ONNX model'));
}
