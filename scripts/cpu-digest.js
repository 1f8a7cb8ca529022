#!/usr/bin/env node
// Prints a digest (SHA-256 per case, JSON) of what the CPU kernels and the hook compute from fixed inputs:
// every storage x activation dtype, update and forecast (plain, gated, chained), the 16-bit conversions and
// a short hooked run, on lengths around the vector widths, the 64-element records and the parallel split,
// with NaN, infinities, values past f16's range, subnormals and -0 among the inputs. Every build whose
// processor has an FMA gives the same bits (AVX2 on x86-64, NEON on arm64), so they must print the same
// digests (test/arm64.test.ts compares them); SSE2 rounds a * b + y twice and differs in about 130 cases.
// Plain JavaScript on the built package (dist/), so it runs under any Node, an emulated one included.
//   node scripts/cpu-digest.js [--seed N]   (TAYLORSEER_ADDON / TAYLORSEER_CPU_KERNELS pick the build;
//                                            another seed draws other inputs for the same cases)
'use strict';
const crypto = require('node:crypto');
const path = require('node:path');

const ts = require(path.join(__dirname, '..', 'dist', 'index.js'));
const addon = ts.native();

const at = process.argv.indexOf('--seed');
const SEED = at > 0 ? Number(process.argv[at + 1]) : 0;
if (!Number.isInteger(SEED) || SEED < 0) {
  console.error(`cpu-digest: --seed ${process.argv[at + 1]}: expected an integer >= 0`);
  process.exit(2);
}

// mulberry32: the same numbers under every Node and processor (integer arithmetic only, no Math.random).
function rng(seed) {
  let a = (seed + Math.imul(SEED, 0x9e3779b9)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [NaN, Infinity, -Infinity, 1e30, -70000, 65504, 1e-41, -1e-41, -0, 3e38];

/** n values, roughly normal with the given scale; with `special`, about one in 97 is an edge value. */
function values(next, n, scale, special) {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const x = (next() + next() + next() + next() - 2) * scale;
    v[i] = special && next() < 1 / 97 ? SPECIAL[Math.floor(next() * SPECIAL.length)] : x;
  }
  return v;
}

/** A tensor of an activation dtype from f32 values (the kernels' own rounding for 16 bits). */
function activation(dtype, v) {
  if (dtype === 'f32') return v;
  const h = new Uint16Array(v.length);
  addon.toHalf(v, dtype, h);
  return h;
}

function factors(storage, n, capacity) {
  const units = ts.factorUnits(storage, n, capacity);
  if (storage === 'i8') return new Uint8Array(units);
  return storage === 'f32' ? new Float32Array(units) : new Uint16Array(units);
}

/**
 * A copy of a result with every NaN made the same NaN: which NaN an operation returns is the processor's
 * choice (x86-64 makes inf - inf negative, arm64 positive), the rest of the bits are the kernels'.
 * kind: a dtype, 'i8' factors of n elements (bf16 d_0, then records of an f32 scale and 64 bytes), or 'raw'.
 */
function canonical(kind, data, n) {
  if (kind === 'f32') {
    const c = Float32Array.from(data);
    const bits = new Uint32Array(c.buffer);
    for (let i = 0; i < c.length; i++) if (Number.isNaN(c[i])) bits[i] = 0x7fc00000;
    return c;
  }
  if (kind === 'f16' || kind === 'bf16') {
    const [exp, quiet] = kind === 'f16' ? [0x7c00, 0x7e00] : [0x7f80, 0x7fc0];
    return data.map((v) => ((v & exp) === exp && (v & ~(exp | 0x8000)) !== 0 ? quiet : v));
  }
  if (kind === 'i8') {
    const c = Uint8Array.from(data);
    const d0 = ts.factorUnits('i8', n, 1);
    new Uint16Array(c.buffer, 0, d0 / 2).set(canonical('bf16', new Uint16Array(c.buffer.slice(0, d0)), n));
    const view = new DataView(c.buffer);
    for (let r = d0; r < c.length; r += ts.Q8_RECORD_BYTES) if (Number.isNaN(view.getFloat32(r, true))) view.setUint32(r, 0x7fc00000, true);
    return c;
  }
  return data;
}

const cases = {};
/** Records the digest of a case's results: [kind, data, n?] each (see canonical). */
function record(name, ...results) {
  const h = crypto.createHash('sha256');
  for (const [kind, data, n] of results) {
    const c = canonical(kind, data, n);
    h.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength));
  }
  cases[name] = h.digest('hex');
}

const STORAGES = ['f32', 'f16', 'bf16', 'i8'];
const ACTIVATIONS = ['f32', 'f16', 'bf16'];
const LENGTHS = [1, 7, 8, 9, 31, 63, 64, 65, 127, 1000, 4099, 40000];

// The update at every order up to 4 (four steps of growing newCount) with its norms, then forecasts of
// every count from those factors.
for (const s of STORAGES) {
  for (const a of ACTIVATIONS) {
    for (const n of LENGTHS) {
      const next = rng(n * 131 + s.length * 7 + a.charCodeAt(1));
      const f = factors(s, n, 5);
      const stats = new Float32Array(5);
      const divisors = [3, 1.5, 0.75, 2];
      for (let step = 0; step < 5; step++) {
        const fresh = activation(a, values(next, n, 1 + step, n > 8));
        addon.update(s, a, [{ factors: f, fresh, oldCount: Math.min(step, 4), newCount: Math.min(step + 1, 5), divisors, stats }]);
        record(`update ${s}/${a} n=${n} step ${step}`, [s, f, n], ['f32', stats]);
      }
      for (let count = 1; count <= 5; count++) {
        const out = activation(a, new Float32Array(n));
        addon.forecast(s, a, [{ factors: f, out, count, coeffs: [1, 0.5, -0.25, 0.125, 1 / 3].slice(0, count) }]);
        record(`forecast ${s}/${a} n=${n} count ${count}`, [a, out]);
      }
    }
  }
}

// Gated forecasts (out = residual + gate * forecast) one by one and chained into one stream, [B, L, D].
for (const s of STORAGES) {
  for (const a of ACTIVATIONS) {
    for (const [B, L, D] of [
      [1, 5, 7],
      [2, 9, 64],
      [2, 33, 96],
      [1, 300, 160],
    ]) {
      const next = rng(B * 1000 + L * 10 + D + s.length);
      const n = B * L * D;
      const entries = [];
      for (let k = 0; k < 3; k++) {
        const f = factors(s, n, 3);
        for (let step = 0; step < 3; step++) {
          addon.update(s, a, [{ factors: f, fresh: activation(a, values(next, n, 2, true)), oldCount: step, newCount: step + 1, divisors: [2, 2] }]);
        }
        entries.push({ factors: f, count: 3, coeffs: [1, 0.7, 0.2], gate: activation(a, values(next, B * D, 0.5, false)), tokens: L, dim: D });
      }
      const h0 = values(next, n, 1, false);
      const one = activation(a, new Float32Array(n));
      addon.forecast(s, a, [{ ...entries[0], out: one, residual: activation(a, h0) }]);
      const h = activation(a, h0);
      addon.forecast(s, a, entries.map((e) => ({ ...e, out: h, residual: h })), { chain: true });
      record(`gated ${s}/${a} [${B},${L},${D}]`, [a, one], [a, h]);
    }
  }
}

// The 16-bit conversions and the non-finite scan.
for (const d of ['f16', 'bf16']) {
  const v = values(rng(d.length), 70001, 1000, true);
  const h = new Uint16Array(v.length);
  addon.toHalf(v, d, h);
  const back = new Float32Array(v.length);
  addon.fromHalf(h, d, back);
  record(`convert ${d}`, [d, h], ['f32', back], ['raw', new Int32Array([addon.findNonFinite(d, h), addon.findNonFinite('f32', back)])]);
}

// A hooked run: module and gated residuals under a fixed schedule, each storage.
async function hooked(s) {
  const next = rng(99 + s.length);
  const [B, L, D] = [2, 17, 96];
  const seer = new ts.TaylorSeer({ schedule: { kind: 'fixed', steps: 12, interval: 4, warmup: 2 }, maxOrder: 2, storage: s });
  const h = values(next, B * L * D, 1, false);
  const outs = [];
  for (let step = 0; step < 12; step++) {
    seer.beginStep(step);
    const x = values(next, B * L * D, 1 + step / 4, false);
    outs.push(Float32Array.from(seer.module('velocity', () => x)));
    for (let i = 0; i < 2; i++) {
      const gate = values(next, B * D, 0.3, false);
      const branch = values(next, B * L * D, 1, false);
      await seer.gatedResidual(`block${i}`, () => branch, h, gate, { batch: B, tokens: L, dim: D });
    }
  }
  record(`hook ${s}`, ...outs.map((o) => ['f32', o]), ['f32', h]);
  seer.dispose();
}

(async () => {
  for (const s of STORAGES) await hooked(s);
  console.log(JSON.stringify({ vector: addon.cpuInfo().vector, cases }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
