/**
 * Small ONNX graphs written with the same schema package the library reads them with, for the shapes of
 * graph the made models do not have: plain (ungated) residual branches, named blocks, two streams, and
 * graphs that must be refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';

type Dims = Array<number | string>;

function value(name: string, elemType: number, dims: Dims): onnx.IValueInfoProto {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

export const F32 = 1;
export const I64 = 7;

export interface ToyNode {
  op: string;
  inputs: string[];
  output: string;
  name?: string;
  attrs?: onnx.IAttributeProto[];
}

export interface ToyGraph {
  inputs: Array<{ name: string; elem: number; dims: Dims }>;
  outputs: Array<{ name: string; elem: number; dims: Dims }>;
  nodes: ToyNode[];
  /** float32 constants */
  constants?: Record<string, { dims: number[]; values: number[] }>;
}

export function toyModel(g: ToyGraph): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'taylorseer-tests',
    graph: {
      name: 'toy',
      input: g.inputs.map((i) => value(i.name, i.elem, i.dims)),
      output: g.outputs.map((o) => value(o.name, o.elem, o.dims)),
      initializer: Object.entries(g.constants ?? {}).map(([name, c]) => ({ name, dataType: F32, dims: c.dims, floatData: c.values })),
      node: g.nodes.map((n, i) => ({ opType: n.op, input: n.inputs, output: [n.output], name: n.name ?? `${n.op}_${i}`, attribute: n.attrs ?? [] })),
    },
  }).finish();
}

/** Writes bytes to a new temporary directory; returns the file's path. */
export function writeTemp(name: string, bytes: Uint8Array): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-graph-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

export const STANDARD_INPUTS: ToyGraph['inputs'] = [
  { name: 'sample', elem: F32, dims: ['batch', 2, 4, 4] },
  { name: 'timestep', elem: F32, dims: ['batch'] },
  { name: 'class_labels', elem: I64, dims: ['batch'] },
];

/**
 * A two-block "transformer" on the sample itself: per block a plain branch (tanh) and a branch gated by a
 * function of the timestep, with `blocks.N` in the node names:
 *   h1 = x + tanh(x);  h2 = h1 + g * sin(h1);  h3 = h2 + tanh(h2);  v = h3 + g * sin(h3)
 * (g = sigmoid(t) broadcast over [B, C, H, W]). The label feeds a 11-row table that is added to nothing
 * the output needs.
 */
export function twoBlockGraph(): ToyGraph {
  return {
    inputs: STANDARD_INPUTS,
    outputs: [{ name: 'v', elem: F32, dims: ['batch', 2, 4, 4] }],
    constants: { axes: { dims: [3], values: [1, 2, 3] }, table: { dims: [11, 1], values: Array.from({ length: 11 }, (_, i) => i) } },
    nodes: [
      { op: 'Cast', inputs: ['axes'], output: 'axes64', attrs: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: I64 }] },
      { op: 'Sigmoid', inputs: ['timestep'], output: 'gs' },
      { op: 'Unsqueeze', inputs: ['gs', 'axes64'], output: 'g' },
      { op: 'Gather', inputs: ['table', 'class_labels'], output: 'emb' },
      { op: 'Tanh', inputs: ['sample'], output: 'a0', name: '/blocks.0/attn/Tanh' },
      { op: 'Add', inputs: ['sample', 'a0'], output: 'h1', name: '/blocks.0/Add' },
      { op: 'Sin', inputs: ['h1'], output: 'm0', name: '/blocks.0/mlp/Sin' },
      { op: 'Mul', inputs: ['g', 'm0'], output: 'gm0', name: '/blocks.0/Mul' },
      { op: 'Add', inputs: ['h1', 'gm0'], output: 'h2', name: '/blocks.0/Add_1' },
      { op: 'Tanh', inputs: ['h2'], output: 'a1', name: '/blocks.1/attn/Tanh' },
      { op: 'Add', inputs: ['a1', 'h2'], output: 'h3', name: '/blocks.1/Add' },
      { op: 'Sin', inputs: ['h3'], output: 'm1', name: '/blocks.1/mlp/Sin' },
      { op: 'Mul', inputs: ['m1', 'g'], output: 'gm1', name: '/blocks.1/Mul' },
      { op: 'Add', inputs: ['h3', 'gm1'], output: 'v', name: '/blocks.1/Add_1' },
    ],
  };
}

/**
 * An MMDiT-shaped graph: an image and a text stream, each with a gated attention and MLP branch per double
 * block (the attention reads both streams), then one joined stream of single blocks with one gated branch:
 *   img: h1 = x + g * tanh(x + u0);  h2 = h1 + g * sin(h1)
 *   txt: u1 = u0 + g * tanh(u0 + x); u2 = u1 + g * sin(u1)        (u0 = -x)
 *   single: s0 = h2 + u2;  s1 = s0 + g * tanh(s0);  v = s1 + g * sin(s1)
 */
export function mmditGraph(): ToyGraph {
  const g = twoBlockGraph();
  const double = '/transformer_blocks.0';
  return {
    ...g,
    nodes: [
      ...g.nodes.slice(0, 4),
      { op: 'Neg', inputs: ['sample'], output: 'u0', name: '/context_embedder/Neg' },
      { op: 'Add', inputs: ['sample', 'u0'], output: 'joint', name: `${double}/attn/Add` },
      { op: 'Tanh', inputs: ['joint'], output: 'ia', name: `${double}/attn/to_out/Tanh` },
      { op: 'Tanh', inputs: ['joint'], output: 'ta', name: `${double}/attn/to_add_out/Tanh` },
      ...gatedAdd(`${double}/Mul`, `${double}/Add`, 'sample', 'ia', 'h1'),
      ...gatedAdd(`${double}/Mul_1`, `${double}/Add_1`, 'u0', 'ta', 'u1'),
      { op: 'Sin', inputs: ['h1'], output: 'im', name: `${double}/ff/Sin` },
      ...gatedAdd(`${double}/Mul_2`, `${double}/Add_2`, 'h1', 'im', 'h2'),
      { op: 'Sin', inputs: ['u1'], output: 'tm', name: `${double}/ff_context/Sin` },
      ...gatedAdd(`${double}/Mul_3`, `${double}/Add_3`, 'u1', 'tm', 'u2'),
      { op: 'Add', inputs: ['h2', 'u2'], output: 's0', name: '/Add_join' },
      // single blocks 0 and 1: s1 = s0 + g * tanh(s0), v = s1 + g * sin(s1)
      ...[['Tanh', 's0', 'sa', 's1'], ['Sin', 's1', 'sb', 'v']].flatMap(([op, from, branch, out], i) => {
        const at = `/single_transformer_blocks.${i}`;
        return [{ op, inputs: [from], output: branch, name: `${at}/proj_out/${op}` }, ...gatedAdd(`${at}/Mul`, `${at}/Add`, from, branch, out)];
      }),
    ],
  };
}

/** The Mul and Add (named `mul`, `add`) of a gated residual: out = into + g * branch, through g<branch>. */
function gatedAdd(mul: string, add: string, into: string, branch: string, out: string): ToyNode[] {
  return [
    { op: 'Mul', inputs: ['g', branch], output: `g${branch}`, name: mul },
    { op: 'Add', inputs: [into, `g${branch}`], output: out, name: add },
  ];
}

/**
 * A single-stream transformer (DiT, Wan) of two blocks named `<blocks>.N`, with one branch per entry of
 * `modules` in each: `scope` is the node scope inside the block (e.g. 'self_attn/o'), gated branches are
 * multiplied by g before their residual Add, plain ones are added as they are. The branches alternate
 * tanh and sin so that no two are the same function.
 */
export function singleStreamGraph(blocks: string, modules: ReadonlyArray<{ scope: string; gated: boolean }>): ToyGraph {
  const g = twoBlockGraph();
  const nodes: ToyNode[] = g.nodes.slice(0, 4);
  let h = 'sample';
  const total = 2 * modules.length;
  for (let i = 0, k = 0; i < 2; i++) {
    modules.forEach((m, j) => {
      const op = k % 2 === 0 ? 'Tanh' : 'Sin';
      const out = ++k === total ? 'v' : `h${k}`;
      const at = `/${blocks}.${i}`;
      nodes.push({ op, inputs: [h], output: `b${k}`, name: `${at}/${m.scope}/${op}` });
      if (m.gated) nodes.push({ op: 'Mul', inputs: ['g', `b${k}`], output: `gb${k}`, name: `${at}/Mul_${j}` });
      nodes.push({ op: 'Add', inputs: [h, m.gated ? `gb${k}` : `b${k}`], output: out, name: `${at}/Add_${j}` });
      h = out;
    });
  }
  return { ...g, nodes };
}
