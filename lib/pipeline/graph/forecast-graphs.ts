/**
 * The graphs a forecast step of a single-graph model runs, chosen and opened at load, best first:
 *  - 'fused': conditioning (batched over steps) + head (sample -> h0, the gates) + the cache's fused chain
 *    h0 + sum_k gate_k * forecast_k per residual stream (a bridge graph between streams whose start needs
 *    other streams' ends) + tail (h_final -> output);
 *  - 'conditioning': conditioning (batched over steps) + the rest of the trunk with the forecasts as inputs;
 *  - 'trunk': the trunk (derive.ts), conditioning included, one run per step.
 * Each step down is taken with its reason (forecast-split.ts for the structure, conditioning.ts for
 * batch-separability, fused-forecast.ts for the shapes), which `inspect --json` prints. Full steps always run
 * the full graph, whatever the path.
 */
import type { Ort } from '../ort';
import { TaylorSeerError } from '../../errors';
import type { GraphAnalysis } from './graph-model';
import type { DerivedGraphs } from './derive';
import { encodeSubgraph, readsOf } from './derive';
import { GraphIndex } from './graph-index';
import { splitConditioning, splitFused, type FusedSplit } from './forecast-split';
import { ConditioningCache, checkSeparable } from './conditioning';
import { floatValue, realInputs, type ValueInfoProto } from './onnx-file';

export type ForecastPath = 'fused' | 'conditioning' | 'trunk';
export const FORECAST_PATHS: readonly ForecastPath[] = ['fused', 'conditioning', 'trunk'];

export interface ForecastPlan {
  /** the path forecast steps take (with a hook that has gatedResiduals; 'conditioning' for one without) */
  path: ForecastPath;
  /** why a better path was not taken */
  reasons: { conditioning?: string; fused?: string };
  /** node counts of the graphs a forecast step runs */
  nodes: { trunk?: number; conditioning?: number; rest?: number; head?: number; bridges?: number; tail?: number };
  /** fused: the residual streams a forecast step adds into, one fused pass each */
  streams?: number;
  /** tensors the conditioning graph hands the sample side */
  frontier?: number;
}

export interface FusedGraphs {
  split: FusedSplit;
  /** per split.pieces: pieces[0] the head, then the bridges; absent where a piece has nothing to compute */
  pieces: Array<Ort.InferenceSession | undefined>;
  /** absent when h_final is the graph's output */
  tail?: Ort.InferenceSession;
}

export interface ForecastGraphs {
  plan: ForecastPlan;
  trunk?: Ort.InferenceSession;
  conditioning?: ConditioningCache;
  rest?: Ort.InferenceSession;
  fused?: FusedGraphs;
  /** every session opened, for release */
  sessions: Ort.InferenceSession[];
}

export type OpenGraph = (bytes: Uint8Array, kind: string) => Promise<Ort.InferenceSession>;

const ELEM_OF_TYPE: Record<string, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11 };

function typedValue(name: string, type: string): ValueInfoProto {
  const elem = ELEM_OF_TYPE[type];
  if (elem === undefined) throw new TaylorSeerError('ERR_MODEL', `the conditioning value ${name} has element type ${type}, which a derived graph cannot take as input`);
  return { name, type: { tensorType: { elemType: elem } } };
}

/**
 * Opens the forecast graphs for the best path up to `limit`. Sessions are released if opening fails midway.
 * The fused path is provisional until `verifyFused` has seen the shapes (graph-model.ts calls it after its
 * probe).
 */
export async function openForecastGraphs(a: GraphAnalysis, derived: DerivedGraphs, open: OpenGraph, limit: ForecastPath): Promise<ForecastGraphs> {
  const g = a.model.graph!;
  const index = new GraphIndex(g);
  const branches = a.detection.branches.map((b) => b.tensor);
  const result: ForecastGraphs = { plan: { path: 'trunk', reasons: {}, nodes: {} }, sessions: [] };
  const opened = async (bytes: Uint8Array, kind: string) => {
    const s = await open(bytes, kind);
    result.sessions.push(s);
    return s;
  };
  const trunk = async () => {
    result.trunk = await opened(derived.trunk(), 'trunk');
    result.plan.path = 'trunk';
    result.plan.nodes = { trunk: derived.trunkNodes };
    return result;
  };
  try {
    if (limit === 'trunk') {
      result.plan.reasons.conditioning = result.plan.reasons.fused = 'not asked for (forecastPath trunk)';
      return await trunk();
    }
    const split = splitConditioning(g, a.io, branches, index);
    if (!split.ok) {
      result.plan.reasons.conditioning = result.plan.reasons.fused = split.reason;
      return await trunk();
    }
    const { frontier, condNodes, restNodes } = split.value;
    const inputsOf = (nodes: ReadonlySet<number>) => {
      const read = readsOf(g, nodes);
      return realInputs(g).filter((v) => read.has(v.name!));
    };
    let fed: ValueInfoProto[] = [];
    // the original inputs and the conditioning values a graph of these nodes reads
    const fedTo = (nodes: ReadonlySet<number>) => {
      const read = readsOf(g, nodes);
      return [...realInputs(g).filter((v) => read.has(v.name!)), ...fed.filter((v) => read.has(v.name!))];
    };
    const outputs = g.output ?? [];
    const condSession = await opened(encodeSubgraph(a.model, condNodes, inputsOf(condNodes), frontier.map((n) => ({ name: n }))), 'conditioning');
    const cache = new ConditioningCache(condSession, frontier, { timestep: a.io.timestep, label: a.io.label, ...(a.io.guidance ? { guidance: a.io.guidance } : {}) }, a.timestepScale);
    const { nullClass } = a.shape;
    const other = BigInt(nullClass === 0 ? 1 : 0);
    const check = await checkSeparable(cache, [{ t: 0.75, y: BigInt(nullClass) }, { t: 0.25, y: other }], a.io.guidance ? 1 : undefined);
    if (!check.ok) {
      result.plan.reasons.conditioning = result.plan.reasons.fused = `the conditioning is not separable over the batch: ${check.reason}`;
      await condSession.release().catch(() => undefined);
      result.sessions.pop();
      return await trunk();
    }
    cache.rowBytes = check.rowBytes;
    const probe = await cache.compute([{ t: 1, y: BigInt64Array.from([BigInt(nullClass)]), step: -1 }], a.io.guidance ? 1 : undefined);
    fed = frontier.map((n) => typedValue(n, probe[0][n].type));
    result.conditioning = cache;
    result.rest = await opened(encodeSubgraph(a.model, restNodes, [...fedTo(restNodes), ...branches.map((t) => floatValue(t))], outputs), 'rest');
    result.plan = { path: 'conditioning', reasons: {}, nodes: { conditioning: condNodes.size, rest: restNodes.size }, frontier: frontier.length };
    if (limit === 'conditioning') {
      result.plan.reasons.fused = 'not asked for (forecastPath conditioning)';
      return result;
    }
    const fusedSplit = splitFused(g, a.io, a.detection.branches, split.value, index);
    if (!fusedSplit.ok) {
      result.plan.reasons.fused = fusedSplit.reason;
      return result;
    }
    const f = fusedSplit.value;
    // a graph's inputs and conditioning values, with the stream ends it reads as float inputs
    const withEnds = (nodes: ReadonlySet<number>, ends: readonly string[]) => [...fedTo(nodes), ...ends.map((e) => floatValue(e))];
    const fused: FusedGraphs = { split: f, pieces: [] };
    for (const [level, p] of f.pieces.entries()) {
      fused.pieces.push(p.outputs.length > 0 ? await opened(encodeSubgraph(a.model, p.nodes, withEnds(p.nodes, p.ends), p.outputs.map((n) => ({ name: n }))), level === 0 ? 'head' : `bridge${level}`) : undefined);
    }
    if (f.tailNodes.size > 0) {
      const out = outputs.find((o) => o.name === a.io.output)!;
      fused.tail = await opened(encodeSubgraph(a.model, f.tailNodes, withEnds(f.tailNodes, f.tailEnds), [out]), 'tail');
    }
    result.fused = fused;
    result.plan.path = 'fused';
    const bridges = f.pieces.slice(1).reduce((n, p) => n + p.nodes.size, 0);
    result.plan.nodes = { ...result.plan.nodes, head: f.pieces[0].nodes.size, ...(f.pieces.length > 1 ? { bridges } : {}), tail: f.tailNodes.size };
    result.plan.streams = f.streams.length;
    return result;
  } catch (e) {
    await Promise.all(result.sessions.map((s) => s.release().catch(() => undefined)));
    throw e;
  }
}

/** Steps a plan down from fused to conditioning (the shapes do not fit the fused chain), releasing its graphs. */
export async function dropFused(graphs: ForecastGraphs, reason: string): Promise<void> {
  const f = graphs.fused;
  if (!f) return;
  for (const s of [...f.pieces, f.tail]) {
    if (!s) continue;
    graphs.sessions.splice(graphs.sessions.indexOf(s), 1);
    await s.release().catch(() => undefined);
  }
  graphs.fused = undefined;
  graphs.plan.path = 'conditioning';
  graphs.plan.reasons.fused = reason;
  delete graphs.plan.nodes.head;
  delete graphs.plan.nodes.bridges;
  delete graphs.plan.nodes.tail;
  delete graphs.plan.streams;
}
