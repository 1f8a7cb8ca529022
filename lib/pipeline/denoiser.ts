/**
 * What the sampler, compare(), calibration and the sweep need from a model, whatever describes it: the
 * per-piece directory format (DitModel) or one exported graph (GraphModel). Both implement it, so every
 * caller works on either unchanged.
 */
import { TaylorSeerError } from '../errors';
import type { ModelReference } from './manifest';
import type { CacheHook } from '../cache-hook';
import type { Granularity } from './seer-options';
import type { Scheduler } from './diffusion-scheduler';

export interface ForwardOptions {
  hook?: CacheHook;
  granularity?: Granularity;
  /** cache context (separate-forward CFG runs cond and uncond in their own contexts) */
  context?: string;
  /** the guidance scale fed to a guidance-distilled model's guidance input (models with `guidanceInput`) */
  guidance?: number;
}

/** The sample and label space of a model: images [C, H, W], or video clips [C, F, H, W] when `frames` is set. */
export interface ModelShape {
  channels: number;
  imageSize: number;
  /** frames per clip of a video model (samples [B, C, F, H, W]); absent for an image model */
  frames?: number;
  /** class labels 0..classes-1 */
  classes: number;
  /** the label of the unconditional (guidance) branch */
  nullClass: number;
}

/** Where a model came from and the full-compute reference it ships, if any. */
export interface ModelInfo {
  /** absolute directory of the model's files */
  dir: string;
  name: string;
  reference?: ModelReference;
}

/** What a cache holds per forward: how many modules, and the elements of the largest per sample. */
export interface CacheShape {
  modules: number;
  elements: number;
}

export interface DenoiserModel {
  readonly manifest: ModelInfo;
  readonly arch: ModelShape;
  /** `moduleEvals`: cached modules computed (each run of a module counts once, whatever its batch) */
  readonly counters: { readonly moduleEvals: number };
  /** elements of one sample: an image [C, H, W] or a clip [C, F, H, W] */
  readonly imageElements: number;
  /** the modules cached at module granularity (for memory estimates before a run) */
  readonly cacheShape: CacheShape;
  /** the cache placements this model supports */
  readonly granularities: readonly Granularity[];
  /**
   * The model takes the guidance scale as an input (guidance-distilled, as FLUX-dev): the sampler feeds it
   * the scale and runs one conditional forward per step, no unconditional pass.
   */
  readonly guidanceInput?: boolean;
  /** how the model was trained to be sampled (its description's); absent: rectified flow */
  readonly scheduler?: Scheduler;
  /**
   * One forward: x [B, C, H, W] ([B, C, F, H, W] for video) at sampler time t (1 = noise) with labels y [B] ->
   * the model's prediction of the same shape (a velocity, or the noise for a DDIM/DDPM scheduler).
   * The hook, when given, must already be at the current step.
   */
  forward(x: Float32Array, t: number, y: BigInt64Array, batch: number, options?: ForwardOptions): Promise<Float32Array>;
  /**
   * Optional: the coming steps before a run, so that a model can compute what depends on the timestep and
   * label alone for many steps at once (a single-graph model's conditioning). `timesteps[s]` is step s's t as
   * forward gets it, `labels` the label batch of each forward of a step. Only a hint: forward must give the
   * same result without it, and for steps it does not name.
   */
  prepare?(timesteps: readonly number[], labels: ReadonlyArray<BigInt64Array>, options?: { guidance?: number }): void;
  resetCounters(): void;
  dispose(): Promise<void>;
}

/** The dims of a batch of samples: [B, C, H, W], or [B, C, F, H, W] for a video model. */
export function sampleDims(shape: Pick<ModelShape, 'channels' | 'imageSize' | 'frames'>, batch: number): number[] {
  const { channels: C, imageSize: S, frames } = shape;
  return frames === undefined ? [batch, C, S, S] : [batch, C, frames, S, S];
}

/**
 * The most elements one sample may have (C * F * H * W): 2^27, 512 MiB of float32, 17x the largest latent of
 * the published systems (HunyuanVideo at 720p, 129 frames: 16 x 33 x 90 x 160). The pipelines allocate
 * samples, noise and outputs of this size per label, so a model description declaring more is refused
 * before anything is allocated.
 */
export const MAX_SAMPLE_ELEMENTS = 2 ** 27;

/** ERR_MODEL (in `where`) when one sample of this shape would exceed MAX_SAMPLE_ELEMENTS. */
export function checkSampleSize(where: string, shape: Pick<ModelShape, 'channels' | 'imageSize' | 'frames'>): void {
  const n = sampleElements(shape);
  if (n > MAX_SAMPLE_ELEMENTS) {
    const dims = sampleDims(shape, 1).slice(1).join(' x ');
    throw new TaylorSeerError('ERR_MODEL', `${where}: a sample of ${dims} = ${n} elements is larger than the pipelines allocate (at most ${MAX_SAMPLE_ELEMENTS}, 512 MiB of float32)`);
  }
}

/** Elements of one sample: C * H * W, times F for a video model. */
export function sampleElements(shape: Pick<ModelShape, 'channels' | 'imageSize' | 'frames'>): number {
  return shape.channels * (shape.frames ?? 1) * shape.imageSize * shape.imageSize;
}
