/**
 * The conditioning of forecast steps (the conditioning graph's outputs, forecast-split.ts), computed for many
 * steps in ONE onnxruntime run at batch steps x B and sliced per step: a DiT's adaLN modulation re-reads all
 * its weights on every run, so one run for the coming steps reads them once instead of once per step.
 *
 * The sampler may announce the coming timesteps and label batches (`announce`); a lookup is by the exact
 * values fed (timestep times its scale, as float32, the labels, the guidance scale), so the result never
 * depends on the announcement: a lookup it did not announce is computed on the spot at its own batch. A miss
 * of an announced step computes that step and the next announced ones in one run, as many as fit in
 * CHUNK_BYTES of outputs, and drops what earlier steps left unused (full steps never look theirs up).
 */
import { ort, runSession, type Ort } from '../ort';
import { TaylorSeerError } from '../../errors';

/** The most output bytes one batched run holds (the slices of the steps it covers). */
export const CHUNK_BYTES = 64 * 2 ** 20;
/** The most steps an announcement may list. */
const MAX_STEPS = 1_000_000;

export type TensorMap = Record<string, Ort.Tensor>;

export interface ConditioningInputs {
  timestep: string;
  label: string;
  guidance?: string;
}

type Typed = Float32Array | BigInt64Array | Int32Array | Float64Array | Uint8Array | Int8Array;

interface Row {
  t: number;
  y: BigInt64Array;
  step: number;
}

export class ConditioningCache {
  /** batched runs made, and the (step, label batch) pairs they computed */
  readonly counters = { runs: 0, computed: 0 };
  private announced?: { times: number[]; labels: BigInt64Array[]; guidance: number | undefined };
  private readonly entries = new Map<string, { step: number; tensors: TensorMap }>();

  constructor(
    private readonly session: Ort.InferenceSession,
    readonly frontier: readonly string[],
    private readonly names: ConditioningInputs,
    private readonly timestepScale: number,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  /** output bytes per sample (all frontier tensors), known once checkSeparable has run */
  rowBytes = 0;

  /** The value the graph's timestep input gets for sampler time t. */
  private fed(t: number): number {
    return Math.fround(t * this.timestepScale);
  }

  private key(t: number, y: BigInt64Array, guidance: number | undefined): string {
    return `${this.fed(t)}|${guidance ?? ''}|${y.join(',')}`;
  }

  /**
   * The coming steps: their sampler times and the label batches each step's forwards use (batched CFG: one
   * batch of 2B; separate CFG: the conditional and the unconditional batch). Replaces an earlier announcement
   * and drops what it left. Errors: ERR_INVALID_ARGUMENT.
   */
  announce(timesteps: readonly number[], labels: ReadonlyArray<BigInt64Array>, guidance?: number): void {
    if (!Array.isArray(timesteps) || timesteps.length > MAX_STEPS || !timesteps.every((t) => typeof t === 'number' && Number.isFinite(t))) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `timesteps must be an array of at most ${MAX_STEPS} finite numbers`);
    }
    if (!Array.isArray(labels) || labels.length === 0 || !labels.every((y) => y instanceof BigInt64Array && y.length > 0)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'labels must be a non-empty array of non-empty BigInt64Arrays (the label batch of each forward of a step)');
    }
    if (guidance !== undefined && (typeof guidance !== 'number' || !Number.isFinite(guidance))) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `guidance must be a finite number, found ${String(guidance)}`);
    }
    this.entries.clear();
    this.announced = { times: [...timesteps], labels: labels.map((y) => BigInt64Array.from(y)), guidance };
  }

  /** The conditioning of one forward (its own batch), computed now unless an earlier batched run holds it. */
  async get(t: number, y: BigInt64Array, guidance?: number): Promise<TensorMap> {
    const key = this.key(t, y, guidance);
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      return hit.tensors;
    }
    const step = this.position(t, y, guidance);
    if (step === undefined) return (await this.compute([{ t, y, step: -1 }], guidance))[0];
    for (const [k, e] of this.entries) if (e.step < step) this.entries.delete(k);
    const a = this.announced!;
    const perStep = a.labels.reduce((s, l) => s + l.length, 0);
    const steps = Math.max(1, Math.floor(this.chunkBytes / (this.rowBytes * perStep)));
    const rows: Row[] = [];
    for (let s = step; s < Math.min(a.times.length, step + steps); s++) {
      for (const l of a.labels) if (!this.entries.has(this.key(a.times[s], l, guidance))) rows.push({ t: a.times[s], y: l, step: s });
    }
    const slices = await this.compute(rows, guidance);
    let mine: TensorMap | undefined;
    rows.forEach((r, k) => {
      const rk = this.key(r.t, r.y, guidance);
      if (rk === key && mine === undefined) mine = slices[k];
      else this.entries.set(rk, { step: r.step, tensors: slices[k] });
    });
    return mine ?? (await this.compute([{ t, y, step: -1 }], guidance))[0];
  }

  /** The first announced step at or after the earliest still held whose time and labels are these, if any. */
  private position(t: number, y: BigInt64Array, guidance: number | undefined): number | undefined {
    const a = this.announced;
    if (!a || a.guidance !== guidance || !a.labels.some((l) => l.length === y.length && l.every((v, i) => v === y[i]))) return undefined;
    const fed = this.fed(t);
    const s = a.times.findIndex((x) => this.fed(x) === fed);
    return s < 0 ? undefined : s;
  }

  /** One run for all rows (each a label batch at one time); each row's outputs as its own tensors (views). */
  async compute(rows: readonly Row[], guidance: number | undefined): Promise<TensorMap[]> {
    const total = rows.reduce((s, r) => s + r.y.length, 0);
    const times = new Float32Array(total);
    const labels = new BigInt64Array(total);
    let at = 0;
    for (const r of rows) {
      times.fill(this.fed(r.t), at, at + r.y.length);
      labels.set(r.y, at);
      at += r.y.length;
    }
    const Tensor = ort().Tensor;
    const feeds: TensorMap = {};
    const wants = new Set(this.session.inputNames);
    if (wants.has(this.names.timestep)) feeds[this.names.timestep] = new Tensor('float32', times, [total]);
    if (wants.has(this.names.label)) feeds[this.names.label] = new Tensor('int64', labels, [total]);
    if (this.names.guidance !== undefined && wants.has(this.names.guidance)) {
      if (guidance === undefined) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `the graph's guidance input ${this.names.guidance} needs a guidance scale`);
      feeds[this.names.guidance] = new Tensor('float32', new Float32Array(total).fill(guidance), [total]);
    }
    const out = await runSession(this.session, feeds, [...this.frontier], 'the conditioning graph');
    this.counters.runs++;
    this.counters.computed += rows.length;
    const result: TensorMap[] = rows.map(() => ({}));
    for (const name of this.frontier) {
      const t = out[name] as Ort.Tensor;
      const data = t.data as Typed;
      if (t.dims[0] !== total || data.length % total !== 0) {
        throw new TaylorSeerError('ERR_MODEL', `the conditioning value ${name} has dims [${t.dims.join(', ')}] at batch ${total}: its leading dim is not the batch`);
      }
      const per = data.length / total;
      let row = 0;
      rows.forEach((r, k) => {
        result[k][name] = new Tensor(t.type as 'float32', data.subarray(row * per, (row + r.y.length) * per) as Float32Array, [r.y.length, ...t.dims.slice(1)]);
        row += r.y.length;
      });
    }
    return result;
  }
}

/**
 * Whether the conditioning is separable over the batch: one run of a batch of two samples with distinct
 * times and labels gives every frontier tensor the batch as its leading dim, and each sample what it gets
 * alone in a batch of 1 (to float32 rounding of a batched matmul). Returns the reason when not, else the
 * output bytes per sample.
 */
export async function checkSeparable(cache: ConditioningCache, samples: readonly [{ t: number; y: bigint }, { t: number; y: bigint }], guidance: number | undefined): Promise<{ ok: true; rowBytes: number } | { ok: false; reason: string }> {
  const rows = samples.map((s, k) => ({ t: s.t, y: BigInt64Array.from([s.y]), step: k }));
  let pair: TensorMap[];
  let alone: TensorMap[];
  try {
    pair = await cache.compute(rows, guidance);
    alone = [...(await cache.compute([rows[0]], guidance)), ...(await cache.compute([rows[1]], guidance))];
  } catch (e) {
    if (e instanceof TaylorSeerError && e.code === 'ERR_MODEL') return { ok: false, reason: e.message };
    throw e;
  }
  let rowBytes = 0;
  for (const name of cache.frontier) {
    for (let k = 0; k < 2; k++) {
      const x = pair[k][name].data as Typed;
      const r = alone[k][name].data as Typed;
      let err = x.length === r.length ? 0 : Infinity;
      let ref = 0;
      for (let i = 0; i < r.length && err !== Infinity; i++) {
        const xi = Number(x[i]);
        const ri = Number(r[i]);
        err = Number.isNaN(xi) !== Number.isNaN(ri) ? Infinity : Math.max(err, Math.abs(xi - ri) || 0);
        ref = Math.max(ref, Math.abs(ri) || 0);
      }
      if (!(err <= 1e-5 * Math.max(1, ref))) {
        return { ok: false, reason: `the conditioning value ${name} of a sample depends on the other samples of its batch (batch of 2 against batch 1: max difference ${err.toPrecision(3)})` };
      }
    }
    rowBytes += (alone[0][name].data as Typed).byteLength;
  }
  return { ok: true, rowBytes };
}
