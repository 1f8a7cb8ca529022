/**
 * An error-aware schedule: after each full step it decides how many steps to forecast before the next one,
 * from numbers the update kernel produced in the same pass (the norms of the new factors d_0..d_K); no extra
 * forward pass, no extra read of the cache.
 *
 * Error estimate. The difference between the order-K and the order-(K-1) forecast at distance u from the
 * last full node is exactly the K-th term, c_K(u) d_K (the embedded estimate of Runge-Kutta-Fehlberg: the
 * lower-order error, a proxy for the order-K one), with the coefficient of the forecast the kernels make:
 * c_K = u^K / K! for 'step' and 'time' (Taylor form), and the product basis
 * c_K = u (u + D_1) ... (u + D_{K-1}) for 'newton', D_i the distance back to the i-th earlier node (measured
 * on the bundled DiT, actual error / estimate was 0.66-19.6x (median 5.2) with u^K / K!, 0.56-2.3x (median
 * 0.76) with the product basis; docs/studies/adaptive-vs-fixed.md).
 * Relative to the feature itself: e(u) = |c_K(u)| ||d_K|| / ||d_0||, summed over the step's cached modules.
 * With the sampler's time grid the estimate of step j is weighted by its Euler step |t_{j+1} - t_j| / mean: an error in the
 * velocity moves the sample by dt times that error, so a forecast error matters in proportion to dt.
 *
 * Two ways to set it:
 *  - tolerance: the next full step is the first whose weighted estimate exceeds the tolerance.
 *  - budget: exactly `budget` full steps per run (warm-up and cool-down included), so it can be compared
 *    with a fixed schedule at equal compute. The first decision calibrates a tolerance: the estimate at the
 *    even-pace interval (re-calibrated when the order of the estimate changes). Each later decision steers
 *    it by how far the run is ahead of or behind the budget's even share (CONTROL_GAIN per full step), takes
 *    the tolerance's interval, and clamps it so the rest of the budget stays placeable.
 * Intervals stay within [minInterval, maxInterval] (the budget wins where both cannot hold; with a budget they
 * default to a band of 0.6x..1.6x the even pace, so the decisions shape the schedule without abandoning a
 * region on the strength of one noisy estimate). Without differences to look at (maxOrder 0, or a hook that
 * reports no norms) a decision spreads the remaining budget evenly (budget) or uses minInterval (tolerance).
 */
import { TaylorSeerError } from '../errors';
import { growsOrder } from '../expansion';
import type { AdaptiveScheduleOptions, Schedule, StepObservation } from './types';
import { requireInt, requireKnownKeys, requireObject, show } from '../validate';

/** Budget mode: default interval bounds as fractions of the even pace; see the constructor. */
const BAND = [0.6, 1.6] as const;

/** Tolerance factor per full step ahead of (or behind) the budget's even pace; see decide(). */
const CONTROL_GAIN = 1.3;

const KEYS = ['kind', 'steps', 'warmup', 'cooldown', 'minInterval', 'maxInterval', 'tolerance', 'budget', 'times', 'weighting'] as const;

export class AdaptiveSchedule implements Schedule {
  readonly kind = 'adaptive';
  readonly needsNorms = true;
  readonly steps: number;
  readonly warmup: number;
  readonly cooldown: number;
  readonly minInterval: number;
  readonly maxInterval: number;
  readonly tolerance: number | undefined;
  readonly budget: number | undefined;
  readonly weighting: 'sampler' | 'none';
  private readonly times: readonly number[] | undefined;
  /** per step: the weight of its forecast error (1 without a time grid) */
  private readonly weights: readonly number[];
  private nextFull = -1;
  private fullSoFar = 0;
  private decisions: number[] = [];
  /** the full steps since the update rule last restarted the factors (the nodes of d_0..d_K, oldest first) */
  private nodes: number[] = [];
  /** budget mode: the tolerance the controller steers, and the order it was calibrated for */
  private tol: number | undefined;
  private tolOrder = -1;

  constructor(options: Omit<AdaptiveScheduleOptions, 'kind'> & { kind?: 'adaptive' }) {
    const o = requireObject('adaptive schedule options', options);
    requireKnownKeys('adaptive schedule options', o, KEYS);
    this.steps = requireInt('schedule.steps', o.steps, 1);
    this.warmup = requireInt('schedule.warmup', o.warmup, 1, this.steps);
    this.cooldown = requireInt('schedule.cooldown', o.cooldown ?? 0, 0, this.steps - this.warmup);
    if ((o.tolerance === undefined) === (o.budget === undefined)) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'an adaptive schedule needs exactly one of tolerance (a relative error) or budget (full steps per run)');
    }
    // Default bounds. Tolerance: 1..10. Budget: a band around the even pace (the interval that spreads the
    // budget uniformly), 0.6x to 1.6x of it: the error estimate decides where within the band the full steps
    // go, the band keeps an estimate made from noisy differences from starving a whole region.
    let minDefault = 1;
    let maxDefault = 10;
    if (o.tolerance !== undefined) {
      if (typeof o.tolerance !== 'number' || !Number.isFinite(o.tolerance) || o.tolerance <= 0) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.tolerance must be a finite number > 0, got ${show(o.tolerance)}`);
      }
      this.tolerance = o.tolerance;
    } else {
      const min = this.warmup + this.cooldown;
      this.budget = requireInt('schedule.budget', o.budget, Math.max(1, min), this.steps);
      const gapsLeft = this.budget - min + 1; // the decided full steps, plus the gap to the end
      const pace = (this.steps - this.cooldown - (this.warmup - 1)) / Math.max(1, gapsLeft);
      minDefault = Math.max(1, Math.round(BAND[0] * pace));
      maxDefault = Math.max(minDefault, Math.round(BAND[1] * pace));
    }
    this.minInterval = requireInt('schedule.minInterval', o.minInterval ?? Math.min(minDefault, typeof o.maxInterval === 'number' ? o.maxInterval : minDefault), 1, 1_000_000);
    this.maxInterval = requireInt('schedule.maxInterval', o.maxInterval ?? Math.max(this.minInterval, maxDefault), this.minInterval, 1_000_000);
    if (o.times !== undefined) {
      const t = o.times;
      if (!Array.isArray(t) || (t.length !== this.steps && t.length !== this.steps + 1) || !t.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.times must be the sampler's grid: ${this.steps} or ${this.steps + 1} finite numbers, got ${show(t)}`);
      }
      for (let i = 1; i < t.length; i++) {
        if (Math.sign(t[i] - t[i - 1]) !== Math.sign(t[1] - t[0]) || t[i] === t[i - 1]) {
          throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.times must be strictly monotonic (t[${i - 1}]=${t[i - 1]}, t[${i}]=${t[i]})`);
        }
      }
      this.times = [...t];
    }
    const weighting = o.weighting ?? (this.times ? 'sampler' : 'none');
    if (weighting !== 'sampler' && weighting !== 'none') {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `schedule.weighting must be 'sampler' or 'none', got ${show(weighting)}`);
    }
    if (weighting === 'sampler' && !this.times) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', "schedule.weighting 'sampler' needs schedule.times");
    this.weighting = weighting;
    this.weights = this.stepWeights();
  }

  isFull(step: number): boolean {
    requireInt('step', step, 0, this.steps - 1, 'ERR_STEP');
    const full = step < this.warmup || step >= this.steps - this.cooldown || step === this.nextFull;
    if (full) this.fullSoFar++;
    return full;
  }

  fullSteps(): null {
    return null;
  }

  reset(): void {
    this.nextFull = -1;
    this.fullSoFar = 0;
    this.decisions = [];
    this.nodes = [];
    this.tol = undefined;
    this.tolOrder = -1;
  }

  /** The intervals chosen in the current run, in order (for logs and tests). */
  get intervals(): readonly number[] {
    return [...this.decisions];
  }

  observe(o: StepObservation): void {
    if (!o.full) return;
    // The update's rule: a full step after W-2 adds a node, an earlier one restarts the factors.
    if (growsOrder(o.step, this.warmup)) this.nodes.push(o.step);
    else this.nodes = [o.step];
    // Decisions are taken after the last warm-up step and after every full step the schedule placed.
    if (o.step < this.warmup - 1 || o.step >= this.end) return;
    const x = (step: number) => (o.variable === 'step' || !this.times ? step : this.times[step]);
    const norms = o.norms ?? [];
    const order = norms.length - 1;
    let rate = Number.NaN; // ||d_K|| / ||d_0||
    if (order >= 1 && norms[0] > 0) rate = norms[order] / norms[0];
    if (o.variable !== undefined && o.variable !== 'step' && !this.times) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `an adaptive schedule with variable '${o.variable}' needs the sampler's grid: pass schedule.times`);
    }
    // Distances are counted in sampler steps: d_K in t units is converted with the node's latest step size,
    // so a rate measured where t moves slowly is not applied where it moves fast.
    const h = o.step > 0 ? Math.abs(x(o.step) - x(o.step - 1)) : 1;
    const perStep = rate * h ** order;
    const coeff = this.termCoefficient(o.variable, order);
    // Weighted estimate at step j, forecast from the full node p.
    const estimate = (p: number, j: number) => this.weights[j] * perStep * coeff(p, j);
    const g = Number.isFinite(rate) && rate > 0 ? this.decide(o.step, estimate, order) : this.fallback(o.step);
    this.decisions.push(g);
    this.nextFull = o.step + g;
  }

  describe(): string {
    const how = this.budget !== undefined ? `budget=${this.budget}` : `tolerance=${this.tolerance}`;
    return `adaptive(steps=${this.steps}, ${how}, warmup=${this.warmup}, cooldown=${this.cooldown}, interval=${this.minInterval}..${this.maxInterval}, weighting=${this.weighting})`;
  }

  /**
   * |c_K| at step j forecast from node p, in steps. 'newton': the product over the K latest nodes (p and the
   * K-1 before it); without that history (a hook whose nodes differ), the Taylor coefficient.
   */
  private termCoefficient(variable: StepObservation['variable'], order: number): (p: number, j: number) => number {
    const nodes = this.nodes;
    if (variable === 'newton' && order >= 1 && nodes.length >= order) {
      const back = nodes.slice(nodes.length - order);
      return (_p, j) => back.reduce((c, n) => c * Math.abs(j - n), 1);
    }
    const factorial = [1, 1, 2, 6, 24][Math.max(0, order)];
    return (p, j) => Math.abs(j - p) ** order / factorial;
  }

  /** first cool-down step (or steps): the end of the region the schedule decides */
  private get end(): number {
    return this.steps - this.cooldown;
  }

  /** The interval after full step s under tolerance `tol`: forecast while the estimate stays within it. */
  private greedy(s: number, tol: number, estimate: (p: number, j: number) => number): number {
    let g = this.minInterval;
    while (g < this.maxInterval && s + g < this.end && estimate(s, s + g) <= tol) g++;
    return g;
  }

  /** Budget mode: full steps still to place before the cool-down. */
  private get left(): number {
    return this.budget! - this.cooldown - this.fullSoFar;
  }

  private decide(s: number, estimate: (p: number, j: number) => number, order: number): number {
    if (this.budget === undefined) return this.greedy(s, this.tolerance!, estimate);
    const left = this.left;
    if (left <= 0) return this.end - s; // none: forecast up to the cool-down (or the end)
    const pace = Math.max(1, Math.round((this.end - s) / (left + 1)));
    if (this.tol === undefined || order !== this.tolOrder) {
      // Calibrate: the tolerance that the current error model meets at the even-pace interval. Re-done
      // when the order of the estimate changes (a K-th term and a (K+1)-th term are not on one scale).
      // The estimate at distance `pace` is allowed, so the first interval is pace + 1. Calibrating one step
      // shorter (interval = pace) was measured worse on both models (docs/studies/carry-over.md).
      this.tol = estimate(s, Math.min(s + pace, this.steps - 1));
      this.tolOrder = order;
    } else {
      // Control: ahead of the even pace (more full steps used than the budget's share so far) loosens
      // the tolerance, behind tightens it, by CONTROL_GAIN per full step of difference. A gentle gain lets
      // the error model place the steps and the pace only correct drift (the clamp guarantees the budget).
      const start = this.warmup - 1;
      const share = this.warmup + ((this.budget - this.cooldown - this.warmup) * (s - start)) / (this.end - start);
      this.tol *= CONTROL_GAIN ** (this.fullSoFar - share);
    }
    return this.clampToBudget(s, left, this.greedy(s, this.tol, estimate));
  }

  private fallback(s: number): number {
    if (this.budget === undefined) return this.minInterval;
    const left = this.left;
    if (left <= 0) return this.end - s;
    return this.clampToBudget(s, left, Math.round((this.end - s) / (left + 1)));
  }

  /** Keeps `left` full steps placeable after s + g (each gap within the bounds; the budget wins). */
  private clampToBudget(s: number, left: number, g: number): number {
    const span = this.end - s; // distance to the first cool-down step (or one past the end)
    // After s + g, the other left - 1 full steps need gaps >= minInterval before the end, and the left
    // gaps up to the end (the last one to the cool-down or past the final step) must stay <= maxInterval.
    const hi = span - 1 - (left - 1) * this.minInterval;
    const lo = span - left * this.maxInterval;
    if (hi < 1) return 1; // cannot even keep minInterval: place full steps as densely as possible
    return Math.max(1, Math.max(lo, Math.min(hi, g)));
  }

  private stepWeights(): number[] {
    const w = new Array<number>(this.steps).fill(1);
    if (this.weighting !== 'sampler' || !this.times) return w;
    const t = this.times;
    const dt = w.map((_, j) => Math.abs(j + 1 < t.length ? t[j + 1] - t[j] : t[j] - t[j - 1]));
    const mean = dt.reduce((a, b) => a + b, 0) / dt.length;
    return dt.map((d) => d / mean);
  }
}
