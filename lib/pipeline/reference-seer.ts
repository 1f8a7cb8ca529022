/**
 * The reference TaylorSeer semantics in plain TypeScript (float32 factors, no native code): an oracle for
 * the library's hook on a real model, and a fallback where the native addon is not built. It follows
 * docs/taylorseer.md literally:
 *  - schedule 'fixed': full when s < W, when N-1 steps were forecast since the last full step, or in the
 *    cool-down; 'mask': full exactly at the listed steps;
 *  - update on full steps: d_0 = F; while an old d_i exists and s > W-2, d_{i+1} = (d_i - old d_i) / D with
 *    D the latest full-step distance ('step': in steps; 'time': in t) or, for 'newton', the divided
 *    difference over i+2 nodes (x_n - x_{n-1-i});
 *  - forecast: F = sum d_i x^i / i! with x the distance from the last full step ('step', 'time'), or the
 *    Newton product basis prod_{j<i} (t - t_{n-j}).
 */
import { TaylorSeerError } from '../errors';
import type { CacheHook } from '../cache-hook';
import { MAX_ORDER, VARIABLES, type Variable } from '../expansion';
import { requireInt, requireOneOf } from '../validate';
import type { GateShape, ModuleOptions, TaylorSeerStats } from '../taylor-seer';
import type { SeerOptions } from './seer-options';

interface Entry {
  factors: Float32Array[];
  /** full steps (step index and t) behind the factors, newest last */
  nodes: Array<{ step: number; t: number }>;
}

export class ReferenceSeer implements CacheHook {
  readonly steps: number;
  readonly warmup: number;
  readonly maxOrder: number;
  readonly variable: Variable;
  private readonly full: boolean[];
  private readonly entries = new Map<string, Entry>();
  private step = -1;
  private t = NaN;
  private full_ = false;
  private disposed = false;
  private readonly counts = { fullSteps: 0, forecastSteps: 0, computes: 0, computesSkipped: 0 };

  constructor(options: SeerOptions) {
    const { schedule, maxOrder, variable = 'step', storage = 'f32' } = options;
    if (storage !== 'f32') throw new TaylorSeerError('ERR_DTYPE', `ReferenceSeer stores factors in f32 only, found "${storage}"`);
    this.maxOrder = requireInt('maxOrder', maxOrder, 0, MAX_ORDER, 'ERR_ORDER');
    this.variable = requireOneOf('variable', variable, VARIABLES);
    this.steps = requireInt('schedule.steps', schedule.steps, 1);
    this.full = new Array<boolean>(this.steps).fill(false);
    if (schedule.kind === 'fixed') {
      const { interval: N, warmup: W, cooldown = 0 } = schedule;
      requireInt('schedule.interval', N, 1);
      requireInt('schedule.warmup', W, 1);
      this.warmup = W;
      let forecast = 0;
      for (let s = 0; s < this.steps; s++) {
        if (s < W || forecast === N - 1 || s >= this.steps - cooldown) {
          this.full[s] = true;
          forecast = 0;
        } else {
          forecast++;
        }
      }
    } else if (schedule.kind === 'adaptive') {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', "the reference implementation runs the reference's schedules (fixed, or a mask); use implementation 'taylorseer' for adaptive");
    } else {
      this.warmup = schedule.warmup ?? 0;
      for (const s of schedule.full) {
        if (!Number.isInteger(s) || s < 0 || s >= this.steps) {
          throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.full: step ${s} is outside 0..${this.steps - 1}`);
        }
        this.full[s] = true;
      }
      if (!this.full[0]) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'schedule.full must contain step 0');
    }
  }

  /** The full steps of a run. */
  fullSteps(): number[] {
    return this.full.flatMap((f, s) => (f ? [s] : []));
  }

  beginStep(step: number, t?: number): void {
    this.live();
    if (!Number.isInteger(step) || step < 0 || step >= this.steps) {
      throw new TaylorSeerError('ERR_STEP', `step must be 0..${this.steps - 1}, found ${step}`);
    }
    if (step !== 0 && step !== this.step + 1) {
      throw new TaylorSeerError('ERR_STEP', `beginStep(${step}) after step ${this.step}: steps must be consecutive (or 0 to start a new run)`);
    }
    // beginStep(0) starts a new run: every entry forgets its factors
    if (step === 0) this.entries.clear();
    if (this.variable !== 'step' && (t === undefined || !Number.isFinite(t))) {
      throw new TaylorSeerError('ERR_STEP', `variable '${this.variable}' needs the sampler's t at every beginStep`);
    }
    this.step = step;
    this.t = t ?? NaN;
    this.full_ = this.full[step];
    if (this.full_) this.counts.fullSteps++;
    else this.counts.forecastSteps++;
  }

  get isFull(): boolean {
    return this.full_;
  }

  private live(): void {
    if (this.disposed) throw new TaylorSeerError('ERR_DISPOSED', 'the ReferenceSeer was disposed');
  }

  private key(key: string, opts?: ModuleOptions): string {
    return `${opts?.context ?? ''}\u0000${key}`;
  }

  private update(id: string, F: Float32Array): void {
    const old = this.entries.get(id);
    const node = { step: this.step, t: this.t };
    const grow = old !== undefined && this.step > this.warmup - 2;
    const nodes = grow ? [...old.nodes, node] : [node];
    const factors: Float32Array[] = [Float32Array.from(F)];
    if (grow) {
      const last = old.nodes[old.nodes.length - 1];
      for (let i = 0; i < this.maxOrder && i < old.factors.length; i++) {
        let D: number;
        if (this.variable === 'step') D = this.step - last.step;
        else if (this.variable === 'time') D = this.t - last.t;
        else D = this.t - old.nodes[old.nodes.length - 1 - i].t;
        const prev = factors[i];
        const o = old.factors[i];
        const next = new Float32Array(F.length);
        for (let j = 0; j < F.length; j++) next[j] = Math.fround(prev[j] - o[j]) / D;
        factors.push(next);
      }
    }
    this.entries.set(id, { factors, nodes: nodes.slice(-(this.maxOrder + 1)) });
  }

  private coefficients(e: Entry): number[] {
    const last = e.nodes[e.nodes.length - 1];
    const c: number[] = [];
    if (this.variable === 'newton') {
      let p = 1;
      for (let i = 0; i < e.factors.length; i++) {
        c.push(p);
        p *= this.t - e.nodes[e.nodes.length - 1 - i].t;
      }
      return c;
    }
    const x = this.variable === 'step' ? this.step - last.step : this.t - last.t;
    let p = 1;
    for (let i = 0; i < e.factors.length; i++) {
      c.push(p);
      p = (p * x) / (i + 1);
    }
    return c;
  }

  private forecast(id: string, key: string): Float32Array {
    const e = this.entries.get(id);
    if (!e) throw new TaylorSeerError('ERR_NO_FACTORS', `no full step has computed "${key}" yet, nothing to forecast from`);
    const c = this.coefficients(e);
    const out = new Float32Array(e.factors[0].length);
    for (let i = 0; i < e.factors.length; i++) {
      const f = e.factors[i];
      const ci = c[i];
      for (let j = 0; j < out.length; j++) out[j] += f[j] * ci;
    }
    return out;
  }

  async moduleAsync(key: string, compute: () => Promise<Float32Array>, opts?: ModuleOptions): Promise<Float32Array> {
    this.live();
    if (this.step < 0) throw new TaylorSeerError('ERR_STEP', 'beginStep() must come first');
    const id = this.key(key, opts);
    if (this.full_) {
      const F = await compute();
      this.counts.computes++;
      this.update(id, F);
      return F;
    }
    this.counts.computesSkipped++;
    return this.forecast(id, key);
  }

  async gatedResidual(
    key: string,
    compute: () => Float32Array | Promise<Float32Array>,
    h: Float32Array,
    gate: Float32Array,
    shape: GateShape,
    opts?: ModuleOptions,
  ): Promise<void> {
    const F = await this.moduleAsync(key, async () => compute(), opts);
    const { batch, tokens, dim } = shape;
    if (h.length !== batch * tokens * dim || F.length !== h.length || gate.length !== batch * dim) {
      throw new TaylorSeerError('ERR_SHAPE', `gatedResidual "${key}": h ${h.length}, F ${F.length}, gate ${gate.length} for [${batch}, ${tokens}, ${dim}]`);
    }
    for (let b = 0; b < batch; b++) {
      for (let n = 0; n < tokens; n++) {
        const o = (b * tokens + n) * dim;
        const g = b * dim;
        for (let d = 0; d < dim; d++) h[o + d] += gate[g + d] * F[o + d];
      }
    }
  }

  get stats(): TaylorSeerStats {
    const bytesByEntry = [...this.entries].map(([id, e]) => {
      const [context, key] = id.split('\u0000');
      return { context, key, bytes: (this.maxOrder + 1) * e.factors[0].length * 4 };
    });
    return {
      ...this.counts,
      bytesHeld: bytesByEntry.reduce((a, e) => a + e.bytes, 0),
      entries: this.entries.size,
      bytesByEntry,
      layout: { storage: 'f32', maxOrder: this.maxOrder },
      budget: { maxBytes: undefined, onBudget: 'error', downgrades: [] },
    };
  }

  reset(): void {
    this.live();
    this.entries.clear();
    this.step = -1;
    this.t = NaN;
    this.full_ = false;
    this.counts.fullSteps = this.counts.forecastSteps = this.counts.computes = this.counts.computesSkipped = 0;
  }

  dispose(): void {
    this.entries.clear();
    this.disposed = true;
  }
}
