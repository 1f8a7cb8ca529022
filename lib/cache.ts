/**
 * Factor storage: one entry per (context, module key), each holding up to K+1 factors of n elements in the
 * storage dtype, preallocated at the entry's first full step so the kernels write in place.
 *
 * Shape changes (an entry's output length or [batch, tokens, dim] differs from the one it holds factors
 * for) follow `onShapeChange`:
 *  - 'error' (default): ERR_SHAPE, the entry is left as it was. Inside a run a shape change is almost always
 *    a bug (a factor of one shape cannot forecast another), so it must not pass silently.
 *  - 'reset': on a full step the entry is reallocated for the new shape and restarts at order 0, as if
 *    created now. A forecast step with another shape is still ERR_SHAPE: there is nothing to forecast from.
 * Entries with no valid factors (every entry after newRun()) take any shape under either policy, so a batch
 * or resolution change between runs just works, reusing the allocation when the size fits exactly.
 *
 * Device 'cuda' keeps the factors in GPU memory. The hook's I/O is host arrays, so each entry also keeps a
 * staging buffer of n activation elements (and one for the gate) to move data across; reads back are
 * asynchronous, hence forecastAsync(). Staging memory is counted in the entry's bytes.
 */
import { TaylorSeerError } from './errors';
import { forecastCoeffs, MAX_ORDER, updatePlan, VARIABLES, type Node, type Variable } from './expansion';
import { DTYPES, native, type DeviceTensor, type Dtype, type HostTensor, type IndirectOptions, type Tensor } from './native';
import { PLAN_ROW, type RunPlan } from './run-plan';
import { requireInt, requireKnownKeys, requireObject, requireOneOf, show } from './validate';

export type Device = 'cpu' | 'cuda';
export type ShapeChangePolicy = 'reset' | 'error';

export interface CacheOptions {
  maxOrder: number;
  variable: Variable;
  storage: Dtype;
  activation: Dtype;
  device: Device;
  onShapeChange: ShapeChangePolicy;
}

/** Read-only view of an entry, for inspection and tests. */
export interface CacheEntryInfo {
  readonly context: string;
  readonly key: string;
  readonly shape: readonly number[];
  /** elements per factor */
  readonly length: number;
  /** valid factors, 0..maxOrder+1 */
  readonly count: number;
  /** full steps that produced the valid factors, oldest first */
  readonly history: readonly Node[];
  /** bytes held: factors (maxOrder+1 preallocated) plus device staging */
  readonly bytes: number;
}

/** One entry of a batched full-step update (see FactorCache.updateMany). */
export interface UpdateItem {
  key: string;
  fresh: HostTensor;
  shape: readonly number[];
  /** receives the sum of squares of each new factor (see update()) */
  stats?: Float32Array;
}

/** gated forecast target: h += gate[b, :] * forecast, h is [batch, tokens, dim] */
export interface GatedTarget {
  h: HostTensor;
  gate: HostTensor;
  batch: number;
  tokens: number;
  dim: number;
}

interface Entry {
  context: string;
  key: string;
  shape: number[];
  length: number;
  count: number;
  history: Node[];
  factors: Tensor;
  stage?: DeviceTensor;
  gateStage?: DeviceTensor;
}

const BYTES: Record<Dtype, number> = { f32: 4, f16: 2, bf16: 2 };
const DEVICES: readonly Device[] = ['cpu', 'cuda'];
const SHAPE_POLICIES: readonly ShapeChangePolicy[] = ['reset', 'error'];

export function bytesPerElement(dtype: Dtype): number {
  return BYTES[dtype];
}

/** The host array type that carries data of `dtype` (Node 20 has no Float16Array). */
export function isHostTensorOf(value: unknown, dtype: Dtype): value is HostTensor {
  return dtype === 'f32' ? value instanceof Float32Array : value instanceof Uint16Array;
}

export function describeHostType(dtype: Dtype): string {
  return dtype === 'f32' ? 'a Float32Array' : `a Uint16Array (${dtype} bits)`;
}

export function allocHost(dtype: Dtype, length: number): HostTensor {
  return dtype === 'f32' ? new Float32Array(length) : new Uint16Array(length);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function entryId(context: string, key: string): string {
  // JSON keeps (context, key) pairs distinct whatever characters they contain.
  return JSON.stringify([context, key]);
}

export class FactorCache {
  readonly options: Readonly<CacheOptions>;
  private readonly entries = new Map<string, Entry>();
  private disposed = false;
  /** device 'cuda': a run plan and its values on the device (setRunPlan) */
  private run?: { plan: RunPlan; values: DeviceTensor };

  constructor(options: CacheOptions) {
    // Exported for lower-level use: checked here as the hook checks its own options.
    const o = requireObject('FactorCache options', options);
    requireKnownKeys('FactorCache options', o, ['maxOrder', 'variable', 'storage', 'activation', 'device', 'onShapeChange']);
    this.options = Object.freeze({
      maxOrder: requireInt('maxOrder', o.maxOrder, 0, MAX_ORDER, 'ERR_ORDER'),
      variable: requireOneOf('variable', o.variable, VARIABLES),
      storage: requireOneOf('storage', o.storage, DTYPES, 'ERR_DTYPE'),
      activation: requireOneOf('activation', o.activation, DTYPES, 'ERR_DTYPE'),
      device: requireOneOf('device', o.device, DEVICES),
      onShapeChange: requireOneOf('onShapeChange', o.onShapeChange, SHAPE_POLICIES),
    });
  }

  get size(): number {
    this.checkAlive();
    return this.entries.size;
  }

  get bytesHeld(): number {
    this.checkAlive();
    let total = this.run?.values.byteLength ?? 0;
    for (const e of this.entries.values()) total += this.bytesOf(e);
    return total;
  }

  entry(context: string, key: string): CacheEntryInfo | undefined {
    this.checkAlive();
    const e = this.entries.get(entryId(context, key));
    if (!e) return undefined;
    return {
      context: e.context,
      key: e.key,
      shape: [...e.shape],
      length: e.length,
      count: e.count,
      history: e.history.map((n) => ({ ...n })),
      bytes: this.bytesOf(e),
    };
  }

  /** elements per factor of an entry, or undefined when it does not exist */
  lengthOf(context: string, key: string): number | undefined {
    this.checkAlive();
    return this.entries.get(entryId(context, key))?.length;
  }

  list(): CacheEntryInfo[] {
    this.checkAlive();
    return [...this.entries.values()].map((e) => this.entry(e.context, e.key)!);
  }

  /**
   * Full step: folds the freshly computed `fresh` (activation dtype, `shape`) into the entry's factors.
   * Everything is checked before anything changes. With `stats` (any device), the kernel writes the
   * sum of squares of each new factor into it. Returns the entry's factor count after the update.
   */
  update(context: string, key: string, fresh: HostTensor, shape: readonly number[], node: Node, warmup: number, stats?: Float32Array): number {
    return this.updateMany(context, [{ key, fresh, shape, ...(stats ? { stats } : {}) }], node, warmup)[0];
  }

  /**
   * Full step of several entries in ONE kernel call (a model that computes all its cached modules in one
   * graph run hands them over together). Each item is checked as update() checks it, all before anything
   * changes; a failed allocation or kernel call leaves every entry as it was. Returns each entry's factor
   * count after the update.
   */
  updateMany(context: string, items: ReadonlyArray<UpdateItem>, node: Node, warmup: number): number[] {
    this.checkAlive();
    const { activation, storage, maxOrder, variable } = this.options;
    requireInt('node.step', node?.step, 0);
    const jobs = items.map(({ key, fresh, shape }) => {
      if (!isHostTensorOf(fresh, activation)) {
        throw new TaylorSeerError('ERR_DTYPE', `the output of "${key}" must be ${describeHostType(activation)} (activation '${activation}'), got ${show(fresh)}`);
      }
      if (!Array.isArray(shape) || shape.length === 0) throw new TaylorSeerError('ERR_SHAPE', `the shape of "${key}" must be a non-empty array of positive integers, got ${show(shape)}`);
      shape.forEach((d, i) => requireInt(`shape[${i}] of "${key}"`, d, 0, undefined, 'ERR_SHAPE'));
      const length = shape.reduce((a, b) => a * b, 1);
      if (fresh.length !== length || length === 0) {
        throw new TaylorSeerError('ERR_LENGTH', `the output of "${key}" has ${fresh.length} elements; expected ${length} ([${shape.join(', ')}]), at least 1`);
      }
      const id = entryId(context, key);
      const e = this.entries.get(id);
      if (e && e.count > 0 && !sameShape(e.shape, shape) && this.options.onShapeChange === 'error') {
        throw new TaylorSeerError(
          'ERR_SHAPE',
          `"${key}"${context ? ` (context "${context}")` : ''} produced shape [${shape.join(', ')}] but holds factors for [${e.shape.join(', ')}]; ` +
            "start a new run (beginStep(0)) or reset(), or construct with onShapeChange: 'reset'",
        );
      }
      const oldCount = e && sameShape(e.shape, shape) ? e.count : 0;
      const history = oldCount > 0 ? e!.history : [];
      return { id, key, length, shape, history, oldCount, old: e, plan: updatePlan(variable, history, oldCount, node, maxOrder, warmup) };
    });
    const ids = new Set(jobs.map((j) => j.id));
    if (ids.size !== jobs.length) throw new TaylorSeerError('ERR_STEP', 'an update names the same (context, key) twice');
    // Allocate before releasing old buffers so a failed allocation leaves every entry intact.
    const fresh: Entry[] = [];
    const targets: Entry[] = [];
    try {
      for (const j of jobs) {
        if (j.old && j.old.length === j.length) {
          targets.push(j.old);
        } else {
          const e = this.allocate(context, j.key, j.shape, j.length);
          fresh.push(e);
          targets.push(e);
        }
      }
      const table = jobs.map((j, k) => {
        const e = targets[k];
        let src: Tensor = items[k].fresh;
        if (this.options.device === 'cuda') {
          native().cuda.upload(e.stage!, items[k].fresh);
          src = e.stage!;
        }
        const stats = items[k].stats;
        return { factors: e.factors, fresh: src, oldCount: j.oldCount, newCount: j.plan.newCount, divisors: j.plan.divisors, n: j.length, ...(stats ? { stats } : {}) };
      });
      // Indirect (the plan's row on the device) only when every entry of the table follows the plan.
      const rows = jobs.map((j) => this.planned(node.step, true, j.oldCount, j.plan.newCount, j.plan.divisors));
      native().update(storage, activation, table, rows.every((r) => r !== undefined) ? rows[0] : undefined);
    } catch (err) {
      for (const e of fresh) this.release(e);
      throw err;
    }
    return jobs.map((j, k) => {
      const e = targets[k];
      if (j.old && j.old !== e) this.release(j.old);
      e.shape = [...j.shape];
      e.count = j.plan.newCount;
      e.history = [...j.history.slice(j.history.length - (j.plan.newCount - 1)), { ...node }];
      this.entries.set(j.id, e);
      return j.plan.newCount;
    });
  }

  /**
   * Forecast step, host only and synchronous: writes the forecast into `out`, or with `gated`, adds
   * gate * forecast to gated.h in place (out is then ignored and may be undefined).
   */
  forecast(context: string, key: string, node: Node, out: HostTensor | undefined, gated?: GatedTarget): void {
    const job = this.prepareForecast(context, key, node, out, gated);
    if (this.options.device === 'cuda') {
      throw new TaylorSeerError('ERR_DEVICE', 'reading a forecast back from the GPU is asynchronous: use the async API (moduleAsync, gatedResidual) with device "cuda"');
    }
    native().forecast(this.options.storage, this.options.activation, [job.entry]);
  }

  /** Forecast step, any device. */
  async forecastAsync(context: string, key: string, node: Node, out: HostTensor | undefined, gated?: GatedTarget): Promise<void> {
    const job = this.prepareForecast(context, key, node, out, gated);
    const { storage, activation } = this.options;
    if (this.options.device !== 'cuda') {
      native().forecast(storage, activation, [job.entry]);
      return;
    }
    const cuda = native().cuda;
    const e = job.target;
    const dst = gated ? gated.h : out!;
    const ind = this.planned(node.step, false, e.count, e.count, job.entry.coeffs);
    if (gated) {
      const gate = this.uploadGate(e, gated.gate);
      cuda.upload(e.stage!, gated.h);
      native().forecast(storage, activation, [{ ...job.entry, out: e.stage!, residual: e.stage!, gate }], ind);
    } else {
      native().forecast(storage, activation, [{ ...job.entry, out: e.stage! }], ind);
    }
    await cuda.download(e.stage!, dst);
  }

  /**
   * Forecast step of several entries in ONE kernel call, each into its own `out` (any device; on 'cuda'
   * one launch table, then one read-back per entry). Everything is checked before any output is written.
   */
  async forecastMany(context: string, items: ReadonlyArray<{ key: string; out: HostTensor }>, node: Node): Promise<void> {
    const jobs = items.map((it) => this.prepareForecast(context, it.key, node, it.out));
    if (jobs.length === 0) return;
    const { storage, activation } = this.options;
    if (this.options.device !== 'cuda') {
      native().forecast(storage, activation, jobs.map((j) => j.entry));
      return;
    }
    native().forecast(storage, activation, jobs.map((j) => ({ ...j.entry, out: j.target.stage! })));
    for (let k = 0; k < jobs.length; k++) await native().cuda.download(jobs[k].target.stage!, items[k].out);
  }

  /** Device 'cuda': the entry's gate staging buffer (allocated on first use, or when the size changes), holding `gate`. */
  private uploadGate(e: Entry, gate: HostTensor): DeviceTensor {
    const cuda = native().cuda;
    if (!e.gateStage || e.gateStage.length !== gate.length) {
      const g = cuda.alloc(this.options.activation, gate.length);
      e.gateStage?.dispose();
      e.gateStage = g;
    }
    cuda.upload(e.gateStage, gate);
    return e.gateStage;
  }

  /**
   * Forecast step, several gated entries into one residual stream: h += sum_k gate_k * forecast_k, in the
   * order given. On the CPU one fused pass over h (instead of one per entry); on 'cuda' h goes to the GPU
   * once (into the first entry's staging buffer), every entry adds into it there (one launch each, in
   * order) and it comes back once. Everything is checked before h changes.
   */
  async forecastChain(context: string, items: ReadonlyArray<{ key: string; gate: HostTensor }>, node: Node, h: HostTensor, shape: { batch: number; tokens: number; dim: number }): Promise<void> {
    const jobs = items.map((it) => this.prepareForecast(context, it.key, node, undefined, { h, gate: it.gate, ...shape }));
    if (jobs.length === 0) return;
    const { storage, activation } = this.options;
    if (this.options.device !== 'cuda') {
      native().forecast(storage, activation, jobs.map((j) => j.entry), { chain: true });
      return;
    }
    const stage = jobs[0].target.stage!;
    const entries = jobs.map((j, k) => ({ ...j.entry, out: stage, residual: stage, gate: this.uploadGate(j.target, items[k].gate) }));
    // Indirect only when every entry's coefficients are the plan's row (they share one history then).
    const rows = jobs.map((j) => this.planned(node.step, false, j.target.count, j.target.count, j.entry.coeffs));
    const ind = rows.every((r) => r !== undefined) ? rows[0] : undefined;
    native().cuda.upload(stage, h);
    native().forecast(storage, activation, entries, { chain: true, ...ind });
    await native().cuda.download(stage, h);
  }

  /**
   * Device 'cuda': the plan of the coming runs (lib/run-plan.ts), its values uploaded once. A launch whose
   * counts and values equal the plan's row for its step then reads them from the device (an indirect
   * launch, the same for every step of equal counts); any other launch (an entry restarted by a shape
   * change, other sampler times) takes its own values as before, so results never depend on the plan.
   * undefined drops the plan.
   */
  setRunPlan(plan: RunPlan | undefined): void {
    this.checkAlive();
    if (this.options.device !== 'cuda') return;
    let next: { plan: RunPlan; values: DeviceTensor } | undefined;
    if (plan) {
      const values = native().cuda.alloc('f32', plan.values.length);
      try {
        native().cuda.upload(values, plan.values);
      } catch (err) {
        values.dispose();
        throw err;
      }
      next = { plan, values };
    }
    this.run?.values.dispose();
    this.run = next;
  }

  /** The indirect-launch options for a step whose values equal the run plan's row, else undefined. */
  private planned(step: number, full: boolean, oldCount: number, count: number, values: ArrayLike<number> | undefined): IndirectOptions | undefined {
    const r = this.run;
    const p = r?.plan.steps[step];
    if (!r || !p || !values || p.full !== full || p.oldCount !== oldCount || p.count !== count) return undefined;
    const row = step * PLAN_ROW;
    for (let i = 0; i < values.length; i++) if (Math.fround(values[i]) !== r.plan.values[row + i]) return undefined;
    return { values: r.values, offset: row };
  }

  /** A new run: every entry forgets its factors (allocations are kept for reuse). */
  newRun(): void {
    this.checkAlive();
    for (const e of this.entries.values()) {
      e.count = 0;
      e.history = [];
    }
  }

  /** Drops every entry and frees its memory: the cache is then indistinguishable from a new one. */
  reset(): void {
    this.checkAlive();
    for (const e of this.entries.values()) this.release(e);
    this.entries.clear();
    this.run?.values.dispose();
    this.run = undefined;
  }

  /** Frees everything; any later use is ERR_DISPOSED. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    for (const e of this.entries.values()) this.release(e);
    this.entries.clear();
    this.run?.values.dispose();
    this.run = undefined;
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private prepareForecast(context: string, key: string, node: Node, out: HostTensor | undefined, gated?: GatedTarget) {
    this.checkAlive();
    const { activation, variable } = this.options;
    const e = this.entries.get(entryId(context, key));
    if (!e || e.count === 0) {
      throw new TaylorSeerError(
        'ERR_NO_FACTORS',
        `"${key}"${context ? ` (context "${context}")` : ''} has no factors to forecast from: it was not computed on a full step of this run`,
      );
    }
    const coeffs = forecastCoeffs(variable, e.history, e.count, node);
    if (gated) {
      if (!isHostTensorOf(gated.h, activation) || !isHostTensorOf(gated.gate, activation)) {
        throw new TaylorSeerError('ERR_DTYPE', `h and gate must be ${describeHostType(activation)} (activation '${activation}')`);
      }
      if (gated.h.length !== e.length) {
        throw new TaylorSeerError('ERR_SHAPE', `"${key}" holds factors of ${e.length} elements ([${e.shape.join(', ')}]) but h has ${gated.h.length}; a forecast cannot change shape`);
      }
      const shape = [gated.batch, gated.tokens, gated.dim];
      if (!sameShape(e.shape, shape)) {
        throw new TaylorSeerError('ERR_SHAPE', `"${key}" holds factors for [${e.shape.join(', ')}] but was given [${shape.join(', ')}]; a forecast cannot change shape`);
      }
      return {
        target: e,
        entry: { factors: e.factors, out: gated.h, residual: gated.h, gate: gated.gate, tokens: gated.tokens, dim: gated.dim, count: e.count, coeffs, n: e.length },
      };
    }
    if (!isHostTensorOf(out, activation) || out.length !== e.length) {
      throw new TaylorSeerError('ERR_LENGTH', `the forecast of "${key}" needs ${describeHostType(activation)} of ${e.length} elements, got ${show(out)}`);
    }
    return { target: e, entry: { factors: e.factors, out, count: e.count, coeffs, n: e.length } };
  }

  private allocate(context: string, key: string, shape: readonly number[], length: number): Entry {
    const { maxOrder, storage, activation, device } = this.options;
    const capacity = (maxOrder + 1) * length;
    if (device === 'cuda') {
      const cuda = native().cuda;
      const factors = cuda.alloc(storage, capacity);
      let stage: DeviceTensor;
      try {
        stage = cuda.alloc(activation, length);
      } catch (err) {
        factors.dispose();
        throw err;
      }
      return { context, key, shape: [...shape], length, count: 0, history: [], factors, stage };
    }
    return { context, key, shape: [...shape], length, count: 0, history: [], factors: allocHost(storage, capacity) };
  }

  private release(e: Entry): void {
    if (!(ArrayBuffer.isView(e.factors))) (e.factors as DeviceTensor).dispose();
    e.stage?.dispose();
    e.gateStage?.dispose();
    e.stage = e.gateStage = undefined;
  }

  private bytesOf(e: Entry): number {
    return e.factors.byteLength + (e.stage?.byteLength ?? 0) + (e.gateStage?.byteLength ?? 0);
  }

  private checkAlive(): void {
    if (this.disposed) throw new TaylorSeerError('ERR_DISPOSED', 'this TaylorSeer cache was disposed; create a new one');
  }
}
