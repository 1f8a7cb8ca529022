/**
 * What the pipeline commands (demo, eval, sweep, calibrate) share: the bundled model's location, option access,
 * labels and noise, and the untimed warm-up run.
 */
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import type { DitModel } from '../../pipeline/model';
import { gaussianNoise, readF32 } from '../../pipeline/noise';
import { sample, type CfgMode } from '../../pipeline/sampler';
import { parseInteger, parseList } from '../parse';

/** The model shipped with the package, from lib/cli/commands (tsx) or dist/cli/commands (compiled). */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '../../..', 'fixtures/dit-digits');
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** The flags of the commands that sample a set of labels for a study (sweep, calibrate). */
export const STUDY_FLAGS = {
  model: { type: 'string' },
  steps: { type: 'string', default: '50' },
  guidance: { type: 'string', default: '3' },
  labels: { type: 'string', default: '0,1,2,3,4,5,6,7' },
  noise: { type: 'string' },
  seed: { type: 'string' },
} as const;

export function str(values: Values, key: string, prefix = ''): string | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${prefix}${key} expects a value`);
  return v;
}

/** Runs one short full-compute sample so that onnxruntime's allocations are not timed. */
export async function warmUp(model: DitModel, labels: number[], guidance: number, cfg: CfgMode): Promise<void> {
  await sample(model, { labels, steps: 1, guidance, cfg });
}

/**
 * --noise and --seed, checked before the model loads (they exclude each other). `prefix` names the flags in
 * messages when the values come from other flags (sweep's --holdout-noise / --holdout-seed).
 */
export function noiseSource(values: Values, prefix = ''): { file?: string; seed: number } {
  const file = str(values, 'noise', prefix);
  const seedArg = str(values, 'seed', prefix);
  if (file !== undefined && seedArg !== undefined) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${prefix}noise and --${prefix}seed exclude each other: give one source of initial noise`);
  }
  return { file, seed: seedArg === undefined ? 0 : parseInteger(`${prefix}seed`, seedArg, 0, Number.MAX_SAFE_INTEGER) };
}

/**
 * --labels (the model's classes, or its null class) and the initial noise for them: the --noise file, which
 * must hold [labels, C, H, W] float32 values, or gaussian noise from the seed.
 */
export function samplesFromFlags(
  values: Values,
  model: DitModel,
  source: { file?: string; seed: number },
  defaultLabels: readonly number[],
  prefix = '',
): { labels: number[]; noise: Float32Array } {
  const { classes, nullClass, channels: C, imageSize: S } = model.arch;
  const labelsArg = str(values, 'labels', prefix);
  const flag = `${prefix}labels`;
  const labels = labelsArg === undefined ? [...defaultLabels] : parseList(flag, labelsArg, (s) => parseInteger(flag, s, 0, Math.max(classes - 1, nullClass)));
  for (const l of labels) {
    if (l >= classes && l !== nullClass) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${flag}: ${l} is not a class of this model (0..${classes - 1}, or ${nullClass} for unconditional)`);
    }
  }
  const n = labels.length * model.imageElements;
  if (source.file === undefined) return { labels, noise: gaussianNoise(n, source.seed) };
  const noise = readF32(source.file);
  if (noise.length !== n) {
    throw new TaylorSeerError(
      'ERR_INVALID_ARGUMENT',
      `--${prefix}noise ${source.file}: holds ${noise.length} float32 values, expected ${n} ([${labels.length}, ${C}, ${S}, ${S}] for ${labels.length} labels)`,
    );
  }
  return { labels, noise };
}
