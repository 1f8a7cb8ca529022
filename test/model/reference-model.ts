/**
 * Shared by the tests of the bundled graph fixtures that carry float64 PyTorch references (dit-ddim,
 * mmdit-shapes, wan-clips): their model.json, and the model loaded once per describe block with one
 * onnxruntime thread (CI machines are small and shared) together with its reference run's options.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { GraphModel, loadModel, readF32, sample, type Granularity, type SampleOptions } from '../../lib/pipeline';

/** One run of the reference TaylorSeer (scripts/train-dit/reference_seer.py) as model.json lists it. */
export interface SeerReference {
  output: string;
  granularity: Granularity;
  schedule: { kind: 'fixed'; steps: number; interval: number; warmup: number; cooldown: number };
  maxOrder: number;
  fullSteps: number[];
  /** how far the reference's samples are from full compute (relL2) */
  relL2ToFull: number;
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

/**
 * What a graph made from fixtures/mmdit-shapes (its weights moved, its label cut into text embeddings) must
 * reproduce bit for bit: labels 3 and 7, 50 steps, guidance 3.5, the fixture's noise, full compute and the
 * flux-dev preset. `run(model)` samples both on a model; `original()` on the fixture itself.
 */
export function mmditSettings(source: string): {
  run: (model: GraphModel) => Promise<Record<string, Float32Array>>;
  original: () => Promise<Record<string, Float32Array>>;
} {
  const settings: Record<string, Partial<SampleOptions>> = { 'full compute': {}, 'the flux-dev preset': { seer: { preset: 'flux-dev' } } };
  const run = async (model: GraphModel) => {
    const base = { labels: [3, 7], steps: 50, guidance: 3.5, noise: readF32(path.join(source, 'reference/noise.f32')) };
    const out: Record<string, Float32Array> = {};
    for (const [name, s] of Object.entries(settings)) out[name] = (await sample(model, { ...base, ...s })).images;
    return out;
  };
  const original = async () => {
    const model = (await loadModel(source, { threads: 1 })) as GraphModel;
    try {
      return await run(model);
    } finally {
      await model.dispose();
    }
  };
  return { run, original };
}

