/**
 * TypeScript oracle for the GPU tests: the kernels' semantics (cuda/taylorseer.h) written out element by
 * element with explicit float32 rounding (Math.fround), and the f16/bf16 stores of ./half.ts (round to
 * nearest even, f16 saturating like the kernels). Independent of the native code it checks.
 *
 * Update is exact: each float32 operation computed in float64 and rounded once to float32 equals the
 * float32 operation (53 >= 2 * 24 + 2), so the oracle reproduces the kernel bit for bit. Forecast uses
 * fused multiply-adds in a fixed order on the device; the oracle does the same with an exact float32 fma
 * (fmaf below), so it too should match bit for bit; the tests still allow one unit in the last place of
 * the output dtype.
 */
import type { Dtype } from '../../lib/native';
import { bf16Bits, bf16Value, bitsFloat, f16Bits, f16Value, floatBits } from './half';

export type Arr = Float32Array | Uint16Array;

export function bytesOf(d: Dtype): number {
  return d === 'f32' ? 4 : 2;
}
export function alloc(d: Dtype, n: number): Arr {
  return d === 'f32' ? new Float32Array(n) : new Uint16Array(n);
}
export function load(d: Dtype, a: Arr, i: number): number {
  if (d === 'f32') return a[i];
  return d === 'bf16' ? bf16Value(a[i]) : f16Value(a[i]);
}
export function store(d: Dtype, a: Arr, i: number, v: number): void {
  if (d === 'f32') a[i] = v;
  else a[i] = d === 'bf16' ? bf16Bits(Math.fround(v)) : f16Bits(Math.fround(v));
}

/** Unit in the last place of dtype d at magnitude |x| (the spacing of representable values there). */
export function ulp(d: Dtype, x: number): number {
  const mant = d === 'f32' ? 23 : d === 'bf16' ? 7 : 10;
  const minExp = d === 'f32' ? -126 : d === 'bf16' ? -126 : -14;
  const ax = Math.abs(x);
  let e = ax > 0 ? Math.floor(Math.log2(ax)) : minExp;
  if (e < minExp) e = minExp;
  return 2 ** (e - mant);
}

/** Seeded generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random non-zero values (both signs, magnitudes 0.05..2), rounded to dtype d. */
export function randomArray(d: Dtype, n: number, r: () => number): Arr {
  const a = alloc(d, n);
  for (let i = 0; i < n; i++) {
    const v = 0.05 + 1.95 * r();
    store(d, a, i, r() < 0.5 ? -v : v);
  }
  return a;
}

/** In-place update of factors (capacity * n) with fresh (n), exactly as the kernels. */
export function refUpdate(
  storage: Dtype,
  act: Dtype,
  factors: Arr,
  fresh: Arr,
  n: number,
  newCount: number,
  divisors: ArrayLike<number>,
): void {
  const div = Array.from(divisors, (x) => Math.fround(x));
  for (let j = 0; j < n; j++) {
    const old: number[] = [];
    for (let i = 0; i + 1 < newCount; i++) old.push(load(storage, factors, i * n + j));
    let cur = load(act, fresh, j);
    store(storage, factors, j, cur);
    for (let i = 0; i + 1 < newCount; i++) {
      const t = Math.fround(cur - old[i]);
      cur = Math.fround(t / div[i]);
      store(storage, factors, (i + 1) * n + j, cur);
    }
  }
}

/** The float32 value next to float32 r in direction dir (+1 / -1); r finite. */
function nextFloat(r: number, dir: number): number {
  if (r === 0) return dir * 2 ** -149;
  const b = floatBits(r);
  return bitsFloat((r > 0) === (dir > 0) ? b + 1 : b - 1);
}

/**
 * float32 fused multiply-add, exactly: a * b is exact in float64 (24 + 24 bits), the sum's float64
 * rounding error comes from TwoSum, and the one case where rounding the float64 sum to float32 differs
 * from rounding the exact sum (the sum lands exactly on a float32 midpoint) is resolved by the error's sign.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  const r = Math.fround(s);
  if (err === 0 || r === s || !Number.isFinite(s)) return r;
  const other = nextFloat(r, s > r ? 1 : -1);
  if ((r + other) / 2 !== s) return r;
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}

/** Forecast into out (n); gated when gate is given: out = residual + gate[b, c] * y (fma, as the kernels). */
export function refForecast(
  storage: Dtype,
  act: Dtype,
  factors: Arr,
  out: Arr,
  n: number,
  count: number,
  coeffs: ArrayLike<number>,
  gated?: { gate: Arr; residual: Arr; tokens: number; dim: number },
): void {
  const c = Array.from(coeffs, (x) => Math.fround(x));
  for (let j = 0; j < n; j++) {
    let acc = Math.fround(c[0] * load(storage, factors, j));
    for (let i = 1; i < count; i++) acc = fmaf(c[i], load(storage, factors, i * n + j), acc);
    if (gated) {
      const row = Math.floor(j / gated.dim);
      const b = Math.floor(row / gated.tokens);
      const g = load(act, gated.gate, b * gated.dim + (j % gated.dim));
      acc = fmaf(g, acc, load(act, gated.residual, j));
    }
    store(act, out, j, acc);
  }
}

/** Largest difference in output-dtype ulps between got and want (NaN anywhere counts as Infinity). */
export function maxUlpDiff(d: Dtype, got: Arr, want: Arr, n = want.length): { ulps: number; at: number } {
  let worst = 0;
  let at = -1;
  for (let i = 0; i < n; i++) {
    const g = load(d, got, i);
    const w = load(d, want, i);
    if (Number.isNaN(g) || Number.isNaN(w)) return { ulps: Infinity, at: i };
    const diff = Math.abs(g - w) / ulp(d, Math.max(Math.abs(w), Math.abs(g)));
    if (diff > worst) {
      worst = diff;
      at = i;
    }
  }
  return { ulps: worst, at };
}

/** First index where two arrays differ bitwise (-1 if equal; NaNs compare by their bits). */
export function firstDiff(a: Arr, b: Arr): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (a instanceof Float32Array && b instanceof Float32Array) {
    a = new Uint32Array(a.buffer, a.byteOffset, a.length) as unknown as Arr;
    b = new Uint32Array(b.buffer, b.byteOffset, b.length) as unknown as Arr;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
