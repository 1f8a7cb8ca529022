// Hostile probe of the native kernel calls: tables whose getters (on entry fields, on divisors/coeffs and
// their elements, on options.chain) transfer or shrink the arrays of the same call, arrays on resizable
// ArrayBuffers and growable SharedArrayBuffers, and async calls whose arrays are transferred or shrunk
// while they run. Every call must succeed or fail with a TaylorSeerError of a known code; a crash ends
// the process (the caller sees the signal).
//   node --expose-gc test/helpers/hostile-probe.cjs [calls = 20000] [seed = 1]
// Prints one JSON line: { calls, ok, codes: { CODE: count }, untyped: [first few messages] }.
'use strict';
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
require('tsx/cjs/api').register();
const { factorUnits, native } = require('../../lib/native.ts');
const { TaylorSeerError } = require('../../lib/errors.ts');

const calls = Number(process.argv[2] ?? 20000);
let seed = Number(process.argv[3] ?? 1) >>> 0;
const addon = native();
const KNOWN = new Set(['ERR_INVALID_ARGUMENT', 'ERR_DTYPE', 'ERR_LENGTH', 'ERR_SHAPE', 'ERR_NON_FINITE', 'ERR_DEVICE']);

function rand() {
  // mulberry32: the same seed gives the same calls
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const chance = (p) => rand() < p;

// Most arrays are small (fast); some are large enough to live in their own mapping, which is unmapped
// when freed, so a write through a stale pointer faults at once.
const size = () => pick([4, 8, 8, 64, 64, 4096, 1 << 16]);

// An array of `n` elements of `Ctor` on a buffer of a random kind; `pool` collects what can be destroyed.
function makeArray(Ctor, n, pool) {
  const bytes = n * Ctor.BYTES_PER_ELEMENT;
  const kind = pick(['plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'plain', 'sab', 'gsab', 'rab', 'rab-fixed']);
  let buffer;
  if (kind === 'plain') buffer = new ArrayBuffer(bytes);
  else if (kind === 'sab') buffer = new SharedArrayBuffer(bytes);
  else if (kind === 'gsab') buffer = new SharedArrayBuffer(bytes, { maxByteLength: 2 * bytes });
  else buffer = new ArrayBuffer(bytes, { maxByteLength: 2 * bytes });
  const a = kind === 'rab-fixed' ? new Ctor(buffer, 0, n) : new Ctor(buffer);
  if (Ctor === Float32Array) a.fill(0.5);
  else if (Ctor === Uint8Array) a.fill(1);
  else a.fill(0x3c00);
  pool.push(a);
  return a;
}

// Something a getter can do to an array of the call.
function destroy(pool) {
  const victim = pick(pool);
  if (!victim) return;
  const buffer = victim.buffer;
  try {
    if (buffer.resizable) buffer.resize(pick([0, 4, Math.floor(buffer.byteLength / 2)]));
    else if (buffer.growable) buffer.grow(buffer.maxByteLength);
    else if (!(buffer instanceof SharedArrayBuffer)) structuredClone(buffer, { transfer: [buffer] });
  } catch {
    // already detached, or a size the buffer refuses: nothing happened
  }
  if (chance(0.1)) globalThis.gc();
}

// `obj[key] = value`, or a getter that first destroys something (sometimes swapping in another value).
function field(obj, key, value, pool) {
  if (!chance(0.05)) {
    obj[key] = value;
    return;
  }
  Object.defineProperty(obj, key, {
    enumerable: true,
    get() {
      destroy(pool);
      return chance(0.1) ? pick([undefined, null, 'x', -1, 2 ** 40, pick(pool)]) : value;
    },
  });
}

function numberList(count, pool) {
  const xs = Array.from({ length: count }, () => 0.5 + rand());
  const r = rand();
  if (r < 0.1) {
    Object.defineProperty(xs, 0, { get() { destroy(pool); return 1; } });
  } else if (r < 0.2) {
    const f = Float64Array.from(xs);
    Object.defineProperty(f, 'length', { value: pick(['x', null, -1, 2 ** 32 + 1, 5, { valueOf: () => 3 }]) });
    return f;
  } else if (r < 0.25) {
    const f = Float64Array.from(xs);
    Object.defineProperty(f, 'length', { get() { destroy(pool); return count; } });
    return f;
  } else if (r < 0.28) {
    return new Proxy(xs, { get(t, k) { if (k === 'length') destroy(pool); return Reflect.get(t, k); } });
  }
  return xs;
}

function buildCall() {
  const pool = [];
  const s = pick(['f32', 'f16', 'bf16', 'i8']);
  const a = pick(['f32', 'f16', 'bf16']);
  const SC = s === 'f32' ? Float32Array : s === 'i8' ? Uint8Array : Uint16Array;
  const AC = a === 'f32' ? Float32Array : Uint16Array;
  const update = chance(0.5);
  const n = size();
  const entries = [];
  const count = 1 + Math.floor(rand() * 3);
  // A chain shares one out/residual across gated entries.
  const chain = !update && chance(0.3);
  const dim = n >= 4 ? 4 : 1;
  const shared = chain ? makeArray(AC, n, pool) : null;
  for (let i = 0; i < count; i++) {
    const e = {};
    const cap = 1 + Math.floor(rand() * 3);
    field(e, 'factors', makeArray(SC, factorUnits(s, n, cap), pool), pool);
    if (update) {
      field(e, 'fresh', makeArray(AC, n, pool), pool);
      const old = Math.floor(rand() * (cap + 1));
      field(e, 'oldCount', old, pool);
      const next = Math.max(1, Math.min(old + 1, cap));
      field(e, 'newCount', next, pool);
      field(e, 'divisors', numberList(Math.max(0, next - 1), pool), pool);
      if (chance(0.3)) field(e, 'stats', makeArray(Float32Array, 8, pool), pool);
    } else {
      const out = shared ?? makeArray(AC, n, pool);
      field(e, 'out', out, pool);
      const c = 1 + Math.floor(rand() * cap);
      field(e, 'count', c, pool);
      field(e, 'coeffs', numberList(c, pool), pool);
      if (chain || chance(0.4)) {
        field(e, 'gate', makeArray(AC, dim, pool), pool);
        field(e, 'tokens', n / dim, pool);
        field(e, 'dim', dim, pool);
        if (chance(0.5)) field(e, 'residual', chance(0.5) ? out : makeArray(AC, n, pool), pool);
      }
    }
    if (chance(0.3)) field(e, 'n', n, pool);
    entries.push(e);
  }
  let options;
  if (!update && chance(0.5)) {
    options = {};
    field(options, 'chain', chain, pool);
  } else if (chain) {
    options = { chain: true };
  }
  return { update, s, a, entries, options, pool };
}

async function main() {
  const codes = {};
  const untyped = [];
  let ok = 0;
  const note = (e) => {
    if (process.env.PROBE_VERBOSE) console.error(e.code, e.message.slice(0, 110));
    if (e instanceof TaylorSeerError && KNOWN.has(e.code)) codes[e.code] = (codes[e.code] ?? 0) + 1;
    else if (untyped.length < 10) untyped.push(String(e && e.stack ? e.stack.split('\n').slice(0, 2).join(' ') : e));
    else untyped.length++;
  };
  for (let k = 0; k < calls; k++) {
    const { update, s, a, entries, options, pool } = buildCall();
    const async = chance(0.4);
    try {
      if (!async) {
        if (update) addon.update(s, a, entries);
        else addon.forecast(s, a, entries, options);
        ok++;
        continue;
      }
      const p = update ? addon.updateAsync(s, a, entries) : addon.forecastAsync(s, a, entries, options);
      p.catch(() => {}); // observed below; a rejection before then is not unhandled
      const when = pick(['now', 'immediate', 'timeout', 'never']);
      if (when === 'now') destroy(pool);
      else if (when === 'immediate') await new Promise((r) => setImmediate(r)).then(() => destroy(pool));
      else if (when === 'timeout') await new Promise((r) => setTimeout(r, 0)).then(() => destroy(pool));
      await p;
      ok++;
    } catch (e) {
      note(e);
    }
    if (k % 500 === 499) globalThis.gc();
  }
  process.stdout.write(JSON.stringify({ calls, ok, codes, untyped }) + '\n');
}

main();
