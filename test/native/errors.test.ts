/**
 * The native boundary rejects bad input with a typed error (stable code, message naming the argument)
 * and leaves every buffer it was given unchanged: validation covers the whole table before any kernel runs.
 */
import { describe, expect, it } from 'vitest';
import { TaylorSeerError } from '../../lib/errors';
import { native } from '../../lib/native';

const addon = native();
const n = 64;

function setup() {
  const factors = Float32Array.from({ length: 3 * n }, (_, i) => Math.sin(i));
  const fresh = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
  const out = new Float32Array(n).fill(7);
  const snapshot = () => [factors.slice(), fresh.slice(), out.slice()];
  return { factors, fresh, out, snapshot };
}

function expectRejected(code: string, call: (s: ReturnType<typeof setup>) => void, message?: RegExp) {
  const s = setup();
  const before = s.snapshot();
  let error: unknown;
  try {
    call(s);
  } catch (e) {
    error = e;
  }
  expect(error, 'the call must throw').toBeInstanceOf(TaylorSeerError);
  expect((error as TaylorSeerError).code).toBe(code);
  if (message) expect((error as Error).message).toMatch(message);
  expect(s.snapshot()).toEqual(before);
}

describe('update rejects', () => {
  const ok = (s: ReturnType<typeof setup>) => ({ factors: s.factors, fresh: s.fresh, oldCount: 2, newCount: 3, divisors: [1, 2] });
  it.each([
    ['an unknown storage dtype', 'ERR_DTYPE', (s) => addon.update('f64' as never, 'f32', [ok(s)])],
    ['a fresh array of the wrong type', 'ERR_DTYPE', (s) => addon.update('f32', 'f32', [{ ...ok(s), fresh: new Uint16Array(n) }])],
    ['16-bit storage in a Float32Array', 'ERR_DTYPE', (s) => addon.update('bf16', 'f32', [ok(s)])],
    ['a plain array as factors', 'ERR_INVALID_ARGUMENT', (s) => addon.update('f32', 'f32', [{ ...ok(s), factors: [1, 2, 3] as never }])],
    ['entries that are not an array', 'ERR_INVALID_ARGUMENT', () => addon.update('f32', 'f32', {} as never)],
    ['an empty table', 'ERR_INVALID_ARGUMENT', () => addon.update('f32', 'f32', [])],
    ['factors that are not whole factors of n', 'ERR_LENGTH', (s) => addon.update('f32', 'f32', [{ ...ok(s), factors: s.factors.subarray(1) }])],
    ['a newCount past oldCount + 1', 'ERR_INVALID_ARGUMENT', (s) => addon.update('f32', 'f32', [{ ...ok(s), oldCount: 0 }])],
    ['an oldCount past the capacity', 'ERR_INVALID_ARGUMENT', (s) => addon.update('f32', 'f32', [{ ...ok(s), oldCount: 4 }])],
    ['a fractional count', 'ERR_INVALID_ARGUMENT', (s) => addon.update('f32', 'f32', [{ ...ok(s), newCount: 1.5 }])],
    ['too few divisors', 'ERR_LENGTH', (s) => addon.update('f32', 'f32', [{ ...ok(s), divisors: [1] }])],
    ['a NaN divisor', 'ERR_NON_FINITE', (s) => addon.update('f32', 'f32', [{ ...ok(s), divisors: [1, NaN] }])],
    ['a zero divisor', 'ERR_NON_FINITE', (s) => addon.update('f32', 'f32', [{ ...ok(s), divisors: [0, 1] }])],
    ['a divisor that overflows float32', 'ERR_NON_FINITE', (s) => addon.update('f32', 'f32', [{ ...ok(s), divisors: [1e300, 1] }])],
    ['fresh aliasing the factors', 'ERR_INVALID_ARGUMENT', (s) => addon.update('f32', 'f32', [{ ...ok(s), fresh: s.factors.subarray(n, 2 * n) }])],
    ['a detached fresh buffer', 'ERR_LENGTH', (s) => {
      const fresh = new Float32Array(n);
      structuredClone(fresh.buffer, { transfer: [fresh.buffer] });
      addon.update('f32', 'f32', [{ ...ok(s), fresh }]);
    }],
    ['a bad second entry (the first is not applied either)', 'ERR_LENGTH', (s) =>
      addon.update('f32', 'f32', [ok(s), { ...ok(s), fresh: new Float32Array(n + 1) }])],
  ] as Array<[string, string, (s: ReturnType<typeof setup>) => void]>)('%s with %s', (_what, code, call) => expectRejected(code, call));

  it('names the entry and field in the message', () =>
    expectRejected('ERR_LENGTH', (s) => addon.update('f32', 'f32', [{ ...ok(s), divisors: [] }]), /entries\[0\]\.divisors/));
});

describe('forecast rejects', () => {
  const ok = (s: ReturnType<typeof setup>) => ({ factors: s.factors, out: s.out, count: 3, coeffs: [1, 2, 0.5] });
  const gate = new Float32Array(8);
  it.each([
    ['a count past the capacity', 'ERR_INVALID_ARGUMENT', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), count: 4, coeffs: [1, 1, 1, 1] }])],
    ['too few coefficients', 'ERR_LENGTH', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), coeffs: [1] }])],
    ['an infinite coefficient', 'ERR_NON_FINITE', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), coeffs: [1, Infinity, 0] }])],
    ['out of the wrong length', 'ERR_LENGTH', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), out: new Float32Array(n - 1), n }])],
    ['out aliasing the factors', 'ERR_INVALID_ARGUMENT', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), out: s.factors.subarray(0, n) }])],
    ['a gate of the wrong shape', 'ERR_SHAPE', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), gate: new Float32Array(5), tokens: 8, dim: 8 }])],
    ['tokens * dim not dividing n', 'ERR_SHAPE', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), gate, tokens: 3, dim: 8 }])],
    ['a gate without tokens', 'ERR_INVALID_ARGUMENT', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), gate }])],
    ['a residual without a gate', 'ERR_INVALID_ARGUMENT', (s) => addon.forecast('f32', 'f32', [{ ...ok(s), residual: new Float32Array(n) }])],
    ['a residual partly overlapping out', 'ERR_INVALID_ARGUMENT', (s) => {
      const h = new Float32Array(2 * n);
      addon.forecast('f32', 'f32', [{ ...ok(s), out: h.subarray(0, n), residual: h.subarray(1, n + 1), gate, tokens: 8, dim: 8 }]);
    }],
  ] as Array<[string, string, (s: ReturnType<typeof setup>) => void]>)('%s with %s', (_what, code, call) => expectRejected(code, call));
});

describe('conversion rejects', () => {
  it('f32 as a 16-bit target, mismatched lengths and shared memory', () => {
    const src = new Float32Array(4);
    expect(() => addon.toHalf(src, 'f32' as never, new Uint16Array(4))).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => addon.toHalf(src, 'f16', new Uint16Array(3))).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    const shared = new ArrayBuffer(32);
    expect(() => addon.toHalf(new Float32Array(shared, 0, 4), 'bf16', new Uint16Array(shared, 8, 4))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});

describe('without a usable CUDA device', () => {
  it.runIf(!addon.cudaInfo().usable)('device allocation fails with ERR_DEVICE and says why', () => {
    expect(() => addon.cuda.alloc('f32', 16)).toThrow(expect.objectContaining({ code: 'ERR_DEVICE' }));
  });
});

describe('the CUDA benchmark (cuda.bench)', () => {
  const bench = () => (addon.cuda as unknown as { bench(): Promise<string> }).bench();
  it.runIf(!addon.build.cuda)('is ERR_DEVICE in a build without CUDA', async () => {
    await expect(bench()).rejects.toMatchObject({ code: 'ERR_DEVICE', message: expect.stringMatching(/no CUDA support/) });
  });
  it.runIf(addon.build.cuda && !addon.cudaInfo().usable)(
    'is ERR_DEVICE without a usable device, or names the build command where the benchmark kernels are left out',
    async () => {
      await expect(bench()).rejects.toMatchObject({
        code: 'ERR_DEVICE',
        message: expect.stringMatching(/not usable|TAYLORSEER_BENCH=1 npm run build:native/),
      });
    },
  );
});

