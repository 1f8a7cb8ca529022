/**
 * Finds the cached branches of a transformer's residual stream in an ONNX graph.
 *
 * Every block of a diffusion transformer updates its residual stream h with `h = h + branch` (plain, e.g.
 * a cross-attention) or `h = h + gate * branch` (adaLN-gated, DiT/FLUX/Wan). In the graph that is an Add
 * whose one operand (the skip, h) is an ancestor of the other (the update), and, when gated, the update is
 * a Mul of a tensor computed from h (the branch) with one that is not (the gate). The value cached is the
 * branch before its gate, as the reference caches it.
 *
 * An Add only counts when it is part of a residual STREAM: its output is the skip of the next such Add (a
 * chain of at least two, possibly through Identity/Cast/Clip). That rules out look-alikes inside a module,
 * e.g. the x + 0.044715 x^3 of a tanh GELU. Separate chains are separate streams (the image and text
 * streams of an MMDiT's double blocks, then its single-stream blocks).
 *
 * Blocks come from node names when they carry an index (`blocks.3`, `transformer_blocks.0`,
 * `single_transformer_blocks.12`, `layers.5`); otherwise a new block starts in a stream whenever a branch's
 * module label repeats one already seen in the current block (attn, mlp, attn -> block 1).
 */
import { TaylorSeerError } from '../../errors';
import { GraphIndex } from './graph-index';
import { valueType, type Dim, type GraphProto, type NodeProto } from './onnx-file';

export type BranchKind = 'gated' | 'plain';

export interface Branch {
  /** cache key, unique within the graph: `<block>.<label>` */
  key: string;
  /** the tensor cached (the branch before its gate) */
  tensor: string;
  kind: BranchKind;
  /** block name (from node names, or `block<i>` in stream order) */
  block: string;
  /** residual stream index, in graph order */
  stream: number;
  /** the residual Add node's name */
  add: string;
  /** gated: the gate tensor multiplied with the branch */
  gate?: string;
  /** dims from the graph's value_info, when it has them */
  dims?: Dim[];
}

export interface Detection {
  branches: Branch[];
  streams: number;
  /** Add nodes in the graph, and how many of them had the residual form (before the stream filter) */
  adds: number;
  residualAdds: number;
}

export interface DetectOptions {
  /** keep only branches whose key, tensor, Add node, producing node or one of its inputs matches one of these */
  cache?: ReadonlyArray<RegExp>;
}

interface Candidate {
  node: NodeProto;
  skip: string;
  out: string;
  tensor: string;
  kind: BranchKind;
  gate?: string;
}

const PASS_THROUGH = new Set(['Identity', 'Cast', 'Clip']);
const BLOCK_NAME = /(?:^|[/.])([A-Za-z_]*(?:blocks|layers|block|layer))[._](\d+)(?=[/._]|$)/;

/** The tensor a pass-through chain (Identity, Cast, Clip) starts from. */
function through(index: GraphIndex, tensor: string): string {
  let t = tensor;
  for (let guard = 0; guard < 64; guard++) {
    const p = index.producerOf(t);
    if (!p || !PASS_THROUGH.has(p.opType ?? '') || !p.input?.[0]) return t;
    t = p.input[0];
  }
  return t;
}

function residualForm(index: GraphIndex, node: NodeProto): Candidate | undefined {
  const ins = (node.input ?? []).filter((x) => x);
  const out = node.output?.[0];
  if (node.opType !== 'Add' || ins.length !== 2 || !out || ins[0] === ins[1]) return undefined;
  for (const [skip, update] of [
    [ins[0], ins[1]],
    [ins[1], ins[0]],
  ]) {
    if (!index.dependsOn(update, skip)) continue;
    const p = index.producerOf(update);
    const m = (p?.input ?? []).filter((x) => x);
    if (p?.opType === 'Mul' && m.length === 2) {
      const d0 = index.dependsOn(m[0], skip);
      const d1 = index.dependsOn(m[1], skip);
      if (d0 !== d1) {
        return { node, skip, out, tensor: d0 ? m[0] : m[1], gate: d0 ? m[1] : m[0], kind: 'gated' };
      }
    }
    return { node, skip, out, tensor: update, kind: 'plain' };
  }
  return undefined;
}

/** The module a branch belongs to, from the node that produces it: `/x/blocks.0/attn/to_out/Add` -> attn. */
function labelOf(index: GraphIndex, c: Candidate): string {
  const name = index.producerOf(c.tensor)?.name || c.tensor;
  const parts = name.split('/').filter((p) => p.length > 0);
  const scopes = parts.length > 1 ? parts.slice(0, -1) : parts;
  const b = scopes.findIndex((s) => BLOCK_NAME.test(`/${s}`));
  // HiDream keeps each block one level down (`double_stream_blocks.0.block.attn1`): that wrapper names nothing
  const first = b >= 0 && scopes[b + 1] === 'block' && b + 2 < scopes.length ? b + 2 : b + 1;
  const pick = b >= 0 && first < scopes.length ? scopes[first] : scopes[scopes.length - 1] ?? 'branch';
  return pick.replace(/_\d+$/, '').replace(/[^A-Za-z0-9_.-]/g, '_') || 'branch';
}

function blockFromName(index: GraphIndex, c: Candidate): string | undefined {
  for (const name of [c.node.name, index.producerOf(c.tensor)?.name]) {
    const m = name ? BLOCK_NAME.exec(name) : null;
    if (m) return `${m[1]}.${m[2]}`;
  }
  return undefined;
}

/** Finds the residual streams and their branches. Errors: ERR_MODEL when none (says why) or a pattern matches none. */
export function detectBranches(graph: GraphProto, options: DetectOptions = {}): Detection {
  const index = new GraphIndex(graph);
  const adds = index.nodes.filter((n) => n.opType === 'Add');
  const candidates = adds.map((n) => residualForm(index, n)).filter((c): c is Candidate => c !== undefined);
  const bySkip = new Map<string, Candidate>();
  for (const c of candidates) if (!bySkip.has(through(index, c.skip))) bySkip.set(through(index, c.skip), c);
  const outs = new Set(candidates.map((c) => c.out));
  const chains: Candidate[][] = [];
  for (const c of candidates) {
    if (outs.has(through(index, c.skip))) continue; // not the start of a chain
    const chain = [c];
    const seen = new Set([c]);
    for (let next = bySkip.get(c.out); next && !seen.has(next); next = bySkip.get(next.out)) {
      chain.push(next);
      seen.add(next);
    }
    if (chain.length >= 2) chains.push(chain);
  }
  if (chains.length === 0) {
    const why =
      candidates.length === 0
        ? `none of its ${adds.length} Add nodes adds a tensor to one computed from it (h + f(h))`
        : `${candidates.length} Add node(s) have the form h + f(h), but none continues into another (a residual stream is a chain of at least two)`;
    throw new TaylorSeerError('ERR_MODEL', `no residual stream found: ${why}; expected a transformer whose blocks do h = h + branch or h = h + gate * branch`);
  }
  const valueDims = new Map<string, Dim[] | undefined>();
  for (const v of [...(graph.valueInfo ?? []), ...(graph.output ?? [])]) if (v.name) valueDims.set(v.name, valueType(v).dims);

  const branches: Branch[] = [];
  const used = new Set<string>();
  chains.forEach((chain, stream) => {
    let block = 0;
    let labels = new Set<string>();
    for (const c of chain) {
      const label = labelOf(index, c);
      let name = blockFromName(index, c);
      if (name === undefined) {
        if (labels.has(label)) {
          block++;
          labels = new Set();
        }
        labels.add(label);
        name = chains.length > 1 ? `s${stream}.block${block}` : `block${block}`;
      }
      let key = `${name}.${label}`;
      if (used.has(key)) key = `${key}.s${stream}`;
      for (let k = 2; used.has(key); k++) key = `${name}.${label}.${k}`;
      used.add(key);
      const dims = valueDims.get(c.tensor);
      branches.push({ key, tensor: c.tensor, kind: c.kind, block: name, stream, add: c.node.name || c.out, ...(c.gate ? { gate: c.gate } : {}), ...(dims ? { dims } : {}) });
    }
  });

  let kept = branches;
  if (options.cache && options.cache.length > 0) {
    // the producer's inputs too: parameter names (blocks.0.attn.proj.bias) keep the module path where an exporter's node names do not
    const names = (b: Branch) => {
      const producer = index.producerOf(b.tensor);
      return [b.key, b.tensor, b.add, producer?.name ?? '', ...(producer?.input ?? [])];
    };
    kept = branches.filter((b) => options.cache!.some((re) => names(b).some((n) => re.test(n))));
    if (kept.length === 0) {
      const shown = branches.slice(0, 4).map((b) => `${b.key} (${b.tensor})`).join(', ');
      throw new TaylorSeerError(
        'ERR_MODEL',
        `the cache pattern(s) ${options.cache.map(String).join(', ')} match none of the ${branches.length} branches found (e.g. ${shown}${branches.length > 4 ? ', ...' : ''})`,
      );
    }
  }
  return { branches: kept, streams: chains.length, adds: adds.length, residualAdds: candidates.length };
}
