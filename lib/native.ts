/**
 * The single typed view of the native addon. Nothing else in lib/ touches the addon directly.
 *
 * Tensors handed to the kernels are either host TypedArrays (f32 data as Float32Array, f16/bf16 data as
 * Uint16Array: Node 20 has no Float16Array) or DeviceTensor handles (CUDA memory owned by the addon or
 * wrapped from an external pointer). All tensors of one call must live on the same device.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { locateAddon, requireAddon } from './addon-file';
import { TaylorSeerError } from './errors';

export type Dtype = 'f32' | 'f16' | 'bf16';
export const DTYPES: readonly Dtype[] = ['f32', 'f16', 'bf16'];
/**
 * What factors can be stored in: the activation dtypes, or 'i8': d_0 (the feature itself) in bf16 and the
 * differences d_1.. in 8-bit records of 64 elements with one f32 absmax scale each (layout in
 * cuda/taylorseer.h), held in a Uint8Array of `factorUnits('i8', n, count)` bytes (on 'cuda' a DeviceTensor
 * of dtype 'i8', its length in bytes).
 */
export type StorageDtype = Dtype | 'i8';
/** Every storage dtype: the activation dtypes and 'i8'. */
export const STORAGE_DTYPES: readonly StorageDtype[] = [...DTYPES, 'i8'];
export type HostTensor = Float32Array | Uint16Array;
/** host factor storage: a HostTensor, or the Uint8Array of 'i8' factors */
export type HostFactors = HostTensor | Uint8Array;

/** Elements per 'i8' record and bytes per record (one f32 scale + 64 signed bytes). */
export const Q8_BLOCK = 64;
export const Q8_RECORD_BYTES = 4 + Q8_BLOCK;

/** Bytes of the bf16 d_0 of an 'i8' entry of n elements: padded to 16, so the records after it stay aligned. */
function i8D0Bytes(n: number): number {
  return Math.ceil((2 * n) / 16) * 16;
}

/**
 * Typed-array elements `count` factors of n elements take: count * n, or for 'i8' the bytes of d_0 (bf16)
 * and count - 1 factors of records.
 */
/** The size helpers are public: a storage they do not know or a count that is no count is an error, not NaN. */
function checkFactorArgs(storage: unknown, n: unknown, count: unknown): void {
  if (!STORAGE_DTYPES.includes(storage as StorageDtype)) {
    throw new TaylorSeerError('ERR_DTYPE', `storage must be one of ${STORAGE_DTYPES.join(', ')}, got ${typeof storage === 'string' ? JSON.stringify(storage) : typeof storage}`);
  }
  for (const [what, v] of [['n', n], ['count', count]] as const) {
    if (!Number.isSafeInteger(v) || (v as number) < 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} must be a non-negative integer, got ${String(v)}`);
  }
}

export function factorUnits(storage: StorageDtype, n: number, count = 1): number {
  checkFactorArgs(storage, n, count);
  if (storage !== 'i8') return count * n;
  return count <= 0 ? 0 : i8D0Bytes(n) + (count - 1) * Math.ceil(n / Q8_BLOCK) * Q8_RECORD_BYTES;
}

/** Where factor i of an entry of n elements starts, in typed-array elements (bytes for 'i8'). */
export function factorOffset(storage: StorageDtype, n: number, i: number): number {
  return factorUnits(storage, n, i);
}

/** Bytes `count` factors of n elements take in `storage`. */
export function factorBytes(storage: StorageDtype, n: number, count = 1): number {
  checkFactorArgs(storage, n, count);
  return storage === 'i8' ? factorUnits('i8', n, count) : count * n * (storage === 'f32' ? 4 : 2);
}

/** A CUDA buffer. Created by the addon; freed by dispose() (a finalizer is only the backstop). */
export interface DeviceTensor {
  readonly dtype: StorageDtype;
  /** elements ('i8': bytes) */
  readonly length: number;
  readonly byteLength: number;
  /** device pointer as a BigInt (0n after dispose) */
  readonly pointer: bigint;
  /** true when the memory belongs to the caller (wrapped external pointer) */
  readonly external: boolean;
  readonly disposed: boolean;
  /** CUDA device ordinal the memory lives on */
  readonly device: number;
  dispose(): void;
}

export type Tensor = HostTensor | DeviceTensor;
export type FactorTensor = HostFactors | DeviceTensor;

export interface UpdateEntry {
  /** capacity * n elements of the storage dtype; factor i at offset i * n (i8: factorUnits('i8', n, capacity) bytes, factor i at factorOffset) */
  factors: FactorTensor;
  /** the freshly computed feature: n elements of the activation dtype */
  fresh: Tensor;
  oldCount: number;
  newCount: number;
  /**
   * newCount - 1 finite non-zero divisors: new d_{i+1} = (new d_i - old d_i) / divisors[i]. Required when
   * newCount > 1; with newCount 1 there is no difference to take.
   */
  divisors?: ArrayLike<number>;
  /** elements per factor; defaults to fresh's length */
  n?: number;
  /**
   * Optional output (host Float32Array, >= newCount elements, also for DeviceTensor tables): overwritten
   * with the sum of squares of every new factor d_i, computed in the same pass at no extra memory traffic.
   * With DeviceTensor tables the call waits for the update to finish on the GPU to read the norms back.
   */
  stats?: Float32Array;
}

export interface ForecastEntry {
  factors: FactorTensor;
  out: Tensor;
  /** factors used, 1..5 */
  count: number;
  /** count finite coefficients (ignored, and not checked, with options.values: an indirect launch) */
  coeffs: ArrayLike<number>;
  /** gated form: out = residual + gate * forecast; residual may be `out` itself */
  residual?: Tensor;
  gate?: Tensor;
  /** gated form: out is [batch, tokens, dim], gate is [batch, dim] */
  tokens?: number;
  dim?: number;
  /** elements per factor; defaults to out's length */
  n?: number;
}

/**
 * Indirect launches (DeviceTensor tables only): the kernels read each entry's divisors (update) or
 * coefficients (forecast) from `values`, f32 device memory, when they run; entry i reads
 * values[offset + i * stride + k] (stride 0: one row for all). The entries' divisors / coeffs are then
 * ignored. The device values are not checked: they must be finite, divisors non-zero.
 */
export interface IndirectOptions {
  values?: DeviceTensor;
  offset?: number;
  stride?: number;
}

export interface ForecastOptions extends IndirectOptions {
  chain?: boolean;
}

export interface CpuInfo {
  threads: number;
  /** e.g. "avx2+f16c (256-bit)" or "sse2 (128-bit)" */
  vector: string;
  vectorBits: number;
  /** element count from which calls are split across the pool */
  parallelThreshold: number;
}

export interface CudaInfo {
  compiled: boolean;
  /** CUDA runtime version the addon was built with, e.g. "13.0"; "" when not compiled */
  runtimeVersion: string;
  /** CUDA version the installed driver supports ("" when there is no driver) */
  driverVersion: string;
  usable: boolean;
  /** why CUDA is not usable ("" when usable) */
  reason: string;
  devices: Array<{ index: number; name: string; totalMemory: number; computeCapability: string; multiprocessors: number }>;
}

export interface BuildInfo {
  /** true when the CUDA kernels were compiled in */
  cuda: boolean;
  /** 'cmake-js' or 'node-gyp' (the CPU-only fallback) */
  system: string;
  compiler: string;
  napiVersion: number;
  /** the .node file that was loaded */
  file: string;
  /** true when that file is the package's prebuilt binary (prebuilds/), false when built on this machine */
  prebuilt: boolean;
}

export interface NativeAddon {
  /** what the addon reports about its build, plus which file was loaded */
  build: BuildInfo;
  setErrorClass(ctor: new (code: string, message: string) => Error): void;
  cpuInfo(): CpuInfo;
  cudaInfo(): CudaInfo;
  update(storage: StorageDtype, act: Dtype, entries: UpdateEntry[], options?: IndirectOptions): void;
  /**
   * With { chain: true } the entries are gated forecasts into one residual stream (same out, residual,
   * tokens, dim): out = residual + sum_e gate_e * forecast_e in ONE pass over it, entries applied in order.
   */
  forecast(storage: StorageDtype, act: Dtype, entries: ForecastEntry[], options?: ForecastOptions): void;
  /** Same as update/forecast, run off the event loop (host tensors only). */
  updateAsync(storage: StorageDtype, act: Dtype, entries: UpdateEntry[], options?: IndirectOptions): Promise<void>;
  forecastAsync(storage: StorageDtype, act: Dtype, entries: ForecastEntry[], options?: ForecastOptions): Promise<void>;
  /** Index of the first NaN or infinite element of a host tensor, or -1 (a parallel scan). */
  findNonFinite(dtype: Dtype, tensor: HostTensor): number;
  /**
   * Whether two host TypedArrays share memory, by address: also through two SharedArrayBuffer objects for
   * the same memory, which JavaScript cannot tell apart. False for anything that is not a host array.
   */
  overlaps(a: unknown, b: unknown): boolean;
  /** f32 <-> 16-bit conversion with the kernels' rounding (round to nearest even) */
  toHalf(src: Float32Array, dtype: 'f16' | 'bf16', dst: Uint16Array): void;
  fromHalf(src: Uint16Array, dtype: 'f16' | 'bf16', dst: Float32Array): void;
  /** CUDA (present in every build; throws ERR_DEVICE / ERR_CUDA when no device is usable) */
  cuda: {
    alloc(dtype: StorageDtype, length: number): DeviceTensor;
    wrap(pointer: bigint, byteLength: number, dtype: StorageDtype, stream?: bigint): DeviceTensor;
    upload(dst: DeviceTensor, src: HostFactors, offset?: number): void;
    download(src: DeviceTensor, dst: HostFactors, offset?: number): Promise<void>;
    synchronize(): void;
    setStream(stream: bigint | null): void;
    /** The DeviceTensor class, for instanceof checks. */
    DeviceTensor: abstract new (...args: never[]) => DeviceTensor;
    /** Device-side benchmark timed with CUDA events; resolves to JSON lines. */
    bench(options?: { reps?: number; warmup?: number; flux?: boolean; single?: boolean; log?: boolean }): Promise<string>;
  };
}

let cached: NativeAddon | undefined;

/** The most CPU threads TAYLORSEER_THREADS may ask for (the native pool's own cap). */
export const MAX_THREADS = 256;

/** TAYLORSEER_CPU_KERNELS: the best set this processor runs (default), or the portable one. */
export const CPU_KERNEL_CHOICES = ['auto', 'generic'] as const;

/**
 * The environment variables the addon reads, checked before it loads: the native side would silently
 * ignore a TAYLORSEER_THREADS or TAYLORSEER_CPU_KERNELS it cannot parse, and a bad TAYLORSEER_ADDON would
 * read as "not built".
 */
export function checkAddonEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  const kernels = env.TAYLORSEER_CPU_KERNELS;
  if (kernels !== undefined && kernels !== '' && !(CPU_KERNEL_CHOICES as readonly string[]).includes(kernels)) {
    throw new TaylorSeerError(
      'ERR_INVALID_ARGUMENT',
      `TAYLORSEER_CPU_KERNELS=${kernels}: expected ${CPU_KERNEL_CHOICES.join(' or ')} (auto: the fastest CPU kernels this processor runs; generic: the portable ones), or unset it`,
    );
  }
  const threads = env.TAYLORSEER_THREADS;
  if (threads !== undefined && threads !== '') {
    const n = Number(threads);
    if (!/^\s*\d+\s*$/.test(threads) || n < 1 || n > MAX_THREADS) {
      throw new TaylorSeerError(
        'ERR_INVALID_ARGUMENT',
        `TAYLORSEER_THREADS=${threads}: expected an integer from 1 to ${MAX_THREADS} (threads of the CPU kernels), or unset it to use every hardware thread`,
      );
    }
  }
  const addon = env.TAYLORSEER_ADDON;
  if (addon !== undefined && addon !== '') {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(path.resolve(addon));
    } catch (e) {
      throw new TaylorSeerError(
        'ERR_INVALID_ARGUMENT',
        `TAYLORSEER_ADDON=${addon}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}; it must name a taylorseer.node file to load instead of the built addon (or unset it)`,
      );
    }
    if (!st.isFile()) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `TAYLORSEER_ADDON=${addon}: not a file; it must name a taylorseer.node file (or unset it)`);
    }
  }
}

/**
 * Loads the addon once: TAYLORSEER_ADDON, else a source build in build/Release, else the prebuilt binary
 * for this platform (lib/addon-file.ts). A file that does not load here is an ERR_DEVICE saying how to
 * build one that does, never a crash.
 */
export function native(): NativeAddon {
  if (cached) return cached;
  checkAddonEnvironment();
  const root = path.resolve(__dirname, '..');
  const where = locateAddon(root);
  const addon = requireAddon(root, where) as NativeAddon;
  if (typeof addon?.setErrorClass !== 'function' || typeof addon.build !== 'object')
    throw new TaylorSeerError('ERR_DEVICE', `${where.file} loads but is not a taylorseer addon (no build info)`);
  addon.setErrorClass(TaylorSeerError as unknown as new (code: string, message: string) => Error);
  addon.build = { ...addon.build, file: where.file, prebuilt: where.prebuilt };
  cached = addon;
  return addon;
}

/**
 * Stores the n values of `x` as factor i of the 'i8' factors `dst` (cuda/taylorseer.h): d_0 rounded to
 * bf16, a difference quantised into records by the update kernel itself.
 */
export function writeI8Factor(x: Float32Array, dst: Uint8Array, i: number, n: number): void {
  if (i === 0) {
    native().toHalf(x, 'bf16', new Uint16Array(dst.buffer, dst.byteOffset, n));
    return;
  }
  // an update with d_0 = 0 and divisor 1 stores d_1 = F - 0 = F (F saturated at the largest bf16, as d_0 is)
  const two = new Uint8Array(factorUnits('i8', n, 2));
  native().update('i8', 'f32', [{ factors: two, fresh: x, oldCount: 1, newCount: 2, divisors: [1], n }]);
  dst.set(two.subarray(factorOffset('i8', n, 1)), factorOffset('i8', n, i));
}
