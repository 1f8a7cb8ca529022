/**
 * 8-bit factor storage ('i8', cuda/taylorseer.h): d_0 in bf16, the differences in records of 64 elements
 * with one f32 absmax scale each. The update is checked byte for byte against the format's definition
 * written out here in f32 arithmetic; the forecast against the same definition to f32 rounding (it may
 * fuse multiply and add).
 */
import { describe, expect, it } from 'vitest';
import { factorBytes, factorOffset, factorUnits, native, Q8_BLOCK, Q8_RECORD_BYTES } from '../../lib/native';
import { TaylorSeer } from '../../lib/taylor-seer';
import { codeOf } from '../helpers/code-of';
import { bf16Bits, bf16Value, bitsFloat } from '../oracle/half';

const addon = native();
const f = Math.fround;

/** round half to even, as rint in the default rounding mode */
function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The record format's store: one record from up to 64 f32 values. */
function quantise(x: ArrayLike<number>, view: DataView, at: number): void {
  let m = 0;
  for (let t = 0; t < x.length; t++) {
    const a = Math.abs(x[t]);
    if (a > m) m = a;
  }
  const inv = m > 0 ? f(127 / m) : 0;
  view.setFloat32(at, f(m / 127), true);
  for (let t = 0; t < Q8_BLOCK; t++) {
    let v = t < x.length ? f(x[t] * inv) : 0;
    v = v >= -127 ? v : -127;
    v = v <= 127 ? v : 127;
    view.setInt8(at + 4 + t, rint(v));
  }
}

const BF16_MAX = bitsFloat(0x7f7f0000);

/** d_0 as the update keeps it before storing and differencing: saturated to the largest finite bf16. */
const saturateBf16 = (v: number): number => (Number.isFinite(v) && Math.abs(v) > BF16_MAX ? Math.sign(v) * BF16_MAX : v);

function dequantise(bytes: Uint8Array, i: number, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (i === 0) {
    for (let j = 0; j < n; j++) out[j] = bf16Value(view.getUint16(2 * j, true));
    return out;
  }
  const base = factorOffset('i8', n, i);
  for (let j = 0; j < n; j++) {
    const r = base + Math.floor(j / Q8_BLOCK) * Q8_RECORD_BYTES;
    out[j] = f(view.getInt8(r + 4 + (j % Q8_BLOCK)) * view.getFloat32(r, true));
  }
  return out;
}

/** The header's update in f32 against dequantised old factors: d_0 to bf16, each new difference quantised. */
function referenceUpdate(factors: Uint8Array, fresh: Float32Array, oldCount: number, newCount: number, divisors: number[]): void {
  const n = fresh.length;
  const old = Array.from({ length: Math.min(oldCount, newCount - 1) }, (_, i) => dequantise(factors, i, n));
  const view = new DataView(factors.buffer, factors.byteOffset, factors.byteLength);
  let cur = fresh.map(saturateBf16);
  for (let j = 0; j < n; j++) view.setUint16(2 * j, bf16Bits(cur[j]), true);
  for (let i = 1; i < newCount; i++) {
    cur = cur.map((c, j) => f(f(c - old[i - 1][j]) / f(divisors[i - 1])));
    const base = factorOffset('i8', n, i);
    for (let b = 0; b * Q8_BLOCK < n; b++) quantise(cur.subarray(b * Q8_BLOCK, Math.min(n, (b + 1) * Q8_BLOCK)), view, base + b * Q8_RECORD_BYTES);
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function smooth(n: number, step: number, seed: number): Float32Array {
  const r = rng(seed);
  const w = Array.from({ length: 7 }, () => r());
  return Float32Array.from({ length: n }, (_, j) => (Math.sin(0.3 * step * w[j % 7] + j * 0.01) * (1 + (j % 97))) / 10 + 0.001 * step * step);
}

describe("'i8' update: the records are the format's definition, byte for byte", () => {
  it.each([1, 63, 64, 65, 1000, 2049, 40_003, 300_001])('n = %i, every factor count', (n) => {
    const cap = 5;
    const got = new Uint8Array(factorUnits('i8', n, cap));
    const want = new Uint8Array(got.length);
    const divisors = [1, 2, 3, 0.5];
    for (let s = 0; s < 6; s++) {
      const oldCount = Math.min(s, cap);
      const newCount = Math.min(s + 1, cap);
      const fresh = smooth(n, s, n);
      addon.update('i8', 'f32', [{ factors: got, fresh, oldCount, newCount, divisors }]);
      referenceUpdate(want, fresh, oldCount, newCount, divisors);
      const at = got.findIndex((v, k) => v !== want[k]);
      expect(at, `step ${s}: first differing byte`).toBe(-1);
    }
  });

  it('16-bit activations quantise the same values as their f32 widening', () => {
    const n = 777;
    const h = [2, 3].map((s) => {
      const x = smooth(n, s, 1);
      const bits = new Uint16Array(n);
      addon.toHalf(x, 'bf16', bits);
      const wide = new Float32Array(n);
      addon.fromHalf(bits, 'bf16', wide);
      return { bits, wide };
    });
    const a = new Uint8Array(factorUnits('i8', n, 2));
    const b = new Uint8Array(a.length);
    for (const [s, { bits, wide }] of h.entries()) {
      addon.update('i8', 'bf16', [{ factors: a, fresh: bits, oldCount: s, newCount: s + 1, divisors: [1] }]);
      addon.update('i8', 'f32', [{ factors: b, fresh: wide, oldCount: s, newCount: s + 1, divisors: [1] }]);
    }
    expect(a).toEqual(b);
  });

  it('zero blocks, NaN and infinity give defined records (scale 0 / NaN ignored by the max, stored as -127)', () => {
    // d_1 = F - 0 with d_0 = 0 and divisor 1: the records of F itself
    const x = new Float32Array(130);
    x[64] = 2;
    x[65] = Number.NaN;
    x[66] = -1;
    x[128] = Number.POSITIVE_INFINITY;
    const q = new Uint8Array(factorUnits('i8', 130, 2));
    addon.update('i8', 'f32', [{ factors: q, fresh: x, oldCount: 1, newCount: 2, divisors: [1] }]);
    const r = factorOffset('i8', 130, 1);
    expect(r).toBe(272); // 130 bf16 values padded to 16 bytes
    const view = new DataView(q.buffer);
    expect(view.getFloat32(r, true)).toBe(0);
    expect([...new Int8Array(q.buffer, r + 4, 64)].every((v) => v === 0)).toBe(true);
    expect(view.getFloat32(r + 68, true)).toBe(f(2 / 127));
    expect([view.getInt8(r + 72), view.getInt8(r + 73), view.getInt8(r + 74)]).toEqual([127, -127, -64]);
    expect(view.getFloat32(r + 136, true)).toBe(Number.POSITIVE_INFINITY);
  });

  it('whole records at the edges follow the definition: 127 / max overflowing, an infinity, a NaN', () => {
    // d_1 = F - 0 (d_0 = 0, divisor 1): each record of F as the format defines it
    const n = 4 * Q8_BLOCK + 5;
    const x = smooth(n, 1, 9);
    for (let t = 0; t < Q8_BLOCK; t++) x[t] = [1e-38, 0, -1e-38, 5e-39, 2e-37, -0][t % 6]; // 127 / 2e-37 = Infinity
    x[Q8_BLOCK + 3] = Number.POSITIVE_INFINITY; // max Infinity: 127 / max = 0, the infinity itself NaN
    x[2 * Q8_BLOCK + 7] = Number.NaN;
    x[3 * Q8_BLOCK + 1] = -3e38; // beyond bf16: saturated first
    const got = new Uint8Array(factorUnits('i8', n, 2));
    const want = new Uint8Array(got.length);
    addon.update('i8', 'f32', [{ factors: got, fresh: x, oldCount: 1, newCount: 2, divisors: [1] }]);
    referenceUpdate(want, x, 1, 2, [1]);
    expect(got).toEqual(want);
    const q = new Int8Array(got.buffer, factorOffset('i8', n, 1) + 4, 6);
    expect([...q]).toEqual([127, -127, -127, 127, 127, -127]);
  });

  it('d_0 is bf16: the same bits a bf16 store writes, saturating', () => {
    const x = Float32Array.from([1.00390625, -3.5, 3.4e38, Number.NEGATIVE_INFINITY, 1e-3]);
    const q = new Uint8Array(factorUnits('i8', x.length, 1));
    const h = new Uint16Array(x.length);
    addon.update('i8', 'f32', [{ factors: q, fresh: x, oldCount: 0, newCount: 1 }]);
    addon.update('bf16', 'f32', [{ factors: h, fresh: x, oldCount: 0, newCount: 1 }]);
    expect(new Uint16Array(q.buffer, 0, x.length)).toEqual(h);
    expect(q.length).toBe(16);
  });
});

describe("'i8' forecast", () => {
  const n = 5000;
  const factors = new Uint8Array(factorUnits('i8', n, 3));
  for (let s = 0; s < 3; s++) addon.update('i8', 'f32', [{ factors, fresh: smooth(n, s, 9), oldCount: s, newCount: s + 1, divisors: [1, 1] }]);
  const d = [0, 1, 2].map((i) => dequantise(factors, i, n));
  const coeffs = [1, 2, 2];
  const want = Float32Array.from({ length: n }, (_, j) => d[0][j] + 2 * d[1][j] + 2 * d[2][j]);

  it('is the sum of the dequantised factors times the coefficients', () => {
    const out = new Float32Array(n);
    addon.forecast('i8', 'f32', [{ factors, out, count: 3, coeffs }]);
    for (let j = 0; j < n; j++) expect(Math.abs(out[j] - want[j])).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want[j])));
  });

  // [batch, tokens, dim]: rows and gate rows not aligned to the 64-element records, whole records, and
  // rows that start inside a record (2500 = 39 records + 4)
  it.each([
    [5, 50, 20],
    [1, 5, 1000],
    [2, 2, 1250],
  ])('gated and chained forms add gate * forecast to h, and agree with each other exactly (batch %i, %i tokens, dim %i)', (batch, tokens, dim) => {
    const gate = Float32Array.from({ length: batch * dim }, (_, k) => 0.5 + k / (batch * dim));
    const h1 = smooth(n, 7, 3);
    const h2 = Float32Array.from(h1);
    const h0 = Float32Array.from(h1);
    addon.forecast('i8', 'f32', [{ factors, out: h1, residual: h1, gate, tokens, dim, count: 3, coeffs }]);
    addon.forecast('i8', 'f32', [{ factors, out: h2, residual: h2, gate, tokens, dim, count: 3, coeffs }], { chain: true });
    expect(h2).toEqual(h1);
    for (let j = 0; j < n; j++) {
      const g = gate[Math.floor(j / (tokens * dim)) * dim + (j % dim)];
      expect(Math.abs(h1[j] - (h0[j] + g * want[j]))).toBeLessThanOrEqual(4e-6 * (1 + Math.abs(h0[j]) + Math.abs(want[j])));
    }
  });
});

describe("'i8' arguments", () => {
  it('sizes: d_0 in bf16 padded to 16 bytes, then records of 64 elements, 68 bytes each', () => {
    expect(factorUnits('i8', 1, 1)).toBe(16);
    expect(factorUnits('i8', 1, 2)).toBe(16 + 68);
    expect(factorUnits('i8', 64, 3)).toBe(128 + 2 * 68);
    expect(factorUnits('i8', 65, 2)).toBe(144 + 136);
    expect(factorOffset('i8', 65, 2)).toBe(144 + 136);
    expect(factorBytes('i8', 3072, 3)).toBe(6144 + 2 * 48 * 68);
    expect(factorBytes('bf16', 3072, 3)).toBe(3 * 6144);
    expect(factorBytes('i8', 3072, 3) / factorBytes('bf16', 3072, 3)).toBeCloseTo(0.6875, 6);
  });

  it('the size helpers refuse a storage they do not know and counts that are no counts', () => {
    expect(codeOf(() => factorUnits('bogus' as never, 4, 2))).toBe('ERR_DTYPE');
    expect(codeOf(() => factorBytes('f32', Number.NaN))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => factorUnits('i8', -5, 3))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => factorOffset('bf16', 8, 1.5))).toBe('ERR_INVALID_ARGUMENT');
    expect(factorOffset('i8', 100, 0)).toBe(0);
  });

  it('rejects a buffer that is not whole factors, the wrong array type, and i8 as an activation', () => {
    const fresh = new Float32Array(100);
    expect(codeOf(() => addon.update('i8', 'f32', [{ factors: new Uint8Array(100), fresh, oldCount: 0, newCount: 1 }]))).toBe('ERR_LENGTH');
    expect(codeOf(() => addon.update('i8', 'f32', [{ factors: new Uint8Array(200 + 2 * 68 + 1), fresh, oldCount: 0, newCount: 1 }]))).toBe('ERR_LENGTH');
    expect(codeOf(() => addon.update('i8', 'f32', [{ factors: new Uint16Array(136) as never, fresh, oldCount: 0, newCount: 1 }]))).toBe('ERR_DTYPE');
    expect(codeOf(() => addon.update('f32', 'i8' as never, [{ factors: new Float32Array(100), fresh, oldCount: 0, newCount: 1 }]))).toBe('ERR_DTYPE');
    expect(codeOf(() => addon.toHalf(fresh, 'i8' as never, new Uint16Array(100)))).toBe('ERR_DTYPE');
    expect(codeOf(() => addon.findNonFinite('i8' as never, fresh))).toBe('ERR_DTYPE');
  });
});

describe("the hook with storage 'i8'", () => {
  const schedule = { kind: 'fixed', steps: 20, interval: 4, warmup: 2 } as const;
  const run = (storage: 'f32' | 'i8') => {
    const seer = new TaylorSeer({ schedule, maxOrder: 2, storage });
    const out: Float32Array[] = [];
    for (let s = 0; s < 20; s++) {
      seer.beginStep(s);
      out.push(seer.module('m', () => smooth(3000, s, 4)));
    }
    return { out, seer };
  };

  it('forecasts close to f32 factors and holds 69% of bf16 at order 2', () => {
    const a = run('i8');
    const b = run('f32');
    let err = 0;
    let norm = 0;
    a.out.forEach((o, s) => o.forEach((v, j) => ((err += (v - b.out[s][j]) ** 2), (norm += b.out[s][j] ** 2))));
    expect(Math.sqrt(err / norm)).toBeGreaterThan(0); // it is 8-bit
    expect(Math.sqrt(err / norm)).toBeLessThan(0.02);
    expect(a.seer.inspect()[0].factorBytes).toBe(factorBytes('i8', 3000, 3));
    expect(a.seer.stats.bytesHeld).toBe(6000 + 2 * 47 * 68);
  });
});
