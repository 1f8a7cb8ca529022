/**
 * Host-side math of the expansion. The kernels are generic (update: chained differences with given
 * divisors; forecast: a weighted sum of factors with given coefficients), so everything that depends on the
 * variable, the node spacing or the warm-up is computed here, once per entry and step, in f64.
 *
 * Variables (the coordinate x of a node is its step index for 'step', the sampler's t otherwise):
 *  - 'step' (the reference): d_i ~ i-th derivative in steps. Every order divides by the same
 *    D = x_now - x_last (the latest spacing, as the reference does), forecast F = sum d_i u^i / i!,
 *    u = x - x_last.
 *  - 'time': the same Taylor form, with D and u measured in t. t may decrease (1 -> 0): D and u are both
 *    "later minus earlier" differences, so their signs cancel in d_i u^i.
 *  - 'newton': d_i are Newton divided differences over the entry's latest i+1 nodes,
 *    new d_{i+1} = (new d_i - old d_i) / (x_n - x_{n-1-i}), and the forecast evaluates the interpolating
 *    polynomial in the product basis: coeff_i = prod_{j<i} (x - x_{n-j}). Exact for polynomials of degree
 *    <= count-1 on any grid.
 *
 * Warm-up (all variables): a full step s grows the order by one (newCount = min(oldCount+1, K+1)) only when
 * s > W-2; otherwise newCount = 1, the old factors are discarded and the entry's node history restarts at
 * this step. In 'newton' mode this keeps the table consistent: d_i only ever spans nodes computed since the
 * last restart, because newCount <= oldCount+1 means divisor i reaches back at most oldCount nodes.
 */
import { TaylorSeerError } from './errors';
import { requireInt, requireOneOf, show } from './validate';

export type Variable = 'step' | 'time' | 'newton';
export const VARIABLES: readonly Variable[] = ['step', 'time', 'newton'];

/** The kernels hold at most 5 factors (cuda/taylorseer.h TS_MAX_ORDER). */
export const MAX_ORDER = 4;

/** A full step at which an entry was computed. */
export interface Node {
  step: number;
  /** the sampler time; NaN when not given (only allowed for 'step') */
  t: number;
}

export interface UpdatePlan {
  newCount: number;
  /** newCount - 1 finite non-zero divisors */
  divisors: number[];
}

function coordinate(variable: Variable, node: Node): number {
  return variable === 'step' ? node.step : node.t;
}

/** history must be an array of nodes and current a node: these are public functions. */
function checkNodes(history: unknown, current: unknown): void {
  if (!Array.isArray(history)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `history must be an array of { step, t } nodes, got ${show(history)}`);
  for (const [what, n] of [['current', current], ...history.map((h, i) => [`history[${i}]`, h] as const)] as const) {
    if (typeof n !== 'object' || n === null) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} must be a { step, t } node, got ${show(n)}`);
  }
}

/** The warm-up rule: a full step grows the order (adds a node) only after step W-2; earlier ones restart. */
export function growsOrder(step: number, warmup: number): boolean {
  return step > warmup - 2;
}

/**
 * What the update kernel needs for one entry at full step `current`.
 * `history` holds the entry's nodes since its last restart, oldest first; its last `oldCount` nodes are
 * those of the current factors (history.length >= oldCount).
 */
export function updatePlan(
  variable: Variable,
  history: readonly Node[],
  oldCount: number,
  current: Node,
  maxOrder: number,
  warmup: number,
): UpdatePlan {
  requireOneOf('variable', variable, VARIABLES);
  checkNodes(history, current);
  requireInt('maxOrder', maxOrder, 0, MAX_ORDER, 'ERR_ORDER');
  requireInt('oldCount', oldCount, 0, maxOrder + 1, 'ERR_ORDER');
  if (history.length < oldCount) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `history has ${history.length} nodes but the entry holds ${oldCount} factors`);
  }
  const grows = growsOrder(current.step, warmup);
  const newCount = grows ? Math.min(oldCount + 1, maxOrder + 1) : 1;
  const x = coordinate(variable, current);
  const divisors: number[] = [];
  for (let i = 0; i < newCount - 1; i++) {
    // 'step'/'time': the latest spacing for every order; 'newton': the span of the new divided difference.
    const back = variable === 'newton' ? i : 0;
    const d = x - coordinate(variable, history[history.length - 1 - back]);
    // the kernels divide in float32: a spacing that rounds to 0 or overflows there is as unusable as 0
    const f = Math.fround(d);
    if (!Number.isFinite(f) || f === 0) {
      throw new TaylorSeerError(
        'ERR_STEP',
        `cannot difference ${variable === 'step' ? 'step' : 't'} ${x} against the earlier node ${coordinate(variable, history[history.length - 1 - back])}: ` +
          `full steps must have distinct, finite coordinates whose spacing is a non-zero float32 (got ${d})`,
      );
    }
    divisors.push(d);
  }
  return { newCount, divisors };
}

/** Forecast coefficients for an entry holding `count` factors computed at the last `count` nodes of `history`. */
export function forecastCoeffs(variable: Variable, history: readonly Node[], count: number, current: Node): number[] {
  requireOneOf('variable', variable, VARIABLES);
  checkNodes(history, current);
  requireInt('count', count, 1, MAX_ORDER + 1, 'ERR_ORDER');
  if (history.length < count) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `history has ${history.length} nodes but the entry holds ${count} factors`);
  }
  const x = coordinate(variable, current);
  if (!Number.isFinite(x)) throw new TaylorSeerError('ERR_NON_FINITE', `the forecast coordinate must be finite, got ${show(x)}`);
  const last = history.length - 1;
  const coeffs = [1];
  if (variable === 'newton') {
    for (let i = 1; i < count; i++) coeffs.push(coeffs[i - 1] * (x - coordinate(variable, history[last - (i - 1)])));
  } else {
    const u = x - coordinate(variable, history[last]);
    for (let i = 1; i < count; i++) coeffs.push((coeffs[i - 1] * u) / i); // u^i / i!
  }
  return coeffs;
}
