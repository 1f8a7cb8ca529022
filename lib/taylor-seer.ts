/**
 * TaylorSeer: the object a sampler loop and a model's forward pass talk to.
 *
 *   const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 50, interval: 6, warmup: 3 }, maxOrder: 2 });
 *   for (let s = 0; s < 50; s++) {
 *     seer.beginStep(s, t[s]);
 *     // inside the model, per cached module:
 *     const y = seer.module('block3.attn', () => attn(x));              // forecast steps: compute is not called
 *     await seer.gatedResidual('block3.mlp', () => mlp(x), h, gate, { batch, tokens, dim });
 *   }
 *
 * Lifecycle rules (each violation is ERR_STEP, and the call changes nothing):
 *  - A run starts with beginStep(0) and continues with consecutive steps 1, 2, ...; beginStep(0) at any time
 *    starts a new run (every entry forgets its factors, allocations are kept), so reusing one TaylorSeer
 *    across images needs no reset(). reset() additionally frees all memory and zeroes the stats.
 *  - 'time' and 'newton' need the sampler's t at every step: finite, strictly monotonic within a run
 *    (either direction; fixed by the run's first two steps).
 *  - A (context, key) pair is used at most once per step; a second use would difference a step against
 *    itself.
 *  - beginStep() and reset() while an async call is in flight are ERR_BUSY.
 * Stats count accepted calls only, so a rejected call leaves them unchanged as well.
 *
 * Device 'cuda' keeps the factors on the GPU; since inputs and outputs here are host arrays, results are read
 * back asynchronously: use moduleAsync() and gatedResidual() (module() is ERR_DEVICE there). 'auto' picks
 * 'cuda' when the addon reports a usable GPU, else 'cpu'.
 */
import type { CacheHook, GatedItem } from './cache-hook';
import { FactorCache, allocHost, describeHostType, isHostTensorOf, requireFixedBuffer, type BudgetDowngrade, type BudgetPolicy, type CacheEntryInfo, type Device, type ShapeChangePolicy } from './cache';
import { TaylorSeerError } from './errors';
import { MAX_ORDER, VARIABLES, type Node, type Variable } from './expansion';
import { DTYPES, STORAGE_DTYPES, native, type Dtype, type HostTensor, type StorageDtype } from './native';
import { planRun, type RunPlan } from './run-plan';
import { createSchedule, type Schedule, type ScheduleOptions } from './schedule';
import { requireFinite, requireInt, requireKnownKeys, requireObject, requireOneOf, show } from './validate';

export type DeviceOption = 'auto' | Device;

/** The host array carrying module outputs of activation dtype A: Float32Array for f32, else 16-bit patterns. */
export type ActivationTensor<A extends Dtype> = A extends 'f32' ? Float32Array : Uint16Array;

export interface TaylorSeerOptions<A extends Dtype = 'f32'> {
  schedule: ScheduleOptions | Schedule;
  /** highest Taylor order K, 0..4; 0 reuses the last full output */
  maxOrder: number;
  /** what the differences are taken in; default 'step' (the reference) */
  variable?: Variable;
  /**
   * what the factors are stored in; default 'f32'. 'i8': d_0 in bf16 and the differences in 8-bit records
   * of 64 elements with an f32 absmax scale each (order 2: 4.125 bytes per element for 3 factors, 69% of
   * bf16; docs/memory.md).
   */
  storage?: StorageDtype;
  /** dtype of module outputs, h and gate; default 'f32' */
  activation?: A;
  /** default 'cpu' */
  device?: DeviceOption;
  /** see lib/cache.ts; default 'error' */
  onShapeChange?: ShapeChangePolicy;
  /**
   * Scan every computed output for NaN and Infinity before it enters the cache: ERR_NON_FINITE names the
   * module and element, and the cache is left unchanged. Forecasts are scanned too (a forecast before it is
   * returned; h after a gated forecast was added to it): factors saturate at the storage range, but their
   * weighted sum can overflow. Costs one read of each output; nothing when off (default false).
   */
  checkFinite?: boolean;
  /**
   * Most bytes the cache may hold (factors, plus staging on 'cuda'); default: no limit. An update that would
   * allocate past it follows `onBudget`.
   */
  maxBytes?: number;
  /**
   * 'error' (default): that update throws TaylorSeerBudgetError (ERR_BUDGET: what the entries so far need,
   * the first layout that would fit them); nothing is allocated and the cache is unchanged.
   * 'degrade': the cache steps down until they fit, storage first (f32 -> bf16 -> i8), then order (maxOrder -> 0),
   * keeping the factors it holds (rounded, truncated), and `stats.budget.downgrades` says what it did.
   * Granularity is where the caller hooks the model; when order 0 at the smallest storage does not fit, ERR_BUDGET.
   */
  onBudget?: BudgetPolicy;
}

export interface ModuleOptions {
  /** separates caches that must not mix, e.g. the cond and uncond forwards of CFG; default '' */
  context?: string;
}

/** modulesAsync's options: ModuleOptions, and where forecast steps write. */
export interface ModulesOptions<A extends Dtype = 'f32'> extends ModuleOptions {
  /**
   * Forecast steps write key k's forecast into outputs[k] (of the entry's length, distinct memory) and return
   * these arrays, instead of allocating new ones each step; full steps ignore them. A model that feeds the
   * forecasts to its next run can keep the same buffers (and the tensors wrapping them) across steps.
   */
  outputs?: ReadonlyArray<ActivationTensor<A>>;
  /**
   * Full steps record key k's entry with dims shapes[k] (default [its length]); a model whose forecast steps
   * add these entries into h through gatedResiduals gives [batch, tokens, dim], the shape those check.
   */
  shapes?: ReadonlyArray<readonly number[]>;
}

export interface GateShape {
  batch: number;
  tokens: number;
  dim: number;
}

export interface TaylorSeerStats {
  /** steps begun as full / as forecast */
  fullSteps: number;
  forecastSteps: number;
  /** compute callbacks run (full steps) / skipped (forecast steps) */
  computes: number;
  computesSkipped: number;
  /** memory held by the cache (factors, plus staging buffers on 'cuda') */
  bytesHeld: number;
  entries: number;
  /** bytes held per entry, sorted by context, then key */
  bytesByEntry: Array<{ context: string; key: string; bytes: number }>;
  /** the layout the factors are held in now (differs from the options after a budget downgrade) */
  layout: { storage: StorageDtype; maxOrder: number };
  /** maxBytes and onBudget as given, and the downgrades made to stay within maxBytes, oldest first */
  budget: { maxBytes: number | undefined; onBudget: BudgetPolicy; downgrades: BudgetDowngrade[] };
}

const OPTION_KEYS = ['schedule', 'maxOrder', 'variable', 'storage', 'activation', 'device', 'onShapeChange', 'checkFinite', 'maxBytes', 'onBudget'] as const;

interface StepState {
  step: number;
  t: number | undefined;
  full: boolean;
  /** (context, key) ids used in this step */
  used: Set<string>;
  /** full steps of a schedule that needs norms: per factor i, the summed squares of d_i over entries */
  normSq?: number[];
}

export class TaylorSeer<A extends Dtype = 'f32'> implements CacheHook<A> {
  readonly schedule: Schedule;
  readonly maxOrder: number;
  readonly variable: Variable;
  readonly storage: StorageDtype;
  readonly activation: A;
  readonly device: Device;
  readonly onShapeChange: ShapeChangePolicy;
  readonly checkFinite: boolean;
  readonly maxBytes: number | undefined;
  readonly onBudget: BudgetPolicy;

  private readonly cache: FactorCache;
  private current: StepState | undefined;
  /** +1 / -1 once a run's t direction is known */
  private tDirection = 0;
  /** ids of calls between their start and their end (async, or a sync compute running) */
  private readonly pending = new Set<string>();
  /** Per buffer of an h: the last gated call queued to write it (writes land in call order). */
  private readonly hTurns = new WeakMap<ArrayBufferLike, Promise<void>>();
  /**
   * The h buffers whose gated computes are being called right now (until each returns its value or promise):
   * see refuseOwnTurn. Not an AsyncLocalStorage: on Node 20 one turns on promise hooks for the whole process
   * (every await elsewhere measured 3x slower after the first gated call).
   */
  private readonly callingComputeOf = new Set<ArrayBufferLike>();
  private counters = { fullSteps: 0, forecastSteps: 0, computes: 0, computesSkipped: 0 };

  constructor(options: TaylorSeerOptions<A>) {
    // a plain copy, each field read once: a getter cannot pass a check with one value and be kept with another
    const o = { ...requireObject('TaylorSeer options', options) };
    requireKnownKeys('TaylorSeer options', o, OPTION_KEYS);
    this.schedule = createSchedule(o.schedule as ScheduleOptions | Schedule);
    this.maxOrder = requireInt('maxOrder', o.maxOrder, 0, MAX_ORDER, 'ERR_ORDER');
    this.variable = requireOneOf('variable', o.variable ?? 'step', VARIABLES);
    this.storage = requireOneOf('storage', o.storage ?? 'f32', STORAGE_DTYPES, 'ERR_DTYPE');
    this.activation = requireOneOf('activation', o.activation ?? 'f32', DTYPES, 'ERR_DTYPE') as A;
    this.onShapeChange = requireOneOf('onShapeChange', o.onShapeChange ?? 'error', ['reset', 'error'] as const);
    const device = requireOneOf('device', o.device ?? 'cpu', ['auto', 'cpu', 'cuda'] as const);
    this.device = resolveDevice(device);
    if (o.checkFinite !== undefined && typeof o.checkFinite !== 'boolean') {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `checkFinite must be a boolean, got ${show(o.checkFinite)}`);
    }
    this.checkFinite = o.checkFinite ?? false;
    if (o.maxBytes !== undefined && (typeof o.maxBytes !== 'number' || !Number.isSafeInteger(o.maxBytes) || o.maxBytes <= 0)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `maxBytes must be a positive integer number of bytes, got ${show(o.maxBytes)}`);
    }
    this.maxBytes = o.maxBytes as number | undefined;
    this.onBudget = requireOneOf('onBudget', o.onBudget ?? 'error', ['error', 'degrade'] as const);
    this.cache = new FactorCache({
      maxOrder: this.maxOrder,
      variable: this.variable,
      storage: this.storage,
      activation: this.activation,
      device: this.device,
      onShapeChange: this.onShapeChange,
      ...(this.maxBytes === undefined ? {} : { maxBytes: this.maxBytes }),
      onBudget: this.onBudget,
    });
  }

  /** Starts denoising step `step` (0-based). `t` is the sampler's time, required for 'time' and 'newton'. */
  beginStep(step: number, t?: number): void {
    this.checkAlive();
    this.checkIdle('beginStep');
    requireInt('step', step, 0, this.schedule.steps - 1, 'ERR_STEP');
    if (t === undefined) {
      if (this.variable !== 'step') throw new TaylorSeerError('ERR_STEP', `variable '${this.variable}' needs the sampler's t: call beginStep(${step}, t)`);
    } else {
      requireFinite('t', t);
    }
    const prev = this.current;
    let direction = step === 0 ? 0 : this.tDirection;
    if (step !== 0) {
      if (!prev) throw new TaylorSeerError('ERR_STEP', `beginStep(${step}) without a run: a run starts with beginStep(0)`);
      if (step !== prev.step + 1) {
        throw new TaylorSeerError('ERR_STEP', `beginStep(${step}) after step ${prev.step}: steps must be consecutive (expected ${prev.step + 1}, or 0 to start a new run)`);
      }
      if (this.variable !== 'step') {
        const dir = Math.sign(t! - prev.t!);
        if (dir === 0 || (direction !== 0 && dir !== direction)) {
          throw new TaylorSeerError(
            'ERR_STEP',
            `t must be strictly ${direction < 0 ? 'decreasing' : direction > 0 ? 'increasing' : 'monotonic'} within a run: step ${prev.step} had t=${prev.t}, step ${step} got t=${t}`,
          );
        }
        direction = dir;
      }
    }
    // The schedule learns how the previous step went before it decides this one.
    if (prev) {
      this.schedule.observe?.({
        step: prev.step,
        t: prev.t,
        full: prev.full,
        entries: prev.used.size,
        variable: this.variable,
        ...(prev.normSq ? { norms: prev.normSq.map(Math.sqrt) } : {}),
      });
    }
    if (step === 0) this.schedule.reset?.();
    const full = this.schedule.isFull(step);
    if (typeof full !== 'boolean') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.isFull(${step}) must return a boolean, got ${show(full)}`);
    if (step === 0 && !full) throw new TaylorSeerError('ERR_STEP', 'the schedule makes step 0 a forecast step, but a run must start with a full step');

    if (step === 0) this.cache.newRun();
    this.tDirection = direction;
    this.current = { step, t, full, used: new Set(), ...(full && this.schedule.needsNorms ? { normSq: [] } : {}) };
    if (full) this.counters.fullSteps++;
    else this.counters.forecastSteps++;
  }

  /** Whether the current step runs the cached modules in full. */
  get isFull(): boolean {
    return this.requireStep().full;
  }

  /** The current step, or undefined before the first beginStep (and after reset). */
  get step(): number | undefined {
    this.checkAlive();
    return this.current?.step;
  }

  /**
   * Full step: runs `compute`, folds its output into the factors and returns it. Forecast step: returns the
   * forecast (a new array) without calling `compute`. Synchronous, so host ('cpu') factors only.
   */
  module(key: string, compute: () => ActivationTensor<A>, opts?: ModuleOptions): ActivationTensor<A> {
    const { id, context, step } = this.beginCall(key, compute, opts);
    if (this.device === 'cuda') {
      throw new TaylorSeerError('ERR_DEVICE', "module() is synchronous and cannot read GPU memory back: use moduleAsync() with device 'cuda'");
    }
    this.pending.add(id);
    try {
      if (step.full) {
        const fresh: unknown = compute();
        if (isThenable(fresh)) {
          (fresh as Promise<unknown>).then(undefined, () => undefined); // its rejection is not ours to report
          throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `compute for "${key}" returned a Promise: use moduleAsync()`);
        }
        this.recordFull(id, context, key, step, fresh);
        return fresh as ActivationTensor<A>;
      }
      const out = this.forecastBuffer(context, key);
      this.cache.forecast(context, key, this.node(step), out);
      this.checkForecast(context, key, step, out, 'its forecast');
      this.recordSkipped(id, step);
      return out as ActivationTensor<A>;
    } finally {
      this.pending.delete(id);
    }
  }

  /** A full step of module()/moduleAsync(): folds the computed output into the entry, counts the compute. */
  private recordFull(id: string, context: string, key: string, step: StepState, fresh: unknown): void {
    this.checkAlive();
    this.fold(context, key, step, fresh, [lengthOf(fresh)]);
    this.counters.computes++;
    step.used.add(id);
  }

  /** Full step: checks the computed output (checkFinite) and folds it into the cache, collecting norms. */
  private fold(context: string, key: string, step: StepState, fresh: unknown, shape: number[]): void {
    this.foldMany(context, [{ key, fresh, shape }], step);
  }

  /**
   * Full step of several entries: checks every output (checkFinite) first, then folds all of them into the
   * cache in one kernel call, collecting norms.
   */
  private foldMany(context: string, items: ReadonlyArray<{ key: string; fresh: unknown; shape: number[] }>, step: StepState): void {
    if (this.checkFinite) {
      for (const { key, fresh } of items) {
        if (!isHostTensorOf(fresh, this.activation)) continue; // the cache reports the wrong type
        const at = native().findNonFinite(this.activation, fresh);
        if (at >= 0) {
          throw new TaylorSeerError(
            'ERR_NON_FINITE',
            `the output of "${key}"${context ? ` (context "${context}")` : ''} at step ${step.step} holds a non-finite value at element ${at}; it was not cached (checkFinite)`,
          );
        }
      }
    }
    const stats = step.normSq ? items.map(() => new Float32Array(MAX_ORDER + 1)) : undefined;
    const counts = this.cache.updateMany(
      context,
      items.map((it, k) => ({ key: it.key, fresh: it.fresh as HostTensor, shape: it.shape, ...(stats ? { stats: stats[k] } : {}) })),
      this.node(step),
      this.schedule.warmup,
    );
    if (stats && step.normSq) {
      // A norm missing for some entries would mix scales, so the step keeps only the orders every entry
      // of the step has (entries restarted by a shape change hold fewer factors).
      counts.forEach((count, k) => {
        const first = step.normSq!.length === 0; // every update reports at least d_0
        const upto = first ? count : Math.min(step.normSq!.length, count);
        step.normSq!.length = upto;
        for (let i = 0; i < upto; i++) step.normSq![i] = (first ? 0 : step.normSq![i]) + stats[k][i];
      });
    }
  }

  /**
   * checkFinite on forecast steps: stored factors are always finite for finite outputs (they saturate at the
   * storage range), but their weighted sum can still overflow. A module's forecast is checked before it is
   * returned; a gated forecast is added to h in place, so h is checked after (the step is then not counted).
   */
  private checkForecast(context: string, key: string, step: StepState, out: HostTensor, what: string): void {
    if (!this.checkFinite) return;
    const at = native().findNonFinite(this.activation, out);
    if (at >= 0) {
      throw new TaylorSeerError(
        'ERR_NON_FINITE',
        `the forecast of "${key}"${context ? ` (context "${context}")` : ''} at step ${step.step}: ${what} holds a non-finite value at element ${at} (checkFinite)`,
      );
    }
  }

  private recordSkipped(id: string, step: StepState): void {
    this.counters.computesSkipped++;
    step.used.add(id);
  }

  /** module() for an async compute; works on every device. */
  async moduleAsync(key: string, compute: () => Promise<ActivationTensor<A>>, opts?: ModuleOptions): Promise<ActivationTensor<A>> {
    const { id, context, step } = this.beginCall(key, compute, opts);
    this.pending.add(id);
    try {
      if (step.full) {
        const fresh: unknown = await compute();
        // Only a budget downgrade of GPU factors waits here: every other call folds in the compute's own tick.
        if (this.cache.needsRelayout(context, key, lengthOf(fresh))) await this.cache.relayoutAsync(context, key, lengthOf(fresh));
        this.recordFull(id, context, key, step, fresh);
        return fresh as ActivationTensor<A>;
      }
      const out = this.forecastBuffer(context, key);
      await this.cache.forecastAsync(context, key, this.node(step), out);
      this.checkForecast(context, key, step, out, 'its forecast');
      this.recordSkipped(id, step);
      return out as ActivationTensor<A>;
    } finally {
      this.pending.delete(id);
    }
  }

  /**
   * module() for several keys whose outputs one computation produces together (a whole-graph model runs
   * once and returns every cached branch): full step, `compute` runs once and its outputs (one per key,
   * in order) are folded into the cache in one kernel call and returned; forecast step, every key is
   * forecast in one kernel call into new arrays and `compute` is not called. Keys are checked (non-empty,
   * distinct, unused this step) before anything runs. `opts.outputs` gives the forecast steps' arrays.
   */
  async modulesAsync(keys: readonly string[], compute: () => Promise<ReadonlyArray<ActivationTensor<A>>>, opts?: ModulesOptions<A>): Promise<ActivationTensor<A>[]> {
    const step = this.requireStep();
    if (!Array.isArray(keys) || keys.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `keys must be a non-empty array of strings, got ${show(keys)}`);
    const { outputs, shapes, callOpts } = this.splitOutputs(keys.length, opts);
    const calls = keys.map((key) => this.beginCall(key, compute, callOpts));
    if (new Set(calls.map((c) => c.id)).size !== calls.length) throw new TaylorSeerError('ERR_STEP', 'keys name the same (context, key) twice; each is used once per step');
    const context = calls[0].context;
    for (const c of calls) this.pending.add(c.id);
    try {
      let out: ActivationTensor<A>[];
      if (step.full) {
        const fresh: unknown = await compute();
        this.checkAlive();
        if (!Array.isArray(fresh) || fresh.length !== keys.length) {
          throw new TaylorSeerError('ERR_LENGTH', `compute must return ${keys.length} outputs (one per key), got ${show(fresh)}`);
        }
        // As in moduleAsync: only a budget downgrade of GPU factors waits, for all the outputs together.
        const sizes = keys.map((key, k) => ({ key, length: lengthOf(fresh[k]) }));
        const dims = keys.map((key, k) => {
          const d = shapes?.[k] ?? [sizes[k].length];
          if (d.reduce((x, y) => x * y, 1) !== sizes[k].length) throw new TaylorSeerError('ERR_SHAPE', `options.shapes[${k}] [${d.join(', ')}] does not hold the ${sizes[k].length} elements compute returned for "${key}"`);
          return d;
        });
        if (this.cache.needsRelayoutMany(context, sizes)) {
          await this.cache.relayoutManyAsync(context, sizes);
          this.checkAlive();
        }
        this.foldMany(context, keys.map((key, k) => ({ key, fresh: fresh[k], shape: dims[k] })), step);
        this.counters.computes += keys.length;
        out = fresh as ActivationTensor<A>[];
      } else {
        out = outputs ? ([...outputs] as ActivationTensor<A>[]) : keys.map((key) => this.forecastBuffer(context, key) as ActivationTensor<A>);
        await this.cache.forecastMany(context, keys.map((key, k) => ({ key, out: out[k] as HostTensor })), this.node(step));
        this.counters.computesSkipped += keys.length;
      }
      for (const c of calls) step.used.add(c.id);
      return out;
    } finally {
      for (const c of calls) this.pending.delete(c.id);
    }
  }

  /**
   * The adaLN-gated residual of a DiT block: h += gate[b, :] * F, with h [batch, tokens, dim] and gate
   * [batch, dim] broadcast over tokens. F is the computed output on full steps (added exactly as computed,
   * not the rounded stored copy) and the forecast otherwise, fused into one pass so it never touches memory.
   */
  async gatedResidual(...[key, compute, h, gate, shape, opts]: Parameters<CacheHook<A>['gatedResidual']>): Promise<void> {
    const { id, context, step } = this.beginCall(key, compute, opts);
    const { batch, tokens, dim, n } = this.checkGated(h, [gate], shape);
    this.refuseOwnTurn(h);
    this.pending.add(id);
    const turn = this.queueWrite(h);
    try {
      if (step.full) {
        const fresh: unknown = await this.callCompute(h.buffer, compute);
        await turn.ready;
        this.checkAlive();
        // By address: an output that aliases h through another SharedArrayBuffer object counts too. Checked
        // before the fold, so a call rejected here leaves the cache as it was.
        if (fresh === h || native().overlaps(fresh, h)) {
          throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `compute for "${key}" returned memory overlapping h; return the module output, not the residual stream`);
        }
        // h and gate were checked before the compute ran; the caller may have detached them meanwhile. The
        // cache must not take this step's factor for a call that then fails.
        if (h.length !== n || gate.length !== batch * dim) {
          throw new TaylorSeerError('ERR_LENGTH', `h or gate changed length (detached?) while the compute for "${key}" ran: h has ${h.length} elements (expected ${n}), gate ${gate.length} (expected ${batch * dim})`);
        }
        if (this.cache.needsRelayout(context, key, n)) {
          await this.cache.relayoutAsync(context, key, n);
          this.checkAlive();
        }
        this.fold(context, key, step, fresh, [batch, tokens, dim]);
        // h += gate * F with the forecast kernel: F is a single "factor" of the activation dtype, coefficient 1.
        native().forecast(this.activation, this.activation, [
          { factors: fresh as HostTensor, out: h, residual: h, gate, tokens, dim, count: 1, coeffs: [1], n },
        ]);
        this.counters.computes++;
      } else {
        await turn.ready;
        await this.cache.forecastAsync(context, key, this.node(step), undefined, { h, gate, batch, tokens, dim });
        this.checkForecast(context, key, step, h, 'h after its gated forecast was added');
        this.counters.computesSkipped++;
      }
      step.used.add(id);
    } finally {
      turn.done();
      this.pending.delete(id);
    }
  }

  /**
   * Gated calls in flight together that write the same h (the same buffer) apply their writes in the order
   * they were called, whatever order their computes finish in, so the bytes equal those of awaiting them one
   * by one. Computes still run concurrently. `ready` settles when every earlier call for that buffer is done.
   */
  /**
   * A gated call into h made inside the compute of a gated call into the same h would wait for that call's
   * turn, which waits for the compute. Made while the compute is being called (an async compute's first
   * line, before its first await) it is ERR_BUSY at once; after an await it cannot be told apart from a
   * concurrent call, so the contract says not to.
   */
  private refuseOwnTurn(h: HostTensor): void {
    if (this.callingComputeOf.has(h.buffer)) {
      throw new TaylorSeerError('ERR_BUSY', 'a gated call into h from inside the compute of a gated call into the same h would wait for itself (gated calls write h in call order); compute the module without writing h');
    }
  }

  private callCompute(buffer: ArrayBufferLike, compute: () => unknown): unknown {
    const nested = this.callingComputeOf.has(buffer);
    this.callingComputeOf.add(buffer);
    try {
      return compute();
    } finally {
      if (!nested) this.callingComputeOf.delete(buffer);
    }
  }

  private queueWrite(h: HostTensor): { ready: Promise<void>; done: () => void } {
    const key = h.buffer;
    const ready = this.hTurns.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.hTurns.set(key, mine);
    return { ready, done };
  }

  /**
   * Several gated residuals into the same h, in order: on full steps exactly gatedResidual() for each item
   * in turn (item k's compute sees h after items < k); on forecast steps one fused pass over h for all of
   * them (h is read and written once instead of once per module). A DiT's forecast step can hand every
   * block's attention and MLP in one call. Every item (key, compute, gate, shape, no key twice) is checked
   * before h changes, on either kind of step.
   */
  async gatedResiduals(
    items: ReadonlyArray<GatedItem<A>>,
    h: ActivationTensor<A>,
    shape: GateShape,
    opts?: ModuleOptions,
  ): Promise<void> {
    const step = this.requireStep();
    if (!Array.isArray(items)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `items must be an array of { key, compute, gate }, got ${show(items)}`);
    const checked = items.map((it, i) => {
      const o = requireObject(`items[${i}]`, it);
      requireKnownKeys(`items[${i}]`, o, ['key', 'compute', 'gate']);
      // each field read once: what is checked is what is used
      const { key, compute, gate } = o;
      return { ...this.beginCall(key, compute, opts), key: key as string, compute: compute as () => ActivationTensor<A>, gate: gate as ActivationTensor<A> };
    });
    const ids = new Set(checked.map((c) => c.id));
    if (ids.size !== checked.length) throw new TaylorSeerError('ERR_STEP', 'items name the same (context, key) twice; each is used once per step');
    const { batch, tokens, dim } = this.checkGated(h, checked.map((c) => c.gate), shape);
    this.refuseOwnTurn(h as HostTensor);
    if (step.full) {
      for (const c of checked) await this.gatedResidual(c.key, c.compute, h, c.gate, shape, opts);
      return;
    }
    const context = checked[0]?.context ?? '';
    for (const c of checked) this.pending.add(c.id);
    const turn = this.queueWrite(h as HostTensor);
    try {
      await turn.ready;
      await this.cache.forecastChain(context, checked, this.node(step), h, { batch, tokens, dim });
      this.checkForecast(context, checked.map((c) => c.key).join('", "'), step, h as HostTensor, 'h after the gated forecasts were added');
      this.counters.computesSkipped += checked.length;
      for (const c of checked) step.used.add(c.id);
    } finally {
      turn.done();
      for (const c of checked) this.pending.delete(c.id);
    }
  }

  /**
   * For schedules known in advance (fixed, mask): computes the whole run's plan, every step's counts and
   * divisors or forecast coefficients (lib/run-plan.ts), and returns it, e.g. for native code that records
   * a step's launches once (a CUDA graph) and replays them with each step's row of values. On 'cuda' the
   * values also go to the device once, and this hook's launches read them from there when an entry
   * follows the plan (results are the same either way). Valid for every later run until reset(); call
   * again after changing the sampler's times. 'time' and 'newton' need the sampler's t of every step.
   */
  prepareRun(options?: { times?: readonly number[] }): RunPlan {
    this.checkAlive();
    this.checkIdle('prepareRun');
    const o = options === undefined ? {} : requireObject('prepareRun options', options);
    requireKnownKeys('prepareRun options', o, ['times']);
    const plan = planRun(this.schedule, { maxOrder: this.maxOrder, variable: this.variable, times: o.times as readonly number[] | undefined });
    this.cache.setRunPlan(plan);
    return plan;
  }

  get stats(): TaylorSeerStats {
    this.checkAlive();
    const list = this.cache.list();
    const { storage, maxOrder } = this.cache.options;
    return {
      ...this.counters,
      bytesHeld: this.cache.bytesHeld,
      entries: list.length,
      // sorted, so equal caches report equal stats whatever order their entries were created in
      bytesByEntry: list
        .map((e) => ({ context: e.context, key: e.key, bytes: e.bytes }))
        .sort((a, b) => (a.context === b.context ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.context < b.context ? -1 : 1)),
      layout: { storage, maxOrder },
      budget: { maxBytes: this.maxBytes, onBudget: this.onBudget, downgrades: [...this.cache.downgrades] },
    };
  }

  /** A snapshot of every cache entry (shape, valid factors, node history, bytes), for logs and tests. */
  inspect(): CacheEntryInfo[] {
    this.checkAlive();
    return this.cache.list();
  }

  /** Frees every entry and zeroes the stats: afterwards this object behaves exactly like a new one. */
  reset(): void {
    this.checkAlive();
    this.checkIdle('reset');
    this.cache.reset();
    this.current = undefined;
    this.tDirection = 0;
    this.counters = { fullSteps: 0, forecastSteps: 0, computes: 0, computesSkipped: 0 };
    this.schedule.reset?.();
  }

  /** Frees all memory (GPU buffers at once, not at garbage collection). Any later use is ERR_DISPOSED. */
  dispose(): void {
    this.cache.dispose();
    this.current = undefined;
  }

  private beginCall(key: unknown, compute: unknown, opts: unknown): { id: string; context: string; step: StepState } {
    const step = this.requireStep();
    if (typeof key !== 'string' || key.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `key must be a non-empty string, got ${show(key)}`);
    if (typeof compute !== 'function') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `compute must be a function, got ${show(compute)}`);
    let context = '';
    if (opts !== undefined) {
      const o = requireObject('options', opts);
      requireKnownKeys('options', o, ['context']);
      const c = o.context; // read once: a getter must not pass the check with one value and be kept with another
      if (c !== undefined) {
        if (typeof c !== 'string') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `options.context must be a string, got ${show(c)}`);
        context = c;
      }
    }
    const id = JSON.stringify([context, key]);
    if (step.used.has(id) || this.pending.has(id)) {
      throw new TaylorSeerError('ERR_STEP', `"${key}"${context ? ` (context "${context}")` : ''} was already used in step ${step.step}; each (context, key) is used once per step`);
    }
    return { id, context, step };
  }

  /**
   * modulesAsync's `outputs` taken out of its options (the rest goes to beginCall): one array per key, of the
   * activation dtype, no two sharing memory (lengths are checked against the entries when forecast).
   */
  private splitOutputs(count: number, opts: unknown): { outputs?: HostTensor[]; shapes?: number[][]; callOpts: unknown } {
    if (typeof opts !== 'object' || opts === null || !('outputs' in opts || 'shapes' in opts)) return { callOpts: opts };
    const { outputs, shapes, ...callOpts } = opts as Record<string, unknown>;
    const checked = shapes === undefined ? {} : { shapes: this.checkShapes(count, shapes) };
    if (outputs === undefined) return { ...checked, callOpts };
    if (!Array.isArray(outputs) || outputs.length !== count) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `options.outputs must be an array of ${count} arrays (one per key), got ${show(outputs)}`);
    }
    outputs.forEach((o: unknown, k) => {
      if (!isHostTensorOf(o, this.activation)) {
        throw new TaylorSeerError('ERR_DTYPE', `options.outputs[${k}] must be ${describeHostType(this.activation)} (activation '${this.activation}'), got ${show(o)}`);
      }
      for (let j = 0; j < k; j++) {
        if (native().overlaps(o, outputs[j] as HostTensor)) {
          throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `options.outputs[${k}] shares memory with options.outputs[${j}]; each forecast needs its own array`);
        }
      }
    });
    return { outputs: outputs as HostTensor[], ...checked, callOpts };
  }

  /** modulesAsync's `shapes`: one dims array per key, 1..8 positive integers (their product is checked at the fold). */
  private checkShapes(count: number, shapes: unknown): number[][] {
    if (!Array.isArray(shapes) || shapes.length !== count) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `options.shapes must be an array of ${count} dims arrays (one per key), got ${show(shapes)}`);
    }
    return shapes.map((d: unknown, k) => {
      if (!Array.isArray(d) || d.length === 0 || d.length > 8) throw new TaylorSeerError('ERR_SHAPE', `options.shapes[${k}] must be an array of 1..8 dims, got ${show(d)}`);
      return d.map((v: unknown, i) => requireInt(`options.shapes[${k}][${i}]`, v, 1, undefined, 'ERR_SHAPE'));
    });
  }

  /** The shared checks of the gated forms: dtypes, [batch, tokens, dim] of h, [batch, dim] of each gate. */
  private checkGated(h: unknown, gates: unknown[], shape: unknown): GateShape & { n: number } {
    const s = requireObject('shape', shape);
    requireKnownKeys('shape', s, ['batch', 'tokens', 'dim']);
    const batch = requireInt('shape.batch', s.batch, 1, undefined, 'ERR_SHAPE');
    const tokens = requireInt('shape.tokens', s.tokens, 1, undefined, 'ERR_SHAPE');
    const dim = requireInt('shape.dim', s.dim, 1, undefined, 'ERR_SHAPE');
    for (const [name, value] of [['h', h], ...gates.map((g) => ['gate', g] as const)] as const) {
      if (!isHostTensorOf(value, this.activation)) {
        throw new TaylorSeerError('ERR_DTYPE', `${name} must be ${describeHostType(this.activation)} (activation '${this.activation}'), got ${show(value)}`);
      }
      requireFixedBuffer(name, value);
    }
    const hh = h as HostTensor;
    const n = batch * tokens * dim;
    if (hh.length !== n) throw new TaylorSeerError('ERR_SHAPE', `h has ${hh.length} elements; shape [${batch}, ${tokens}, ${dim}] needs ${n}`);
    for (const g of gates as HostTensor[]) {
      if (g.length !== batch * dim) throw new TaylorSeerError('ERR_SHAPE', `gate has ${g.length} elements; [batch, dim] = [${batch}, ${dim}] needs ${batch * dim}`);
      if (native().overlaps(hh, g)) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'h and gate must not overlap in memory');
      }
    }
    return { batch, tokens, dim, n };
  }

  private forecastBuffer(context: string, key: string): HostTensor {
    const n = this.cache.lengthOf(context, key);
    // A missing entry is reported by the cache as ERR_NO_FACTORS; the placeholder is never written.
    return allocHost(this.activation, n ?? 0);
  }

  private node(step: StepState): Node {
    return { step: step.step, t: step.t ?? Number.NaN };
  }

  private requireStep(): StepState {
    this.checkAlive();
    if (!this.current) throw new TaylorSeerError('ERR_STEP', 'no current step: call beginStep(0) first');
    return this.current;
  }

  private checkIdle(what: string): void {
    if (this.pending.size > 0) {
      throw new TaylorSeerError('ERR_BUSY', `${what}() while ${this.pending.size} call(s) of step ${this.current?.step} are in flight; await them first`);
    }
  }

  private checkAlive(): void {
    if (this.cache.isDisposed) throw new TaylorSeerError('ERR_DISPOSED', 'this TaylorSeer was disposed; create a new one');
  }
}

function resolveDevice(device: DeviceOption): Device {
  if (device === 'cpu') return 'cpu';
  const info = native().cudaInfo();
  if (info.usable) return 'cuda';
  if (device === 'auto') return 'cpu';
  throw new TaylorSeerError('ERR_DEVICE', `device 'cuda' is not usable: ${info.reason || 'no CUDA device'}`);
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function lengthOf(value: unknown): number {
  return ArrayBuffer.isView(value) ? (value as unknown as { length: number }).length ?? 0 : 0;
}
