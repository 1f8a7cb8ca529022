/**
 * The cache-memory planner: for a seed system at a real resolution, the bytes the factors take at every
 * order x storage x granularity, which of them fit a budget, and the most accurate one that fits.
 *
 * Bytes are exact: (order + 1) factors x the cached tensors (lib/seed-systems.ts) x batch x CFG streams x
 * the storage's bytes per element ('i8': d_0 in bf16, padded to 16 bytes, and each difference in 68-byte records of 64
 * elements, per tensor). They count the factors only; the hook on device 'cuda' also keeps one
 * staging copy per entry in the activation dtype (`stagingBytes`).
 *
 * Accuracy is not known for the real models here: configurations are ranked by the PSNR against full
 * compute measured on the made-small DiTs (lib/plan-quality.ts), which is what `source` says.
 */
import { TaylorSeerError } from './errors';
import { MAX_ORDER } from './expansion';
import { factorBytes, type StorageDtype } from './native';
import { MADE_MODEL_QUALITY, madeModelPsnr } from './plan-quality';
import { seedSystemFor } from './presets';
import { CACHE_GRANULARITIES, cachedTensors, tokensOf, type CacheGranularity, type CachedTensors, type GenerationSize, type SeedSystem } from './seed-systems';

export const PLAN_STORAGES: readonly StorageDtype[] = ['f32', 'f16', 'bf16', 'i8'];

export interface PlanOptions {
  /** a seed-system id ('flux-dev', 'dit-xl-2', ...), a preset id for one system ('dit-xl'), or the system itself */
  system: string | SeedSystem;
  /** default: the system's default size */
  size?: Partial<GenerationSize>;
  /** samples per forward; default 1 */
  batch?: number;
  /** restrict the candidates; default every order 0..MAX_ORDER, storage, granularity */
  orders?: readonly number[];
  storages?: readonly StorageDtype[];
  granularities?: readonly CacheGranularity[];
  /** bytes available for the factors; default: no limit */
  budget?: number;
}

export interface PlanRow {
  granularity: CacheGranularity;
  order: number;
  storage: StorageDtype;
  /** cached tensors (entries) and the elements one factor spans over all of them */
  tensors: number;
  elementsPerFactor: number;
  /** bytes / (order + 1): the mean over the factors ('i8' keeps d_0 in 16 bits, the differences in 8) */
  bytesPerFactor: number;
  /** all factors */
  bytes: number;
  fits: boolean;
  /** mean PSNR (dB) against full compute on the made-small DiTs at this order/storage/granularity; undefined when not measured */
  madeModelPsnr: number | undefined;
}

export interface Plan {
  system: SeedSystem;
  size: GenerationSize;
  batch: number;
  tokens: { image: number; text: number };
  /** the tensor groups one factor holds per granularity, batch and CFG streams included */
  tensors: Record<CacheGranularity, CachedTensors[]>;
  budget: number | undefined;
  rows: PlanRow[];
  /**
   * among the rows that fit: the highest made-model PSNR (at PSNR_RESOLUTION_DB), then the most precise
   * storage, then the fewest bytes; undefined when none fits
   */
  recommended: PlanRow | undefined;
  /** elements of one activation-dtype copy of every entry: what the hook stages on device 'cuda' */
  stagingElements: Record<CacheGranularity, number>;
  qualitySource: string;
}

function checkList<T>(name: string, value: readonly T[] | undefined, allowed: readonly T[]): readonly T[] {
  if (value === undefined) return allowed;
  if (!Array.isArray(value) || value.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name} must be a non-empty array of ${allowed.join(', ')}`);
  for (const v of value) {
    if (!allowed.includes(v)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name}: ${String(v)} is not one of ${allowed.join(', ')}`);
  }
  return value;
}

export function plan(options: PlanOptions): Plan {
  if (typeof options !== 'object' || options === null) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'plan options must be an object');
  const system = typeof options.system === 'string' ? seedSystemFor(options.system) : options.system;
  const size: GenerationSize = { ...system.defaultSize, ...(options.size ?? {}) };
  const batch = options.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1 || batch > 1 << 16) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `batch must be an integer in [1, 65536], got ${String(batch)}`);
  const orders = checkList('orders', options.orders, Array.from({ length: MAX_ORDER + 1 }, (_, i) => i));
  const storages = checkList('storages', options.storages, PLAN_STORAGES);
  const granularities = checkList('granularities', options.granularities, CACHE_GRANULARITIES);
  const budget = options.budget;
  if (budget !== undefined && (!Number.isFinite(budget) || budget <= 0)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `budget must be a positive number of bytes, got ${String(budget)}`);

  const tokens = tokensOf(system, size);
  const copies = batch * system.cfgStreams;
  const tensors = {} as Record<CacheGranularity, CachedTensors[]>;
  const stagingElements = {} as Record<CacheGranularity, number>;
  const rows: PlanRow[] = [];
  for (const g of CACHE_GRANULARITIES) {
    tensors[g] = cachedTensors(system, g, size).map((t) => ({ ...t, tokens: t.tokens * copies }));
    stagingElements[g] = tensors[g].reduce((a, t) => a + t.count * t.tokens * t.dim, 0);
  }
  for (const granularity of granularities) {
    const elementsPerFactor = stagingElements[granularity];
    const count = tensors[granularity].reduce((a, t) => a + t.count, 0);
    for (const order of orders) {
      for (const storage of storages) {
        const bytes = tensors[granularity].reduce((a, t) => a + t.count * factorBytes(storage, t.tokens * t.dim, order + 1), 0);
        const bytesPerFactor = bytes / (order + 1);
        rows.push({
          granularity,
          order,
          storage,
          tensors: count,
          elementsPerFactor,
          bytesPerFactor,
          bytes,
          fits: budget === undefined || bytes <= budget,
          madeModelPsnr: madeModelPsnr(granularity, order, storage),
        });
      }
    }
  }
  let recommended: PlanRow | undefined;
  for (const r of rows) {
    if (r.fits && r.madeModelPsnr !== undefined && (!recommended || moreAccurate(r, recommended))) recommended = r;
  }
  return { system, size, batch, tokens, tensors, budget, rows, recommended, stagingElements, qualitySource: MADE_MODEL_QUALITY.source };
}

/**
 * PSNR differences below this do not rank configurations: f32, f16 and bf16 factors land within 0.04 dB
 * of each other on the made models, in either direction.
 */
export const PSNR_RESOLUTION_DB = 0.05;
/** Among storages of equal measured quality: the more precise first (bf16 before f16: it cannot overflow). */
const PRECISION: Record<StorageDtype, number> = { f32: 3, bf16: 2, f16: 1, i8: 0 };

/** Higher PSNR (at PSNR_RESOLUTION_DB), then the more precise storage, then fewer bytes. */
function moreAccurate(a: PlanRow, b: PlanRow): boolean {
  const qa = Math.round(a.madeModelPsnr! / PSNR_RESOLUTION_DB);
  const qb = Math.round(b.madeModelPsnr! / PSNR_RESOLUTION_DB);
  if (qa !== qb) return qa > qb;
  if (PRECISION[a.storage] !== PRECISION[b.storage]) return PRECISION[a.storage] > PRECISION[b.storage];
  return a.bytes < b.bytes;
}

/** Decimal gigabytes with three decimals, the unit model cards and GPU memory figures are quoted in. */
export function formatGB(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(3)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(3)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(3)} kB`;
  return `${bytes} B`;
}

const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** "24GB" (10^9), "24GiB" (2^30), "800MB", "123456" (bytes) -> bytes */
export function parseMemorySize(value: string, what = 'memory size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?$/i.exec(String(value).trim());
  const unit = m ? UNITS[(m[2] ?? 'B').toUpperCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} ${value}: expected a positive size such as 24GB (10^9 bytes), 24GiB (2^30) or 800MB`);
  }
  return bytes;
}
