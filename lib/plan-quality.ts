/**
 * PSNR against full compute on the made-small DiTs (fixtures/dit-digits, dit-shapes-small, dit-shapes),
 * measured with `npx tsx scripts/memory-quality.ts` on the 2-core build VM (2026-12-06, 'i8' 2026-12-07): 50 steps, guidance 3,
 * batched CFG, shift 1, the reference's fixed schedule N=5 W=3 (12 full steps), each model's 8 quality
 * samples (labels 0-7, reference/quality-noise.f32). docs/memory.md has the tables.
 *
 * The planner ranks a configuration by the mean over the three models of
 *   PSNR(granularity, order) with f32 factors  +  the storage's PSNR change against f32,
 * the storage change measured at module granularity, order 2 (on dit-digits, bf16 moved every
 * granularity and order by 0.012 dB at most, so one change per storage stands for all of them). The
 * 16-bit storages move PSNR by at most 0.035 dB, and so does 'i8' (d_0 in bf16, the differences in 8 bits): at most 0.042.
 * That is a proxy: the made models are small and briefly trained, and the sizes of their errors need not
 * carry over to FLUX or Wan; what the ranking uses is which order and granularity forecast better and
 * what a storage costs.
 */
import type { StorageDtype } from './native';
import { CACHE_GRANULARITIES, type CacheGranularity } from './seed-systems';

export const QUALITY_MODELS = ['dit-digits', 'dit-shapes-small', 'dit-shapes'] as const;

/** PSNR (dB) on dit-digits, dit-shapes-small, dit-shapes with f32 factors, per granularity at orders 0, 1, 2, 3 */
const F32_BY_ORDER: Record<CacheGranularity, ReadonlyArray<readonly [number, number, number]>> = {
  module: [[32.028, 29.562, 23.493], [29.004, 40.251, 29.819], [31.405, 43.51, 31.957], [31.068, 43.042, 31.735]],
  block: [[32.209, 29.211, 23.352], [34.946, 46.035, 29.889], [37.262, 48.144, 32.452], [36.761, 48.129, 32.082]],
  lite: [[34.694, 30.852, 23.855], [31.151, 45.54, 30.164], [33.077, 47.421, 32.07], [32.733, 47.343, 31.87]],
};

/** [granularity, order, PSNR on dit-digits, dit-shapes-small, dit-shapes] with f32 factors, dB */
const F32: ReadonlyArray<readonly [CacheGranularity, number, number, number, number]> = CACHE_GRANULARITIES.flatMap((granularity) =>
  F32_BY_ORDER[granularity].map((psnr, order) => [granularity, order, ...psnr] as const),
);

/**
 * PSNR with this storage minus PSNR with f32, module granularity, order 2, in-sample, on the models
 * named in STORAGE_DELTA_MODELS (dB)
 */
const STORAGE_DELTA_MODELS = ['dit-digits', 'dit-shapes-small', 'dit-shapes'] as const;
const STORAGE_DELTA: Record<StorageDtype, readonly number[]> = {
  f32: [0, 0, 0],
  f16: [0, -0.001, 0.002],
  bf16: [-0.004, 0.021, 0.035],
  i8: [-0.004, 0.003, 0.042],
};

export const MADE_MODEL_QUALITY = {
  source: 'mean PSNR vs full compute over fixtures/dit-digits, dit-shapes-small, dit-shapes at N=5 W=3, 50 steps (lib/plan-quality.ts, docs/memory.md)',
  models: QUALITY_MODELS,
  f32: F32,
  storageDelta: STORAGE_DELTA,
  storageDeltaModels: STORAGE_DELTA_MODELS,
};

const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Mean PSNR over the made models, or undefined when this combination was not measured. */
export function madeModelPsnr(granularity: CacheGranularity, order: number, storage: StorageDtype): number | undefined {
  const r = F32.find((x) => x[0] === granularity && x[1] === order);
  if (!r) return undefined;
  return mean([r[2], r[3], r[4]]) + mean(STORAGE_DELTA[storage]);
}
