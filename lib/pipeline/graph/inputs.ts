/**
 * Which graph input is the noisy sample, which the timestep and which the class label, and which output is
 * the prediction, recognised by element type and rank when the graph has no manifest:
 *   sample    float32, rank 4 [batch, C, H, W] (images) or rank 5 [batch, C, F, H, W] (videos: F frames)
 *   timestep  float32, rank 1 [batch]
 *   label     int64,   rank 1 [batch]
 *   guidance  float32, rank 1 [batch], optional: the guidance scale of a guidance-distilled model (FLUX-dev);
 *             recognised when its name says so (contains "guidance"), since it looks like a timestep
 *   output    float32 of the sample's rank (the one output, or the only float one of that rank)
 * Names given by the user (--inputs sample=NAME,timestep=NAME,label=NAME,guidance=NAME) override recognition
 * and are checked against the same types. Also reads the class-embedding table's size when the label feeds a
 * Gather on a constant table, so the label range can be known without a manifest.
 */
import { TaylorSeerError } from '../../errors';
import { quote } from '../../validate';
import { GraphIndex } from './graph-index';
import { ELEM, elemName, initializerNames, realInputs, toNumber, valueType, type Dim, type GraphProto, type ValueInfoProto } from './onnx-file';

export type InputRole = 'sample' | 'timestep' | 'label' | 'guidance';
export const INPUT_ROLES: readonly InputRole[] = ['sample', 'timestep', 'label', 'guidance'];
/** the roles every graph has; 'guidance' is optional */
const REQUIRED_ROLES: readonly InputRole[] = ['sample', 'timestep', 'label'];
const GUIDANCE_NAME = /guidance/i;

export interface InputNames {
  sample?: string;
  timestep?: string;
  label?: string;
  guidance?: string;
}

export interface RecognizedIo {
  sample: string;
  timestep: string;
  label: string;
  /** the guidance-scale input of a guidance-distilled model, when it has one */
  guidance?: string;
  output: string;
  /** [batch, C, H, W] or [batch, C, F, H, W] as declared (symbolic dims as names) */
  sampleDims: Dim[];
  /** rows of the label embedding table, when found */
  labelRows?: number;
}

/** the ranks each role may have: a sample is an image batch [B, C, H, W] or a video batch [B, C, F, H, W] */
const EXPECT: Record<InputRole, { elem: number; ranks: readonly number[] }> = {
  sample: { elem: ELEM.float, ranks: [4, 5] },
  timestep: { elem: ELEM.float, ranks: [1] },
  label: { elem: ELEM.int64, ranks: [1] },
  guidance: { elem: ELEM.float, ranks: [1] },
};
const SAMPLE_RANKS = 'rank 4 [B, C, H, W] (images) or rank 5 [B, C, F, H, W] (videos)';

function rankText(role: InputRole): string {
  return role === 'sample' ? SAMPLE_RANKS : `rank ${EXPECT[role].ranks.join(' or ')}`;
}

function describe(v: ValueInfoProto): string {
  const { elem, dims } = valueType(v);
  return `${v.name} (${elemName(elem)}${dims ? ` [${dims.join(', ')}]` : ', unknown shape'})`;
}

function fits(v: ValueInfoProto, role: InputRole): boolean {
  const { elem, dims } = valueType(v);
  return elem === EXPECT[role].elem && dims !== undefined && EXPECT[role].ranks.includes(dims.length);
}

const WANT =
  `expected a float32 sample of ${SAMPLE_RANKS}, a float32 rank-1 timestep and an int64 rank-1 class label ` +
  '(and, for a guidance-distilled model, a float32 rank-1 input named like "guidance", or --inputs guidance=NAME); ' +
  'a text-conditioned graph takes its text embeddings and fixed inputs as tensors: --condition NAME=FILE ("conditions" in model.json)';

/** Errors: ERR_MODEL naming what was found and what was expected. */
export function recognizeIo(graph: GraphProto, names: InputNames = {}): RecognizedIo {
  const inputs = realInputs(graph);
  const found = inputs.map(describe).join(', ') || 'none';
  const chosen: Partial<Record<InputRole, ValueInfoProto>> = {};
  for (const role of INPUT_ROLES) {
    const name = names[role];
    if (name === undefined) continue;
    const v = inputs.find((i) => i.name === name);
    if (!v) throw new TaylorSeerError('ERR_MODEL', `the ${role} input ${quote(name)} (--inputs, or "inputs" in model.json) is not an input of the graph (its inputs: ${found})`);
    if (!fits(v, role)) {
      throw new TaylorSeerError('ERR_MODEL', `input ${describe(v)} cannot be the ${role}: expected ${elemName(EXPECT[role].elem)} of ${rankText(role)}`);
    }
    chosen[role] = v;
  }
  if (!chosen.guidance) {
    const named = inputs.filter((i) => !Object.values(chosen).includes(i) && fits(i, 'guidance') && GUIDANCE_NAME.test(i.name ?? ''));
    if (named.length === 1) chosen.guidance = named[0];
  }
  for (const role of REQUIRED_ROLES) {
    if (chosen[role]) continue;
    const taken = new Set(Object.values(chosen).map((v) => v!.name));
    const options = inputs.filter((i) => !taken.has(i.name) && fits(i, role));
    if (options.length === 1) {
      chosen[role] = options[0];
      continue;
    }
    const e = EXPECT[role];
    if (options.length === 0) {
      throw new TaylorSeerError('ERR_MODEL', `cannot recognise the graph's inputs: no ${elemName(e.elem)} input of ${rankText(role)} for the ${role} among ${found}; ${WANT}`);
    }
    throw new TaylorSeerError(
      'ERR_MODEL',
      `cannot tell which input is the ${role}: ${options.map((o) => o.name).join(', ')} all are ${elemName(e.elem)} of ${rankText(role)}; name it with --inputs ${role}=NAME`,
    );
  }
  const extra = inputs.filter((i) => !INPUT_ROLES.some((r) => chosen[r]?.name === i.name));
  if (extra.length > 0) {
    throw new TaylorSeerError('ERR_MODEL', `the graph has inputs besides sample, timestep and label: ${extra.map(describe).join(', ')}; ${WANT}`);
  }
  // the prediction has the sample's shape, so its rank
  const rank = valueType(chosen.sample!).dims!.length;
  const outs = graph.output ?? [];
  const fitting = outs.filter((o) => {
    const { elem, dims } = valueType(o);
    return elem === ELEM.float && (dims === undefined || dims.length === rank);
  });
  const output = outs.length === 1 ? outs[0] : fitting.length === 1 ? fitting[0] : undefined;
  if (!output || !fitting.includes(output)) {
    throw new TaylorSeerError(
      'ERR_MODEL',
      `expected one float32 rank-${rank} output (the prediction, shaped as the sample ${describe(chosen.sample!)}), found ${outs.map(describe).join(', ') || 'none'}`,
    );
  }
  const label = chosen.label!.name!;
  return {
    sample: chosen.sample!.name!,
    timestep: chosen.timestep!.name!,
    label,
    ...(chosen.guidance ? { guidance: chosen.guidance.name! } : {}),
    output: output.name!,
    sampleDims: valueType(chosen.sample!).dims!,
    ...labelTableRows(graph, label),
  };
}

/** Rows of the embedding table the label indexes (Gather on a constant, possibly through Cast). */
function labelTableRows(graph: GraphProto, label: string): { labelRows?: number } {
  const index = new GraphIndex(graph);
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const constNames = initializerNames(graph);
  const rowsOf = (tensor: string): number | undefined => {
    let t = tensor;
    for (let guard = 0; guard < 8; guard++) {
      const init = inits.get(t);
      if (init) return init.dims && init.dims.length === 2 ? toNumber(init.dims[0]) : undefined;
      const p = index.producerOf(t);
      if (!p) return undefined;
      if (p.opType === 'Constant') {
        const dims = p.attribute?.find((a) => a.name === 'value')?.t?.dims;
        return dims && dims.length === 2 ? toNumber(dims[0]) : undefined;
      }
      if (p.opType !== 'Cast' || !p.input?.[0]) return undefined;
      t = p.input[0];
    }
    return undefined;
  };
  const frontier = [label];
  for (let guard = 0; guard < 4 && frontier.length > 0; guard++) {
    const t = frontier.shift()!;
    for (const i of index.consumers.get(t) ?? []) {
      const n = index.nodes[i];
      if (n.opType === 'Gather' && n.input?.[1] === t && n.input[0]) {
        const rows = rowsOf(n.input[0]);
        if (rows !== undefined) return { labelRows: rows };
      }
      if (n.opType === 'Cast' && n.output?.[0] && !constNames.has(n.output[0])) frontier.push(n.output[0]);
    }
  }
  return {};
}
