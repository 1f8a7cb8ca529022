/**
 * A denoiser exported as ONE ONNX graph, accelerated without cutting it into pieces by hand: its residual
 * branches are found (branches.ts), two graphs are derived from it (derive.ts) and run by onnxruntime from
 * memory. One onnxruntime run per step:
 *  - full step: the full graph (the original plus every branch as an extra output), then one cache update
 *    for all branches;
 *  - forecast step, by the best path the graph allows (forecast-graphs.ts): 'fused' (the conditioning
 *    looked up from one batched run over the coming steps, the head to the streams' starts, the cache's fused
 *    chain h0 + sum_k gate_k * forecast_k per residual stream with a bridge graph before a stream that starts
 *    from others' ends, the tail to the output), 'conditioning' (the conditioning as
 *    above, one forecast call for all branches, the rest of the trunk) or 'trunk' (one forecast call, then the
 *    trunk: the branches as inputs; the gates, residual adds, embeddings and final layer still run).
 * Granularities: 'module' (the branches) and 'lite' (the graph's output). 'block' is not offered: a block's
 * contribution is not a tensor of the exported graph.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ort, runSession, type Ort } from '../ort';
import { TaylorSeerError } from '../../errors';
import { checkSampleSize, sampleDims, sampleElements, type CacheShape, type DenoiserModel, type ForwardOptions, type ModelInfo, type ModelShape } from '../denoiser';
import { bad } from '../manifest';
import { sessionOptions, type LoadModelOptions } from '../session-options';
import type { CacheHook } from '../../cache-hook';
import type { ModuleOptions, ModulesOptions } from '../../taylor-seer';
import type { Granularity } from '../seer-options';
import { detectBranches, type Branch, type Detection } from './branches';
import { deriveGraphs } from './derive';
import { dropFused, FORECAST_PATHS, openForecastGraphs, type ForecastGraphs, type ForecastPath, type ForecastPlan } from './forecast-graphs';
import type { FusedStream } from './forecast-split';
import { chainGate, fusedShapeProblem } from './fused-forecast';
import type { TensorMap } from './conditioning';
import { descriptionReference, loadDescription, manifestFormat, GRAPH_FORMAT, type GraphDescription } from './description';
import { recognizeIo, type InputNames, type RecognizedIo } from './inputs';
import { applyConditions, type AppliedConditions, type ConditionSource } from './conditions';
import { checkExternalData, type ExternalData } from './external-data';
import { ELEM, elemName, readModel, realInputs, valueType, type ModelProto } from './onnx-file';
import { getPreset, presetPatterns, type PresetId } from '../../presets';
import type { Scheduler } from '../diffusion-scheduler';
import { firstLine, isRecord, show } from '../../validate';

/** TensorProto.DataType BFLOAT16 */
const ELEM_BFLOAT16 = 16;

export interface LoadGraphOptions extends LoadModelOptions {
  /** input names, overriding recognition by type and rank */
  inputs?: InputNames;
  /** keep only the branches whose key, tensor or node names match one of these */
  cache?: ReadonlyArray<RegExp | string>;
  /** the unconditional class label (default: model.json's, else the last row of the label table) */
  nullLabel?: number;
  /** the graph's timestep is the sampler's t (1 = noise .. 0) times this (default 1; a DDIM/DDPM model's: its training timesteps) */
  timestepScale?: number;
  /** write the derived full and trunk graphs here (default: kept in memory only) */
  cacheDir?: string;
  /**
   * Inputs given as tensors instead of fed per step (a text encoder's embeddings, pooled vectors, position
   * ids): per input name, a file or the values. An input whose first dim is the batch is a table of prompts
   * (its rows are the labels), any other a constant (conditions.ts). Adds to model.json's.
   */
  conditions?: Readonly<Record<string, ConditionSource>>;
  /** cache the branches of a preset's module map (its name patterns); excludes `cache` */
  preset?: PresetId;
  /**
   * The best forecast path to use (default 'fused'; the model takes it when the graph allows, else the next):
   * 'fused', 'conditioning' or 'trunk' (docs/model-format.md). Results agree to float32 rounding; the paths
   * differ in speed only (docs/studies/single-graph.md).
   */
  forecastPath?: ForecastPath;
}

export interface GraphCounters {
  /** full-graph runs, and forecast-step forwards (whatever graphs the path runs) */
  fullRuns: number;
  trunkRuns: number;
  /** batched conditioning runs (paths 'fused' and 'conditioning') */
  conditioningRuns: number;
  /** branches computed (every full run computes each branch once) */
  moduleEvals: number;
}

const GRAPH_GRANULARITIES: readonly Granularity[] = ['module', 'lite'];
const VELOCITY_KEY = 'velocity';

/** The graph file and its description from a .onnx path or a directory holding model.onnx or a graph model.json. */
function locate(target: string): { file: string; dir: string; description: GraphDescription } {
  const abs = path.resolve(target);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    bad(abs, code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist (expected an .onnx file or a model directory)' : `cannot be read (${code ?? (e as Error).message}; expected an .onnx file or a model directory)`);
  }
  const dir = st.isDirectory() ? abs : path.dirname(abs);
  const hasDescription = manifestFormat(dir) === GRAPH_FORMAT;
  const description: GraphDescription = hasDescription ? loadDescription(dir) : { inputs: {} };
  if (!st.isDirectory()) {
    // a description beside the file only speaks for it when it names it (or names no graph)
    const mine = description.graph === undefined || description.graph === abs;
    return { file: abs, dir, description: mine ? description : { inputs: {} } };
  }
  const file = description.graph ?? path.join(dir, 'model.onnx');
  if (!fs.existsSync(file)) bad(dir, `holds no model.onnx and no "${GRAPH_FORMAT}" model.json naming a graph`);
  return { file, dir, description };
}

/**
 * A directory for the derived graphs: a non-empty path that is a directory or does not exist yet (then it is
 * made at load). Errors: ERR_INVALID_ARGUMENT naming `what`.
 */
export function checkCacheDir(dir: unknown, what = 'cacheDir'): string {
  if (typeof dir !== 'string' || dir.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} must be a non-empty directory path, found ${String(dir)}`);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    st = undefined; // made at load
  }
  if (st && !st.isDirectory()) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${what} ${dir} is not a directory (expected a directory for the derived graphs, or a path to make one)`);
  return dir;
}

function checkOptions(o: LoadGraphOptions): { cache?: RegExp[] } {
  if (o.conditions !== undefined) {
    if (!isRecord(o.conditions)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `conditions must map input names to files or arrays, found ${show(o.conditions)}`);
    for (const [name, v] of Object.entries(o.conditions)) {
      if (typeof v !== 'string' && !(v instanceof Float32Array) && !(v instanceof BigInt64Array)) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `conditions.${name} must be a file path, a Float32Array or a BigInt64Array, found ${show(v)}`);
      }
    }
  }
  if (o.forecastPath !== undefined && !FORECAST_PATHS.includes(o.forecastPath)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `forecastPath must be ${FORECAST_PATHS.join(', ')}, found ${String(o.forecastPath)}`);
  }
  if (o.cacheDir !== undefined) checkCacheDir(o.cacheDir);
  if (o.preset !== undefined) {
    if (o.cache !== undefined) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'preset and cache exclude each other: the preset names the branches to cache');
    const patterns = presetPatterns(getPreset(o.preset));
    return patterns.length > 0 ? { cache: patterns } : {};
  }
  if (o.nullLabel !== undefined && (!Number.isInteger(o.nullLabel) || o.nullLabel < 0)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `nullLabel must be an integer >= 0, found ${String(o.nullLabel)}`);
  }
  if (o.timestepScale !== undefined && (typeof o.timestepScale !== 'number' || !Number.isFinite(o.timestepScale) || o.timestepScale <= 0)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `timestepScale must be a finite number > 0, found ${String(o.timestepScale)}`);
  }
  if (o.cache === undefined) return {};
  if (!Array.isArray(o.cache)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'cache must be an array of patterns (RegExp or string)');
  return {
    cache: o.cache.map((p) => {
      if (p instanceof RegExp) return p;
      if (typeof p !== 'string' || p.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `cache patterns must be non-empty strings or RegExps, found ${String(p)}`);
      try {
        return new RegExp(p);
      } catch (e) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `cache pattern ${p} is not a regular expression (${(e as Error).message})`);
      }
    }),
  };
}

/**
 * A graph with 16-bit float inputs or outputs is refused by name: the sampler, the cache's forecasts and the
 * trunk's branch inputs are float32 arrays (Node has no Float16Array), so every step would convert the sample
 * and each branch both ways; export in float32 (TaylorSeer's `storage: 'f16'` keeps the factors in 16 bits).
 */
function refuseHalfIo(file: string, model: ModelProto): void {
  const g = model.graph!;
  const half = [...realInputs(g), ...(g.output ?? [])].filter((v) => {
    const { elem } = valueType(v);
    return elem === ELEM.float16 || elem === ELEM_BFLOAT16;
  });
  if (half.length === 0) return;
  const names = half.map((v) => `${v.name} (${elemName(valueType(v).elem)})`).join(', ');
  bad(file, `16-bit float inputs or outputs are not supported: ${names}; export the graph in float32 (activations and the sample float32; the cache can still store its factors in 16 bits with storage 'f16')`);
}

/** Static facts about a graph: what inspect prints and what the model is built from. No onnxruntime. */
export interface GraphAnalysis {
  file: string;
  model: ModelProto;
  dir: string;
  /** the weights kept in side files beside the graph, when it has any */
  externalData?: ExternalData;
  /** the inputs given as tensors (conditions.ts): tables of prompts and constants */
  conditions: AppliedConditions;
  description: GraphDescription;
  io: RecognizedIo;
  detection: Detection;
  shape: ModelShape;
  timestepScale: number;
}

/** Reads, recognises and detects; every failure is ERR_MODEL (or ERR_IO) with what was found and expected. */
export function analyzeGraph(target: string, options: LoadGraphOptions = {}): GraphAnalysis {
  const { cache } = checkOptions(options);
  const { file, dir, description } = locate(target);
  const read = readModel(file).model;
  const externalData = checkExternalData(read.graph!, path.dirname(file), file);
  const { model, applied } = applyConditions(read, { ...description.conditions, ...options.conditions }, file);
  refuseHalfIo(file, model);
  const names = { ...description.inputs, ...options.inputs };
  if (applied.label !== undefined) {
    // the tables' rows are the labels: a label input of the graph's own would be a second one
    if (names.label !== undefined) bad(file, `the conditions ${applied.tables.join(', ')} are tables of prompts, whose rows are the labels; the label input ${names.label} cannot be named as well`);
    names.label = applied.label;
  }
  const recognized = recognizeIo(model.graph!, names);
  const io = applied.prompts !== undefined ? { ...recognized, labelRows: applied.prompts } : recognized;
  const detection = detectBranches(model.graph!, cache ? { cache } : {});
  const video = io.sampleDims.length === 5;
  const [C, F, H, W] = video ? io.sampleDims.slice(1) : [io.sampleDims[1], 1, ...io.sampleDims.slice(2)];
  const channels = typeof C === 'number' ? C : description.channels;
  const imageSize = typeof H === 'number' && H === W ? H : description.imageSize;
  const frames = typeof F === 'number' ? F : description.frames;
  // model.json speaks for what the graph leaves open; where both say it, they must agree
  for (const [key, mine, graph] of [['channels', description.channels, C], ['image_size', description.imageSize, H === W ? H : undefined], ['frames', description.frames, video ? F : 1]] as const) {
    if (mine !== undefined && typeof graph === 'number' && mine !== graph) bad(file, `model.json says "${key}": ${mine}, but the sample input ${io.sample} [${io.sampleDims.join(', ')}] has ${graph}`);
  }
  if (channels === undefined || imageSize === undefined || frames === undefined) {
    const want = video ? '[C, F, H, H] (or "channels", "frames" and "image_size" in model.json)' : '[C, H, H] (or "channels" and "image_size" in model.json)';
    bad(file, `the sample input ${io.sample} has dims [${io.sampleDims.join(', ')}]; expected fixed ${want}`);
  }
  checkSampleSize(file, { channels, imageSize, frames: video ? frames : undefined });
  const nullClass = options.nullLabel ?? description.nullLabel ?? (io.labelRows !== undefined ? io.labelRows - 1 : undefined);
  if (nullClass === undefined) {
    bad(file, 'cannot tell the label range (no label embedding table found): give the unconditional label (--null-label N, or "null_label" in model.json)');
  }
  const classes = description.classes ?? (io.labelRows !== undefined && nullClass < io.labelRows - 1 ? io.labelRows : nullClass);
  if (io.labelRows !== undefined && classes > io.labelRows) {
    bad(file, `${classes} classes do not fit the label table's ${io.labelRows} rows (labels 0..${io.labelRows - 1}): "classes" in model.json is wrong`);
  }
  if (io.labelRows !== undefined && nullClass >= io.labelRows) {
    bad(file, `the null label ${nullClass} is outside the label table's ${io.labelRows} rows (labels 0..${io.labelRows - 1})`);
  }
  const outside = description.sampler?.labels?.find((l) => l >= classes && l !== nullClass);
  if (outside !== undefined) bad(file, `model.json's sampler.labels names label ${outside}, outside the classes 0..${classes - 1} and the null label ${nullClass}`);
  return {
    file,
    model,
    dir,
    ...(externalData ? { externalData } : {}),
    conditions: applied,
    description,
    io,
    detection,
    shape: { channels, imageSize, classes, nullClass, ...(video ? { frames } : {}) },
    timestepScale: options.timestepScale ?? description.timestepScale ?? (description.scheduler && description.scheduler.kind !== 'flow' ? description.scheduler.trainSteps : 1),
  };
}

/** Loading: onnxruntime's message (runSession keeps it as the cause); any other error goes on as it is. */
function onnxruntimeMessage(e: unknown): string {
  if (!(e instanceof TaylorSeerError)) return String((e as Error)?.message ?? e);
  if (e.cause === undefined) throw e;
  return String((e.cause as Error)?.message ?? e.cause);
}

export class GraphModel implements DenoiserModel {
  readonly manifest: ModelInfo & { format: typeof GRAPH_FORMAT; file: string; sampler?: GraphDescription['sampler'] };
  readonly arch: ModelShape;
  readonly granularities = GRAPH_GRANULARITIES;
  readonly guidanceInput: boolean;
  readonly branches: readonly Branch[];
  readonly io: RecognizedIo;
  readonly timestepScale: number;
  readonly scheduler?: Scheduler;
  readonly counters: GraphCounters = { fullRuns: 0, trunkRuns: 0, conditioningRuns: 0, moduleEvals: 0 };
  /** set at load from a batch-1 run: the branches, and the elements of the largest per sample */
  cacheShape: CacheShape = { modules: 0, elements: 0 };
  /** node counts of the original graph and of its trunk */
  readonly nodes: { full: number; trunk: number };
  /** the weights kept in side files beside the graph (read from there by every derived graph), when it has any */
  readonly externalData?: ExternalData;
  /** the inputs given as tensors: tables of prompts (whose rows are the labels) and constants */
  readonly conditions: AppliedConditions;
  private readonly sFull: Ort.InferenceSession;
  private readonly graphs: ForecastGraphs;
  /**
   * Per batch size, from its first full run: each branch's dims, and the arrays forecast steps write the
   * forecasts into with the trunk's input tensors wrapping them, reused every forecast step (a new array per
   * branch and step would cost page faults and zeroing; measured in docs/studies/single-graph.md).
   */
  private readonly forecastIo = new Map<number, { dims: number[][]; buffers?: Float32Array[]; tensors?: Ort.Tensor[]; inUse?: boolean }>();
  /** per branch, [tokens, dim] of its dims at batch 1 (the fused chain's view of it) */
  private chainShapes: Array<[number, number]> = [];
  /** the plain branches' gate of ones, per batch size */
  private readonly ones = new Map<number, Float32Array>();
  private disposed = false;

  private constructor(a: GraphAnalysis, s: { full: Ort.InferenceSession; graphs: ForecastGraphs }, nodes: { full: number; trunk: number }) {
    const reference = descriptionReference(a.description, a.dir, a.shape.classes, a.shape.nullClass);
    this.manifest = {
      dir: a.dir,
      name: a.description.name ?? path.basename(a.file, '.onnx'),
      format: GRAPH_FORMAT,
      file: a.file,
      ...(reference ? { reference } : {}),
      ...(a.description.sampler ? { sampler: a.description.sampler } : {}),
    };
    this.arch = a.shape;
    this.branches = a.detection.branches;
    this.io = a.io;
    this.guidanceInput = a.io.guidance !== undefined;
    this.timestepScale = a.timestepScale;
    if (a.description.scheduler) this.scheduler = a.description.scheduler;
    this.sFull = s.full;
    this.graphs = s.graphs;
    this.nodes = nodes;
    if (a.externalData) this.externalData = a.externalData;
    this.conditions = a.conditions;
  }

  /** How messages name one of the graphs derived from the model: "mmdit-shapes (its full graph)". */
  private graphName(kind: string): string {
    return `${this.manifest.name} (its ${kind} graph)`;
  }

  /** Which graphs a forecast step runs, and why a better path was not taken (for inspect). */
  get forecastPlan(): ForecastPlan {
    return { ...this.graphs.plan, reasons: { ...this.graphs.plan.reasons }, nodes: { ...this.graphs.plan.nodes } };
  }

  /** Loads an exported graph (a .onnx file, or a directory holding one). Errors: ERR_MODEL, ERR_IO, ERR_INVALID_ARGUMENT. */
  static async load(target: string, options: LoadGraphOptions = {}): Promise<GraphModel> {
    sessionOptions(options);
    const a = analyzeGraph(target, options);
    // derived graphs load from memory or the cache directory: their external data stays beside the original
    const so = sessionOptions(options, a.externalData ? path.dirname(a.file) : undefined);
    const derived = deriveGraphs(a.model, a.detection.branches.map((b) => b.tensor));
    const base = options.cacheDir === undefined ? undefined : path.join(path.resolve(options.cacheDir), path.basename(a.file, '.onnx'));
    const open = async (bytes: Uint8Array, what: string) => {
      let src: Uint8Array | string = bytes;
      if (base !== undefined) {
        src = `${base}.${what}.onnx`;
        try {
          fs.mkdirSync(path.dirname(base), { recursive: true });
          fs.writeFileSync(src, bytes);
        } catch (e) {
          throw new TaylorSeerError('ERR_IO', `cannot write the derived graphs to ${options.cacheDir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
        }
      }
      try {
        return typeof src === 'string' ? await ort().InferenceSession.create(src, so) : await ort().InferenceSession.create(src, so);
      } catch (e) {
        bad(a.file, `onnxruntime cannot load its ${what} graph (${firstLine((e as Error).message)})`);
      }
    };
    const full = await open(derived.full, 'full');
    let graphs: ForecastGraphs;
    try {
      graphs = await openForecastGraphs(a, derived, open, options.forecastPath ?? 'fused');
    } catch (e) {
      void full.release().catch(() => undefined);
      bad(a.file, `onnxruntime cannot run its derived graphs (${firstLine(onnxruntimeMessage(e))})`);
    }
    const model = new GraphModel(a, { full, graphs }, { full: derived.nodes, trunk: derived.trunkNodes });
    try {
      const dims = (await model.probe()).branches;
      model.cacheShape = { modules: dims.length, elements: Math.max(...dims.map((d) => d.reduce((x, y) => x * y, 1))) };
      await model.checkFused(dims);
    } catch (e) {
      await model.dispose();
      bad(a.file, `onnxruntime cannot run it on a batch-1 input (${firstLine(onnxruntimeMessage(e))})`);
    }
    return model;
  }

  /** The fused path's shapes at batch 1 (each stream's h0, branches, gates); steps down to 'conditioning' when they do not fit the chain. */
  private async checkFused(branchDims: number[][]): Promise<void> {
    if (!this.graphs.fused) return;
    const x = new Float32Array(this.imageElements);
    const y = BigInt64Array.from([BigInt(this.arch.nullClass)]);
    const feeds = this.feeds(x, 1, y, 1, 1);
    const cond = await this.graphs.conditioning!.get(1, y, this.guidanceInput ? 1 : undefined);
    const r = await this.streamEnds(feeds, cond, async (s, h, values) =>
      fusedShapeProblem(
        { dims: h.dims as number[], type: h.type },
        s.branches.map((k) => ({ key: this.branches[k].key, dims: branchDims[k] })),
        s.gates.map((g, j) => (g === undefined ? undefined : { key: this.branches[s.branches[j]].key, dims: values[g].dims as number[], type: values[g].type })),
      ),
    );
    if ('problem' in r) await dropFused(this.graphs, r.problem);
    else this.chainShapes = branchDims.map((d) => [d.slice(1, -1).reduce((x, y) => x * y, 1), d[d.length - 1]]);
  }

  /**
   * The fused path up to the streams' ends: per level, its piece of the graph (the head: the starts and the
   * gates; a bridge: starts computed from lower streams' ends), then `add` on each stream of the level, which
   * adds into h in place or returns why it cannot. A start that is a graph input or a conditioning value is
   * read again later (other streams, steps), so h is a copy of it.
   */
  private async streamEnds(
    feeds: Record<string, Ort.Tensor>,
    cond: TensorMap,
    add: (stream: FusedStream, h: Ort.Tensor, values: Record<string, Ort.Tensor>) => Promise<string | undefined>,
  ): Promise<{ ends: Record<string, Ort.Tensor> } | { problem: string }> {
    const { split, pieces } = this.graphs.fused!;
    const values: Record<string, Ort.Tensor> = { ...cond };
    const ends: Record<string, Ort.Tensor> = {};
    for (const [level, piece] of split.pieces.entries()) {
      const session = pieces[level];
      if (session) {
        const r = await runSession(session, pick({ ...feeds, ...values, ...ends }, session.inputNames), piece.outputs, this.graphName(level === 0 ? 'head' : `bridge${level}`));
        for (const n of piece.outputs) values[n] = r[n] as Ort.Tensor;
      }
      for (const s of split.streams) {
        if (s.level !== level) continue;
        const start = s.source === 'input' ? feeds[s.h0] : values[s.h0];
        if (start === undefined) return { problem: `the stream start ${s.h0} is a graph input the model does not feed` };
        const h = s.source === 'piece' || start.type !== 'float32' ? start : new (ort().Tensor)('float32', Float32Array.from(start.data as Float32Array), start.dims);
        const problem = await add(s, h, values);
        if (problem !== undefined) return { problem };
        ends[s.hLast] = h;
      }
    }
    return { ends };
  }

  get imageElements(): number {
    return sampleElements(this.arch);
  }

  private live(): void {
    if (this.disposed) throw new TaylorSeerError('ERR_DISPOSED', 'the model was disposed');
  }

  private feeds(x: Float32Array, t: number, y: BigInt64Array, batch: number, guidance?: number): Record<string, Ort.Tensor> {
    if (!Number.isInteger(batch) || batch < 1) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `batch must be a positive integer, found ${batch}`);
    const dims = sampleDims(this.arch, batch);
    if (x.length !== batch * this.imageElements) throw new TaylorSeerError('ERR_LENGTH', `x has ${x.length} elements, expected ${batch * this.imageElements} ([${dims.join(', ')}])`);
    if (y.length !== batch) throw new TaylorSeerError('ERR_LENGTH', `y has ${y.length} elements, expected ${batch}`);
    if (!Number.isFinite(t)) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `t must be finite, found ${t}`);
    const feeds: Record<string, Ort.Tensor> = {
      [this.io.sample]: new (ort().Tensor)('float32', x, dims),
      [this.io.timestep]: new (ort().Tensor)('float32', new Float32Array(batch).fill(t * this.timestepScale), [batch]),
      [this.io.label]: new (ort().Tensor)('int64', y, [batch]),
    };
    if (this.io.guidance !== undefined) {
      if (typeof guidance !== 'number' || !Number.isFinite(guidance)) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `the graph's guidance input ${this.io.guidance} needs a finite guidance scale, found ${String(guidance)}`);
      }
      feeds[this.io.guidance] = new (ort().Tensor)('float32', new Float32Array(batch).fill(guidance), [batch]);
    }
    return feeds;
  }

  /** The graph's prediction only (full compute, no branch outputs fetched). */
  private async runPlain(feeds: Record<string, Ort.Tensor>): Promise<Float32Array> {
    const r = await runSession(this.sFull, feeds, [this.io.output], this.graphName('full'));
    this.counters.fullRuns++;
    this.counters.moduleEvals += this.branches.length;
    return (r[this.io.output] as Ort.Tensor).data as Float32Array;
  }

  /** Full graph with every branch fetched: the prediction and the branches, in `branches` order. */
  private async runFull(feeds: Record<string, Ort.Tensor>, batch: number): Promise<{ v: Float32Array; branches: Float32Array[] }> {
    const names = this.branches.map((b) => b.tensor);
    const r = await runSession(this.sFull, feeds, [this.io.output, ...names], this.graphName('full'));
    this.counters.fullRuns++;
    this.counters.moduleEvals += this.branches.length;
    const tensors = names.map((n) => r[n] as Ort.Tensor);
    const io = this.forecastIo.get(batch);
    const dims = tensors.map((t) => [...t.dims]);
    if (!io || io.dims.some((d, k) => d.join() !== dims[k].join())) this.forecastIo.set(batch, { dims });
    return { v: (r[this.io.output] as Ort.Tensor).data as Float32Array, branches: tensors.map((t) => t.data as Float32Array) };
  }

  /**
   * The arrays a forecast step at `batch` writes into and the trunk tensors wrapping them: allocated once per
   * batch and branch shape, held by one forward at a time (a forward running beside it gets its own arrays).
   */
  private acquireForecastIo(batch: number): { buffers: Float32Array[]; tensors: Ort.Tensor[]; release: () => void } {
    const io = this.forecastIo.get(batch);
    if (!io) throw new TaylorSeerError('ERR_STEP', `no full step at batch ${batch} before this forecast step: the branch shapes are unknown`);
    const make = () => {
      const buffers = io.dims.map((d) => new Float32Array(d.reduce((x, y) => x * y, 1)));
      return { buffers, tensors: buffers.map((b, k) => new (ort().Tensor)('float32', b, io.dims[k])) };
    };
    if (io.inUse) return { ...make(), release: () => undefined };
    if (!io.buffers || !io.tensors) {
      // one batch size at a time: a batch change drops the other's arrays, so they hold one step's branches
      for (const other of this.forecastIo.values()) if (!other.inUse) delete other.buffers, delete other.tensors;
      Object.assign(io, make());
    }
    io.inUse = true;
    return { buffers: io.buffers!, tensors: io.tensors!, release: () => void (io.inUse = false) };
  }

  /** The trunk, or the rest of it with the conditioning fed in, on the forecasts. */
  private async runTrunk(feeds: Record<string, Ort.Tensor>, cond: TensorMap | undefined, forecasts: Float32Array[], target: { buffers: Float32Array[]; tensors: Ort.Tensor[] }, batch: number): Promise<Float32Array> {
    const dims = this.forecastIo.get(batch)!.dims;
    const session = (cond ? this.graphs.rest : this.graphs.trunk)!;
    const trunkFeeds = pick({ ...feeds, ...cond }, session.inputNames);
    this.branches.forEach((b, k) => {
      // a hook without modulesAsync returns arrays of its own
      trunkFeeds[b.tensor] = forecasts[k] === target.buffers[k] ? target.tensors[k] : new (ort().Tensor)('float32', forecasts[k], dims[k]);
    });
    const r = await runSession(session, trunkFeeds, [this.io.output], this.graphName('trunk'));
    return (r[this.io.output] as Ort.Tensor).data as Float32Array;
  }

  /**
   * A forecast step on the fused path: every stream's branches' forecasts added into it by the cache in one
   * pass with their gates (streamEnds), the tail on the ends, or the end that is the output.
   */
  private async runFused(hook: CacheHook & Required<Pick<CacheHook, 'gatedResiduals'>>, feeds: Record<string, Ort.Tensor>, cond: TensorMap, batch: number, opts: ModuleOptions | undefined): Promise<Float32Array> {
    const { tail } = this.graphs.fused!;
    const refuse = () => Promise.reject(new TaylorSeerError('ERR_STEP', 'the hook asked for the branches on a step it reported as forecast'));
    const r = await this.streamEnds(feeds, cond, async (s, h0, values) => {
      const h = h0.data as Float32Array;
      const rank = h0.dims.length;
      const dim = h0.dims[rank - 1];
      let ones = this.ones.get(batch * dim);
      if (!ones) this.ones.set(batch * dim, (ones = new Float32Array(batch * dim).fill(1)));
      const items = s.branches.map((k, j) => {
        const g = s.gates[j];
        return { key: this.branches[k].key, compute: refuse, gate: g === undefined ? ones! : chainGate(values[g], batch, dim, rank) };
      });
      await hook.gatedResiduals(items, h, { batch, tokens: h.length / (batch * dim), dim }, opts);
      return undefined;
    });
    if ('problem' in r) throw new TaylorSeerError('ERR_MODEL', r.problem);
    if (!tail) return r.ends[this.io.output].data as Float32Array;
    const out = await runSession(tail, { ...pick({ ...feeds, ...cond }, tail.inputNames), ...pick(r.ends, tail.inputNames) }, [this.io.output], this.graphName('tail'));
    return (out[this.io.output] as Ort.Tensor).data as Float32Array;
  }

  /** Batch 1 full run on zeros at t = 1: the dims of every branch and of the output (for inspect). */
  async probe(): Promise<{ branches: number[][]; output: number[] }> {
    this.live();
    const x = new Float32Array(this.imageElements);
    const r = await runSession(this.sFull, this.feeds(x, 1, BigInt64Array.from([BigInt(this.arch.nullClass)]), 1, 1), [this.io.output, ...this.branches.map((b) => b.tensor)], this.graphName('full'));
    return { branches: this.branches.map((b) => [...(r[b.tensor] as Ort.Tensor).dims]), output: [...(r[this.io.output] as Ort.Tensor).dims] };
  }

  async forward(x: Float32Array, t: number, y: BigInt64Array, batch: number, options: ForwardOptions = {}): Promise<Float32Array> {
    this.live();
    const { hook, granularity = 'module', context, guidance } = options;
    const feeds = this.feeds(x, t, y, batch, guidance);
    if (!hook) return this.runPlain(feeds);
    const opts = context === undefined ? undefined : { context };
    if (granularity === 'lite') return hook.moduleAsync(VELOCITY_KEY, () => this.runPlain(feeds), opts);
    if (granularity !== 'module') {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity must be ${GRAPH_GRANULARITIES.join(' or ')} for a single-graph model, found ${String(granularity)}`);
    }
    const keys = this.branches.map((b) => b.key);
    // fused: the hook records the entries as [batch, tokens, dim] on full steps and adds them into h on forecast steps
    const fused = this.graphs.fused !== undefined && typeof hook.gatedResiduals === 'function' && typeof hook.modulesAsync === 'function';
    if (hook.isFull) {
      let v: Float32Array | undefined;
      const shapes = fused ? this.chainShapes.map(([tokens, dim]) => [batch, tokens, dim]) : undefined;
      await cachedBranches(hook, keys, async () => {
        const r = await this.runFull(feeds, batch);
        v = r.v;
        return r.branches;
      }, shapes ? { ...opts, shapes } : opts);
      return v!;
    }
    const conditioning = this.graphs.conditioning;
    const cond = conditioning ? await this.conditioningOf(conditioning, t, y, guidance) : undefined;
    this.counters.trunkRuns++;
    if (cond && fused) {
      return this.runFused(hook as CacheHook & Required<Pick<CacheHook, 'gatedResiduals'>>, feeds, cond, batch, opts);
    }
    const target = this.acquireForecastIo(batch);
    try {
      const forecasts = await cachedBranches(hook, keys, () => Promise.reject(new TaylorSeerError('ERR_STEP', 'the hook asked for the branches on a step it reported as forecast')), opts, target.buffers);
      return await this.runTrunk(feeds, cond, forecasts, target, batch);
    } finally {
      target.release();
    }
  }

  private async conditioningOf(c: NonNullable<ForecastGraphs['conditioning']>, t: number, y: BigInt64Array, guidance: number | undefined): Promise<TensorMap> {
    const runs = c.counters.runs;
    const r = await c.get(t, y, this.guidanceInput ? guidance : undefined);
    this.counters.conditioningRuns += c.counters.runs - runs;
    return r;
  }

  /**
   * Announces the coming steps: the sampler's time of each and the label batch of each of a step's forwards
   * (batched CFG: [labels, null labels]; separate: the two batches). Forecast steps then take their
   * conditioning from one batched run over the coming steps; without it (or for a step it does not name)
   * each computes its own. Results are the same either way. Errors: ERR_INVALID_ARGUMENT, ERR_DISPOSED.
   */
  prepare(timesteps: readonly number[], labels: ReadonlyArray<BigInt64Array>, options: { guidance?: number } = {}): void {
    this.live();
    this.graphs.conditioning?.announce(timesteps, labels, this.guidanceInput ? options.guidance : undefined);
  }

  resetCounters(): void {
    this.counters.fullRuns = this.counters.trunkRuns = this.counters.conditioningRuns = this.counters.moduleEvals = 0;
  }

  /** Releases every session; the model is unusable afterwards. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([this.sFull, ...this.graphs.sessions].map((s) => s.release().catch(() => undefined)));
  }
}

function pick(from: Record<string, Ort.Tensor>, names: readonly string[]): Record<string, Ort.Tensor> {
  const out: Record<string, Ort.Tensor> = {};
  for (const n of names) if (from[n] !== undefined) out[n] = from[n];
  return out;
}

/**
 * All branches through the hook at once: its batched entry point when it has one (one cache update or one
 * forecast call for all), else one moduleAsync per key around a single computation.
 */
async function cachedBranches(hook: CacheHook, keys: string[], compute: () => Promise<Float32Array[]>, opts?: ModulesOptions, outputs?: Float32Array[]): Promise<Float32Array[]> {
  if (hook.modulesAsync) return hook.modulesAsync(keys, compute, outputs ? { ...opts, outputs } : opts);
  let outs: Promise<Float32Array[]> | undefined;
  const once = () => (outs ??= compute());
  const result: Float32Array[] = [];
  for (let k = 0; k < keys.length; k++) result.push(await hook.moduleAsync(keys[k], async () => (await once())[k], opts));
  return result;
}
