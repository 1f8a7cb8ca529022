/**
 * Shared by the model tests: the bundled dit-digits model, loaded with one onnxruntime thread (CI machines
 * are small and shared), and the reference data next to it.
 */
import * as path from 'node:path';
import { DitModel, readF32 } from '../../lib/pipeline';

export const ROOT = path.resolve(__dirname, '../..');
export const MODEL_DIR = path.join(ROOT, 'fixtures/dit-digits');
export const QUALITY_FILE = path.join(ROOT, 'fixtures/taylorseer-quality.json');
export const DATA_DIR = path.join(__dirname, 'data');

/** The short-run reference: full compute, labels [3, 7], 8 steps, guidance 3, reference/noise.f32. */
export const SHORT_REFERENCE = {
  file: path.join(DATA_DIR, 'full_8steps_cfg3.f32'),
  labels: [3, 7],
  steps: 8,
  guidance: 3,
};

export function openModel(): Promise<DitModel> {
  return DitModel.load(MODEL_DIR, { threads: 1 });
}

export function referenceNoise(model: DitModel): Float32Array {
  return readF32(model.manifest.reference!.noise);
}
