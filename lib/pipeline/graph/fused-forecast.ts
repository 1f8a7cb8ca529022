/**
 * The shapes the fused forecast (CacheHook.gatedResiduals: h += sum_k gate_k * forecast_k in one pass) needs
 * from a single-graph model's stream, checked at load, and the gates in the form the chain takes.
 *
 * The chain reads h as [batch, tokens, dim] and each gate as [batch, dim] broadcast over the tokens. The
 * stream value h0 may have any rank >= 2 (tokens = the dims between batch and the last); every branch must
 * have exactly h0's dims, and a gate must broadcast against h0 as [batch or 1, 1, ..., 1, dim or 1] (a DiT's
 * [B, 1, D], a per-sample scalar [B, 1, 1, 1], a shared [D]). Plain branches get a gate of ones.
 */
import type { Ort } from '../ort';
import { TaylorSeerError } from '../../errors';

/** Why the shapes (at batch 1) do not fit the chain, or undefined when they do. */
export function fusedShapeProblem(h0: { dims: readonly number[]; type: string }, branches: ReadonlyArray<{ key: string; dims: readonly number[] }>, gates: ReadonlyArray<{ key: string; dims: readonly number[]; type: string } | undefined>): string | undefined {
  if (h0.type !== 'float32') return `the stream is ${h0.type}, not float32`;
  if (h0.dims.length < 2) return `the stream has dims [${h0.dims.join(', ')}]; expected [batch, ..., dim]`;
  for (const b of branches) {
    if (b.dims.join() !== h0.dims.join()) return `the branch ${b.key} has dims [${b.dims.join(', ')}], the stream [${h0.dims.join(', ')}] (the fused chain adds equal shapes)`;
  }
  const D = h0.dims[h0.dims.length - 1];
  for (const g of gates) {
    if (!g) continue;
    if (g.type !== 'float32') return `the gate of ${g.key} is ${g.type}, not float32`;
    const r = g.dims.length;
    const middle = g.dims.slice(r === h0.dims.length ? 1 : 0, Math.max(r - 1, 0));
    const last = r === 0 ? 1 : g.dims[r - 1];
    if (r > h0.dims.length || middle.some((d) => d !== 1) || (last !== 1 && last !== D) || (r === h0.dims.length && g.dims[0] !== 1)) {
      return `the gate of ${g.key} has dims [${g.dims.join(', ')}] at batch 1, the stream [${h0.dims.join(', ')}]; the fused chain takes a gate per sample and channel ([batch, 1, ..., 1, ${D}] or broadcast to it)`;
    }
  }
  return undefined;
}

/**
 * A gate as the chain takes it, [batch, dim]: the tensor's own data when it already is that (no copy),
 * else broadcast into a new array. `ones` is the plain branches' gate.
 */
export function chainGate(gate: Ort.Tensor, batch: number, dim: number, rank: number): Float32Array {
  const data = gate.data as Float32Array;
  const r = gate.dims.length;
  const lead = r === rank ? gate.dims[0] : 1;
  const last = r === 0 ? 1 : gate.dims[r - 1];
  if ((lead !== 1 && lead !== batch) || (last !== 1 && last !== dim) || data.length !== (lead === 1 ? 1 : batch) * last) {
    throw new TaylorSeerError('ERR_MODEL', `a gate has dims [${gate.dims.join(', ')}] at batch ${batch}; the fused forecast takes [batch, 1, ..., 1, ${dim}] or a broadcast of it`);
  }
  if (lead === batch && last === dim) return data;
  const out = new Float32Array(batch * dim);
  for (let b = 0; b < batch; b++) {
    const row = lead === 1 ? 0 : b * last;
    if (last === 1) out.fill(data[row], b * dim, (b + 1) * dim);
    else out.set(data.subarray(row, row + dim), b * dim);
  }
  return out;
}
