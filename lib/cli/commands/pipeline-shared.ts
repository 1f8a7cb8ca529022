/**
 * What the pipeline commands (demo, eval) share: the bundled model's location, option access and the
 * untimed warm-up run.
 */
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import type { DitModel } from '../../pipeline/model';
import { sample, type CfgMode } from '../../pipeline/sampler';

/** The model shipped with the package, from lib/cli/commands (tsx) or dist/cli/commands (compiled). */
export function defaultModelDir(): string {
  return path.resolve(__dirname, '../../..', 'fixtures/dit-digits');
}

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function str(values: Values, key: string): string | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${key} expects a value`);
  return v;
}

/** Runs one short full-compute sample so that onnxruntime's allocations are not timed. */
export async function warmUp(model: DitModel, labels: number[], guidance: number, cfg: CfgMode): Promise<void> {
  await sample(model, { labels, steps: 1, guidance, cfg });
}

