/**
 * The one 16-bit rounding of the test oracles: f32 -> f16 / bf16 bits with round to nearest even, as the
 * kernels store, written independently of native/half.h (f16 through @petamoriken/float16, bf16 from bits).
 */
import { Float16Array, f16round } from '@petamoriken/float16';

export type Dtype = 'f32' | 'f16' | 'bf16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bits of x as a float32. */
export function floatBits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The float32 whose bits are b. */
export function bitsFloat(b: number): number {
  u32[0] = b >>> 0;
  return f32[0];
}

/** f32 -> bf16 bits, round to nearest even; NaN stays NaN. */
export function bf16Bits(x: number): number {
  const u = floatBits(x);
  if (Number.isNaN(f32[0])) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16Value(bits: number): number {
  return bitsFloat((bits & 0xffff) << 16);
}

const h16 = new Float16Array(1);
const u16 = new Uint16Array(h16.buffer);

/** The library's f16 saturation policy: a finite value beyond 65504 is stored as +-65504 (Inf, NaN kept). */
export function saturateHalf(x: number): number {
  const f = Math.fround(x);
  return Number.isFinite(f) && Math.abs(f) > 65504 ? Math.sign(f) * 65504 : f;
}

/** f32 -> f16 bits, round to nearest even, saturating. */
export function f16Bits(x: number): number {
  h16[0] = saturateHalf(x);
  return u16[0];
}

export function f16Value(bits: number): number {
  u16[0] = bits;
  return h16[0];
}

/** The bits a store of x to a 16-bit dtype writes. */
export function halfBits(x: number, dtype: 'f16' | 'bf16'): number {
  return dtype === 'f16' ? f16Bits(x) : bf16Bits(x);
}

/** The value 16-bit bits of dtype hold. */
export function halfValue(bits: number, dtype: 'f16' | 'bf16'): number {
  return dtype === 'f16' ? f16Value(bits) : bf16Value(bits);
}

/** The value a store of `x` to `dtype` keeps. */
export function roundTo(dtype: Dtype, x: number): number {
  if (dtype === 'f32') return Math.fround(x);
  if (dtype === 'f16') return f16round(saturateHalf(x));
  return bf16Value(bf16Bits(x));
}
