/**
 * CPU benchmark of the fused kernels: GB/s of minimal memory traffic, next to the machine's copy
 * bandwidth (TypedArray.set of the same number of bytes) and the naive operation-at-a-time TypeScript
 * sequence of the reference. Ratios are measured within one run; nothing here asserts a speed.
 */
import * as os from 'node:os';
import { TaylorSeerError } from '../errors';
import { MAX_ORDER } from '../expansion';
import { factorBytes, factorUnits, native, writeI8Factor, type HostFactors, type StorageDtype } from '../native';
import { naiveForecast, naiveUpdate } from './naive';
import { gbps, timeMedian, timePair } from './timing';

export interface CpuBenchRow {
  /** 'update+norms': the update also returning the norms of the new factors (stats), timed against 'update' */
  op: 'update' | 'update+norms' | 'forecast';
  dtype: StorageDtype;
  order: number;
  /** bytes of one f32 feature tensor (the size axis) */
  bytes: number;
  /** minimal traffic of one call: update reads F and k old factors and writes k+1; forecast reads k+1, writes 1 */
  trafficBytes: number;
  ms: number;
  gbps: number;
  copyGbps: number;
  /** null where the naive baseline does not apply (16-bit storage) or was skipped */
  naiveGbps: number | null;
  ofCopy: number;
  vsNaive: number | null;
  /** 'update+norms' only: its time over the plain update's, both timed in alternation in this run, minus 1 */
  normsCost?: number;
}

export interface CpuBenchOptions {
  sizes: number[];
  orders: number[];
  dtypes: StorageDtype[];
  /** milliseconds of measurement per cell */
  budgetMs: number;
  naive: boolean;
  /** also time the update with norms (stats) against the plain update */
  norms?: boolean;
  onRow?: (row: CpuBenchRow) => void;
}

export const defaultCpuBenchSizes = [64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20];

/**
 * The largest size axis value: 256 MiB of f32 feature, the largest default. A cell holds several times its
 * size at once (benchPeakBytes: about 3.5 GiB at order 3 with the naive baseline), and sizes beyond the
 * last-level cache all measure the same memory-bound rate.
 */
export const MAX_BENCH_BYTES = 256 << 20;

/**
 * The most memory one cell holds at once: the feature, factors and output, plus the largest transient (the
 * copy-rate buffers, the naive baseline's temporaries, or the f32 source of 16-bit factors).
 */
export function benchPeakBytes(bytes: number, order: number, dtype: StorageDtype, naive: boolean): number {
  const n = Math.max(1, Math.floor(bytes / 4));
  // i8 (d_0 16-bit, the differences 68 bytes per 64 values) is counted as 16-bit: an upper bound
  const st = dtype === 'f32' ? 4 : 2;
  const held = 4 * n + (order + 1) * n * st + 4 * n;
  const copy = n * (4 + order * st + (order + 1) * st);
  const naiveTemp = naive && dtype === 'f32' ? 2 * (order + 1) * 4 * n : 0;
  const convert = dtype === 'f32' ? 0 : (order + 1) * n * 4;
  return held + Math.max(copy, naiveTemp, convert);
}

/** Memory this process may still use: what the system has available, within a cgroup limit when there is one. */
function availableBytes(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const free = os.freemem();
  return constrained > 0 ? Math.min(free, Math.max(0, constrained - process.memoryUsage().rss)) : free;
}

/** Every size is checked before anything is allocated: within MAX_BENCH_BYTES, and its peak within 80% of available memory. */
function checkBenchMemory(o: CpuBenchOptions): void {
  const available = availableBytes();
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  for (const bytes of o.sizes) {
    if (!Number.isSafeInteger(bytes) || bytes < 4 || bytes > MAX_BENCH_BYTES) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `bench size ${bytes} bytes must be an integer in 4..${MAX_BENCH_BYTES} (256 MiB of f32 feature)`);
    }
    for (const dtype of o.dtypes) {
      const peak = benchPeakBytes(bytes, Math.max(...o.orders), dtype, o.naive);
      if (peak > 0.8 * available) {
        throw new TaylorSeerError(
          'ERR_INVALID_ARGUMENT',
          `bench size ${mib(bytes)} at order ${Math.max(...o.orders)} (${dtype}) needs about ${mib(peak)} at once, more than 80% of the ${mib(available)} available; pass smaller --sizes`,
        );
      }
    }
  }
}

function random(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

/** `count` factors of n elements in `dtype`, holding `src` (count * n values) as the kernels store them. */
function storageArray(dtype: StorageDtype, src: Float32Array, count: number, n: number): HostFactors {
  if (dtype === 'f32') return src;
  if (dtype === 'i8') {
    const q = new Uint8Array(factorUnits('i8', n, count));
    for (let i = 0; i < count; i++) writeI8Factor(src.subarray(i * n, (i + 1) * n), q, i, n);
    return q;
  }
  const h = new Uint16Array(src.length);
  native().toHalf(src, dtype, h);
  return h;
}

/** Copy bandwidth measured the same way as the kernels: bytes read + written per second. */
function copyGbps(trafficBytes: number, budgetMs: number): number {
  const half = Math.max(1, Math.floor(trafficBytes / 2));
  const src = new Uint8Array(half).fill(7);
  const dst = new Uint8Array(half);
  const t = timeMedian(() => dst.set(src), budgetMs);
  return gbps(2 * half, t.medianMs);
}

export function runCpuBench(o: CpuBenchOptions): CpuBenchRow[] {
  for (const order of o.orders) if (!Number.isInteger(order) || order < 1 || order > MAX_ORDER) throw new TaylorSeerError('ERR_ORDER', `bench orders must be in 1..${MAX_ORDER} (got ${order})`);
  checkBenchMemory(o);
  const addon = native();
  const rows: CpuBenchRow[] = [];
  // dtypes inner: rows to be compared (bf16 vs i8 at one size) are measured close together in time
  for (const bytes of o.sizes) {
    for (const dtype of o.dtypes) {
      const n = Math.max(1, Math.floor(bytes / 4));
      const fb = (count: number) => factorBytes(dtype, n, count); // 'i8': d_0 2 bytes per element, differences 68 per 64
      const fresh = random(n);
      for (const order of o.orders) {
        const k = order;
        const factors = storageArray(dtype, random((k + 1) * n), k + 1, n);
        const out = new Float32Array(n);
        const coeffs = Array.from({ length: k + 1 }, (_, i) => 1 / (i + 1));
        const divisors = Array.from({ length: k }, () => 2);

        const cells: Array<['update' | 'forecast', number, () => void, (() => void) | null]> = [];
        const oldF32 = dtype === 'f32' ? Array.from({ length: k + 1 }, (_, i) => (factors as Float32Array).subarray(i * n, (i + 1) * n)) : [];
        cells.push([
          'update',
          4 * n + fb(k) + fb(k + 1),
          () => addon.update(dtype, 'f32', [{ factors, fresh, oldCount: k + 1, newCount: k + 1, divisors }]),
          o.naive && dtype === 'f32' ? () => void naiveUpdate(fresh, oldF32, k + 1, 2) : null,
        ]);
        cells.push([
          'forecast',
          fb(k + 1) + 4 * n,
          () => addon.forecast(dtype, 'f32', [{ factors, out, count: k + 1, coeffs }]),
          o.naive && dtype === 'f32' ? () => void naiveForecast(oldF32, 3) : null,
        ]);
        for (const [op, traffic, fused, naive] of cells) {
          // the kernel and the naive sequence it is compared with alternate, as every ratio here is timed
          const [t, naiveT] = naive ? timePair(fused, naive, o.budgetMs, 3, 20) : [timeMedian(fused, o.budgetMs), null];
          const copy = copyGbps(traffic, o.budgetMs);
          const g = gbps(traffic, t.medianMs);
          const ng = naiveT ? gbps(traffic, naiveT.medianMs) : null;
          const row: CpuBenchRow = {
            op,
            dtype,
            order,
            bytes,
            trafficBytes: traffic,
            ms: t.medianMs,
            gbps: g,
            copyGbps: copy,
            naiveGbps: ng,
            ofCopy: g / copy,
            vsNaive: ng ? g / ng : null,
          };
          rows.push(row);
          o.onRow?.(row);
        }
        if (o.norms) {
          const stats = new Float32Array(k + 1);
          const plain = () => addon.update(dtype, 'f32', [{ factors, fresh, oldCount: k + 1, newCount: k + 1, divisors }]);
          const withNorms = () => addon.update(dtype, 'f32', [{ factors, fresh, oldCount: k + 1, newCount: k + 1, divisors, stats }]);
          const [tp, tn] = timePair(plain, withNorms, o.budgetMs);
          const traffic = 4 * n + fb(k) + fb(k + 1);
          const copy = copyGbps(traffic, o.budgetMs);
          const row: CpuBenchRow = {
            op: 'update+norms', dtype, order, bytes, trafficBytes: traffic, ms: tn.medianMs, gbps: gbps(traffic, tn.medianMs),
            copyGbps: copy, naiveGbps: null, ofCopy: gbps(traffic, tn.medianMs) / copy, vsNaive: null,
            normsCost: tn.medianMs / tp.medianMs - 1,
          };
          rows.push(row);
          o.onRow?.(row);
        }
      }
    }
  }
  return rows;
}
