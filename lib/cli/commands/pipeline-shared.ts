/**
 * What the pipeline commands (demo, eval, sweep, calibrate) share: option access,
 * labels and noise, and the untimed warm-up run.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { TaylorSeerError } from '../../errors';
import { sampleDims, type CacheShape, type DenoiserModel } from '../../pipeline/denoiser';
import { checkCacheDir, type LoadGraphOptions } from '../../pipeline/graph/graph-model';
import { INPUT_ROLES, type InputNames } from '../../pipeline/graph/inputs';
import { FORECAST_PATHS } from '../../pipeline/graph/forecast-graphs';
import { requireOptional } from '../../optional';
import { f32FromBytes, gaussianNoise } from '../../pipeline/noise';
import { readRegularFile } from '../../files';
import { quote } from '../../validate';
import { sample, type CfgMode } from '../../pipeline/sampler';
import type { OptionSpec, OptionSpecs, OptionValues } from '../command';
import { formatBytes, parseChoice, parseInteger, parseList, parseNumber } from '../parse';

/** cli-progress (an optional peer dependency): the bars of demo and calibrate on a terminal. */
export function progressBars(): typeof import('cli-progress') {
  return requireOptional<typeof import('cli-progress')>('cli-progress', 'the progress bar');
}

/** The parsed flags of a command (command.ts). */
export type Values = OptionValues;

/** The most samples (labels) one command runs at once, whatever the memory (documented in docs/cli.md). */
export const MAX_LABELS = 1024;

/** --model, as every pipeline command declares it. */
export const MODEL_FLAG = {
  type: 'string', value: 'DIR|FILE.onnx', defaultText: 'the demo model, package taylorseer-dit-digits',
  description: 'model directory holding model.json and its ONNX graphs (every file must stay inside it), or one exported ONNX graph of the whole model (FILE.onnx)',
} as const satisfies OptionSpec;
export const NOISE_FLAG = {
  type: 'string', value: 'FILE.f32', description: 'initial noise: float32 little-endian [labels, C, H, W] ([labels, C, F, H, W] for video), a regular file of exactly that size (excludes --seed)',
} as const satisfies OptionSpec;
export const SEED_FLAG = { type: 'string', value: 'N', defaultText: '0', description: 'seed of the gaussian initial noise (excludes --noise)' } as const satisfies OptionSpec;
export const SHIFT_FLAG = { type: 'string', value: 'X', default: '1', description: 'time shift of the sampler (1: uniform steps; above 1: more steps at high noise)' } as const satisfies OptionSpec;
export const THREADS_FLAG = { type: 'string', value: 'T', defaultText: "onnxruntime's choice", description: 'onnxruntime intra-op threads per session (1..1024)' } as const satisfies OptionSpec;
export const ORDER_FLAG = { type: 'string', value: 'O', default: '2', description: 'Taylor order of the forecast (0..4)' } as const satisfies OptionSpec;
export const VARIABLE_FLAG = (dflt: string) =>
  ({ type: 'string', value: 'step|time|newton', default: dflt, description: 'the variable of the Taylor expansion: step index, sampler time, or Newton divided differences in time' }) as const satisfies OptionSpec;

/** The flags that describe a single-graph model (--model FILE.onnx) where the graph itself cannot. */
export const GRAPH_FLAGS = {
  inputs: { type: 'string', value: 'sample=A,timestep=B,label=C', description: "single-graph models: the graph inputs to use, where recognition by type and rank cannot tell" },
  cache: { type: 'string', value: 'REGEX', multiple: true, description: 'single-graph models: cache only the branches whose key, tensor or node names match (repeatable)' },
  'null-label': { type: 'string', value: 'N', defaultText: "model.json's, else the label table's last row", description: 'single-graph models: the unconditional class label' },
  'timestep-scale': { type: 'string', value: 'X', defaultText: '1', description: "single-graph models: the graph's timestep is the sampler's t (1 = noise .. 0) times this" },
  'forecast-path': {
    type: 'string',
    value: 'fused|conditioning|trunk',
    defaultText: 'fused',
    description: "single-graph models: the best forecast path to take where the graph allows it, else the next (inspect prints the path taken and why); the paths differ in speed only",
  },
  condition: {
    type: 'string',
    value: 'NAME=FILE',
    multiple: true,
    description:
      'single-graph models: feed input NAME from FILE (float32 or int64 little-endian, as the input): a table of prompts, one row per label, when its first dim is the batch (text embeddings); a constant when every dim is fixed (position ids); repeatable, adds to model.json\'s "conditions"',
  },
  'cache-dir': {
    type: 'string',
    value: 'DIR',
    defaultText: 'kept in memory',
    description: 'single-graph models: write the derived graphs (<name>.full.onnx, and <name>.trunk.onnx or <name>.conditioning.onnx, .rest.onnx, .head.onnx, .bridgeN.onnx, .tail.onnx as the forecast path needs) here and load them from there (made if missing)',
  },
} as const satisfies OptionSpecs;

/** --inputs, --cache, --null-label, --timestep-scale, --condition, --cache-dir, --forecast-path as loadModel options (only those given). */
export function graphOptions(values: Values): LoadGraphOptions {
  const out: LoadGraphOptions = {};
  const inputs = str(values, 'inputs');
  if (inputs !== undefined) {
    const names: InputNames = {};
    for (const pair of parseList('inputs', inputs, (s) => s)) {
      const [role, name, ...rest] = pair.split('=');
      if (!(INPUT_ROLES as readonly string[]).includes(role) || !name || rest.length > 0) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--inputs expects ROLE=NAME pairs with ROLE one of ${INPUT_ROLES.join(', ')}, found "${pair}"`);
      }
      names[role as keyof InputNames] = name;
    }
    out.inputs = names;
  }
  const cache = values.cache;
  if (cache !== undefined) out.cache = (Array.isArray(cache) ? cache : [cache]).map((c) => String(c));
  const nullLabel = str(values, 'null-label');
  if (nullLabel !== undefined) out.nullLabel = parseInteger('null-label', nullLabel, 0, 1 << 30);
  const scale = str(values, 'timestep-scale');
  if (scale !== undefined) out.timestepScale = parseNumber('timestep-scale', scale, Number.MIN_VALUE, 1e9);
  const conditions = values.condition;
  if (conditions !== undefined) {
    const files: Record<string, string> = {};
    for (const pair of (Array.isArray(conditions) ? conditions : [conditions]).map(String)) {
      const at = pair.indexOf('=');
      if (at <= 0 || at === pair.length - 1) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--condition expects NAME=FILE, found ${quote(pair)}`);
      files[pair.slice(0, at)] = pair.slice(at + 1);
    }
    out.conditions = files;
  }
  const cacheDir = str(values, 'cache-dir');
  if (cacheDir !== undefined) out.cacheDir = checkCacheDir(cacheDir, '--cache-dir');
  const forecastPath = str(values, 'forecast-path');
  if (forecastPath !== undefined) out.forecastPath = parseChoice('forecast-path', forecastPath, FORECAST_PATHS);
  return out;
}

/** The flags of the commands that sample a set of labels for a study (sweep, calibrate). */
export const STUDY_FLAGS = {
  model: MODEL_FLAG,
  steps: { type: 'string', value: 'S', default: '50', description: 'sampler steps' },
  guidance: { type: 'string', value: 'G', default: '3', description: 'classifier-free guidance scale' },
  labels: { type: 'string', value: 'a,b,...', default: '0,1,2,3,4,5,6,7', description: `the classes to sample, one sample each (at most ${MAX_LABELS} and what fits in memory)` },
  noise: NOISE_FLAG,
  seed: SEED_FLAG,
  ...GRAPH_FLAGS,
} as const satisfies OptionSpecs;

/** The most timed rounds --repeat accepts. */
export const MAX_REPEAT = 100;

/** How wall times are measured (lib/bench/timing.ts), as the reports state it. */
export const TIMING_METHOD = 'untimed warm-up, then full and accelerated runs alternated, medians (min..max) of --repeat rounds';

/** A --guidance value: the classifier-free guidance scale, 0 to 1e6 (`name`: the flag in messages). */
export function parseGuidance(arg: string, name = 'guidance'): number {
  return parseNumber(name, arg, 0, 1e6);
}

/** STUDY_FLAGS' --steps (minSteps..maxSteps) and --guidance, parsed in that order. */
export function parseStudySampling(v: Values, minSteps: number, maxSteps: number): { steps: number; guidance: number } {
  const steps = parseInteger('steps', str(v, 'steps')!, minSteps, maxSteps);
  return { steps, guidance: parseGuidance(str(v, 'guidance')!) };
}

/** A --shift value (or one of sweep's --shifts): the sampler's time shift, above 0 and at most 1e6. */
export function parseShift(arg: string, name = 'shift'): number {
  return parseNumber(name, arg, Number.MIN_VALUE, 1e6);
}

/** --threads, or undefined for onnxruntime's choice. */
export function parseThreads(values: Values): number | undefined {
  const arg = str(values, 'threads');
  return arg === undefined ? undefined : parseInteger('threads', arg, 1, 1024);
}

export function str(values: Values, key: string, prefix = ''): string | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${prefix}${key} expects a value`);
  return v;
}

/** Runs one short full-compute sample so that onnxruntime's allocations are not timed. */
export async function warmUp(model: DenoiserModel, labels: number[], guidance: number, cfg: CfgMode): Promise<void> {
  await sample(model, { labels, steps: 1, guidance, cfg });
}

/**
 * --noise and --seed, checked before the model loads (they exclude each other). `prefix` names the flags in
 * messages when the values come from other flags (sweep's --holdout-noise / --holdout-seed).
 */
export function noiseSource(values: Values, prefix = ''): { file?: string; seed: number } {
  const file = str(values, 'noise', prefix);
  const seedArg = str(values, 'seed', prefix);
  if (file !== undefined && seedArg !== undefined) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${prefix}noise and --${prefix}seed exclude each other: give one source of initial noise`);
  }
  return { file, seed: seedArg === undefined ? 0 : parseInteger(`${prefix}seed`, seedArg, 0, Number.MAX_SAFE_INTEGER) };
}

/**
 * Bytes a run of `count` samples needs, as an upper estimate: per sample and guidance branch, the cached
 * factors of every module (maxOrder + 1 float32 factors of the largest module's size) plus a working set of
 * 16 such tensors for onnxruntime's activations.
 */
export function runBytesEstimate(shape: CacheShape, count: number, maxOrder: number): number {
  const tensor = shape.elements * 4;
  return count * 2 * tensor * (shape.modules * (maxOrder + 1) + 16);
}

/**
 * Refuses, before anything is allocated, more samples than MAX_LABELS or than fit in three quarters of
 * this machine's memory (by runBytesEstimate).
 */
export function checkSampleCount(shape: CacheShape, count: number, maxOrder: number, flag = 'labels'): void {
  if (count > MAX_LABELS) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${flag}: ${count} samples, more than the limit of ${MAX_LABELS} per run (run them in several commands)`);
  }
  const need = runBytesEstimate(shape, count, maxOrder);
  const have = 0.75 * os.totalmem();
  if (need > have) {
    const fit = Math.max(1, Math.floor((have / need) * count));
    throw new TaylorSeerError(
      'ERR_INVALID_ARGUMENT',
      `--${flag}: ${count} samples need about ${formatBytes(need)} (cache and activations at order ${maxOrder}), more than the ${formatBytes(have)} ` +
        `allowed on this machine (3/4 of its memory): at most ${fit} samples per run`,
    );
  }
}

/**
 * --labels (classes of the model; not its null class, which the library's sample() takes for unconditional
 * samples) and the initial noise for them: the --noise file, which must hold [labels, C, H, W] (video: [labels, C, F, H, W]) float32
 * values (its size is checked before it is read), or gaussian noise from the seed. `maxOrder` bounds the
 * memory estimate of checkSampleCount.
 */
export function samplesFromFlags(
  values: Values,
  model: DenoiserModel,
  source: { file?: string; seed: number },
  defaultLabels: readonly number[],
  prefix = '',
  maxOrder = 4,
): { labels: number[]; noise: Float32Array } {
  const { classes, nullClass } = model.arch;
  const labelsArg = str(values, 'labels', prefix);
  const flag = `${prefix}labels`;
  const labels =
    labelsArg === undefined
      ? [...defaultLabels]
      : parseList(flag, labelsArg, (s) => {
          const l = parseInteger(flag, s, 0, Number.MAX_SAFE_INTEGER);
          if (l === nullClass) {
            throw new TaylorSeerError(
              'ERR_INVALID_ARGUMENT',
              `--${flag} ${l}: ${l} is this model's null class (the unconditional branch of guidance), not one of its classes 0..${classes - 1}`,
            );
          }
          if (l >= classes) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${flag} ${l}: not a class of this model (expected 0..${classes - 1})`);
          return l;
        });
  checkSampleCount(model.cacheShape, labels.length, maxOrder, flag);
  const n = labels.length * model.imageElements;
  if (source.file === undefined) return { labels, noise: gaussianNoise(n, source.seed) };
  const expected = `${n} float32 values ([${sampleDims(model.arch, labels.length).join(', ')}] for ${labels.length} labels)`;
  const bytes = readRegularFile(source.file, {
    maxBytes: n * 4,
    what: expected,
    checkSize: (size) => {
      if (size !== n * 4) {
        throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${prefix}noise ${source.file}: holds ${size / 4} float32 values, expected ${expected}`);
      }
    },
  });
  return { labels, noise: f32FromBytes(bytes) };
}
