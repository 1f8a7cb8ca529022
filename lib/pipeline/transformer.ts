/**
 * One forward pass of the DiT, block by block, with an optional cache hook at one of three granularities:
 *  - 'module': each block's attention and MLP output before its adaLN gate (the reference). The block
 *    always computes its modulation; on forecast steps the hook's fused gated path does
 *    h += gate * forecast and neither branch runs.
 *  - 'block': each block's residual contribution (out - in); on forecast steps h += forecast and the block
 *    (and the modulation) does not run.
 *  - 'lite': the final velocity; on forecast steps nothing of the model runs.
 * Without a hook every piece runs (full compute).
 */
import { TaylorSeerError } from '../errors';
import { native } from '../native';
import { MOD_CHUNKS, MOD, type DitModel } from './model';
import type { ForwardOptions } from './denoiser';

export type { ForwardOptions } from './denoiser';

let nativeGatedAdd: boolean | undefined;

/**
 * h += gate[b, :] * F over tokens: h, F [batch, tokens, dim], gate [batch, dim]. Uses the native fused
 * kernel (the one the hook's gated path uses) when the addon is built, so full compute is measured at its
 * best; plain TypeScript otherwise.
 */
export function gatedAdd(h: Float32Array, gate: Float32Array, F: Float32Array, batch: number, tokens: number, dim: number): void {
  if (nativeGatedAdd === undefined) {
    try {
      native();
      nativeGatedAdd = true;
    } catch {
      nativeGatedAdd = false;
    }
  }
  if (nativeGatedAdd) {
    native().forecast('f32', 'f32', [{ factors: F, out: h, residual: h, gate, tokens, dim, count: 1, coeffs: [1], n: batch * tokens * dim }]);
    return;
  }
  for (let b = 0; b < batch; b++) {
    const g = gate.subarray(b * dim, (b + 1) * dim);
    for (let n = 0; n < tokens; n++) {
      const o = (b * tokens + n) * dim;
      for (let d = 0; d < dim; d++) h[o + d] += g[d] * F[o + d];
    }
  }
}

/**
 * Splits mod [B, depth, 6, D] into contiguous [B, D] vectors, vec[block][k]. For B = 1 these are views.
 */
export function splitModulation(mod: Float32Array, batch: number, depth: number, dim: number): Float32Array[][] {
  const out: Float32Array[][] = [];
  for (let i = 0; i < depth; i++) {
    const row: Float32Array[] = [];
    for (let k = 0; k < MOD_CHUNKS; k++) {
      if (batch === 1) {
        const o = (i * MOD_CHUNKS + k) * dim;
        row.push(mod.subarray(o, o + dim));
      } else {
        const v = new Float32Array(batch * dim);
        for (let b = 0; b < batch; b++) {
          const o = ((b * depth + i) * MOD_CHUNKS + k) * dim;
          v.set(mod.subarray(o, o + dim), b * dim);
        }
        row.push(v);
      }
    }
    out.push(row);
  }
  return out;
}

/** Runs block i in full on h (in place): h += g_a * attn(h); h += g_m * mlp(h). */
async function runBlock(model: DitModel, i: number, h: Float32Array, m: Float32Array[], batch: number): Promise<void> {
  const { tokens: L, hidden: D } = model.arch;
  const a = await model.attn(i, h, m[MOD.shiftAttn], m[MOD.scaleAttn], batch);
  gatedAdd(h, m[MOD.gateAttn], a, batch, L, D);
  const f = await model.mlp(i, h, m[MOD.shiftMlp], m[MOD.scaleMlp], batch);
  gatedAdd(h, m[MOD.gateMlp], f, batch, L, D);
}

/** The plain forward: x [B, C, H, W] at time t with labels y [B] -> velocity [B, C, H, W]. */
async function plainForward(model: DitModel, x: Float32Array, t: Float32Array, y: BigInt64Array, batch: number): Promise<Float32Array> {
  const { depth, hidden: D } = model.arch;
  const { h, c } = await model.embed(x, t, y, batch);
  const mods = splitModulation(await model.modulation(c, batch), batch, depth, D);
  for (let i = 0; i < depth; i++) await runBlock(model, i, h, mods[i], batch);
  return model.final(h, c, batch);
}

/** Cache keys, stable across runs: what the hook's stats and entries are named by. */
export const cacheKeys = {
  attn: (i: number) => `blocks.${i}.attn`,
  mlp: (i: number) => `blocks.${i}.mlp`,
  block: (i: number) => `blocks.${i}`,
  velocity: 'velocity',
} as const;

/**
 * One forward of the DiT. `t` is the (shifted) sampler time of every sample; the hook, when given, must
 * already be at the current step (beginStep called by the sampler).
 */
export async function forward(
  model: DitModel,
  x: Float32Array,
  t: number,
  y: BigInt64Array,
  batch: number,
  options: ForwardOptions = {},
): Promise<Float32Array> {
  const { hook, granularity = 'module', context } = options;
  const tv = new Float32Array(batch).fill(t);
  if (!hook) return plainForward(model, x, tv, y, batch);
  const opts = context === undefined ? undefined : { context };

  if (granularity === 'lite') {
    // the hook returns a new array on forecast steps, so v may be kept across the other CFG branch
    return hook.moduleAsync(cacheKeys.velocity, () => plainForward(model, x, tv, y, batch), opts);
  }

  const { depth, tokens: L, hidden: D } = model.arch;
  const { h, c } = await model.embed(x, tv, y, batch);

  if (granularity === 'module') {
    const mods = splitModulation(await model.modulation(c, batch), batch, depth, D);
    const shape = { batch, tokens: L, dim: D };
    if (!hook.isFull && hook.gatedResiduals) {
      // Forecast step: no attention or MLP runs, nothing reads h in between, so every block's two gated
      // forecasts go into h in one fused pass.
      const items = mods.flatMap((m, i) => [
        { key: cacheKeys.attn(i), compute: () => model.attn(i, h, m[MOD.shiftAttn], m[MOD.scaleAttn], batch), gate: m[MOD.gateAttn] },
        { key: cacheKeys.mlp(i), compute: () => model.mlp(i, h, m[MOD.shiftMlp], m[MOD.scaleMlp], batch), gate: m[MOD.gateMlp] },
      ]);
      await hook.gatedResiduals(items, h, shape, opts);
      return model.final(h, c, batch);
    }
    for (let i = 0; i < depth; i++) {
      const m = mods[i];
      await hook.gatedResidual(cacheKeys.attn(i), () => model.attn(i, h, m[MOD.shiftAttn], m[MOD.scaleAttn], batch), h, m[MOD.gateAttn], shape, opts);
      await hook.gatedResidual(cacheKeys.mlp(i), () => model.mlp(i, h, m[MOD.shiftMlp], m[MOD.scaleMlp], batch), h, m[MOD.gateMlp], shape, opts);
    }
    return model.final(h, c, batch);
  }

  if (granularity !== 'block') {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity must be module, block or lite, found ${String(granularity)}`);
  }
  // block: the modulation is only needed when the blocks run
  const mods = hook.isFull ? splitModulation(await model.modulation(c, batch), batch, depth, D) : undefined;
  for (let i = 0; i < depth; i++) {
    let ran = false;
    const delta = await hook.moduleAsync(
      cacheKeys.block(i),
      async () => {
        if (!mods) throw new TaylorSeerError('ERR_STEP', 'the hook asked for a block computation on a step it reported as forecast');
        ran = true;
        const before = Float32Array.from(h);
        await runBlock(model, i, h, mods[i], batch);
        const d = new Float32Array(h.length);
        for (let j = 0; j < d.length; j++) d[j] = h[j] - before[j];
        return d;
      },
      opts,
    );
    // on full steps h already holds the block's exact output
    if (!ran) for (let j = 0; j < h.length; j++) h[j] += delta[j];
  }
  return model.final(h, c, batch);
}
