/*
 * What the quality scripts (memory-quality.ts, quant-format.ts) share: a made model loaded on one thread,
 * and the two sample sets every quality figure of docs/memory.md is measured on, with their full-compute
 * run (made once per set and reused as the reference of every configuration):
 *   in   labels 0-7 with <model>/reference/quality-noise.f32 (what `taylorseer eval` calls the quality samples)
 *   held labels 8,9,0,1,2,3,4,5 with seed-1 Gaussian noise (held out from any choice made on 'in')
 * Both: 50 steps, guidance 3, batched CFG, shift 1.
 */
import path from 'node:path';
import { gaussianNoise, loadModel, readF32, sample, type Model, type SampleOptions, type SampleResult } from '../lib/pipeline/index';

/** The sampler options a set fixes (no seer, no per-step callback). */
export type SetOptions = Omit<SampleOptions, 'seer' | 'onStep'>;

export const SAMPLE_SETS = ['in', 'held'] as const;
export type SampleSetName = (typeof SAMPLE_SETS)[number];

export interface SampleSet {
  name: SampleSetName;
  /** the sampler options of the set (no seer) */
  base: SetOptions;
  /** full compute of `base` */
  full: SampleResult;
}

export const STEPS = 50;

/** The scripts' --model option: a made model's directory, fixtures/dit-digits unless given. */
export const MODEL_OPTION = { type: 'string', default: path.join(__dirname, '..', 'fixtures/dit-digits') } as const;

/** Comma-separated list -> trimmed items. */
export const list = (s: string): string[] => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

export function loadQualityModel(dir: string): Promise<Model> {
  return loadModel(dir, { threads: 1 });
}

export async function sampleSet(model: Model, dir: string, name: string): Promise<SampleSet> {
  if (name !== 'in' && name !== 'held') throw new Error(`sample set must be one of ${SAMPLE_SETS.join(', ')}, found '${name}'`);
  const labels = name === 'in' ? [0, 1, 2, 3, 4, 5, 6, 7] : [8, 9, 0, 1, 2, 3, 4, 5];
  const noise = name === 'in' ? readF32(path.join(dir, 'reference/quality-noise.f32')) : gaussianNoise(labels.length * model.imageElements, 1);
  const base: SetOptions = { labels, steps: STEPS, guidance: 3, shift: 1, cfg: 'batched', noise };
  return { name, base, full: await sample(model, base) };
}

/** The model directory's last path segment, as the rows name it. */
export const modelName = (dir: string): string => path.basename(path.resolve(dir));
