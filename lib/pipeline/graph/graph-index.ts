/**
 * Who produces and who consumes each tensor of an ONNX graph, and dependency queries over it: the
 * structure branch detection and the full/trunk derivation both walk.
 */
import type { GraphProto, NodeProto } from './onnx-file';

/** Every tensor a node reads, its subgraphs' reads of outer tensors included. */
export function nodeReads(n: NodeProto): string[] {
  const out = (n.input ?? []).filter((x) => x);
  for (const a of n.attribute ?? []) for (const sub of [a.g, ...(a.graphs ?? [])]) for (const sn of sub?.node ?? []) for (const x of sn.input ?? []) if (x) out.push(x);
  return out;
}

export class GraphIndex {
  readonly nodes: NodeProto[];
  /** tensor name -> index of the node that outputs it */
  readonly producer = new Map<string, number>();
  /** tensor name -> indices of the nodes that read it */
  readonly consumers = new Map<string, number[]>();

  constructor(graph: GraphProto) {
    this.nodes = graph.node ?? [];
    this.nodes.forEach((n, i) => {
      for (const o of n.output ?? []) if (o) this.producer.set(o, i);
      for (const x of n.input ?? []) {
        if (!x) continue;
        const list = this.consumers.get(x);
        if (list) list.push(i);
        else this.consumers.set(x, [i]);
      }
    });
  }

  producerOf(tensor: string): NodeProto | undefined {
    const i = this.producer.get(tensor);
    return i === undefined ? undefined : this.nodes[i];
  }

  /** Whether `tensor` is computed from `source` (or is it). */
  dependsOn(tensor: string, source: string): boolean {
    if (tensor === source) return true;
    const seen = new Set<string>([tensor]);
    const stack = [tensor];
    while (stack.length > 0) {
      const t = stack.pop()!;
      const p = this.producer.get(t);
      if (p === undefined) continue;
      for (const x of this.nodes[p].input ?? []) {
        if (!x || seen.has(x)) continue;
        if (x === source) return true;
        seen.add(x);
        stack.push(x);
      }
    }
    return false;
  }

  /**
   * Indices of the nodes needed to compute `outputs` when the tensors in `given` are supplied from
   * outside (graph inputs): a backward walk from the outputs that stops at the given tensors.
   */
  needed(outputs: readonly string[], given: ReadonlySet<string>): Set<number> {
    const keep = new Set<number>();
    const seen = new Set<string>();
    const stack = [...outputs];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t) || given.has(t)) continue;
      seen.add(t);
      const p = this.producer.get(t);
      if (p === undefined || keep.has(p)) continue;
      keep.add(p);
      for (const x of this.nodes[p].input ?? []) if (x) stack.push(x);
      // a subgraph (If, Loop, Scan) may read outer tensors by name: keep whatever its nodes read
      for (const a of this.nodes[p].attribute ?? []) {
        for (const g of [a.g, ...(a.graphs ?? [])]) for (const n of g?.node ?? []) for (const x of n.input ?? []) if (x) stack.push(x);
      }
    }
    return keep;
  }
}
