/**
 * The fused CPU kernels against the element-wise oracle: every storage and activation dtype, every factor
 * count, lengths around the vector width, the block size and the parallel threshold, up to millions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { native, type Dtype } from '../../lib/native';
import {
  decode,
  encode,
  eps,
  firstMismatch,
  oracleForecast,
  oracleUpdate,
  randomValues,
  rng,
} from '../oracle/host-kernels';

const addon = native();
const dtypes: Dtype[] = ['f32', 'f16', 'bf16'];
const combos = dtypes.flatMap((s) => dtypes.map((a) => [s, a] as const));
const smallLengths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 255, 511, 513, 1025, 2047, 2048, 2049];
// around the parallel split (32768), the pool's 1024-element chunk alignment, and large odd sizes
const largeLengths = [32767, 32768, 32769, 65537, 100_003, (1 << 20) + 3, 3_000_001];
// The f16 oracle (a JS polyfill) is slow: millions of f16 elements would take minutes.
const lengthsFor = (s: Dtype, a: Dtype) => (s === 'f16' || a === 'f16' ? largeLengths.slice(0, 5) : largeLengths);

function stored(dtype: Dtype, values: Float64Array[]): Float32Array | Uint16Array {
  const flat = new Float64Array(values.length * values[0].length);
  values.forEach((v, i) => flat.set(v, i * v.length));
  return encode(dtype, flat);
}

function factorSlices(dtype: Dtype, data: Float32Array | Uint16Array, n: number, count: number): Float64Array[] {
  const all = decode(dtype, data);
  return Array.from({ length: count }, (_, i) => all.subarray(i * n, (i + 1) * n));
}

function checkUpdate(storage: Dtype, act: Dtype, n: number, oldCount: number, newCount: number, seed: number) {
  const next = rng(seed);
  const capacity = 5;
  const old = Array.from({ length: capacity }, () => decode(storage, encode(storage, randomValues(n, next))));
  const fresh = decode(act, encode(act, randomValues(n, next, 4)));
  const divisors = Array.from({ length: Math.max(0, newCount - 1) }, () => 0.25 + next() * 3);
  const factors = stored(storage, old);
  addon.update(storage, act, [{ factors, fresh: encode(act, fresh), oldCount, newCount, divisors }]);
  const got = factorSlices(storage, factors, n, capacity);
  const want = oracleUpdate(fresh, old, newCount, divisors, storage);
  const where = (i: number, j: number) => `${storage}/${act} n=${n} ${oldCount}->${newCount}: factor ${i} element ${j}`;
  for (let i = 0; i < newCount; i++) {
    const j = firstMismatch(got[i], want[i]);
    if (j >= 0) expect.fail(`${where(i, j)}: got ${got[i][j]}, want ${want[i][j]}`);
  }
  // factors past newCount are untouched
  for (let i = newCount; i < capacity; i++) {
    const j = firstMismatch(got[i], old[i]);
    if (j >= 0) expect.fail(`${where(i, j)} was written but lies past newCount`);
  }
}

function checkForecast(storage: Dtype, act: Dtype, n: number, count: number, gated: boolean, seed: number) {
  const next = rng(seed);
  const dim = gated ? 1 + Math.floor(next() * Math.min(n, 40)) : 1;
  const rows = Math.floor(n / dim);
  const m = gated ? rows * dim : n;
  const tokens = gated ? [1, 2, 3].find((t) => rows % t === 0 && t <= rows) ?? 1 : 1;
  const factors = Array.from({ length: count }, () => decode(storage, encode(storage, randomValues(m, next))));
  const coeffs = Array.from({ length: count }, () => next() * 4 - 2);
  const residual = decode(act, encode(act, randomValues(m, next)));
  const gate = decode(act, encode(act, randomValues((m / (tokens * dim)) * dim, next)));
  const out = encode(act, randomValues(m, next, 100)); // poison: every element must be written
  const entry = gated
    ? { factors: stored(storage, factors), out, count, coeffs, residual: encode(act, residual), gate: encode(act, gate), tokens, dim }
    : { factors: stored(storage, factors), out, count, coeffs };
  addon.forecast(storage, act, [entry]);
  const got = decode(act, out);
  const want = oracleForecast(factors, coeffs, gated ? { residual, gate, tokens, dim } : undefined);
  for (let j = 0; j < m; j++) {
    const err = Math.abs(got[j] - want.value[j]);
    const bound = 8 * eps('f32') * count * want.scale[j] + 1.01 * eps(act) * Math.abs(want.value[j]) + 2 ** -24;
    if (!(err <= bound)) {
      expect.fail(`element ${j} of ${m}: got ${got[j]}, want ${want.value[j]} (error ${err} > bound ${bound})`);
    }
  }
}

describe('update kernel', () => {
  it.each(combos)('storage %s, activation %s: every (oldCount, newCount), short odd lengths', (s, a) => {
    let seed = 1;
    for (const n of smallLengths)
      for (let oldCount = 0; oldCount <= 5; oldCount++)
        for (let newCount = 1; newCount <= Math.min(oldCount + 1, 5); newCount++) checkUpdate(s, a, n, oldCount, newCount, seed++);
  });

  it.each(combos)('storage %s, activation %s: long lengths split across threads', (s, a) => {
    let seed = 100;
    for (const n of lengthsFor(s, a)) checkUpdate(s, a, n, 4, 5, seed++);
  });

  it('matches the oracle on random lengths, counts and dtypes (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...combos),
        fc.integer({ min: 1, max: 70_000 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        ([s, a], n, oldCount, want, seed) => {
          checkUpdate(s, a, n, oldCount, Math.min(want, oldCount + 1), seed);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a fresh feature that is a polynomial of degree k in the step has constant k-th differences', () => {
    // d_k of f(s) = s^2 with unit divisors is the second difference: 2 everywhere after three updates.
    const n = 1001;
    const factors = new Float32Array(3 * n);
    for (let s = 0, count = 0; s < 3; s++) {
      const fresh = new Float32Array(n).fill(s * s);
      const newCount = Math.min(count + 1, 3);
      addon.update('f32', 'f32', [{ factors, fresh, oldCount: count, newCount, divisors: [1, 1] }]);
      count = newCount;
    }
    expect(Array.from(factors.subarray(2 * n)).every((v) => v === 2)).toBe(true);
  });
  it.each(combos)('storage %s, activation %s: values beyond the storage range in a few lanes of each vector saturate as one by one', (s, a) => {
    // The vector path skips its clamps when no lane needs them; here every 8 values hold some that do:
    // finite values past the largest finite value, infinities, NaN, and differences that overflow.
    const big = s === 'f16' ? 65504 : 3.3895e38;
    const edge = [2 * big, -3 * big, Infinity, -Infinity, NaN, big, -big, 0.5 * big];
    const n = 8 * 9 + 5;
    const next = rng(7);
    const fresh = decode(a, encode(a, Float64Array.from({ length: n }, (_, j) => (j % 3 === 0 ? edge[(j / 3) % edge.length] : (next() * 2 - 1) * big))));
    const old = Array.from({ length: 5 }, (_, i) => decode(s, encode(s, Float64Array.from({ length: n }, (_, j) => (j % 4 === i % 4 ? -edge[j % edge.length] : (next() * 2 - 1) * big)))));
    const divisors = [0.25, 3, 0.5, 1];
    const factors = stored(s, old);
    addon.update(s, a, [{ factors, fresh: encode(a, fresh), oldCount: 5, newCount: 5, divisors }]);
    const got = factorSlices(s, factors, n, 5);
    const want = oracleUpdate(fresh, old, 5, divisors, s);
    for (let i = 0; i < 5; i++) {
      const j = firstMismatch(got[i], want[i]);
      if (j >= 0) expect.fail(`factor ${i} element ${j}: got ${got[i][j]}, want ${want[i][j]}`);
    }
  });
});

describe('forecast kernel', () => {
  it.each(combos)('storage %s, activation %s: every count, plain and gated, short lengths', (s, a) => {
    let seed = 7;
    for (const n of smallLengths)
      for (let count = 1; count <= 5; count++) {
        checkForecast(s, a, n, count, false, seed++);
        checkForecast(s, a, n, count, true, seed++);
      }
  });

  it.each(combos)('storage %s, activation %s: long lengths split across threads', (s, a) => {
    let seed = 300;
    for (const n of lengthsFor(s, a)) {
      checkForecast(s, a, n, 3, false, seed++);
      checkForecast(s, a, n, 3, true, seed++);
    }
  });

  it('gated form broadcasts gate [B, D] over tokens and may update the residual in place', () => {
    const [B, L, D] = [2, 3, 4];
    const n = B * L * D;
    const factors = Float32Array.from({ length: 2 * n }, (_, i) => (i < n ? 1 : 0.5));
    const h = Float32Array.from({ length: n }, (_, i) => i);
    const gate = Float32Array.from({ length: B * D }, (_, i) => i + 1);
    addon.forecast('f32', 'f32', [{ factors, out: h, residual: h, gate, tokens: L, dim: D, count: 2, coeffs: [1, 2] }]);
    // forecast = 1 + 2 * 0.5 = 2 everywhere; h[b, l, c] = (b*L + l)*D + c + 2 * gate[b, c]
    for (let b = 0; b < B; b++)
      for (let l = 0; l < L; l++)
        for (let c = 0; c < D; c++) expect(h[(b * L + l) * D + c]).toBe((b * L + l) * D + c + 2 * (b * D + c + 1));
  });

  it('matches the oracle on random shapes (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...combos),
        fc.integer({ min: 1, max: 70_000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.boolean(),
        fc.integer(),
        ([s, a], n, count, gated, seed) => checkForecast(s, a, n, count, gated, seed),
      ),
      { numRuns: 60 },
    );
  });
});

describe('multi-entry calls', () => {
  it('update and forecast a table of entries of different sizes in one call', () => {
    const next = rng(5);
    const sizes = [5, 4096, 40_000];
    const fac = sizes.map((n) => new Float32Array(2 * n));
    const fresh = sizes.map((n) => Float32Array.from(randomValues(n, next)));
    addon.update('f32', 'f32', sizes.map((_, i) => ({ factors: fac[i], fresh: fresh[i], oldCount: 0, newCount: 1 })));
    const outs = sizes.map((n) => new Float32Array(n));
    addon.forecast('f32', 'f32', sizes.map((_, i) => ({ factors: fac[i], out: outs[i], count: 1, coeffs: [1] })));
    sizes.forEach((_, i) => expect(outs[i]).toEqual(fresh[i]));
  });
});

describe('async forms', () => {
  it('updateAsync and forecastAsync give the same result as the synchronous calls', async () => {
    const next = rng(9);
    const n = 200_001;
    const a = Float32Array.from(randomValues(3 * n, next));
    const b = a.slice();
    const fresh = Float32Array.from(randomValues(n, next));
    addon.update('f32', 'f32', [{ factors: a, fresh, oldCount: 3, newCount: 3, divisors: [2, 3] }]);
    await addon.updateAsync('f32', 'f32', [{ factors: b, fresh, oldCount: 3, newCount: 3, divisors: [2, 3] }]);
    expect(b).toEqual(a);
    const o1 = new Float32Array(n);
    const o2 = new Float32Array(n);
    addon.forecast('f32', 'f32', [{ factors: a, out: o1, count: 3, coeffs: [1, 0.5, 0.25] }]);
    await addon.forecastAsync('f32', 'f32', [{ factors: a, out: o2, count: 3, coeffs: [1, 0.5, 0.25] }]);
    expect(o2).toEqual(o1);
  });

  it('rejects (never throws synchronously) on bad input', async () => {
    const p = addon.updateAsync('f32', 'f32', [{ factors: new Float32Array(4), fresh: new Float32Array(3), oldCount: 0, newCount: 1 }]);
    await expect(p).rejects.toMatchObject({ code: 'ERR_LENGTH' });
  });
});

describe('f16 / bf16 conversion', () => {
  const specials = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, 5.96e-8, 2.98e-8, 6.1e-5, 3.4e38, Infinity, -Infinity, NaN, 1 / 3, 1.00048828125];
  it.each(['f16', 'bf16'] as const)('toHalf rounds to nearest even like the oracle (%s)', (dtype) => {
    const next = rng(11);
    const values = Float32Array.from([...specials, ...Array.from({ length: 10_000 }, () => (next() - 0.5) * 10 ** (next() * 12 - 8))]);
    const got = new Uint16Array(values.length);
    addon.toHalf(values, dtype, got);
    const want = encode(dtype, values) as Uint16Array;
    for (let i = 0; i < values.length; i++) {
      if (Number.isNaN(values[i])) expect(Number.isNaN(decode(dtype, got.subarray(i, i + 1))[0])).toBe(true);
      else expect(got[i], `value ${values[i]}`).toBe(want[i]);
    }
  });

  it('f16 saturates finite values beyond 65504 to +-65504 and keeps Inf and NaN (toHalf and kernel stores)', () => {
    const values = Float32Array.from([65504, 65519, 65520, 1e6, -1e6, 3.4e38, -3.4e38, Infinity, -Infinity, NaN]);
    const got = new Uint16Array(values.length);
    addon.toHalf(values, 'f16', got);
    const back = decode('f16', got);
    expect([...back.subarray(0, 9)]).toEqual([65504, 65504, 65504, 65504, -65504, 65504, -65504, Infinity, -Infinity]);
    expect(Number.isNaN(back[9])).toBe(true);
    // The update kernel stores factors with the same policy: a difference that overflows f16 saturates.
    const factors = new Uint16Array(2 * values.length);
    addon.update('f16', 'f32', [{ factors, fresh: values, oldCount: 0, newCount: 1 }]);
    expect(factors.subarray(0, values.length)).toEqual(got);
    const fresh2 = Float32Array.from(values, () => 60000);
    addon.update('f16', 'f32', [{ factors, fresh: fresh2, oldCount: 1, newCount: 2, divisors: Array(1).fill(0.01) }]);
    const d1 = decode('f16', factors.subarray(values.length));
    expect(d1[0]).toBe(-65504); // (60000 - 65504) / 0.01 = -550400: saturated, not -Infinity
    expect(d1[7]).toBe(-Infinity); // (60000 - Infinity) / 0.01: Infinity is kept
  });

  it("bf16 keeps a NaN's sign and top payload bits, made quiet, in any lane of a vector and in the tail", () => {
    const nans = [0x7f800001, 0xffc00000, 0x7fa00000, 0xff812345, 0x7fffffff];
    const bits = Uint32Array.from({ length: 8 * 3 + 3 }, (_, i) => (i % 5 === 2 ? nans[(i / 5) | 0] : 0x3f800000 + i));
    const got = new Uint16Array(bits.length);
    addon.toHalf(new Float32Array(bits.buffer), 'bf16', got);
    bits.forEach((u, i) => expect(got[i], `lane ${i}`).toBe(i % 5 === 2 ? (u >>> 16) | 0x40 : u >>> 16));
  });

  it.each(['f16', 'bf16'] as const)('fromHalf is exact for every 16-bit pattern (%s)', (dtype) => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = new Float32Array(65536);
    addon.fromHalf(all, dtype, got);
    const want = decode(dtype, all);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(want[i])) expect(Number.isNaN(got[i])).toBe(true);
      else expect(got[i]).toBe(want[i]);
    }
  });
});

describe('update norms (stats)', () => {
  it.each(combos)('writes the sum of squares of every new factor, as computed before rounding (%s storage, %s activations)', (storage, act) => {
    for (const [n, oldCount, newCount] of [[1, 0, 1], [17, 1, 2], [2049, 2, 3], [70_001, 4, 5], [100_003, 3, 3]] as const) {
      const next = rng(n + newCount);
      const old = Array.from({ length: 5 }, () => decode(storage, encode(storage, randomValues(n, next))));
      const fresh = decode(act, encode(act, randomValues(n, next, 4)));
      const divisors = Array.from({ length: newCount - 1 }, () => 0.5 + next());
      const stats = new Float32Array(6).fill(-1);
      addon.update(storage, act, [{ factors: stored(storage, old), fresh: encode(act, fresh), oldCount, newCount, divisors, stats }]);
      // The oracle in f32 storage gives the values before rounding.
      const exact = oracleUpdate(fresh, old, newCount, divisors, 'f32');
      for (let i = 0; i < newCount; i++) {
        const want = exact[i].reduce((a, v) => a + v * v, 0);
        expect(Math.abs(stats[i] - want) / want, `${storage}/${act} n=${n} factor ${i}`).toBeLessThan(1e-5);
      }
      expect(stats[newCount]).toBe(-1); // only newCount values are written
    }
  });

  it('overwrites stale values and leaves stats untouched when the call is rejected', () => {
    const stats = Float32Array.from([7, 7, 7]);
    const factors = new Float32Array(8);
    expect(() => addon.update('f32', 'f32', [{ factors, fresh: new Float32Array(3), oldCount: 0, newCount: 1, stats }])).toThrow(
      expect.objectContaining({ code: 'ERR_LENGTH' }),
    );
    expect([...stats]).toEqual([7, 7, 7]);
    addon.update('f32', 'f32', [{ factors, fresh: Float32Array.from([1, 2, 2, 0]), oldCount: 0, newCount: 1, stats }]);
    expect([...stats]).toEqual([9, 7, 7]);
  });

  it('rejects stats that are not a Float32Array, too short, or overlap the factors or another entry', () => {
    const f = () => new Float32Array(8);
    const x = () => new Float32Array(4);
    const bad: Array<[string, unknown[]]> = [
      ['ERR_INVALID_ARGUMENT', [{ factors: f(), fresh: x(), oldCount: 0, newCount: 1, stats: [0] }]],
      ['ERR_LENGTH', [{ factors: f(), fresh: x(), oldCount: 1, newCount: 2, divisors: [1], stats: new Float32Array(1) }]],
    ];
    const shared = new Float32Array(12);
    bad.push(['ERR_INVALID_ARGUMENT', [{ factors: shared.subarray(0, 8), fresh: x(), oldCount: 0, newCount: 1, stats: shared.subarray(4, 6) }]]);
    const s = new Float32Array(4);
    bad.push(['ERR_INVALID_ARGUMENT', [
      { factors: f(), fresh: x(), oldCount: 1, newCount: 2, divisors: [1], stats: s.subarray(0, 2) },
      { factors: f(), fresh: x(), oldCount: 0, newCount: 1, stats: s.subarray(1, 2) },
    ]]);
    for (const [code, entries] of bad) {
      expect(() => addon.update('f32', 'f32', entries as never)).toThrow(expect.objectContaining({ code }));
    }
  });

  it('gives the same norms from the Promise form', async () => {
    const fresh = randomValues(50_000, rng(3));
    const a = new Float32Array(2), b = new Float32Array(2);
    const old = Float32Array.from(randomValues(50_000, rng(4)));
    addon.update('f32', 'f32', [{ factors: Float32Array.from([...old, ...old]), fresh: Float32Array.from(fresh), oldCount: 1, newCount: 2, divisors: [0.5], stats: a }]);
    await addon.updateAsync('f32', 'f32', [{ factors: Float32Array.from([...old, ...old]), fresh: Float32Array.from(fresh), oldCount: 1, newCount: 2, divisors: [0.5], stats: b }]);
    expect(b).toEqual(a);
  });
});

describe('findNonFinite', () => {
  it.each(dtypes)('returns the index of the first NaN or Infinity, or -1 (%s)', (dtype) => {
    for (const n of [1, 9, 2048, 100_003, 1 << 20]) {
      const values = randomValues(n, rng(n));
      expect(addon.findNonFinite(dtype, encode(dtype, values))).toBe(-1);
      for (const special of [NaN, Infinity, -Infinity]) {
        const at = Math.floor(n * 0.7);
        const v = Float64Array.from(values);
        v[at] = special;
        if (at + 5 < n) v[n - 1] = NaN; // a later one must not win
        expect(addon.findNonFinite(dtype, encode(dtype, v)), `${dtype} n=${n} ${special}`).toBe(at);
      }
    }
  });

  it('rejects a tensor of the wrong array type with a typed error', () => {
    expect(() => addon.findNonFinite('f16', new Float32Array(4) as never)).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => addon.findNonFinite('f32', 3 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('forecast chain (several gated forecasts into one residual stream, one pass)', () => {
  function chainCase(storage: Dtype, act: Dtype, batch: number, tokens: number, dim: number, counts: number[], seed: number) {
    const next = rng(seed);
    const n = batch * tokens * dim;
    const terms = counts.map((count) => ({
      factors: encode(storage, randomValues(count * n, next)),
      gate: encode(act, randomValues(batch * dim, next)),
      count,
      coeffs: Array.from({ length: count }, () => next() * 2 - 1),
    }));
    const h0 = encode(act, randomValues(n, next, 3));
    return { n, terms, h0 };
  }

  it.each(combos)('equals the entries applied one call at a time (%s storage, %s activations)', (storage, act) => {
    for (const [batch, tokens, dim, counts] of [[1, 1, 1, [1]], [2, 3, 17, [1, 3, 2]], [2, 256, 256, [3, 3, 3, 3, 3, 3]], [1, 40, 3000, [5, 1]]] as const) {
      const { n, terms, h0 } = chainCase(storage, act, batch, tokens, dim, [...counts], batch * 7 + dim);
      const seq = h0.slice();
      for (const t of terms) addon.forecast(storage, act, [{ ...t, out: seq, residual: seq, tokens, dim, n }]);
      const chained = h0.slice();
      addon.forecast(storage, act, terms.map((t) => ({ ...t, out: chained, residual: chained, tokens, dim, n })), { chain: true });
      if (act === 'f32') {
        // f32: the same operations in the same order per element, so the same bits
        expect(firstMismatch(chained, seq)).toBe(-1);
      } else {
        // 16-bit activations: the chain rounds h once at the end instead of after every entry
        const a = decode(act, chained), b = decode(act, seq);
        for (let j = 0; j < n; j += 97) expect(Math.abs(a[j] - b[j])).toBeLessThanOrEqual(counts.length * 4 * eps(act) * (1 + Math.abs(b[j])));
      }
    }
  });

  it('accepts a separate residual, and the Promise form gives the same bits', async () => {
    const { n, terms, h0 } = chainCase('f32', 'f32', 2, 8, 64, [2, 3], 5);
    const out1 = new Float32Array(n), out2 = new Float32Array(n);
    const table = (out: Float32Array) => terms.map((t) => ({ ...t, out, residual: h0, tokens: 8, dim: 64, n }));
    addon.forecast('f32', 'f32', table(out1), { chain: true });
    await addon.forecastAsync('f32', 'f32', table(out2), { chain: true });
    expect(out2).toEqual(out1);
    expect(out1).not.toEqual(h0);
  });

  it('rejects chains whose entries are not gated or do not share out, residual and shape, writing nothing', () => {
    const { n, terms, h0 } = chainCase('f32', 'f32', 1, 4, 8, [1, 1], 9);
    const h = h0.slice();
    const other = new Float32Array(n);
    const bad = [
      [{ ...terms[0], out: h, residual: h, tokens: 4, dim: 8 }, { factors: terms[1].factors, count: 1, coeffs: [1], out: h }],
      [{ ...terms[0], out: h, residual: h, tokens: 4, dim: 8 }, { ...terms[1], out: other, residual: other, tokens: 4, dim: 8 }],
      [{ ...terms[0], out: h, residual: h, tokens: 4, dim: 8 }, { ...terms[1], out: h, residual: h, tokens: 2, dim: 16, gate: new Float32Array(16) }],
    ];
    for (const entries of bad) {
      expect(() => addon.forecast('f32', 'f32', entries as never, { chain: true })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(h).toEqual(h0);
    }
    expect(() => addon.forecast('f32', 'f32', [{ ...terms[0], out: h, residual: h, tokens: 4, dim: 8 }], { chain: 'yes' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
