/**
 * How a forecast step can run less of the graph than the trunk (derive.ts), found from the graph's structure
 * alone (no onnxruntime; the load checks what needs values, graph-model.ts):
 *
 *  - conditioning: the trunk nodes that read the timestep, label or guidance input but not the sample (a
 *    DiT's timestep/label embedding and every block's adaLN modulation). Their outputs that the sample-side
 *    nodes read are the frontier; the conditioning graph computes the frontier, the rest graph takes it as
 *    inputs. Nodes that read no input at all (constants) stay where they are needed.
 *  - fused: on a forecast step every branch is forecast, so when a residual stream carries nothing but the
 *    branches' adds, h_final = h0 + sum_k gate_k * forecast_k is one fused pass of the cache
 *    (CacheHook.gatedResiduals) per stream; the head graph gives the starts (sample -> h0) and the gates, a
 *    bridge graph the start of a stream computed from other streams' ends (an MMDiT's joint sequence from its
 *    image and text streams), the tail graph the output from the ends. Eligible when each stream's kept
 *    branches are its adds, back to back (each add's skip is the previous add's output, nothing in between),
 *    each stream value, gated product and branch has no other reader in the trunk, and nothing outside the
 *    streams reads inside one (the head computes the gates the conditioning does not give, from the sample
 *    if they read it, so a gate may not need a branch or a stream value).
 *
 * Each split is either made or refused with the reason, which `inspect --json` prints.
 */
import { readsOf } from './derive';
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

export interface FusedStream {
  /** the stream's start (its first add's skip) and end (its last add's output) */
  h0: string;
  hLast: string;
  /** its branches, as indices into the branch list, in stream order */
  branches: number[];
  /** per branch of the stream: its gate tensor (undefined: plain, gate 1) */
  gates: Array<string | undefined>;
  /** where h0 comes from: a graph input (the sample), the conditioning, or the piece of the stream's level */
  source: 'input' | 'conditioning' | 'piece';
  /** 0: h0 needs no other stream; L: it needs the end of a stream of level L - 1 (and none higher) */
  level: number;
}

export interface FusedPiece {
  /** nodes computing `outputs` from the graph's inputs, the frontier and the ends of lower-level streams */
  nodes: Set<number>;
  /** the starts of this level's streams that are computed here and (piece 0) the gates the conditioning does not give */
  outputs: string[];
  /** the stream ends it reads */
  ends: string[];
}

export interface FusedSplit {
  /** the streams in the order a forecast step adds into them: by level, then graph order */
  streams: FusedStream[];
  /** pieces[L] runs before the streams of level L (pieces[0] is the head) */
  pieces: FusedPiece[];
  /** nodes computing the graph's output from the stream ends (frontier given); empty when the output is an end */
  tailNodes: Set<number>;
  /** the stream ends the tail reads */
  tailEnds: string[];
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

/**
 * The fused split: one chain per residual stream. A stream whose start is computed from other streams' ends
 * (an MMDiT's joint sequence: the concatenation of its image and text streams) runs after them, its start
 * computed by a piece of the graph between; the tail takes the ends the output needs.
 */
export function splitFused(g: GraphProto, io: RecognizedIo, branches: readonly Branch[], cond: ConditioningSplit, index = new GraphIndex(g)): Outcome<FusedSplit> {
  const nodes = index.nodes;
  const no = (reason: string): Outcome<FusedSplit> => ({ ok: false, reason });
  const outputs = (g.output ?? []).map((o) => o.name!);
  const tensors = branches.map((b) => b.tensor);
  const frontier = new Set(cond.frontier);
  const inputs = new Set((g.input ?? []).map((v) => v.name!));
  const trunk = index.needed(outputs, new Set(tensors));
  const trunkReaders = (t: string) => (index.consumers.get(t) ?? []).filter((i) => trunk.has(i));
  // nodes of the streams themselves (adds, gated products) and of the branches: no piece may run them
  const inside = new Set<number>();
  const streams: FusedStream[] = [];
  const streamIds = [...new Set(branches.map((b) => b.stream))];
  for (const id of streamIds) {
    const members = branches.flatMap((b, k) => (b.stream === id ? [k] : []));
    const adds: number[] = [];
    // values[k]: the value branch k is added to (values[0] = h0)
    const values: string[] = [];
    for (const [j, k] of members.entries()) {
      const b = branches[k];
      const a = nodes.findIndex((n) => (n.name || n.output?.[0]) === b.add);
      if (a < 0) return no(`the residual add ${b.add} was not found`);
      const ins = (nodes[a].input ?? []).filter((x) => x);
      // gated: the add reads gate * branch from a Mul
      const mul = b.kind === 'gated' ? ins.map((x) => index.producer.get(x)).find((p) => p !== undefined && nodes[p].opType === 'Mul' && (nodes[p].input ?? []).includes(b.tensor)) : undefined;
      const update = b.kind === 'gated' ? (mul === undefined ? undefined : nodes[mul].output?.[0]) : b.tensor;
      if (update === undefined) return no(`the gated product of ${b.key} was not found`);
      const skip = ins.find((x) => x !== update);
      if (skip === undefined) return no(`the residual add of ${b.key} has no skip input`);
      if (j > 0 && skip !== nodes[adds[j - 1]].output?.[0]) {
        return no(`between the residual adds of ${branches[members[j - 1]].key} and ${b.key} the stream passes through ${index.producerOf(skip)?.opType ?? skip} (or an add whose branch is not cached)`);
      }
      if (b.kind === 'gated') {
        if (trunkReaders(update).length !== 1) return no(`the gated product of ${b.key} is read by more than its residual add`);
        if (b.gate === undefined) return no(`the gate of ${b.key} is unknown`);
        const gp = index.producer.get(b.gate);
        if (gp === undefined) return no(`the gate of ${b.key} is ${b.gate === io.sample ? 'the sample' : 'a weight or input'}, not a computed value`);
      }
      const own = mul ?? a;
      if (trunkReaders(b.tensor).some((r) => r !== own)) return no(`the branch ${b.key} is read by more than its ${b.kind === 'gated' ? 'gate' : 'residual add'}`);
      adds.push(a);
      values.push(skip);
      inside.add(a);
      if (mul !== undefined) inside.add(mul);
      const bp = index.producer.get(b.tensor);
      if (bp !== undefined) inside.add(bp);
    }
    const h0 = values[0];
    const source = inputs.has(h0) ? 'input' : frontier.has(h0) ? 'conditioning' : 'piece';
    // the values after an add are never formed, and a start computed by a piece is added into in place; a
    // start that is an input or a conditioning value is added into as a copy, so others may read it
    for (const [j, h] of values.entries()) {
      if (j === 0 && source !== 'piece') continue;
      const others = trunkReaders(h).filter((r) => r !== adds[j]);
      if (others.length > 0) return no(`the stream value ${h} is read by ${nodes[others[0]].opType} ${nodes[others[0]].name ?? ''} besides the next residual add`.trimEnd());
    }
    streams.push({
      h0,
      hLast: nodes[adds[adds.length - 1]].output![0],
      branches: members,
      gates: members.map((k) => (branches[k].kind === 'gated' ? branches[k].gate : undefined)),
      source,
      level: 0,
    });
  }
  const ends = new Set(streams.map((s) => s.hLast));
  const given = new Set([...frontier, ...ends]);
  const levelOfEnd = new Map<string, number>();
  // graph order: a stream's start can only need the ends of streams added into before it
  for (const s of streams) {
    if (ends.has(s.h0)) return no(`the stream of ${branches[s.branches[0]].key} starts at the end of another stream`);
    if (s.source === 'piece') {
      const read = readsOf(g, index.needed([s.h0], given));
      const needs = streams.filter((o) => read.has(o.hLast));
      for (const o of needs) {
        if (!levelOfEnd.has(o.hLast)) return no(`the start of the stream of ${branches[s.branches[0]].key} needs the end of a stream that comes after it`);
        s.level = Math.max(s.level, levelOfEnd.get(o.hLast)! + 1);
      }
    }
    levelOfEnd.set(s.hLast, s.level);
  }
  streams.sort((x, y) => x.level - y.level);
  const levels = Math.max(...streams.map((s) => s.level)) + 1;
  const headGates = [...new Set(streams.flatMap((s) => s.gates).filter((x): x is string => x !== undefined && !frontier.has(x)))];
  const pieces: FusedPiece[] = [];
  for (let level = 0; level < levels; level++) {
    const starts = streams.filter((s) => s.level === level && s.source === 'piece').map((s) => s.h0);
    const out = level === 0 ? [...starts, ...headGates] : starts;
    const lower = new Set(streams.filter((s) => s.level < level).map((s) => s.hLast));
    const pieceNodes = index.needed(out, new Set([...frontier, ...lower]));
    const through = [...pieceNodes].find((i) => inside.has(i));
    if (through !== undefined) return no(`computing ${out.join(', ')} runs ${nodes[through].opType} ${nodes[through].name ?? ''} inside a stream`.trimEnd());
    const read = readsOf(g, pieceNodes);
    pieces.push({ nodes: pieceNodes, outputs: out, ends: [...lower].filter((e) => read.has(e)) });
  }
  const tailNodes = ends.has(io.output) ? new Set<number>() : index.needed([io.output], given);
  const through = [...tailNodes].find((i) => inside.has(i));
  if (through !== undefined) return no(`the output needs ${nodes[through].opType} ${nodes[through].name ?? ''} inside a stream besides its end`.trimEnd());
  const tailRead = readsOf(g, tailNodes);
  return { ok: true, value: { streams, pieces, tailNodes, tailEnds: [...ends].filter((e) => tailRead.has(e)) } };
}

