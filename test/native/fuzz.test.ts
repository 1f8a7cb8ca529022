/**
 * Fuzzing the native boundary: random, mostly wrong arguments to every kernel entry point. Each call
 * either succeeds or throws a TaylorSeerError with a known code; a rejected call leaves every buffer it
 * was handed unchanged; nothing crashes the process.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaylorSeerError, type TaylorSeerErrorCode } from '../../lib/errors';
import { factorUnits, native, type StorageDtype } from '../../lib/native';

const addon = native();
const codes: TaylorSeerErrorCode[] = ['ERR_INVALID_ARGUMENT', 'ERR_DTYPE', 'ERR_LENGTH', 'ERR_SHAPE', 'ERR_NON_FINITE', 'ERR_DEVICE'];

const weird = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 0.5, 2 ** 53, -(2 ** 60), 1e300),
  fc.integer({ min: -3, max: 12 }),
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
  fc.bigInt({ min: -5n, max: 5n }),
);

// Small typed arrays of the kinds the kernels accept and of kinds they must reject, some detached,
// some views at odd offsets into a shared buffer.
const arrays = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((n) => new Float32Array(n).map((_, i) => i * 0.25 - 3)),
  fc.integer({ min: 0, max: 40 }).map((n) => new Uint16Array(n).map((_, i) => 0x3c00 + i)),
  fc.integer({ min: 0, max: 40 }).map((n) => new Float64Array(n)),
  fc.integer({ min: 0, max: 40 }).map((n) => new Int32Array(n)),
  fc.integer({ min: 1, max: 40 }).map((n) => {
    const a = new Float32Array(n);
    structuredClone(a.buffer, { transfer: [a.buffer] }); // detached
    return a;
  }),
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 24 })).map(([o, n]) => new Float32Array(new SharedArrayBuffer(160), o * 4, n)),
);

const value = fc.oneof({ weight: 3, arbitrary: arrays }, { weight: 1, arbitrary: weird });
const numberList = fc.oneof(fc.array(fc.oneof(fc.double(), weird), { maxLength: 6 }), weird);

const updateEntry = fc.record(
  { factors: value, fresh: value, oldCount: fc.oneof(fc.integer({ min: -1, max: 6 }), weird), newCount: fc.oneof(fc.integer({ min: -1, max: 6 }), weird), divisors: numberList, n: fc.oneof(fc.integer({ min: 0, max: 20 }), weird) },
  { requiredKeys: ['factors', 'fresh', 'oldCount', 'newCount'] },
);
const forecastEntry = fc.record(
  { factors: value, out: value, count: fc.oneof(fc.integer({ min: -1, max: 6 }), weird), coeffs: numberList, residual: value, gate: value, tokens: fc.oneof(fc.integer({ min: 0, max: 8 }), weird), dim: fc.oneof(fc.integer({ min: 0, max: 8 }), weird), n: fc.oneof(fc.integer({ min: 0, max: 20 }), weird) },
  { requiredKeys: ['factors', 'out', 'count', 'coeffs'] },
);
const dtype = fc.oneof(fc.constantFrom('f32', 'f16', 'bf16', 'i8'), weird);
const dtypeName = fc.constantFrom('f32', 'f16', 'bf16');
const storageName = fc.constantFrom('f32', 'f16', 'bf16', 'i8');

function tensor(d: string, n: number): Float32Array | Uint16Array {
  return d === 'f32' ? new Float32Array(n).map((_, i) => i * 0.5 - 1) : new Uint16Array(n).map((_, i) => 0x3c00 + (i % 64));
}

/** `cap` factors of n elements in storage s ('i8': its bytes, records of 64 with a scale each). */
function factorsOf(s: string, n: number, cap: number): Float32Array | Uint16Array | Uint8Array {
  return s === 'i8' ? new Uint8Array(factorUnits('i8', n, cap)).map((_, i) => (i * 37) & 0x7f) : tensor(s, cap * n);
}

// A well-formed call, then at most one field replaced by an arbitrary value: most rejections then come
// from deep checks (lengths, counts, aliasing) rather than the first argument.
const nearlyValidUpdate = fc
  .record({ s: storageName, a: dtypeName, n: fc.integer({ min: 1, max: 40 }), cap: fc.integer({ min: 1, max: 5 }), old: fc.nat(5), grow: fc.nat(5), divisors: fc.array(fc.double({ min: 0.1, max: 4, noNaN: true }), { minLength: 4, maxLength: 4 }), field: fc.constantFrom('none', 'none', 'factors', 'fresh', 'oldCount', 'newCount', 'divisors', 'n'), replacement: value })
  .map(({ s, a, n, cap, old, grow, divisors, field, replacement }) => {
    const oldCount = Math.min(old, cap);
    const entry: Record<string, unknown> = { factors: factorsOf(s, n, cap), fresh: tensor(a, n), oldCount, newCount: Math.max(1, Math.min(grow, oldCount + 1, cap)), divisors };
    if (field !== 'none') entry[field] = replacement;
    return { s, a, entries: [entry] };
  });

const nearlyValidForecast = fc
  .record({ s: storageName, a: dtypeName, rows: fc.integer({ min: 1, max: 6 }), dim: fc.integer({ min: 1, max: 6 }), cap: fc.integer({ min: 1, max: 5 }), count: fc.nat(5), gated: fc.boolean(), coeffs: fc.array(fc.double({ min: -4, max: 4, noNaN: true }), { minLength: 5, maxLength: 5 }), field: fc.constantFrom('none', 'none', 'factors', 'out', 'count', 'coeffs', 'gate', 'residual', 'tokens', 'dim'), replacement: value })
  .map(({ s, a, rows, dim, cap, count, gated, coeffs, field, replacement }) => {
    const n = rows * dim;
    const entry: Record<string, unknown> = { factors: factorsOf(s, n, cap), out: tensor(a, n), count: Math.max(1, Math.min(count, cap)), coeffs };
    if (gated) Object.assign(entry, { gate: tensor(a, dim), residual: tensor(a, n), tokens: rows, dim });
    if (field !== 'none') entry[field] = replacement;
    return { s, a, entries: [entry] };
  });

function snapshot(entries: unknown): unknown[] {
  const out: unknown[] = [];
  if (!Array.isArray(entries)) return out;
  for (const e of entries)
    if (e && typeof e === 'object')
      for (const v of Object.values(e)) if (ArrayBuffer.isView(v) && v.byteLength > 0) out.push(Array.from(v as unknown as ArrayLike<number>));
  return out;
}

const outcomes = { ok: 0, rejected: new Map<string, number>() };

function check(call: () => void, entries: unknown) {
  const before = snapshot(entries);
  try {
    call();
    outcomes.ok++;
  } catch (e) {
    if (!(e instanceof TaylorSeerError)) throw new Error(`not a TaylorSeerError: ${String(e)}`);
    expect(codes).toContain(e.code);
    outcomes.rejected.set(e.code, (outcomes.rejected.get(e.code) ?? 0) + 1);
    expect(snapshot(entries)).toEqual(before);
  }
}

describe('native boundary fuzzing', () => {
  it('update: 5000 random calls give success or a typed error, never a crash or a partial write', () => {
    fc.assert(
      fc.property(dtype, dtype, fc.oneof(fc.array(updateEntry, { minLength: 0, maxLength: 3 }), weird), (s, a, entries) =>
        check(() => addon.update(s as never, a as never, entries as never), entries),
      ),
      { numRuns: 5000 },
    );
  });

  it('forecast: 5000 random calls give success or a typed error, never a crash or a partial write', () => {
    fc.assert(
      fc.property(dtype, dtype, fc.oneof(fc.array(forecastEntry, { minLength: 0, maxLength: 3 }), weird), (s, a, entries) =>
        check(() => addon.forecast(s as never, a as never, entries as never), entries),
      ),
      { numRuns: 5000 },
    );
  });

  it('nearly valid calls: 4000 with at most one bad field', () => {
    fc.assert(fc.property(nearlyValidUpdate, ({ s, a, entries }) => check(() => addon.update(s, a, entries as never), entries)), { numRuns: 2000 });
    fc.assert(fc.property(nearlyValidForecast, ({ s, a, entries }) => check(() => addon.forecast(s, a, entries as never), entries)), { numRuns: 2000 });
  });

  it('the generators reach both accepted calls and most rejection codes', () => {
    // guards the fuzzer itself: a generator that only produced garbage would test one early check
    expect(outcomes.ok).toBeGreaterThan(500);
    for (const code of ['ERR_INVALID_ARGUMENT', 'ERR_DTYPE', 'ERR_LENGTH', 'ERR_SHAPE', 'ERR_NON_FINITE']) expect(outcomes.rejected.get(code) ?? 0).toBeGreaterThan(0);
  });

  it('conversions: 2000 random calls', () => {
    fc.assert(
      fc.property(value, dtype, value, (src, d, dst) => check(() => addon.toHalf(src as never, d as never, dst as never), [{ dst }])),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(value, dtype, value, (src, d, dst) => check(() => addon.fromHalf(src as never, d as never, dst as never), [{ dst }])),
      { numRuns: 1000 },
    );
  });

  // The async forms copy what a call reads and writes into staging buffers and back: the staged spans must
  // be exactly the kernel's, in the storage's units (bytes for 'i8'), or the kernel runs past them.
  it('async calls write exactly the bytes the synchronous calls write, every storage (300 random tables)', async () => {
    const storages: StorageDtype[] = ['f32', 'f16', 'bf16', 'i8'];
    const valid = fc.record({
      s: fc.constantFrom(...storages),
      a: dtypeName,
      rows: fc.integer({ min: 1, max: 40 }),
      dim: fc.constantFrom(1, 3, 64, 100),
      cap: fc.integer({ min: 1, max: 5 }),
      steps: fc.integer({ min: 1, max: 6 }),
      gated: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(valid, async ({ s, a, rows, dim, cap, steps, gated }) => {
        const n = rows * dim;
        const sync = factorsOf(s, n, cap);
        const staged = factorsOf(s, n, cap);
        for (let k = 0; k < steps; k++) {
          const fresh = a === 'f32' ? Float32Array.from({ length: n }, (_, i) => Math.sin(i + k) * (k + 1)) : tensor(a, n).map((v, i) => v + ((i * k) % 7));
          const entry = { fresh, oldCount: Math.min(k, cap), newCount: Math.min(k + 1, cap), divisors: [1, 2, 0.5, 3] };
          addon.update(s, a, [{ ...entry, factors: sync }]);
          await addon.updateAsync(s, a, [{ ...entry, factors: staged }]);
          expect(new Uint8Array(staged.buffer)).toEqual(new Uint8Array(sync.buffer));
        }
        const count = Math.min(steps, cap);
        const coeffs = [1, 0.5, 0.25, 0.125, 0.0625];
        const [o1, o2] = [tensor(a, n), tensor(a, n)];
        const gate = gated ? { gate: tensor(a, dim), tokens: rows, dim } : {};
        addon.forecast(s, a, [{ factors: sync, out: o1, count, coeffs, ...(gated ? { ...gate, residual: o1 } : {}) }]);
        await addon.forecastAsync(s, a, [{ factors: staged, out: o2, count, coeffs, ...(gated ? { ...gate, residual: o2 } : {}) }]);
        expect(new Uint8Array(o2.buffer)).toEqual(new Uint8Array(o1.buffer));
      }),
      { numRuns: 300 },
    );
  });
});
