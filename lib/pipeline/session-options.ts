/**
 * The onnxruntime session options every model kind opens its graphs with, from the loader's options.
 */
import type * as ort from 'onnxruntime-node';
import { TaylorSeerError } from '../errors';

export interface LoadModelOptions {
  /** onnxruntime intra-op threads per session (default: onnxruntime's choice, one per physical core) */
  threads?: number;
  /** onnxruntime graph optimization level (default 'all') */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let onnxruntime's intra-op threads spin after each run (its own default). Default false: a per-piece model
   * is one session per piece, so 14 or more thread pools would spin in turn and take the cores from whichever
   * session runs next (measured on the 2-core build machine: full compute of the bundled model 2.3x slower).
   */
  spinning?: boolean;
}

/**
 * Checks the options (ERR_INVALID_ARGUMENT) and returns onnxruntime's: CPU, sequential, no spinning by default.
 * `externalDataDir`: where the graph's external data files are (its own directory), for graphs derived from it
 * and loaded from memory or from another directory.
 */
export function sessionOptions(options: LoadModelOptions, externalDataDir?: string): ort.InferenceSession.SessionOptions {
  const { threads, graphOptimizationLevel = 'all', spinning = false } = options;
  if (typeof spinning !== 'boolean') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `spinning must be a boolean, found ${String(spinning)}`);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `threads must be a positive integer, found ${threads}`);
  }
  return {
    graphOptimizationLevel,
    executionProviders: ['cpu'],
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // fatal only: onnxruntime's errors reach the caller in the ERR_MODEL (or rejected run) that carries its
    // message; logged as well, they were a second, multi-line and colour-coded copy on stderr
    logSeverityLevel: 4,
    ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
    // session.intra_op.allow_spinning and session.model_external_initializers_file_folder_path
    // (onnxruntime_session_options_config_keys.h)
    extra: {
      session: {
        intra_op: { allow_spinning: spinning ? '1' : '0' },
        ...(externalDataDir !== undefined ? { model_external_initializers_file_folder_path: externalDataDir } : {}),
      },
    },
  };
}
