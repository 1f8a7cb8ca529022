/**
 * Conditions computed outside the graph: a text-conditioned denoiser (FLUX, SD3, Wan, HunyuanVideo) takes a
 * text encoder's embeddings, pooled vectors or position ids where a class-conditional one takes a label.
 * They come as tensors, and the graph is rewritten in memory so that it is a class-conditional graph again:
 *
 *  - an input whose first dimension is the batch becomes a table of prompts: the tensor holds P rows of the
 *    input's other dims, and the input is replaced by Gather(table, label) on a new int64 label input. A label
 *    is then a prompt's row; the unconditional (empty or negative) prompt is a row too (`null_label`, default
 *    the last). Every table must have the same rows.
 *  - any other input is a constant (e.g. FLUX's position ids) and becomes an initializer: its dims fixed, or
 *    one of them open and given by the tensor's size.
 *
 * Everything the pipeline does with labels (batched or separate guidance, the conditioning batched over
 * steps, forecast paths) then works unchanged, and the tables are the label table the loader reads the label
 * range from. Tensors are float32 or int64 as the input is (files: little-endian, as the noise files).
 */
import type { onnx } from 'onnx-proto';
import { TaylorSeerError } from '../../errors';
import { readRegularFile } from '../../files';
import { quote, show } from '../../validate';
import { ELEM, elemBytes, elemName, realInputs, valueType, type ModelProto } from './onnx-file';
import { MAX_F32_FILE_BYTES } from '../noise';

/** A condition's tensor: a file (float32 or int64 little-endian, as the input's type) or the values themselves. */
export type ConditionSource = string | Float32Array | BigInt64Array;


export interface AppliedConditions {
  /** the int64 label input added for the tables (absent when every condition is a constant) */
  label?: string;
  /** rows of every table: the labels 0..prompts-1 */
  prompts?: number;
  tables: string[];
  constants: string[];
}

/** conditions are float32 or int64 */
const CONDITION_ELEMS: readonly number[] = [ELEM.float, ELEM.int64];

/** The tensor's bytes: read from its file, or copied from the array given. Errors: ERR_MODEL (through `fail`), ERR_IO. */
function bytesOf(source: ConditionSource, elem: number, unit: number, what: string, fail: (why: string) => never): Uint8Array {
  if (typeof source === 'string') {
    return readRegularFile(source, {
      maxBytes: MAX_F32_FILE_BYTES, // the bound of the pipeline's other tensor files
      what,
      checkSize: (n) => {
        if (n === 0 || n % unit !== 0) fail(`is read from ${source}, which has ${n} bytes; expected ${what}`);
      },
    });
  }
  const want = elem === ELEM.int64 ? BigInt64Array : Float32Array;
  if (!(source instanceof want) || source.byteLength === 0 || source.byteLength % unit !== 0) fail(`must be ${what}, found ${show(source)}`);
  return new Uint8Array(source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength));
}

/** A name no value of the graph has. */
function freshName(g: onnx.IGraphProto, base: string): string {
  const taken = new Set<string>();
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.initializer ?? []), ...(g.valueInfo ?? [])]) taken.add(v.name ?? '');
  for (const n of g.node ?? []) for (const x of [...(n.input ?? []), ...(n.output ?? [])]) taken.add(x);
  let name = base;
  for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
  return name;
}

/**
 * The model with the named inputs replaced by their tensors (see above), or the model itself when there are
 * none. `where` names the graph in messages. Errors: ERR_MODEL (what was found and what was expected), ERR_IO.
 */
export function applyConditions(model: ModelProto, conditions: Readonly<Record<string, ConditionSource>>, where: string): { model: ModelProto; applied: AppliedConditions } {
  const names = Object.keys(conditions);
  if (names.length === 0) return { model, applied: { tables: [], constants: [] } };
  const g = model.graph!;
  const inputs = realInputs(g);
  const initializers: onnx.ITensorProto[] = [];
  const gathers: onnx.INodeProto[] = [];
  const tables: string[] = [];
  const constants: string[] = [];
  let prompts: number | undefined;
  const label = freshName(g, 'taylorseer_prompt');
  // the batch dim's names: the first dim of the outputs and of the sample-like (rank 4 or 5) float inputs
  const batch = new Set(
    [...(g.output ?? []), ...inputs.filter((i) => { const v = valueType(i); return v.elem === ELEM.float && (v.dims?.length === 4 || v.dims?.length === 5); })]
      .map((v) => valueType(v).dims?.[0])
      .filter((d): d is string => typeof d === 'string' && d !== '?'),
  );
  for (const name of names) {
    const fail = (why: string): never => {
      throw new TaylorSeerError('ERR_MODEL', `${where}: condition ${quote(name)} ${why}`);
    };
    const input = inputs.find((i) => i.name === name);
    if (!input) fail(`is not an input of the graph (its inputs: ${inputs.map((i) => i.name).join(', ')})`);
    const { elem, dims } = valueType(input!);
    if (elem === undefined || !CONDITION_ELEMS.includes(elem)) fail(`is ${elemName(elem)}; conditions are float32 or int64`);
    if (!dims || dims.length === 0) fail('has no declared shape; expected [batch, ...] for a table of prompts, or the dims of a constant');
    const open = dims!.flatMap((d, i) => (typeof d === 'number' ? [] : [i]));
    // a table's first dim is the batch (the sample's and the output's); any other open dim is a constant's
    const table = open[0] === 0 && batch.has(dims![0] as string);
    if (open.length > 1) {
      fail(`has dims [${dims!.join(', ')}]; expected fixed dims after the batch (${[...batch].join(', ') || 'the sample\'s first dim'}) for a table of prompts, or at most one open dim for a constant`);
    }
    const fixed = dims!.filter((d): d is number => typeof d === 'number');
    const rest = dims!.slice(1) as number[];
    const unit = (table ? rest : fixed).reduce((a, b) => a * b, 1) * elemBytes(elem)!;
    const kind = elem === ELEM.int64 ? 'int64' : 'float32';
    const what = table
      ? `rows of [${rest.join(', ')}] ${kind} values, ${unit} bytes each (one per prompt)`
      : `[${dims!.join(', ')}] ${kind} values (${open.length === 0 ? `${unit} bytes` : `a multiple of ${unit} bytes`})`;
    const bytes = bytesOf(conditions[name], elem!, unit, what, fail);
    if (!table && open.length === 0 && bytes.byteLength !== unit) fail(`has every dim fixed, so it is one constant of ${what}; found ${bytes.byteLength} bytes`);
    const rows = bytes.byteLength / unit;
    // a constant's one open dim is what its file holds
    const shape = table ? rest : dims!.map((d) => (typeof d === 'number' ? d : rows));
    if (table) {
      if (rows < 2) fail(`holds ${rows} prompt; a table holds the unconditional prompt's row too (at least 2 rows)`);
      if (prompts !== undefined && rows !== prompts) fail(`holds ${rows} prompts, the other tables ${prompts}; every table needs a row for each prompt`);
      prompts = rows;
      const tableName = freshName({ ...g, initializer: [...(g.initializer ?? []), ...initializers] }, `taylorseer_conditions.${name}`);
      initializers.push({ name: tableName, dataType: elem, dims: [rows, ...rest], rawData: bytes });
      gathers.push({ opType: 'Gather', name: `taylorseer_conditions/${name}`, input: [tableName, label], output: [name], attribute: [{ name: 'axis', type: 2, i: 0 }] });
      tables.push(name);
    } else {
      initializers.push({ name, dataType: elem, dims: shape, rawData: bytes });
      constants.push(name);
    }
  }
  const labelInput: onnx.IValueInfoProto = { name: label, type: { tensorType: { elemType: ELEM.int64, shape: { dim: [{ dimParam: [...batch][0] ?? 'batch' }] } } } };
  const rewritten: ModelProto = {
    ...model,
    graph: {
      ...g,
      input: [...(g.input ?? []).filter((i) => !names.includes(i.name ?? '')), ...(tables.length > 0 ? [labelInput] : [])],
      initializer: [...(g.initializer ?? []), ...initializers],
      node: [...gathers, ...(g.node ?? [])],
    },
  } as ModelProto;
  return { model: rewritten, applied: { ...(tables.length > 0 ? { label, prompts } : {}), tables, constants } };
}
