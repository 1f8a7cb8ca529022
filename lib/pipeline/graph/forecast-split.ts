/**
 * How a forecast step can run less of the graph than the trunk (derive.ts), found from the graph's structure
 * alone (no onnxruntime; the load checks what needs values, graph-model.ts):
 *
 *  - conditioning: the trunk nodes that read the timestep, label or guidance input but not the sample (a
 *    DiT's timestep/label embedding and every block's adaLN modulation). Their outputs that the sample-side
 *    nodes read are the frontier; the conditioning graph computes the frontier, the rest graph takes it as
 *    inputs. Nodes that read no input at all (constants) stay where they are needed.
 *  - fused: on a forecast step every branch is forecast, so when the residual stream carries nothing but
 *    the branches' adds, h_final = h0 + sum_k gate_k * forecast_k is one fused pass of the cache
 *    (CacheHook.gatedResiduals); the head graph gives h0 (sample -> stream start), the tail graph the output
 *    from h_final. Eligible when the kept branches are all the adds of ONE stream, back to back (each add's
 *    skip is the previous add's output, nothing in between), each stream value, gated product and branch has
 *    no other reader in the trunk, and no gate depends on the sample.
 *
 * Each split is either made or refused with the reason, which `inspect --json` prints.
 */
import { GraphIndex, nodeReads } from './graph-index';
import type { Branch } from './branches';
import type { GraphProto, NodeProto } from './onnx-file';
import type { RecognizedIo } from './inputs';

export type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface ConditioningSplit {
  /** tensors the conditioning graph outputs and the sample-side graphs read, in graph order */
  frontier: string[];
  /** node indices of the conditioning graph (everything the frontier needs) */
  condNodes: Set<number>;
  /** node indices of the trunk with the frontier given */
  restNodes: Set<number>;
}

export interface FusedSplit {
  /** the stream's start (the first add's skip) and end (the last add's output) */
  h0: string;
  hLast: string;
  /** per branch, in stream order: its gate tensor (undefined: plain, gate 1) */
  gates: Array<string | undefined>;
  /** nodes computing h0 and the gates the conditioning does not give (frontier given) */
  headNodes: Set<number>;
  /** the head's outputs: h0 (unless it is a graph input) and those gates */
  headOutputs: string[];
  /** nodes computing the graph's output from h_final (frontier given); empty when h_final is the output */
  tailNodes: Set<number>;
}

/** Marks, in graph (topological) order, the nodes that read one of `sources` directly or through others. */
function dependents(nodes: readonly NodeProto[], sources: Iterable<string>): Set<number> {
  const reached = new Set<string>(sources);
  const marked = new Set<number>();
  nodes.forEach((n, i) => {
    if (nodeReads(n).some((x) => reached.has(x))) {
      marked.add(i);
      for (const o of n.output ?? []) if (o) reached.add(o);
    }
  });
  return marked;
}

export function splitConditioning(g: GraphProto, io: RecognizedIo, branches: readonly string[], index = new GraphIndex(g)): Outcome<ConditioningSplit> {
  const nodes = index.nodes;
  const outputs = (g.output ?? []).map((o) => o.name!);
  const trunk = index.needed(outputs, new Set(branches));
  const onSample = dependents(nodes, [io.sample, ...branches]);
  const conditioned = dependents(nodes, [io.timestep, io.label, ...(io.guidance ? [io.guidance] : [])]);
  const notSample = outputs.find((o) => {
    const p = index.producer.get(o);
    return p === undefined || !onSample.has(p);
  });
  if (notSample !== undefined) return { ok: false, reason: `the output ${notSample} does not depend on the sample` };
  const frontier: string[] = [];
  const seen = new Set<string>();
  for (const i of [...trunk].sort((a, b) => a - b)) {
    if (!onSample.has(i)) continue;
    for (const x of nodeReads(nodes[i])) {
      const p = index.producer.get(x);
      if (p === undefined || seen.has(x) || onSample.has(p) || !conditioned.has(p)) continue;
      seen.add(x);
      frontier.push(x);
    }
  }
  if (frontier.length === 0) return { ok: false, reason: 'no trunk node reads a value computed from the timestep or label alone' };
  return { ok: true, value: { frontier, condNodes: index.needed(frontier, new Set()), restNodes: index.needed(outputs, new Set([...branches, ...frontier])) } };
}

export function splitFused(g: GraphProto, io: RecognizedIo, branches: readonly Branch[], cond: ConditioningSplit, index = new GraphIndex(g)): Outcome<FusedSplit> {
  const nodes = index.nodes;
  const no = (reason: string): Outcome<FusedSplit> => ({ ok: false, reason });
  const streams = new Set(branches.map((b) => b.stream));
  if (streams.size !== 1) return no(`the branches lie on ${streams.size} residual streams (fusing needs one)`);
  const outputs = (g.output ?? []).map((o) => o.name!);
  const tensors = branches.map((b) => b.tensor);
  const frontier = new Set(cond.frontier);
  const trunk = index.needed(outputs, new Set(tensors));
  const trunkReaders = (t: string) => (index.consumers.get(t) ?? []).filter((i) => trunk.has(i));
  const onSample = dependents(nodes, [io.sample]);
  const adds: number[] = [];
  // stream[k]: the value branch k is added to (stream[0] = h0)
  const stream: string[] = [];
  for (const [k, b] of branches.entries()) {
    const a = nodes.findIndex((n) => (n.name || n.output?.[0]) === b.add);
    if (a < 0) return no(`the residual add ${b.add} was not found`);
    const ins = (nodes[a].input ?? []).filter((x) => x);
    // gated: the add reads gate * branch from a Mul
    const mul = b.kind === 'gated' ? ins.map((x) => index.producer.get(x)).find((p) => p !== undefined && nodes[p].opType === 'Mul' && (nodes[p].input ?? []).includes(b.tensor)) : undefined;
    const update = b.kind === 'gated' ? (mul === undefined ? undefined : nodes[mul].output?.[0]) : b.tensor;
    if (update === undefined) return no(`the gated product of ${b.key} was not found`);
    const skip = ins.find((x) => x !== update);
    if (skip === undefined) return no(`the residual add of ${b.key} has no skip input`);
    if (k > 0 && skip !== nodes[adds[k - 1]].output?.[0]) {
      return no(`between the residual adds of ${branches[k - 1].key} and ${b.key} the stream passes through ${index.producerOf(skip)?.opType ?? skip} (or an add whose branch is not cached)`);
    }
    if (b.kind === 'gated') {
      if (trunkReaders(update).length !== 1) return no(`the gated product of ${b.key} is read by more than its residual add`);
      if (b.gate === undefined) return no(`the gate of ${b.key} is unknown`);
      const gp = index.producer.get(b.gate);
      if (gp === undefined) return no(`the gate of ${b.key} is ${b.gate === io.sample ? 'the sample' : 'a weight or input'}, not a computed value`);
      if (onSample.has(gp)) return no(`the gate of ${b.key} depends on the sample`);
    }
    const own = mul ?? a;
    if (trunkReaders(b.tensor).some((r) => r !== own)) return no(`the branch ${b.key} is read by more than its ${b.kind === 'gated' ? 'gate' : 'residual add'}`);
    adds.push(a);
    stream.push(skip);
  }
  for (const [k, h] of stream.entries()) {
    const others = trunkReaders(h).filter((r) => r !== adds[k]);
    if (others.length > 0) return no(`the stream value ${h} is read by ${nodes[others[0]].opType} ${nodes[others[0]].name ?? ''} besides the next residual add`.trimEnd());
  }
  const h0 = stream[0];
  const hLast = nodes[adds[adds.length - 1]].output![0];
  const gates = branches.map((b) => (b.kind === 'gated' ? b.gate : undefined));
  const headGates = [...new Set(gates.filter((x): x is string => x !== undefined && !frontier.has(x)))];
  const initial = (g.input ?? []).some((v) => v.name === h0);
  const headOutputs = [...(initial ? [] : [h0]), ...headGates];
  return {
    ok: true,
    value: {
      h0,
      hLast,
      gates,
      headNodes: index.needed(headOutputs, frontier),
      headOutputs,
      tailNodes: io.output === hLast ? new Set() : index.needed([io.output], new Set([hLast, ...frontier])),
    },
  };
}
