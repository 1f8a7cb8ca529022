/**
 * Two graphs from one exported denoiser:
 *  - full: the graph unchanged plus every cached branch tensor as an extra output (a full step runs it
 *    once and updates the cache from the extra outputs);
 *  - trunk: the branch tensors become graph inputs and every node that only fed them is pruned; what is
 *    left is the embeddings, the modulation, the gates and residual adds, and the final layer (a forecast
 *    step feeds the forecasts in and runs it once).
 * Both are returned as ONNX bytes; nothing is written to disk here.
 */
import { TaylorSeerError } from '../../errors';
import { GraphIndex, nodeReads } from './graph-index';
import { encodeModel, floatValue, realInputs, type GraphProto, type ModelProto, type ValueInfoProto } from './onnx-file';

export interface DerivedGraphs {
  full: Uint8Array;
  /** encoded on demand: a model whose forecast steps run the split graphs never needs it */
  trunk: () => Uint8Array;
  /** nodes in the original graph and in the trunk */
  nodes: number;
  trunkNodes: number;
  /** the original inputs the trunk still reads (in graph order) */
  trunkInputs: string[];
}

export function deriveGraphs(model: ModelProto, branchTensors: readonly string[]): DerivedGraphs {
  const g = model.graph!;
  const outputs = g.output ?? [];
  const outNames = new Set(outputs.map((o) => o.name));
  const clash = branchTensors.find((t) => outNames.has(t));
  if (clash) throw new TaylorSeerError('ERR_MODEL', `branch tensor "${clash}" is already a graph output; a cached branch must be an intermediate value`);

  const full = encodeModel({ ...model, graph: { ...g, output: [...outputs, ...branchTensors.map((t) => floatValue(t))] } });

  const index = new GraphIndex(g);
  const given = new Set(branchTensors);
  const keep = index.needed(outputs.map((o) => o.name!), given);
  const read = readsOf(g, keep);
  for (const o of outputs) read.add(o.name!);
  const unused = branchTensors.filter((t) => !read.has(t));
  if (unused.length > 0) {
    throw new TaylorSeerError('ERR_MODEL', `branch tensor "${unused[0]}" does not reach the graph's output once the branches are inputs; it cannot be cached`);
  }
  const trunkInputs = realInputs(g).filter((i) => read.has(i.name!));
  const trunk = () => encodeSubgraph(model, keep, [...trunkInputs, ...branchTensors.map((t) => floatValue(t))], outputs);
  return { full, trunk, nodes: g.node?.length ?? 0, trunkNodes: keep.size, trunkInputs: trunkInputs.map((i) => i.name!) };
}

/** Every tensor the kept nodes read (their subgraphs' outer reads included). */
export function readsOf(g: GraphProto, keep: ReadonlySet<number>): Set<string> {
  const read = new Set<string>();
  (g.node ?? []).forEach((n, i) => {
    if (keep.has(i)) for (const x of nodeReads(n)) read.add(x);
  });
  return read;
}

/**
 * The graph of the kept nodes (in their original order) with the given inputs and outputs, and the
 * initializers and value infos they need: how every derived graph is cut from the original.
 */
export function encodeSubgraph(model: ModelProto, keep: ReadonlySet<number>, inputs: readonly ValueInfoProto[], outputs: readonly ValueInfoProto[]): Uint8Array {
  const g = model.graph!;
  const read = readsOf(g, keep);
  const fed = new Set(inputs.map((v) => v.name!));
  return encodeModel({
    ...model,
    graph: {
      ...g,
      node: (g.node ?? []).filter((_, i) => keep.has(i)),
      input: [...inputs],
      output: [...outputs],
      initializer: (g.initializer ?? []).filter((t) => read.has(t.name!) && !fed.has(t.name!)),
      valueInfo: (g.valueInfo ?? []).filter((v) => !fed.has(v.name!)),
    },
  });
}
