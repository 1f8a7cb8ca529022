/**
 * Element-wise oracle of the kernel contract (cuda/taylorseer.h), written independently of the C++:
 * f32 arithmetic through Math.fround, 16-bit rounding from ./half.ts.
 */
import { bf16Bits, bf16Value, f16Bits, f16Value, roundTo, type Dtype } from './half';

/** Index of the first element where a and b differ (NaN equals NaN), or -1. Fast on millions. */
export function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

export function encode(dtype: Dtype, values: ArrayLike<number>): Float32Array | Uint16Array {
  if (dtype === 'f32') return Float32Array.from(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = dtype === 'f16' ? f16Bits(values[i]) : bf16Bits(values[i]);
  return out;
}

export function decode(dtype: Dtype, data: Float32Array | Uint16Array): Float64Array {
  const out = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = dtype === 'f32' ? data[i] : dtype === 'f16' ? f16Value(data[i]) : bf16Value(data[i]);
  return out;
}

/** Expected factors after an update (values as stored), given decoded old factors and fresh F. */
export function oracleUpdate(
  fresh: Float64Array,
  old: Float64Array[],
  newCount: number,
  divisors: number[],
  storage: Dtype,
): Float64Array[] {
  const n = fresh.length;
  const out = Array.from({ length: newCount }, () => new Float64Array(n));
  for (let j = 0; j < n; j++) {
    let cur = Math.fround(fresh[j]);
    for (let i = 0; i < newCount; i++) {
      out[i][j] = roundTo(storage, cur);
      if (i + 1 < newCount) cur = Math.fround(Math.fround(cur - old[i][j]) / Math.fround(divisors[i]));
    }
  }
  return out;
}

/** Exact (f64) forecast sum_i c_i d_i, gated: residual + gate[b, c] * sum. */
export function oracleForecast(
  factors: Float64Array[],
  coeffs: number[],
  gated?: { residual: Float64Array; gate: Float64Array; tokens: number; dim: number },
): { value: Float64Array; scale: Float64Array } {
  const n = factors[0].length;
  const value = new Float64Array(n);
  const scale = new Float64Array(n); // sum of |terms|: the rounding error scales with it
  for (let j = 0; j < n; j++) {
    let s = 0;
    let a = 0;
    for (let i = 0; i < coeffs.length; i++) {
      const c = Math.fround(coeffs[i]);
      s += c * factors[i][j];
      a += Math.abs(c * factors[i][j]);
    }
    if (gated) {
      const b = Math.floor(j / (gated.tokens * gated.dim));
      const g = gated.gate[b * gated.dim + (j % gated.dim)];
      value[j] = gated.residual[j] + g * s;
      scale[j] = Math.abs(gated.residual[j]) + Math.abs(g) * a;
    } else {
      value[j] = s;
      scale[j] = a;
    }
  }
  return { value, scale };
}

/** Unit roundoff of a dtype. */
export function eps(dtype: Dtype): number {
  return dtype === 'f32' ? 2 ** -24 : dtype === 'f16' ? 2 ** -11 : 2 ** -8;
}

/** Deterministic pseudo-random numbers (tests must be reproducible from their seed). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

export function randomValues(n: number, next: () => number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}
