/**
 * The DiT as onnxruntime-node sessions, one per exported piece, checked against the manifest through the
 * sessions' own input/output metadata. Every call takes and returns plain Float32Arrays (row-major), so a
 * cache can sit around any module without knowing about onnxruntime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ort, runSession, type Ort } from './ort';
import { TaylorSeerError } from '../errors';
import type { CacheShape, DenoiserModel, ForwardOptions } from './denoiser';
import { GRAPH_FORMAT, manifestFormat } from './graph/description';
import { GraphModel, type LoadGraphOptions } from './graph/graph-model';
import { loadManifest, MANIFEST_FORMAT, type DitArchitecture, type ModelManifest } from './manifest';
import { GRANULARITIES } from './seer-options';
import { sessionOptions, type LoadModelOptions } from './session-options';
import { cacheKeys, forward } from './transformer';
import { getPreset, listPresets, presetFits } from '../presets';
import { firstLine, requireKnownKeys, requireObject } from '../validate';

/** How many times each piece ran since the last resetCounters(); `moduleEvals` = attn + mlp runs. */
export interface ModelCounters {
  embed: number;
  modulation: number;
  attn: number;
  mlp: number;
  final: number;
  moduleEvals: number;
}

/** Number of modulation vectors per block: shift/scale/gate for attention, then for the MLP. */
export const MOD_CHUNKS = 6;
export const MOD = { shiftAttn: 0, scaleAttn: 1, gateAttn: 2, shiftMlp: 3, scaleMlp: 4, gateMlp: 5 } as const;

type Dim = number | string;
interface IoSpec {
  name: string;
  type: 'float32' | 'int64';
  /** numbers are fixed, 'batch' is the dynamic batch dimension */
  shape: Array<number | 'batch'>;
}

function checkIo(
  piece: string,
  file: string,
  kind: 'input' | 'output',
  meta: readonly Ort.InferenceSession.ValueMetadata[],
  names: readonly string[],
  expected: IoSpec[],
): void {
  const where = `${file} (${piece})`;
  const found = names.join(', ') || 'none';
  const want = expected.map((e) => e.name).join(', ');
  if (names.length !== expected.length) {
    throw new TaylorSeerError('ERR_MODEL', `${where}: expected ${kind}s [${want}], found [${found}]`);
  }
  for (const e of expected) {
    const idx = names.indexOf(e.name);
    if (idx < 0) throw new TaylorSeerError('ERR_MODEL', `${where}: expected ${kind}s [${want}], found [${found}]`);
    const m = meta[idx] as Ort.InferenceSession.ValueMetadata & { type?: string; shape?: readonly Dim[] };
    if (!m || m.isTensor === false) throw new TaylorSeerError('ERR_MODEL', `${where}: ${kind} "${e.name}" must be a tensor`);
    if (m.type !== undefined && m.type !== e.type) {
      throw new TaylorSeerError('ERR_MODEL', `${where}: ${kind} "${e.name}" must be ${e.type}, found ${m.type}`);
    }
    const shape = m.shape;
    const show = (s: readonly unknown[]) => `[${s.join(', ')}]`;
    if (shape !== undefined) {
      let ok = shape.length === e.shape.length;
      for (let i = 0; ok && i < shape.length; i++) {
        const want = e.shape[i];
        const got = shape[i];
        // symbolic or unknown dims are accepted anywhere; fixed ones must agree (except the batch dim)
        if (typeof got === 'number' && got >= 0 && want !== 'batch' && got !== want) ok = false;
      }
      if (!ok) {
        throw new TaylorSeerError(
          'ERR_MODEL',
          `${where}: ${kind} "${e.name}" must have shape ${show(e.shape)} for the manifest's architecture, found ${show(shape)}`,
        );
      }
    }
  }
}

function f32(data: Float32Array, dims: number[]): Ort.Tensor {
  return new (ort().Tensor)('float32', data, dims);
}

/** A loaded model: the manifest plus one onnxruntime session per piece. */
export class DitModel implements DenoiserModel {
  readonly manifest: ModelManifest;
  readonly granularities = GRANULARITIES;
  readonly arch: DitArchitecture;
  readonly counters: ModelCounters = { embed: 0, modulation: 0, attn: 0, mlp: 0, final: 0, moduleEvals: 0 };
  private readonly sEmbed: Ort.InferenceSession;
  private readonly sMod: Ort.InferenceSession;
  private readonly sAttn: Ort.InferenceSession[];
  private readonly sMlp: Ort.InferenceSession[];
  private readonly sFinal: Ort.InferenceSession;
  private disposed = false;

  private constructor(
    manifest: ModelManifest,
    s: { embed: Ort.InferenceSession; mod: Ort.InferenceSession; attn: Ort.InferenceSession[]; mlp: Ort.InferenceSession[]; final: Ort.InferenceSession },
  ) {
    this.manifest = manifest;
    this.arch = manifest.architecture;
    this.sEmbed = s.embed;
    this.sMod = s.mod;
    this.sAttn = s.attn;
    this.sMlp = s.mlp;
    this.sFinal = s.final;
  }

  /** Loads `<dir>/model.json` and opens every graph it names, checking names, types and shapes. */
  static async load(dir: string, options: LoadModelOptions = {}): Promise<DitModel> {
    const manifest = loadManifest(dir);
    const so = sessionOptions(options);
    const a = manifest.architecture;
    const { channels: C, imageSize: S, tokens: L, hidden: D, depth } = a;
    const { InferenceSession } = ort();
    const open = async (file: string, piece: string, inputs: IoSpec[], outputs: IoSpec[]) => {
      let s: Ort.InferenceSession;
      try {
        s = await InferenceSession.create(file, so);
      } catch (e) {
        throw new TaylorSeerError('ERR_MODEL', `${file} (${piece}): onnxruntime cannot load it (${firstLine((e as Error).message)})`);
      }
      checkIo(piece, file, 'input', s.inputMetadata, s.inputNames, inputs);
      checkIo(piece, file, 'output', s.outputMetadata, s.outputNames, outputs);
      return s;
    };
    const hSpec: IoSpec = { name: 'h', type: 'float32', shape: ['batch', L, D] };
    const vecSpec = (name: string): IoSpec => ({ name, type: 'float32', shape: ['batch', D] });
    const f = manifest.files;
    const sessions: Ort.InferenceSession[] = [];
    try {
      const embed = await open(
        f.embed,
        'embed',
        [
          { name: 'x', type: 'float32', shape: ['batch', C, S, S] },
          { name: 't', type: 'float32', shape: ['batch'] },
          { name: 'y', type: 'int64', shape: ['batch'] },
        ],
        [hSpec, vecSpec('c')],
      );
      sessions.push(embed);
      const mod = await open(f.modulation, 'modulation', [vecSpec('c')], [
        { name: 'mod', type: 'float32', shape: ['batch', depth, MOD_CHUNKS, D] },
      ]);
      sessions.push(mod);
      const blockIo = [hSpec, vecSpec('shift'), vecSpec('scale')];
      const outSpec: IoSpec[] = [{ name: 'out', type: 'float32', shape: ['batch', L, D] }];
      const attn: Ort.InferenceSession[] = [];
      const mlp: Ort.InferenceSession[] = [];
      for (let i = 0; i < depth; i++) {
        attn.push(await open(f.attn[i], `attn_${i}`, blockIo, outSpec));
        sessions.push(attn[i]);
        mlp.push(await open(f.mlp[i], `mlp_${i}`, blockIo, outSpec));
        sessions.push(mlp[i]);
      }
      const final = await open(f.final, 'final', [hSpec, vecSpec('c')], [
        { name: 'v', type: 'float32', shape: ['batch', C, S, S] },
      ]);
      sessions.push(final);
      return new DitModel(manifest, { embed, mod, attn, mlp, final });
    } catch (e) {
      for (const s of sessions) void s.release().catch(() => undefined);
      throw e;
    }
  }

  /** 2 x depth modules of [tokens, hidden] per sample. */
  get cacheShape(): CacheShape {
    return { modules: 2 * this.arch.depth, elements: this.arch.tokens * this.arch.hidden };
  }

  /** Elements of one image [C, H, W]. */
  get imageElements(): number {
    return this.arch.channels * this.arch.imageSize * this.arch.imageSize;
  }

  private live(): void {
    if (this.disposed) throw new TaylorSeerError('ERR_DISPOSED', 'the model was disposed');
  }

  private check(name: string, data: ArrayLike<unknown>, expected: number): void {
    if (data.length !== expected) {
      throw new TaylorSeerError('ERR_LENGTH', `${name} has ${data.length} elements, expected ${expected}`);
    }
  }

  private static out(r: Ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
    return (r[name] as Ort.Tensor).data as Float32Array;
  }

  /** x [B, C, H, W], t [B], y [B] -> h [B, L, D] (patch tokens), c [B, D] (conditioning). */
  async embed(x: Float32Array, t: Float32Array, y: BigInt64Array, batch: number): Promise<{ h: Float32Array; c: Float32Array }> {
    this.live();
    const { channels: C, imageSize: S } = this.arch;
    this.check('x', x, batch * C * S * S);
    this.check('t', t, batch);
    this.check('y', y, batch);
    const feeds = { x: f32(x, [batch, C, S, S]), t: f32(t, [batch]), y: new (ort().Tensor)('int64', y, [batch]) };
    const r = await runSession(this.sEmbed, feeds, undefined, this.piece('embed'));
    this.counters.embed++;
    return { h: DitModel.out(r, 'h'), c: DitModel.out(r, 'c') };
  }

  /** How messages name one of the model's graphs: "dit-digits (embed)". */
  private piece(name: string): string {
    return `${this.manifest.name} (${name})`;
  }

  /** c [B, D] -> mod [B, depth, 6, D]. */
  async modulation(c: Float32Array, batch: number): Promise<Float32Array> {
    this.live();
    this.check('c', c, batch * this.arch.hidden);
    const r = await runSession(this.sMod, { c: f32(c, [batch, this.arch.hidden]) }, undefined, this.piece('modulation'));
    this.counters.modulation++;
    return DitModel.out(r, 'mod');
  }

  private async block(which: 'attn' | 'mlp', i: number, h: Float32Array, shift: Float32Array, scale: Float32Array, batch: number) {
    this.live();
    const { tokens: L, hidden: D, depth } = this.arch;
    if (!Number.isInteger(i) || i < 0 || i >= depth) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `block index must be 0..${depth - 1}, found ${i}`);
    }
    this.check('h', h, batch * L * D);
    this.check('shift', shift, batch * D);
    this.check('scale', scale, batch * D);
    const s = which === 'attn' ? this.sAttn[i] : this.sMlp[i];
    const r = await runSession(s, { h: f32(h, [batch, L, D]), shift: f32(shift, [batch, D]), scale: f32(scale, [batch, D]) }, undefined, this.piece(`${which}[${i}]`));
    this.counters[which]++;
    this.counters.moduleEvals++;
    return DitModel.out(r, 'out');
  }

  /** Block i's attention branch before its gate: h [B, L, D], shift/scale [B, D] -> [B, L, D]. */
  attn(i: number, h: Float32Array, shift: Float32Array, scale: Float32Array, batch: number): Promise<Float32Array> {
    return this.block('attn', i, h, shift, scale, batch);
  }

  /** Block i's MLP branch before its gate: h [B, L, D], shift/scale [B, D] -> [B, L, D]. */
  mlp(i: number, h: Float32Array, shift: Float32Array, scale: Float32Array, batch: number): Promise<Float32Array> {
    return this.block('mlp', i, h, shift, scale, batch);
  }

  /** h [B, L, D], c [B, D] -> v [B, C, H, W] (the predicted velocity noise - x0). */
  async final(h: Float32Array, c: Float32Array, batch: number): Promise<Float32Array> {
    this.live();
    const { tokens: L, hidden: D, channels: C, imageSize: S } = this.arch;
    this.check('h', h, batch * L * D);
    this.check('c', c, batch * D);
    const r = await runSession(this.sFinal, { h: f32(h, [batch, L, D]), c: f32(c, [batch, D]) }, undefined, this.piece('final'));
    this.counters.final++;
    return DitModel.out(r, 'v');
  }

  /** The whole forward, piece by piece (lib/pipeline/transformer.ts). */
  forward(x: Float32Array, t: number, y: BigInt64Array, batch: number, options?: ForwardOptions): Promise<Float32Array> {
    return forward(this, x, t, y, batch, options);
  }

  resetCounters(): void {
    for (const k of Object.keys(this.counters) as Array<keyof ModelCounters>) this.counters[k] = 0;
  }

  /** Releases every session; the model is unusable afterwards. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [this.sEmbed, this.sMod, ...this.sAttn, ...this.sMlp, this.sFinal];
    await Promise.all(all.map((s) => s.release().catch(() => undefined)));
  }
}

export type { LoadModelOptions } from './session-options';

/** Either kind of model: a `taylorseer-dit-onnx/1` directory or one exported graph. */
export type Model = DitModel | GraphModel;

const GRAPH_ONLY = ['forecastPath', 'inputs', 'cache', 'nullLabel', 'timestepScale', 'cacheDir', 'conditions'] as const;
/** every option loadModel knows: a misspelt one is refused, not ignored */
const LOAD_OPTIONS = ['threads', 'graphOptimizationLevel', 'spinning', 'preset', ...GRAPH_ONLY] as const;

/**
 * A per-piece DiT caches attn and mlp per block, whatever is asked: a preset applies to it when its module
 * map names exactly those (dit-xl), or when it caches the output only. Errors: ERR_INVALID_ARGUMENT.
 */
function checkPiecePreset(id: unknown, target: string): void {
  const p = getPreset(id);
  const names = [cacheKeys.attn(0), cacheKeys.mlp(0)];
  if (presetFits(p, names)) return;
  const fitting = listPresets().filter((x) => x.modules.length > 0 && presetFits(x, names)).map((x) => x.id);
  throw new TaylorSeerError(
    'ERR_INVALID_ARGUMENT',
    `preset ${p.id} caches ${p.modules.map((m) => m.name).join(', ')}, but ${target} is a ${MANIFEST_FORMAT} directory, whose blocks cache attn and mlp: ` +
      `use ${[...fitting, 'a lite preset'].join(' or ')}, or a single-graph export of the model`,
  );
}

/** Whether `target` names a single-graph model: an .onnx file, or a directory with model.onnx or a graph model.json. */
function isGraphTarget(target: string): boolean {
  if (target.endsWith('.onnx')) return true;
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return false;
  }
  if (st.isFile()) return true;
  const format = manifestFormat(target);
  return format === GRAPH_FORMAT || (format === undefined && fs.existsSync(path.join(target, 'model.onnx')));
}

/**
 * Loads a model: a `taylorseer-dit-onnx/1` directory (one graph per piece), or one exported graph of the
 * whole denoiser (an .onnx file, or a directory holding model.onnx). Either works with sample(), compare(),
 * calibrateSchedule() and the sweep. `inputs`, `cache`, `nullLabel`, `timestepScale` and `cacheDir` are for a
 * single graph; `preset` works on both (a per-piece directory takes dit-xl, whose module map is its attn and
 * mlp, or a lite preset). Errors: ERR_MODEL (what is wrong and what is expected), ERR_INVALID_ARGUMENT.
 */
export function loadModel(target: string, options: LoadGraphOptions = {}): Promise<Model> {
  if (typeof target !== 'string' || target.length === 0) {
    return Promise.reject(new TaylorSeerError('ERR_MODEL', `model must be a non-empty path (a model directory or an .onnx file), found ${String(target)}`));
  }
  try {
    requireKnownKeys('loadModel options', requireObject('loadModel options', options), LOAD_OPTIONS);
  } catch (e) {
    return Promise.reject(e);
  }
  if (isGraphTarget(target)) return GraphModel.load(target, options);
  const extra = GRAPH_ONLY.filter((k) => options[k] !== undefined);
  if (extra.length > 0) {
    return Promise.reject(new TaylorSeerError('ERR_INVALID_ARGUMENT', `${extra.join(', ')}: only for single-graph models; ${target} is a ${MANIFEST_FORMAT} directory`));
  }
  if (options.preset !== undefined) {
    try {
      checkPiecePreset(options.preset, target);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return DitModel.load(target, options);
}
