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
 *
 * Budget (`maxBytes`, all bytes the cache holds: factors plus staging): an update that would allocate past
 * it follows `onBudget`:
 *  - 'error' (default): TaylorSeerBudgetError (ERR_BUDGET) before anything is allocated; the cache is left
 *    as it was. The error says what the entries so far need and the first layout below that fits them.
 *  - 'degrade': the whole cache moves down the ladder until the entries so far fit: first storage (f32 ->
 *    bf16 -> i8), then order (maxOrder -> maxOrder - 1 -> ... ->
 *    0). Existing factors are kept: rounded to the new storage, and truncated to the new order (exact: d_0..d_K' of an order-K entry are the factors an
 *    order-K' entry holds). Granularity is the caller's choice, so when order 0 at the smallest storage
 *    does not fit either, it is ERR_BUDGET as above. On 'cuda' existing factors move through host memory
 *    (relayoutAsync), which the hook does before the update that needs it.
 */
import { TaylorSeerBudgetError, TaylorSeerError, type FactorLayout } from './errors';
import { forecastCoeffs, MAX_ORDER, updatePlan, VARIABLES, type Node, type Variable } from './expansion';
import { DTYPES, factorBytes, factorOffset, factorUnits, native, writeI8Factor, STORAGE_DTYPES, type DeviceTensor, type Dtype, type FactorTensor, type HostFactors, type HostTensor, type IndirectOptions, type StorageDtype, type Tensor } from './native';
import { PLAN_ROW, type RunPlan } from './run-plan';
import { requireInt, requireKnownKeys, requireObject, requireOneOf, show } from './validate';

export type Device = 'cpu' | 'cuda';
export type ShapeChangePolicy = 'reset' | 'error';
export type BudgetPolicy = 'error' | 'degrade';

export interface CacheOptions {
  maxOrder: number;
  variable: Variable;
  storage: StorageDtype;
  activation: Dtype;
  device: Device;
  onShapeChange: ShapeChangePolicy;
  /** bytes the cache may hold (factors and staging); default: no limit */
  maxBytes?: number;
  /** default 'error' */
  onBudget?: BudgetPolicy;
}

/** What the factors are held in: storage dtype and highest order. */
export interface Layout {
  storage: StorageDtype;
  maxOrder: number;
}

/** A downgrade the cache made to stay within maxBytes. */
export interface BudgetDowngrade {
  from: Layout;
  to: Layout;
  /** bytes the entries known then needed at `from`, and hold at `to` */
  neededBytes: number;
  bytesAfter: number;
  /** entries known when it happened (the one being added included) */
  entries: number;
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
  readonly factorBytes: number;
  readonly stagingBytes: number;
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
  factors: FactorTensor;
  stage?: DeviceTensor;
  gateStage?: DeviceTensor;
}

const BYTES: Record<Dtype, number> = { f32: 4, f16: 2, bf16: 2 };
const DEVICES: readonly Device[] = ['cpu', 'cuda'];
const SHAPE_POLICIES: readonly ShapeChangePolicy[] = ['reset', 'error'];
const BUDGET_POLICIES: readonly BudgetPolicy[] = ['error', 'degrade'];

export function bytesPerElement(dtype: Dtype): number {
  return BYTES[dtype];
}

/** A planned budget downgrade: the layout to take, the bytes needed before it, the entries counted. */
interface BudgetStep {
  target: Layout;
  needed: number;
  entries: number;
}

/** Storage dtypes a budget downgrade steps through, most precise first. */
const STORAGE_LADDER: readonly StorageDtype[] = ['f32', 'bf16', 'i8'];

/**
 * The layouts a budget downgrade tries from `from`, in order: smaller storages at the same order, then
 * lower orders at the smallest storage. `from` itself is not included.
 */
export function downgradeLadder(from: Layout): Layout[] {
  const out: Layout[] = [];
  let storage = from.storage;
  // at the entry's order: 'i8' keeps d_0 in 16 bits, so at order 0 it is no smaller than bf16
  const size = (d: StorageDtype) => factorBytes(d, 4096, from.maxOrder + 1);
  for (const s of STORAGE_LADDER) {
    if (size(s) < size(storage)) {
      storage = s;
      out.push({ storage, maxOrder: from.maxOrder });
    }
  }
  for (let k = from.maxOrder - 1; k >= 0; k--) out.push({ storage, maxOrder: k });
  return out;
}

/** The host array type that carries data of `dtype` (Node 20 has no Float16Array). */
export function isHostTensorOf(value: unknown, dtype: Dtype): value is HostTensor {
  return dtype === 'f32' ? value instanceof Float32Array : value instanceof Uint16Array;
}

/**
 * The kernels refuse a view on a resizable ArrayBuffer (it could shrink while they run); callers that change
 * state before their kernel call check it first. A SharedArrayBuffer only grows: accepted.
 */
export function requireFixedBuffer(what: string, t: ArrayBufferView): void {
  if ((t.buffer as ArrayBuffer & { resizable?: boolean }).resizable === true) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} is a view on a resizable ArrayBuffer, which could shrink while a kernel uses it; pass one of fixed length`);
  }
}

export function describeHostType(dtype: Dtype): string {
  return dtype === 'f32' ? 'a Float32Array' : `a Uint16Array (${dtype} bits)`;
}

/** Host factor storage for `capacity` factors of n elements. */
export function allocFactors(storage: StorageDtype, capacity: number, n: number): HostFactors {
  return storage === 'i8' ? new Uint8Array(factorUnits('i8', n, capacity)) : allocHost(storage, capacity * n);
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
  /** storage and maxOrder change when a budget downgrade happens (see `downgrades`) */
  options: Readonly<CacheOptions>;
  private readonly initial: Readonly<CacheOptions>;
  private readonly entries = new Map<string, Entry>();
  private disposed = false;
  private readonly downgradeLog: BudgetDowngrade[] = [];
  private relayoutQueue: Promise<void> = Promise.resolve();
  /** device 'cuda': a run plan and its values on the device (setRunPlan) */
  private run?: { plan: RunPlan; values: DeviceTensor };

  constructor(options: CacheOptions) {
    // Exported for lower-level use: checked here as the hook checks its own options.
    const o = requireObject('FactorCache options', options);
    requireKnownKeys('FactorCache options', o, ['maxOrder', 'variable', 'storage', 'activation', 'device', 'onShapeChange', 'maxBytes', 'onBudget']);
    if (o.maxBytes !== undefined && (typeof o.maxBytes !== 'number' || !(o.maxBytes > 0))) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `maxBytes must be a number of bytes > 0, got ${show(o.maxBytes)}`);
    }
    this.options = this.initial = Object.freeze({
      maxOrder: requireInt('maxOrder', o.maxOrder, 0, MAX_ORDER, 'ERR_ORDER'),
      variable: requireOneOf('variable', o.variable, VARIABLES),
      storage: requireOneOf('storage', o.storage, STORAGE_DTYPES, 'ERR_DTYPE'),
      activation: requireOneOf('activation', o.activation, DTYPES, 'ERR_DTYPE'),
      device: requireOneOf('device', o.device, DEVICES),
      onShapeChange: requireOneOf('onShapeChange', o.onShapeChange, SHAPE_POLICIES),
      ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes as number } : {}),
      ...(o.onBudget !== undefined ? { onBudget: requireOneOf('onBudget', o.onBudget, BUDGET_POLICIES) } : {}),
    });
  }

  /** Budget downgrades since construction or reset(), oldest first. */
  get downgrades(): readonly BudgetDowngrade[] {
    return this.downgradeLog.map((d) => ({ ...d, from: { ...d.from }, to: { ...d.to } }));
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
      factorBytes: e.factors.byteLength,
      stagingBytes: this.bytesOf(e) - e.factors.byteLength,
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
    const { activation, variable } = this.options;
    requireInt('node.step', node?.step, 0);
    const checked = items.map(({ key, fresh, shape }) => {
      if (!isHostTensorOf(fresh, activation)) {
        throw new TaylorSeerError('ERR_DTYPE', `the output of "${key}" must be ${describeHostType(activation)} (activation '${activation}'), got ${show(fresh)}`);
      }
      requireFixedBuffer(`the output of "${key}"`, fresh);
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
      return { id, key, length, shape };
    });
    const ids = new Set(checked.map((j) => j.id));
    if (ids.size !== checked.length) throw new TaylorSeerError('ERR_STEP', 'an update names the same (context, key) twice');
    // The budget step, once per entry that would allocate (counting the ones before it), before anything is
    // allocated: a downgrade changes storage, maxOrder and the counts of existing entries. All or nothing:
    // the steps of the whole batch are planned first, and a batch one of whose entries fits no layout fails
    // with the cache as it was (no downgrade kept for the entries before it).
    const pending = new Map<string, number>();
    const downgrades: BudgetStep[] = [];
    let layout: Layout = { storage: this.options.storage, maxOrder: this.options.maxOrder };
    for (const c of checked) {
      const e = this.entries.get(c.id);
      if (e && e.length === c.length) continue;
      pending.set(c.id, c.length);
      const step = this.budgetStep(layout, pending, c.key, c.shape);
      if (step) {
        downgrades.push(step);
        layout = step.target;
      }
    }
    // Every entry's plan at the layout the downgrades end in (a downgrade keeps at most maxOrder + 1
    // factors), before any of them is applied: a spacing the kernels cannot divide by fails here.
    const jobs = checked.map((c) => {
      const e = this.entries.get(c.id);
      const oldCount = e && sameShape(e.shape, c.shape) ? Math.min(e.count, layout.maxOrder + 1) : 0;
      const history = oldCount > 0 ? e!.history : [];
      return { ...c, history, oldCount, old: e, plan: updatePlan(variable, history, oldCount, node, layout.maxOrder, warmup) };
    });
    // (on 'cuda' only entries without factors are relaid here, their device buffers replaced: not undone)
    const undo = downgrades.length > 0 && this.options.device !== 'cuda' ? this.snapshotHost() : undefined;
    for (const step of downgrades) this.relayoutHost(step.target, step);
    const { storage } = this.options;
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
      undo?.();
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
    this.options = this.initial;
    this.downgradeLog.length = 0;
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

  /** bytes an entry of `length` elements takes under `layout` (staging as it stands, or as allocated new) */
  private bytesAt(layout: Layout, length: number, e?: Entry): number {
    const factors = factorBytes(layout.storage, length, layout.maxOrder + 1);
    if (this.options.device !== 'cuda') return factors;
    return factors + length * BYTES[this.options.activation] + (e?.gateStage?.byteLength ?? 0);
  }

  /** Bytes every entry takes under `layout`, those in `pending` (id -> elements) new or resized to it. */
  private neededAt(layout: Layout, pending: ReadonlyMap<string, number>): number {
    let total = 0;
    for (const [k, e] of this.entries) if (!pending.has(k)) total += this.bytesAt(layout, e.length, e);
    for (const [k, length] of pending) total += this.bytesAt(layout, length, this.entries.get(k));
    return total;
  }

  /** How many entries the cache holds once those in `pending` exist. */
  private countWith(pending: ReadonlyMap<string, number>): number {
    let added = 0;
    for (const k of pending.keys()) if (!this.entries.has(k)) added++;
    return this.entries.size + added;
  }

  /** The entries of an update of `items` under `context` that would allocate: id -> elements. */
  private allocating(context: string, items: ReadonlyArray<{ key: string; length: number }>): Map<string, number> {
    const pending = new Map<string, number>();
    for (const { key, length } of items) {
      const id = entryId(context, key);
      const e = this.entries.get(id);
      if (!(e && e.length === length)) pending.set(id, length);
    }
    return pending;
  }

  /**
   * The budget step of an update that allocates, planned at `layout` (the cache's, or where the earlier
   * entries of the batch take it): undefined when the entries fit maxBytes, the downgrade to take
   * ('degrade'), or TaylorSeerBudgetError. Changes nothing. `relayoutAsync` is the 'cuda' form the hook runs first.
   */
  private budgetStep(layout: Layout, pending: ReadonlyMap<string, number>, key: string, shape: readonly number[]): BudgetStep | undefined {
    const { maxBytes, onBudget, storage, maxOrder } = this.options;
    if (maxBytes === undefined) return undefined;
    const needed = this.neededAt(layout, pending);
    if (needed <= maxBytes) return undefined;
    const entries = this.countWith(pending);
    const target = downgradeLadder(layout).find((l) => this.neededAt(l, pending) <= maxBytes);
    if (onBudget === 'degrade' && target) {
      if (this.options.device === 'cuda' && [...this.entries.values()].some((e) => e.count > 0)) {
        // Only reached when the caller skipped relayoutAsync (the hook never does).
        throw new TaylorSeerError('ERR_DEVICE', 'a budget downgrade of GPU factors moves them through host memory: call relayoutAsync first (the hook does)');
      }
      return { target, needed, entries };
    }
    const fits = target ? { ...target, bytes: this.neededAt(target, pending) } : undefined;
    throw new TaylorSeerBudgetError(
      `maxBytes ${maxBytes}: caching "${key}" [${shape.join(', ')}] at order ${layout.maxOrder} in ${layout.storage} would take the cache from ${this.bytesHeld} to ${needed} bytes ` +
        `(${entries} entries so far). ` +
        (fits
          ? `They would fit at storage ${fits.storage}, order ${fits.maxOrder} (${fits.bytes} bytes)${onBudget === 'degrade' ? '' : "; construct with onBudget: 'degrade' to step down automatically"}. Nothing was allocated.`
          : `Not even order 0 in ${downgradeLadder({ storage: layout.storage, maxOrder: 0 }).at(-1)?.storage ?? layout.storage} fits: cache at a coarser granularity (block or lite), fewer tokens, or raise maxBytes. ` +
            `Nothing was allocated${storage !== layout.storage || maxOrder !== layout.maxOrder ? ` and the cache keeps storage ${storage}, order ${maxOrder}` : ''}.`),
      maxBytes,
      needed,
      fits as (FactorLayout & { bytes: number }) | undefined,
    );
  }

  /**
   * Device 'cuda', before an update of (context, key) with `length` elements: when the budget calls for a
   * downgrade, moves every entry's factors to the new layout through host memory. Resolves at once when
   * nothing is needed (or on the host, where the update itself downgrades).
   */
  /** Whether an update of (context, key) with `length` elements needs relayoutAsync first (device 'cuda'). */
  needsRelayout(context: string, key: string, length: number): boolean {
    return this.needsRelayoutMany(context, [{ key, length }]);
  }

  /** needsRelayout for an updateMany of `items` (every entry the one update allocates counted together). */
  needsRelayoutMany(context: string, items: ReadonlyArray<{ key: string; length: number }>): boolean {
    this.checkAlive();
    const { maxBytes, onBudget, storage, maxOrder, device } = this.options;
    if (device !== 'cuda' || maxBytes === undefined || onBudget !== 'degrade') return false;
    const pending = this.allocating(context, items);
    return pending.size > 0 && this.neededAt({ storage, maxOrder }, pending) > maxBytes;
  }

  relayoutAsync(context: string, key: string, length: number): Promise<void> {
    return this.relayoutManyAsync(context, [{ key, length }]);
  }

  /** relayoutAsync for an updateMany of `items`. */
  relayoutManyAsync(context: string, items: ReadonlyArray<{ key: string; length: number }>): Promise<void> {
    // One at a time: a second call must see the layout the first one left.
    const run = this.relayoutQueue.then(() => this.relayoutDevice(context, items));
    this.relayoutQueue = run.catch(() => undefined);
    return run;
  }

  private async relayoutDevice(context: string, items: ReadonlyArray<{ key: string; length: number }>): Promise<void> {
    this.checkAlive();
    const { maxBytes, onBudget, storage, maxOrder, device } = this.options;
    if (device !== 'cuda' || maxBytes === undefined || onBudget !== 'degrade') return;
    const pending = this.allocating(context, items);
    if (pending.size === 0) return;
    const current = { storage, maxOrder };
    const needed = this.neededAt(current, pending);
    if (needed <= maxBytes) return;
    const target = downgradeLadder(current).find((l) => this.neededAt(l, pending) <= maxBytes);
    if (!target) return; // the update reports ERR_BUDGET
    const from = storage;
    const to = target.storage;
    const cuda = native().cuda;
    const host = new Map<Entry, HostFactors>();
    for (const x of this.entries.values()) {
      const keep = Math.min(x.count, target.maxOrder + 1);
      if (keep === 0) continue;
      const old = allocFactors(from, keep, x.length); // the first `keep` factors: a prefix of the buffer
      await cuda.download(x.factors as DeviceTensor, old);
      host.set(x, old);
    }
    this.checkAlive();
    for (const x of this.entries.values()) {
      const keep = Math.min(x.count, target.maxOrder + 1);
      const fresh = allocFactors(to, keep, x.length);
      const old = host.get(x);
      for (let i = 0; old && i < keep; i++) convertFactor(old, from, fresh, to, i, x.length);
      const next = cuda.alloc(to, factorUnits(to, x.length, target.maxOrder + 1)); // before the old is freed: a failure leaves it intact
      (x.factors as DeviceTensor).dispose();
      x.factors = next;
      if (old) cuda.upload(next, fresh);
      x.count = keep;
    }
    this.record(current, target, needed, this.countWith(pending));
  }

  private relayoutHost(target: Layout, at: { needed: number; entries: number }): void {
    const from: Layout = { storage: this.options.storage, maxOrder: this.options.maxOrder };
    for (const x of this.entries.values()) {
      const keep = Math.min(x.count, target.maxOrder + 1);
      if (!ArrayBuffer.isView(x.factors)) {
        // 'cuda' entries without valid factors: only the allocation changes.
        const next = native().cuda.alloc(target.storage, factorUnits(target.storage, x.length, target.maxOrder + 1));
        (x.factors as DeviceTensor).dispose();
        x.factors = next;
      } else {
        const fresh = allocFactors(target.storage, target.maxOrder + 1, x.length);
        for (let i = 0; i < keep; i++) convertFactor(x.factors, from.storage, fresh, target.storage, i, x.length);
        x.factors = fresh;
      }
      x.count = keep;
    }
    this.record(from, target, at.needed, at.entries);
  }

  /**
   * Host factors: what a relayoutHost changes (the layout, the log, every entry's factors and count), and a
   * function that puts it back, for an update that fails after its downgrades were applied. A relayout
   * replaces host arrays without writing the old ones, so keeping the references is enough.
   */
  private snapshotHost(): () => void {
    const options = this.options;
    const logged = this.downgradeLog.length;
    const held = [...this.entries.values()].map((x) => ({ x, factors: x.factors, count: x.count }));
    return () => {
      this.options = options;
      this.downgradeLog.length = logged;
      for (const h of held) Object.assign(h.x, { factors: h.factors, count: h.count });
    };
  }

  private record(from: Layout, to: Layout, needed: number, entries: number): void {
    this.options = Object.freeze({ ...this.options, storage: to.storage, maxOrder: to.maxOrder });
    this.downgradeLog.push({ from, to, neededBytes: needed, bytesAfter: this.bytesHeld, entries });
  }

  private allocate(context: string, key: string, shape: readonly number[], length: number): Entry {
    const { maxOrder, storage, activation, device } = this.options;
    if (device === 'cuda') {
      const cuda = native().cuda;
      const factors = cuda.alloc(storage, factorUnits(storage, length, maxOrder + 1));
      let stage: DeviceTensor;
      try {
        stage = cuda.alloc(activation, length);
      } catch (err) {
        factors.dispose();
        throw err;
      }
      return { context, key, shape: [...shape], length, count: 0, history: [], factors, stage };
    }
    return { context, key, shape: [...shape], length, count: 0, history: [], factors: allocFactors(storage, maxOrder + 1, length) };
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

/**
 * Factor i (n elements) of `src` in storage `from`, into factor i of `dst` in storage `to`: 16-bit stores
 * round to nearest even; into 'i8', d_0 is rounded to bf16 and a difference is quantised by the update
 * kernel (the same records it writes).
 */
function convertFactor(src: HostFactors, from: StorageDtype, dst: HostFactors, to: StorageDtype, i: number, n: number): void {
  if (from === to) {
    const at = factorOffset(to, n, i);
    const end = factorOffset(to, n, i + 1);
    (dst as Uint8Array).set((src as Uint8Array).subarray(at, end), at);
    return;
  }
  if (from === 'i8') throw new TaylorSeerError('ERR_DTYPE', "'i8' factors are the smallest storage; nothing converts from them");
  let f32: Float32Array;
  if (from === 'f32') f32 = (src as Float32Array).subarray(i * n, (i + 1) * n);
  else {
    f32 = new Float32Array(n);
    native().fromHalf((src as Uint16Array).subarray(i * n, (i + 1) * n), from, f32);
  }
  if (to === 'f32') (dst as Float32Array).set(f32, i * n);
  else if (to === 'i8') writeI8Factor(f32, dst as Uint8Array, i, n);
  else native().toHalf(f32, to, (dst as Uint16Array).subarray(i * n, (i + 1) * n));
}
