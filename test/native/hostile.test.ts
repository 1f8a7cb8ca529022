/**
 * Arguments that change while the addon reads them: getters (on entry fields, divisors/coeffs, options.chain)
 * that transfer or shrink the arrays of the same call, views on resizable buffers, and arrays transferred
 * while an async call runs. The addon reads every property before it takes any data pointer, refuses views
 * on resizable ArrayBuffers, and runs async calls on private copies of ArrayBuffer memory, so none of these
 * can make a kernel touch memory the call no longer owns. Every failure is a TaylorSeerError.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaylorSeerError } from '../../lib/errors';
import { native } from '../../lib/native';
import { codeOf, typedCodeOf } from '../helpers/code-of';
import { GrowableSharedArrayBuffer, ResizableArrayBuffer } from '../helpers/resizable';

const addon = native();

/** Moves `a`'s memory to a new ArrayBuffer (a's view becomes empty) and returns that buffer. */
function transfer(a: Float32Array): ArrayBuffer {
  const buffer = a.buffer as ArrayBuffer;
  return structuredClone(buffer, { transfer: [buffer] });
}


function resizable(n: number): Float32Array {
  return new Float32Array(new ResizableArrayBuffer(n * 4, { maxByteLength: n * 4 }));
}

describe('getters run before any data pointer is taken', () => {
  it('a getter that transfers factors away makes the update ERR_LENGTH and leaves the moved memory untouched', () => {
    const n = 1 << 16;
    const factors = new Float32Array(2 * n);
    let moved: ArrayBuffer | undefined;
    const entry = {
      factors,
      fresh: new Float32Array(n).fill(1.5),
      newCount: 1,
      get oldCount() {
        moved = transfer(factors);
        return 0;
      },
    };
    expect(codeOf(() => addon.update('f32', 'f32', [entry]))).toBe('ERR_LENGTH');
    expect(new Float32Array(moved!).every((v) => v === 0)).toBe(true);
  });

  it('an options.chain getter that transfers out away makes the forecast ERR_LENGTH', () => {
    const n = 1024;
    const out = new Float32Array(n).fill(3);
    let moved: ArrayBuffer | undefined;
    const options = {
      get chain() {
        moved = transfer(out);
        return false;
      },
    };
    expect(codeOf(() => addon.forecast('f32', 'f32', [{ factors: new Float32Array(n).fill(1), out, count: 1, coeffs: [2] }], options))).toBe('ERR_LENGTH');
    expect(new Float32Array(moved!).every((v) => v === 3)).toBe(true);
  });

  it('getters on coeffs elements and on a typed length run before pointers too', () => {
    const n = 64;
    const out = new Float32Array(n);
    const coeffs = [1];
    Object.defineProperty(coeffs, 0, { get: () => (transfer(out), 1) });
    expect(codeOf(() => addon.forecast('f32', 'f32', [{ factors: new Float32Array(n), out, count: 1, coeffs }]))).toBe('ERR_LENGTH');
    const factors = new Float32Array(3 * n);
    const divisors = new Float64Array([1]);
    Object.defineProperty(divisors, 'length', { get: () => (transfer(factors), 1) });
    expect(codeOf(() => addon.update('f32', 'f32', [{ factors, fresh: new Float32Array(n), oldCount: 1, newCount: 2, divisors }]))).toBe('ERR_LENGTH');
  });

  it('a divisors or coeffs length that is not an integer in [0, 2^32) is ERR_INVALID_ARGUMENT, not a TypeError', () => {
    const n = 8;
    for (const length of ['x', null, -1, 2 ** 32 + 1, 0.5]) {
      const d = new Float64Array([1]);
      Object.defineProperty(d, 'length', { value: length });
      const update = () => addon.update('f32', 'f32', [{ factors: new Float32Array(3 * n), fresh: new Float32Array(n), oldCount: 1, newCount: 2, divisors: d }]);
      const forecast = () => addon.forecast('f32', 'f32', [{ factors: new Float32Array(n), out: new Float32Array(n), count: 1, coeffs: d }]);
      for (const call of [update, forecast]) {
        expect(call).toThrow(TaylorSeerError);
        expect(codeOf(call)).toBe('ERR_INVALID_ARGUMENT');
      }
    }
  });
});

describe('resizable and growable buffers', () => {
  it('views on resizable ArrayBuffers are refused, sync and async, even when a getter shrinks them', async () => {
    const n = 1 << 16;
    const out = resizable(n);
    const rab = out.buffer as InstanceType<typeof ResizableArrayBuffer>;
    const entry = { factors: new Float32Array(n).fill(1), out, count: 1, coeffs: [2] };
    expect(codeOf(() => addon.forecast('f32', 'f32', [entry], { get chain() { rab.resize(0); return false; } }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => addon.forecast('f32', 'f32', [{ ...entry, out: resizable(n) }]))).toBe('ERR_INVALID_ARGUMENT');
    const fixedView = new Float32Array(new ResizableArrayBuffer(n * 4, { maxByteLength: n * 8 }), 0, n);
    expect(codeOf(() => addon.update('f32', 'f32', [{ factors: fixedView, fresh: new Float32Array(n), oldCount: 0, newCount: 1 }]))).toBe('ERR_INVALID_ARGUMENT');
    const p = addon.forecastAsync('f32', 'f32', [{ factors: new Float32Array(n).fill(1), out: resizable(n), count: 1, coeffs: [2] }]);
    expect(await typedCodeOf(() => p)).toBe('ERR_INVALID_ARGUMENT');
  });

  it('views on growable SharedArrayBuffers are accepted: such memory never shrinks', async () => {
    const n = 256;
    const out = new Float32Array(new GrowableSharedArrayBuffer(n * 4, { maxByteLength: n * 8 }), 0, n);
    addon.forecast('f32', 'f32', [{ factors: new Float32Array(n).fill(1), out, count: 1, coeffs: [2] }]);
    expect(out.every((v) => v === 2)).toBe(true);
    await addon.forecastAsync('f32', 'f32', [{ factors: new Float32Array(n).fill(1), out, count: 1, coeffs: [3] }]);
    expect(out.every((v) => v === 3)).toBe(true);
  });
});

describe('async calls whose arrays change while they run', () => {
  it('out transferred while forecastAsync runs: the call rejects and the moved memory is never written', async () => {
    const n = 1 << 20;
    const out = new Float32Array(n).fill(7);
    const p = addon.forecastAsync('f32', 'f32', [{ factors: new Float32Array(3 * n).fill(1), out, count: 3, coeffs: [1, 2, 3] }]);
    const moved = new Float32Array(transfer(out));
    expect(await typedCodeOf(() => p)).toBe('ERR_INVALID_ARGUMENT');
    expect(moved.every((v) => v === 7)).toBe(true);
  });

  it('factors transferred while updateAsync runs: the call rejects and nothing is written', async () => {
    const n = 1 << 18;
    const factors = new Float32Array(2 * n).fill(5);
    const p = addon.updateAsync('f32', 'f32', [{ factors, fresh: new Float32Array(n).fill(1), oldCount: 1, newCount: 2, divisors: [1] }]);
    const moved = new Float32Array(transfer(factors));
    expect(await typedCodeOf(() => p)).toBe('ERR_INVALID_ARGUMENT');
    expect(moved.every((v) => v === 5)).toBe(true);
  });

  it('an untouched async call gives the bytes of the synchronous one, for ArrayBuffer and SharedArrayBuffer arrays', async () => {
    const n = 4099;
    const make = (shared: boolean, len: number) => new Float32Array(shared ? new SharedArrayBuffer(len * 4) : new ArrayBuffer(len * 4));
    const results = [];
    for (const mode of ['sync', 'async', 'async-shared'] as const) {
      const factors = make(mode === 'async-shared', 3 * n);
      const fresh = make(mode === 'async-shared', n);
      const out = make(mode === 'async-shared', n);
      const stats = new Float32Array(3);
      for (let s = 0; s < 3; s++) {
        fresh.forEach((_, i) => (fresh[i] = Math.sin(i * 0.01 + s)));
        const up = [{ factors, fresh, oldCount: s, newCount: s + 1, divisors: [0.5, 2].slice(0, s), stats }];
        if (mode === 'sync') addon.update('f32', 'f32', up);
        else await addon.updateAsync('f32', 'f32', up);
      }
      const fc = [{ factors, out, count: 3, coeffs: [1, 0.5, 0.25] }];
      if (mode === 'sync') addon.forecast('f32', 'f32', fc);
      else await addon.forecastAsync('f32', 'f32', fc);
      results.push([Array.from(out), Array.from(stats)]);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });
});

describe('setErrorClass', () => {
  it('refuses a class that does not build an Error with the given code, and keeps the one it had', () => {
    const hostile = [() => ({}), function Boom() { throw new Error('ctor throws'); }, function Odd() { return { odd: true }; }];
    for (const ctor of hostile) {
      expect(codeOf(() => addon.setErrorClass(ctor as never))).toBe('ERR_INVALID_ARGUMENT');
      expect(() => addon.update('f99' as never, 'f32', [])).toThrow(TaylorSeerError);
    }
  });
});

describe('hostile probe', () => {
  // A larger run: `node --expose-gc test/helpers/hostile-probe.cjs 20000`.
  it('1500 calls with destructive getters, resizable buffers and arrays moved during async calls: no crash, only typed errors', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', path.resolve(__dirname, '../helpers/hostile-probe.cjs'), '1500', '7'], {
      encoding: 'utf8',
      timeout: 110_000,
      maxBuffer: 16 << 20,
    });
    expect({ status: r.status, signal: r.signal, stderr: r.status === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ status: 0, signal: null, stderr: '' });
    const json = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(json.untyped).toEqual([]);
    expect(json.calls).toBe(1500);
    // guards the probe itself: it must reach accepted calls and the checks it aims at
    expect(json.ok).toBeGreaterThan(100);
    expect(json.codes.ERR_LENGTH).toBeGreaterThan(0);
    expect(json.codes.ERR_INVALID_ARGUMENT).toBeGreaterThan(0);
  });
});
