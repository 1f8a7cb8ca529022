/**
 * Test oracle: the reference formulas written out plainly, independent of lib/.
 *
 *  - refFullSteps: the Python reference's counter-based schedule (cal_type).
 *  - refUpdate / refForecast: derivative_approximation and taylor_formula on f64 arrays.
 *  - referenceRun: a whole reference run (global `activated` list, per-module factor dicts), returning what
 *    the reference outputs at every step for a given feature function.
 *  - variantRun: the same loop differencing in t ('time') or, for 'newton', forecasting with the Lagrange
 *    form of the interpolating polynomial (a different formula from the library's divided differences).
 *  - oracleAddon: a TypeScript stand-in for the native addon's host kernels (f32 arithmetic, 16-bit stores
 *    rounded to nearest even by ./half.ts), so hook tests can run before the addon is built.
 */
import { TaylorSeerError } from '../../lib/errors';
import type { Dtype, ForecastEntry, HostTensor, NativeAddon, StorageDtype, Tensor, UpdateEntry } from '../../lib/native';
import { halfBits, halfValue } from './half';
import { storedDifference, storedValue } from './host-kernels';

// ---------------------------------------------------------------------------------------------- schedule

export interface RefScheduleOptions {
  steps: number;
  interval: number;
  warmup: number;
  cooldown?: number;
}

/** The reference's cal_type, replayed step by step with its forecast counter. */
export function refFullSteps({ steps, interval, warmup, cooldown = 0 }: RefScheduleOptions): boolean[] {
  const full: boolean[] = [];
  let counter = 0;
  for (let step = 0; step < steps; step++) {
    const firstStep = step < warmup;
    const lastSteps = step >= steps - cooldown;
    if (firstStep || counter === interval - 1 || lastSteps) {
      counter = 0;
      full.push(true);
    } else {
      counter += 1;
      full.push(false);
    }
  }
  return full;
}

// ---------------------------------------------------------------------------------------------- formulas

/** derivative_approximation: new d_0 = F, new d_{i+1} = (new d_i - old d_i) / D while old d_i exists and grows. */
export function refUpdate(old: number[][], fresh: ArrayLike<number>, distance: number, grows: boolean, maxOrder: number): number[][] {
  const next: number[][] = [Array.from(fresh)];
  for (let i = 0; i < maxOrder; i++) {
    if (old[i] === undefined || !grows) break;
    next.push(next[i].map((v, j) => (v - old[i][j]) / distance));
  }
  return next;
}

/** taylor_formula: sum_i d_i x^i / i!. */
export function refForecast(factors: number[][], x: number): number[] {
  const out = new Array<number>(factors[0].length).fill(0);
  let fact = 1;
  factors.forEach((d, i) => {
    if (i > 0) fact *= i;
    const c = x ** i / fact;
    d.forEach((v, j) => (out[j] += c * v));
  });
  return out;
}

/** Value at x of the polynomial through the points (xs[i], ys[i]) (Lagrange form). */
export function lagrange(xs: number[], ys: number[][], x: number): number[] {
  const out = new Array<number>(ys[0].length).fill(0);
  for (let i = 0; i < xs.length; i++) {
    let w = 1;
    for (let j = 0; j < xs.length; j++) if (j !== i) w *= (x - xs[j]) / (xs[i] - xs[j]);
    ys[i].forEach((v, k) => (out[k] += w * v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- whole runs

export interface RunOptions extends RefScheduleOptions {
  maxOrder: number;
  /** module keys; default ['m'] */
  keys?: string[];
  feature: (step: number, key: string) => ArrayLike<number>;
  /** full steps override (a mask); default: the fixed schedule */
  full?: boolean[];
}

export interface RunResult {
  full: boolean[];
  /** outputs[step][key] */
  outputs: Array<Record<string, number[]>>;
}

/** What the Python reference returns at every step (variable 'step'). */
export function referenceRun(o: RunOptions): RunResult {
  return variantRun({ ...o, variable: 'step' });
}

/**
 * The reference loop for any variable. 'step' and 'time' follow the reference literally (a global
 * `activated` list starting as [0], one factor dict per module); 'newton' keeps, per module, the nodes
 * since its last restart and forecasts with the Lagrange polynomial through the newest `count` of them.
 */
export function variantRun(o: RunOptions & { variable: 'step' | 'time' | 'newton'; t?: number[] }): RunResult {
  const keys = o.keys ?? ['m'];
  const full = o.full ?? refFullSteps(o);
  const coord = (s: number) => (o.variable === 'step' ? s : o.t![s]);
  const activated = [0];
  const factors = new Map<string, number[][]>();
  const nodes = new Map<string, { x: number[]; y: number[][] }>();
  const outputs: Array<Record<string, number[]>> = [];
  for (let step = 0; step < full.length; step++) {
    if (full[step]) activated.push(step);
    const grows = step > o.warmup - 2;
    const row: Record<string, number[]> = {};
    for (const key of keys) {
      if (full[step]) {
        const fresh = Array.from(o.feature(step, key));
        const distance = coord(activated[activated.length - 1]) - coord(activated[activated.length - 2]);
        const next = refUpdate(factors.get(key) ?? [], fresh, distance, grows, o.maxOrder);
        factors.set(key, next);
        const hist = nodes.get(key) ?? { x: [], y: [] };
        const keep = next.length - 1; // nodes kept besides this one
        nodes.set(key, { x: [...hist.x.slice(hist.x.length - keep), coord(step)].slice(-next.length), y: [...hist.y.slice(hist.y.length - keep), fresh].slice(-next.length) });
        row[key] = fresh;
      } else if (o.variable === 'newton') {
        const { x, y } = nodes.get(key)!;
        row[key] = lagrange(x, y, coord(step));
      } else {
        row[key] = refForecast(factors.get(key)!, coord(step) - coord(activated[activated.length - 1]));
      }
    }
    outputs.push(row);
  }
  return { full, outputs };
}

// ---------------------------------------------------------------------------------------------- 16-bit

export function toHost(values: ArrayLike<number>, dtype: Dtype): HostTensor {
  if (dtype === 'f32') return Float32Array.from(values);
  return Uint16Array.from(Array.from(values, (v) => halfBits(v, dtype)));
}

export function fromHost(t: HostTensor, dtype: Dtype): number[] {
  if (dtype === 'f32') return Array.from(t);
  return Array.from(t, (b) => halfValue(b, dtype));
}

// ---------------------------------------------------------------------------------------------- fake addon

function host(t: Tensor, what: string): HostTensor {
  if (!(t instanceof Float32Array) && !(t instanceof Uint16Array)) throw new TaylorSeerError('ERR_DEVICE', `oracle addon: ${what} must be a host array`);
  return t;
}

function load(t: HostTensor, dtype: Dtype, i: number): number {
  return dtype === 'f32' ? t[i] : halfValue(t[i], dtype);
}

function store(t: HostTensor, dtype: Dtype, i: number, v: number): void {
  t[i] = dtype === 'f32' ? Math.fround(v) : halfBits(v, dtype);
}

/** An entry's factors and its activation tensor (fresh or out) as host arrays, and n (the tensor's length unless given). */
function hostEntry(e: UpdateEntry | ForecastEntry, tensor: Tensor, what: string): { f: HostTensor; t: HostTensor; n: number } {
  const t = host(tensor, what);
  return { f: host(e.factors as Tensor, 'factors'), t, n: e.n ?? t.length };
}

function halfOrF32(storage: StorageDtype): Dtype {
  if (storage === 'i8') throw new TaylorSeerError('ERR_DTYPE', "oracle addon: no 'i8' storage (the real addon's tests cover it)");
  return storage;
}

/** The header's kernel semantics in f32 (cuda/taylorseer.h), element by element. */
export function oracleUpdate(storageDtype: StorageDtype, act: Dtype, entries: UpdateEntry[]): void {
  const storage = halfOrF32(storageDtype);
  for (const e of entries) {
    const { f, t: fresh, n } = hostEntry(e, e.fresh, 'fresh');
    if (e.newCount < 1 || e.newCount > Math.min(e.oldCount + 1, 5)) throw new TaylorSeerError('ERR_ORDER', 'oracle addon: newCount out of range');
    const divisors = e.divisors ?? [];
    if (divisors.length < e.newCount - 1) throw new TaylorSeerError('ERR_LENGTH', 'oracle addon: divisors must hold newCount - 1 numbers');
    for (let j = 0; j < n; j++) {
      // Stored factors saturate at the storage range, and each difference is taken from the saturated value.
      let cur = storedValue(load(fresh, act, j), storage);
      for (let i = 0; i < e.newCount; i++) {
        const old = load(f, storage, i * n + j);
        store(f, storage, i * n + j, cur);
        if (i + 1 < e.newCount) cur = storedDifference(Math.fround(Math.fround(cur - old) / Math.fround(divisors[i])), cur, old, storage);
      }
    }
  }
}

export function oracleForecast(storageDtype: StorageDtype, act: Dtype, entries: ForecastEntry[]): void {
  const storage = halfOrF32(storageDtype);
  for (const e of entries) {
    const { f, t: out, n } = hostEntry(e, e.out, 'out');
    const residual = e.residual ? host(e.residual, 'residual') : undefined;
    const gate = e.gate ? host(e.gate, 'gate') : undefined;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let i = 0; i < e.count; i++) acc = Math.fround(acc + Math.fround(Math.fround(e.coeffs[i]) * load(f, storage, i * n + j)));
      if (gate) {
        const b = Math.floor(j / (e.tokens! * e.dim!));
        const c = j % e.dim!;
        acc = Math.fround(load(residual ?? out, act, j) + Math.fround(load(gate, act, b * e.dim! + c) * acc));
      }
      store(out, act, j, acc);
    }
  }
}

export function oracleAddon(): NativeAddon {
  const noCuda = (): never => {
    throw new TaylorSeerError('ERR_DEVICE', 'oracle addon has no CUDA');
  };
  return {
    build: { cuda: false, system: 'oracle', compiler: 'typescript', napiVersion: 8, file: 'test/oracle.ts', prebuilt: false },
    setErrorClass() {},
    cpuInfo: () => ({ threads: 1, vector: 'oracle', vectorBits: 64, parallelThreshold: Infinity }),
    cudaInfo: () => ({ compiled: false, runtimeVersion: '', driverVersion: '', usable: false, reason: 'oracle addon', devices: [] }),
    update: oracleUpdate,
    forecast: oracleForecast,
    updateAsync: async (s, a, e) => oracleUpdate(s, a, e),
    forecastAsync: async (s, a, e) => oracleForecast(s, a, e),
    toHalf: (src, dtype, dst) => src.forEach((v, i) => (dst[i] = halfBits(v, dtype))),
    fromHalf: (src, dtype, dst) => src.forEach((v, i) => (dst[i] = halfValue(v, dtype))),
    findNonFinite: (dtype, tensor) => Array.from(tensor).findIndex((_, i) => !Number.isFinite(load(tensor, dtype, i))),
    // JavaScript sees one buffer object only: the same-buffer byte ranges (the addon compares addresses)
    overlaps: (a, b) =>
      ArrayBuffer.isView(a) && ArrayBuffer.isView(b) && a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength,
    cuda: {
      alloc: noCuda,
      wrap: noCuda,
      upload: noCuda,
      download: noCuda,
      synchronize: noCuda,
      setStream: noCuda,
      bench: noCuda,
      DeviceTensor: class {} as unknown as NativeAddon['cuda']['DeviceTensor'],
    },
  };
}

/**
 * The addon the hook tests run against: the real one when it loads (unless TASEER_ORACLE=1), else the
 * oracle. Use from a vi.mock factory of '../lib/native'.
 */
export function chooseAddon(real: () => NativeAddon): { addon: NativeAddon; name: string } {
  if (process.env.TASEER_ORACLE !== '1') {
    try {
      const addon = real();
      return { addon, name: 'native' };
    } catch {
      // not built yet: fall through
    }
  }
  return { addon: oracleAddon(), name: 'oracle' };
}

// ---------------------------------------------------------------------------------------------- helpers

/** Largest |a - b| relative to max(1, max |b|). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let err = 0;
  for (let i = 0; i < b.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
  return a.length === b.length ? err / scale : Infinity;
}
