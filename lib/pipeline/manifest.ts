/**
 * model.json: the manifest of a model directory in format `taylorseer-dit-onnx/1`.
 *
 * The format is the contract: a DiT with adaLN-Zero exported as one ONNX graph per piece (embed,
 * modulation, attn_i, mlp_i, final), float32 inputs/outputs (int64 labels), modulation laid out as
 * mod[b, block, k, :] with k = shift_attn, scale_attn, gate_attn, shift_mlp, scale_mlp, gate_mlp.
 * Any directory that satisfies it can be loaded; everything wrong is reported as ERR_MODEL with what was
 * found and what was expected.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from '../errors';
import { readRegularFile } from '../files';
import { isRecord, quote, show } from '../validate';
import { checkSampleSize } from './denoiser';

export const MANIFEST_FORMAT = 'taylorseer-dit-onnx/1';
export const MANIFEST_FILE = 'model.json';
/** model.json larger than this is refused unread (a manifest is a few KiB). */
export const MAX_MANIFEST_BYTES = 1 << 20;

export interface DitArchitecture {
  kind: string;
  imageSize: number;
  channels: number;
  patch: number;
  /** (imageSize / patch)^2 */
  tokens: number;
  hidden: number;
  depth: number;
  heads: number;
  /** class labels 0..classes-1 */
  classes: number;
  /** the label of the unconditional (guidance) branch */
  nullClass: number;
}

export interface ModelFiles {
  /** absolute paths */
  embed: string;
  modulation: string;
  attn: string[];
  mlp: string[];
  final: string;
}

export interface ModelReference {
  labels: number[];
  steps: number;
  guidance: number;
  /** absolute paths of float32 little-endian [B, C, H, W] files */
  noise: string;
  output: string;
  vT1Cond?: string;
}

export interface ModelManifest {
  /** absolute model directory */
  dir: string;
  name: string;
  format: typeof MANIFEST_FORMAT;
  architecture: DitArchitecture;
  files: ModelFiles;
  /** present when the manifest ships a full-compute reference */
  reference?: ModelReference;
}

export function bad(where: string, message: string): never {
  throw new TaylorSeerError('ERR_MODEL', `${where}: ${message}`);
}

export function int(where: string, obj: Record<string, unknown>, key: string, min: number): number {
  const v = obj[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    bad(where, `"${key}" must be an integer >= ${min}, found ${show(v)}`);
  }
  return v;
}

/** A file named by the manifest: relative to the model directory, must stay inside it and exist. */
export function file(where: string, dir: string, key: string, rel: unknown): string {
  if (typeof rel !== 'string' || rel.length === 0) {
    bad(where, `"${key}" must be a file name relative to the model directory, found ${show(rel)}`);
  }
  if (path.isAbsolute(rel)) bad(where, `"${key}" must be relative to the model directory, found absolute path ${quote(rel)}`);
  const abs = path.resolve(dir, rel);
  const inside = path.relative(dir, abs);
  if (inside.startsWith('..') || path.isAbsolute(inside)) {
    bad(where, `"${key}" must stay inside the model directory, found ${quote(rel)}`);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    bad(where, `"${key}" names ${quote(rel)}, which does not exist in ${dir}`);
  }
  if (!st.isFile()) bad(where, `"${key}" names ${quote(rel)}, which is not a regular file`);
  // The name stays inside; a symbolic link on the way must too (the directory is what was vetted).
  const real = fs.realpathSync(abs);
  const realInside = path.relative(fs.realpathSync(dir), real);
  if (realInside.startsWith('..') || path.isAbsolute(realInside)) {
    bad(where, `"${key}" names ${quote(rel)}, a symbolic link to ${real} outside the model directory (copy the file into the directory)`);
  }
  return abs;
}

function fileList(where: string, dir: string, files: Record<string, unknown>, key: string, depth: number): string[] {
  const v = files[key];
  if (!Array.isArray(v) || v.length !== depth) {
    bad(where, `"files.${key}" must list one graph per block (depth ${depth}), found ${show(v)}`);
  }
  return v.map((rel, i) => file(where, dir, `files.${key}[${i}]`, rel));
}

/** The "reference" object of a manifest (labels, steps, guidance, noise and output files). */
export function parseReference(r: unknown, rw: string, absDir: string, classes: number, nullClass: number): ModelReference {
  if (!isRecord(r)) bad(rw, `expected an object, found ${show(r)}`);
  const labels = r.labels;
  if (
    !Array.isArray(labels) ||
    labels.length === 0 ||
    !labels.every((l) => typeof l === 'number' && Number.isInteger(l) && l >= 0 && (l < classes || l === nullClass))
  ) {
    bad(rw, `"labels" must be a non-empty array of class labels 0..${classes - 1}, found ${show(labels)}`);
  }
  const steps = int(rw, r, 'steps', 1);
  const guidance = r.guidance;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance)) {
    bad(rw, `"guidance" must be a finite number, found ${show(guidance)}`);
  }
  if (r.dtype !== undefined && (typeof r.dtype !== 'string' || !/float32/.test(r.dtype))) {
    bad(rw, `"dtype" must describe float32 little-endian data, found ${show(r.dtype)}`);
  }
  return {
    labels: labels as number[],
    steps,
    guidance,
    noise: file(rw, absDir, 'reference.noise', r.noise),
    output: file(rw, absDir, 'reference.output', r.output),
    vT1Cond: r.v_t1_cond === undefined ? undefined : file(rw, absDir, 'reference.v_t1_cond', r.v_t1_cond),
  };
}

/**
 * Validates a parsed model.json. `dir` is the model directory the relative file names resolve against.
 * `where` prefixes every message (the manifest's path by default).
 */
export function parseManifest(json: unknown, dir: string, where = path.join(dir, MANIFEST_FILE)): ModelManifest {
  const absDir = path.resolve(dir);
  if (!isRecord(json)) bad(where, `expected a JSON object, found ${show(json)}`);
  if (json.format !== MANIFEST_FORMAT) {
    bad(where, `"format" must be "${MANIFEST_FORMAT}", found ${show(json.format)}`);
  }
  const name = typeof json.name === 'string' && json.name.length > 0 ? json.name : path.basename(absDir);

  const a = json.architecture;
  if (!isRecord(a)) bad(where, `"architecture" must be an object, found ${show(a)}`);
  const aw = `${where} (architecture)`;
  const imageSize = int(aw, a, 'image_size', 1);
  const channels = int(aw, a, 'channels', 1);
  const patch = int(aw, a, 'patch', 1);
  const hidden = int(aw, a, 'hidden', 1);
  const depth = int(aw, a, 'depth', 1);
  const heads = int(aw, a, 'heads', 1);
  const classes = int(aw, a, 'classes', 1);
  const nullClass = int(aw, a, 'null_class', 0);
  checkSampleSize(aw, { channels, imageSize });
  if (imageSize % patch !== 0) bad(aw, `"image_size" (${imageSize}) must be a multiple of "patch" (${patch})`);
  const expectTokens = (imageSize / patch) ** 2;
  const tokens = a.tokens === undefined ? expectTokens : int(aw, a, 'tokens', 1);
  if (tokens !== expectTokens) {
    bad(aw, `"tokens" must be (image_size / patch)^2 = ${expectTokens}, found ${tokens}`);
  }
  if (hidden % heads !== 0) bad(aw, `"hidden" (${hidden}) must be a multiple of "heads" (${heads})`);
  if (nullClass < classes) {
    bad(aw, `"null_class" must be a label outside the classes 0..${classes - 1} (usually ${classes}), found ${nullClass}`);
  }
  const kind = typeof a.kind === 'string' ? a.kind : 'DiT adaLN-Zero';

  const obj = json.objective;
  if (obj !== undefined) {
    if (!isRecord(obj)) bad(where, `"objective" must be an object, found ${show(obj)}`);
    if (obj.kind !== undefined && obj.kind !== 'rectified-flow') {
      bad(where, `"objective.kind" must be "rectified-flow" (the only objective of ${MANIFEST_FORMAT}), found ${show(obj.kind)}`);
    }
  }

  const f = json.files;
  if (!isRecord(f)) bad(where, `"files" must be an object naming embed, modulation, attn[], mlp[], final; found ${show(f)}`);
  const files: ModelFiles = {
    embed: file(where, absDir, 'files.embed', f.embed),
    modulation: file(where, absDir, 'files.modulation', f.modulation),
    attn: fileList(where, absDir, f, 'attn', depth),
    mlp: fileList(where, absDir, f, 'mlp', depth),
    final: file(where, absDir, 'files.final', f.final),
  };

  const reference = json.reference === undefined ? undefined : parseReference(json.reference, `${where} (reference)`, absDir, classes, nullClass);

  return {
    dir: absDir,
    name,
    format: MANIFEST_FORMAT,
    architecture: { kind, imageSize, channels, patch, tokens, hidden, depth, heads, classes, nullClass },
    files,
    reference,
  };
}

/** Reads and validates `<dir>/model.json`. */
export function loadManifest(dir: string): ModelManifest {
  if (typeof dir !== 'string' || dir.length === 0) {
    throw new TaylorSeerError('ERR_MODEL', `model directory must be a non-empty path, found ${show(dir)}`);
  }
  const absDir = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(absDir);
  } catch {
    throw new TaylorSeerError('ERR_MODEL', `model directory ${absDir} does not exist (expected a directory holding ${MANIFEST_FILE})`);
  }
  if (!st.isDirectory()) {
    throw new TaylorSeerError('ERR_MODEL', `${absDir} is not a directory (expected a model directory holding ${MANIFEST_FILE})`);
  }
  const where = path.join(absDir, MANIFEST_FILE);
  let text: string;
  try {
    text = readRegularFile(where, { maxBytes: MAX_MANIFEST_BYTES, what: `a "${MANIFEST_FORMAT}" manifest` }).toString('utf8');
  } catch (e) {
    if (!fs.existsSync(where)) throw new TaylorSeerError('ERR_MODEL', `${where} is missing (expected a "${MANIFEST_FORMAT}" manifest)`);
    throw new TaylorSeerError('ERR_MODEL', (e as Error).message);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TaylorSeerError('ERR_MODEL', `${where} is not valid JSON (${(e as Error).message})`);
  }
  return parseManifest(json, absDir, where);
}
