/**
 * Shared by the tests of the bundled graph fixtures that carry float64 PyTorch references (dit-ddim,
 * mmdit-shapes, wan-clips): their model.json, and the model loaded once per describe block with one
 * onnxruntime thread (CI machines are small and shared) together with its reference run's options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { GraphModel, loadModel, readF32, type Granularity, type SampleOptions } from '../../lib/pipeline';

/** One run of the reference TaylorSeer (scripts/train-dit/reference_seer.py) as model.json lists it. */
export interface SeerReference {
  output: string;
  granularity: Granularity;
  schedule: { kind: 'fixed'; steps: number; interval: number; warmup: number; cooldown: number };
  maxOrder: number;
  fullSteps: number[];
}

/** A fixture's model.json, typed as far as a test reads it: `T` and the reference TaylorSeer runs. */
export function fixtureManifest<T extends { reference: object }>(dir: string): T & { reference: { seer: SeerReference[] } } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as T & { reference: { seer: SeerReference[] } };
}

/** What referenceModel gives the tests of its describe block, from its beforeAll on. */
export interface ReferenceModel {
  model: GraphModel;
  /** the reference run's labels, steps, guidance and initial noise, and `extra` */
  base: Pick<SampleOptions, 'labels' | 'steps' | 'guidance' | 'noise' | 'cfg'>;
  /** the reference run's labels as the graph's int64 class input */
  labels: BigInt64Array;
}

/** Loads the fixture in `dir` before the tests of the enclosing describe block and disposes of it after them. */
export function referenceModel(dir: string, extra: Pick<SampleOptions, 'cfg'> = {}): ReferenceModel {
  const loaded = {} as ReferenceModel;
  beforeAll(async () => {
    loaded.model = (await loadModel(dir, { threads: 1 })) as GraphModel;
    const ref = loaded.model.manifest.reference!;
    loaded.base = { labels: ref.labels, steps: ref.steps, guidance: ref.guidance, noise: readF32(ref.noise), ...extra };
    loaded.labels = BigInt64Array.from(ref.labels.map((l) => BigInt(l)));
  });
  afterAll(async () => {
    await loaded.model?.dispose();
  });
  return loaded;
}
