/**
 * The optional model.json beside a single-graph model (format `taylorseer-graph/1`): what the graph itself
 * cannot say. Every field is optional; the loader's options override it.
 *
 *   { "format": "taylorseer-graph/1", "name": "...", "graph": "model.onnx",
 *     "inputs": { "sample": "x", "timestep": "t", "label": "y" },
 *     "classes": 10, "null_label": 10, "timestep_scale": 1, "image_size": 16, "channels": 3, "frames": 4,
 *     "sampler": { "steps": 50, "guidance": 3, "labels": [3, 7] },
 *     "conditions": { "encoder_hidden_states": "prompts/t5.f32", "img_ids": "ids.f32" },
 *     "reference": { "labels": [3, 7], "steps": 50, "guidance": 3, "noise": "...", "output": "..." } }
 *
 * A noise-prediction model (DiT as trained by its paper) says so, and how it was trained:
 *     "prediction": "epsilon",
 *     "scheduler": { "kind": "ddim", "beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02, "train_timesteps": 1000 }
 * (every scheduler field but kind optional: DiT's values; "prediction" alone means DiT's DDIM). Its timestep
 * input is then the integer training timestep: "timestep_scale" defaults to train_timesteps.
 */
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import { firstLine, isRecord, show } from '../../validate';
import { readRegularFile } from '../../files';
import { MANIFEST_FILE, MAX_MANIFEST_BYTES, bad, file, int, parseReference, type ModelReference } from '../manifest';
import { INPUT_ROLES, type InputNames } from './inputs';
import { DIT_SCHEDULER, resolveScheduler, type Scheduler } from '../diffusion-scheduler';

export const GRAPH_FORMAT = 'taylorseer-graph/1';

export interface GraphDescription {
  name?: string;
  /** absolute path of the graph */
  graph?: string;
  inputs: InputNames;
  classes?: number;
  nullLabel?: number;
  timestepScale?: number;
  imageSize?: number;
  channels?: number;
  /** frames per clip of a video graph whose sample dims leave them symbolic */
  frames?: number;
  /** what `demo` samples by default: steps, guidance scale, class labels (checked against the label range at load) */
  sampler?: { steps?: number; guidance?: number; labels?: number[] };
  /** "prediction" and "scheduler": how the model is sampled (absent: rectified flow) */
  scheduler?: Scheduler;
  /** inputs given as tensors (conditions.ts): input name -> absolute path of its file */
  conditions?: Record<string, string>;
  /** raw, checked once the label range is known */
  reference?: unknown;
}

/** The format named by `<dir>/model.json`, or undefined when there is none (or it is not an object). */
export function manifestFormat(dir: string): string | undefined {
  try {
    const json: unknown = JSON.parse(readRegularFile(path.join(dir, MANIFEST_FILE), { maxBytes: MAX_MANIFEST_BYTES }).toString('utf8'));
    return isRecord(json) && typeof json.format === 'string' ? json.format : undefined;
  } catch {
    return undefined;
  }
}

function num(where: string, obj: Record<string, unknown>, key: string): number | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) bad(where, `"${key}" must be a finite number > 0, found ${show(v)}`);
  return v;
}

const SCHEDULER_KEYS: Record<string, string> = {
  kind: 'kind',
  beta_schedule: 'betaSchedule',
  beta_start: 'betaStart',
  beta_end: 'betaEnd',
  train_timesteps: 'trainSteps',
};
const PREDICTIONS = ['epsilon', 'velocity'];

/** "prediction" and "scheduler" of a description, checked against each other. */
function parseScheduler(where: string, json: Record<string, unknown>): Scheduler | undefined {
  const { prediction, scheduler } = json;
  if (prediction === undefined && scheduler === undefined) return undefined;
  if (prediction !== undefined && !PREDICTIONS.includes(prediction as string)) {
    bad(where, `"prediction" must be "epsilon" (noise, sampled by DDIM/DDPM) or "velocity" (rectified flow), found ${show(prediction)}`);
  }
  const fail = (message: string): never => bad(where, message);
  let spec: Record<string, unknown> = { kind: prediction === 'velocity' ? 'flow' : DIT_SCHEDULER.kind };
  if (scheduler !== undefined) {
    if (!isRecord(scheduler)) bad(where, `"scheduler" must be an object such as {"kind": "ddim", "beta_schedule": "linear"}, found ${show(scheduler)}`);
    spec = {};
    for (const [k, v] of Object.entries(scheduler)) {
      if (!Object.hasOwn(SCHEDULER_KEYS, k)) bad(where, `"scheduler".${k} is not a scheduler field (expected some of ${Object.keys(SCHEDULER_KEYS).join(', ')})`);
      spec[SCHEDULER_KEYS[k]] = v;
    }
  }
  const s = resolveScheduler(spec, undefined, fail, '"scheduler"');
  if (prediction !== undefined && (prediction === 'velocity') !== (s.kind === 'flow')) {
    bad(where, `"prediction" ${show(prediction)} contradicts "scheduler".kind ${show(s.kind)} (epsilon samples by ddim or ddpm, velocity by flow)`);
  }
  return s;
}

/** The most labels "sampler.labels" may list (one sample each). */
const MAX_SAMPLER_LABELS = 256;

function labelList(where: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_SAMPLER_LABELS || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    bad(where, `"sampler.labels" must be a list of 1..${MAX_SAMPLER_LABELS} integer class labels >= 0, found ${show(v)}`);
  }
  return v as number[];
}

/** Reads `<dir>/model.json` as a graph description. Errors: ERR_MODEL. */
export function loadDescription(dir: string): GraphDescription {
  const where = path.join(dir, MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readRegularFile(where, { maxBytes: MAX_MANIFEST_BYTES, what: `a "${GRAPH_FORMAT}" description` }).toString('utf8'));
  } catch (e) {
    if (e instanceof TaylorSeerError) throw e;
    throw new TaylorSeerError('ERR_MODEL', `${where}: cannot read it as JSON (${firstLine((e as Error).message)})`);
  }
  if (!isRecord(json)) bad(where, `expected a JSON object, found ${show(json)}`);
  if (json.format !== GRAPH_FORMAT) bad(where, `"format" must be "${GRAPH_FORMAT}", found ${show(json.format)}`);
  const inputs: InputNames = {};
  if (json.inputs !== undefined) {
    if (!isRecord(json.inputs)) bad(where, `"inputs" must be an object naming sample, timestep, label; found ${show(json.inputs)}`);
    for (const [k, v] of Object.entries(json.inputs)) {
      if (!(INPUT_ROLES as readonly string[]).includes(k) || typeof v !== 'string') {
        bad(where, `"inputs" maps ${INPUT_ROLES.join(', ')} to input names; found ${k}: ${show(v)}`);
      }
      inputs[k as keyof InputNames] = v;
    }
  }
  let sampler: GraphDescription['sampler'];
  if (json.sampler !== undefined) {
    if (!isRecord(json.sampler)) bad(where, `"sampler" must be an object, found ${show(json.sampler)}`);
    sampler = {
      ...(json.sampler.steps !== undefined ? { steps: int(where, json.sampler, 'steps', 1) } : {}),
      ...(json.sampler.guidance !== undefined ? { guidance: num(where, json.sampler, 'guidance') } : {}),
      ...(json.sampler.labels !== undefined ? { labels: labelList(where, json.sampler.labels) } : {}),
    };
  }
  const scheduler = parseScheduler(where, json);
  let conditions: Record<string, string> | undefined;
  if (json.conditions !== undefined) {
    if (!isRecord(json.conditions)) bad(where, `"conditions" must map input names to files, found ${show(json.conditions)}`);
    conditions = {};
    for (const [k, v] of Object.entries(json.conditions)) conditions[k] = file(where, dir, `conditions.${k}`, v);
  }
  return {
    ...(typeof json.name === 'string' && json.name ? { name: json.name } : {}),
    ...(json.graph !== undefined ? { graph: file(where, dir, 'graph', json.graph) } : {}),
    inputs,
    ...(json.classes !== undefined ? { classes: int(where, json, 'classes', 1) } : {}),
    ...(json.null_label !== undefined ? { nullLabel: int(where, json, 'null_label', 0) } : {}),
    ...(json.timestep_scale !== undefined ? { timestepScale: num(where, json, 'timestep_scale') } : {}),
    ...(json.image_size !== undefined ? { imageSize: int(where, json, 'image_size', 1) } : {}),
    ...(json.channels !== undefined ? { channels: int(where, json, 'channels', 1) } : {}),
    ...(json.frames !== undefined ? { frames: int(where, json, 'frames', 1) } : {}),
    ...(sampler ? { sampler } : {}),
    ...(scheduler ? { scheduler } : {}),
    ...(conditions ? { conditions } : {}),
    ...(json.reference !== undefined ? { reference: json.reference } : {}),
  };
}

/** The reference of a description, checked against the model's label range. */
export function descriptionReference(d: GraphDescription, dir: string, classes: number, nullClass: number): ModelReference | undefined {
  if (d.reference === undefined) return undefined;
  return parseReference(d.reference, `${path.join(dir, MANIFEST_FILE)} (reference)`, dir, classes, nullClass);
}
