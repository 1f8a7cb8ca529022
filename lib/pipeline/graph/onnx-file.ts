/**
 * Reading and writing ONNX model files with the `onnx-proto` schema (protobufjs static code), and the small
 * vocabulary the graph code shares: tensor names, element types, dims as plain numbers.
 *
 * Limits: the schema is ONNX IR 8 (onnx 1.10); fields of newer IR versions are not kept when a graph is
 * rewritten. Weights in side files (external data) stay there: external-data.ts.
 */
import type { onnx } from 'onnx-proto';
import { TaylorSeerError } from '../../errors';
import { readRegularFile } from '../../files';
import { requireOptional } from '../../optional';
import { firstLine, hasControlCharacter, quote } from '../../validate';

/** onnx-proto (an optional peer dependency, lib/optional.ts), loaded when a graph is first read or written. */
function proto(): typeof onnx {
  return requireOptional<typeof import('onnx-proto')>('onnx-proto', 'reading an ONNX graph').onnx;
}

export type ModelProto = onnx.ModelProto;
export type GraphProto = onnx.IGraphProto;
export type NodeProto = onnx.INodeProto;
export type ValueInfoProto = onnx.IValueInfoProto;

/** ONNX TensorProto.DataType codes used here */
export const ELEM = { float: 1, int32: 6, int64: 7, float16: 10, double: 11 } as const;

const ELEM_NAMES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

/** Bytes per element of TensorProto.DataType (strings and the packed 4-bit types have no fixed size: not here). */
const ELEM_BYTES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1,
};

/** The element size of a data type in bytes, undefined where it has none. */
export function elemBytes(code: number | null | undefined): number | undefined {
  return ELEM_BYTES[code ?? 0];
}

export function elemName(code: number | null | undefined): string {
  return code === undefined || code === null ? 'unknown' : ELEM_NAMES[code] ?? `type ${code}`;
}

/** A dimension: a number when fixed, its symbolic name (e.g. 'batch') or '?' when not. */
export type Dim = number | string;

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: unknown }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  return Number(v);
}

/** Element type and dims of a value (graph input, output or value_info); dims undefined when unknown. */
export function valueType(v: ValueInfoProto): { elem: number | undefined; dims: Dim[] | undefined } {
  const tt = v.type?.tensorType;
  if (!tt) return { elem: undefined, dims: undefined };
  const dims = tt.shape ? (tt.shape.dim ?? []).map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : d.dimParam || '?')) : undefined;
  return { elem: tt.elemType ?? undefined, dims };
}

/** Parses ONNX bytes. `where` names the source in messages. Errors: ERR_MODEL. */
export function decodeModel(bytes: Uint8Array, where: string): ModelProto {
  let model: ModelProto;
  try {
    model = proto().ModelProto.decode(bytes);
  } catch (e) {
    throw new TaylorSeerError('ERR_MODEL', `${where}: not an ONNX model (protobuf decoding failed: ${firstLine((e as Error).message)})`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0 || !g.output || g.output.length === 0) {
    throw new TaylorSeerError('ERR_MODEL', `${where}: not an ONNX model (no graph with nodes and outputs found)`);
  }
  const named = controlCharacterName(g);
  if (named) {
    throw new TaylorSeerError('ERR_MODEL', `${where}: ${named.what} ${quoted(named.name)} has a control character in its name (a damaged file?); names are printed in messages`);
  }
  return model;
}

/** A name in quotes, cut to 80 characters, every control character escaped. */
const quoted = (name: string): string => quote(name.slice(0, 80));

/** The first name of a graph's values and nodes with a control character (they reach messages and terminals). */
function controlCharacterName(g: GraphProto): { what: string; name: string } | undefined {
  const values: [string, ReadonlyArray<{ name?: string | null }> | null | undefined][] = [
    ['graph input', g.input],
    ['graph output', g.output],
    ['initializer', g.initializer],
    ['value', g.valueInfo],
    ['node', g.node],
  ];
  for (const [what, list] of values) {
    const bad = (list ?? []).find((v) => hasControlCharacter(v.name ?? ''));
    if (bad) return { what, name: bad.name! };
  }
  for (const n of g.node ?? []) {
    const bad = [...(n.input ?? []), ...(n.output ?? [])].find(hasControlCharacter);
    if (bad !== undefined) return { what: `node ${quoted(n.name ?? '')} value`, name: bad };
    if (hasControlCharacter(n.opType ?? '')) return { what: `node ${quoted(n.name ?? '')} operator`, name: n.opType! };
  }
  return undefined;
}

/** The largest graph file read: protobuf's own 2 GiB message limit (bigger models keep weights outside). */
export const MAX_GRAPH_BYTES = 2 ** 31 - 1;

/**
 * Reads and parses an ONNX file (a regular file of at most 2 GiB; bigger models keep their weights in side
 * files, external-data.ts). Errors: ERR_IO (unreadable), ERR_MODEL (not ONNX).
 */
export function readModel(file: string): { model: ModelProto; bytes: Uint8Array } {
  const bytes = readRegularFile(file, { maxBytes: MAX_GRAPH_BYTES, what: 'an ONNX model of at most 2 GiB, weights past that in external data files' });
  return { model: decodeModel(bytes, file), bytes };
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return proto().ModelProto.encode(model).finish();
}

/** A graph input, output or intermediate value of float32 elements with unknown (or given) shape. */
export function floatValue(name: string, dims?: readonly Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM.float,
        ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}),
      },
    },
  };
}

/** Names of the graph's initializers (constants, never real inputs even when listed as graph inputs). */
export function initializerNames(g: GraphProto): Set<string> {
  return new Set((g.initializer ?? []).map((t) => t.name ?? ''));
}

/** The graph's true inputs: graph inputs that are not initializers (IR < 4 lists weights as inputs too). */
export function realInputs(g: GraphProto): ValueInfoProto[] {
  const inits = initializerNames(g);
  return (g.input ?? []).filter((i) => !inits.has(i.name ?? ''));
}
