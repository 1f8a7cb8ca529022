/**
 * Full compute against an accelerated run on the same noise: speed (module evaluations, wall time) and
 * quality (PSNR, SSIM, relative L2 of the accelerated samples against the full-compute ones).
 */
import { alternate, overheadOf, type Overhead, type Timing } from '../bench/timing';
import { compareImages, type QualityReport } from './metrics';
import type { DenoiserModel } from './denoiser';
import { sample, type SampleOptions, type SampleResult, type StepInfo } from './sampler';
import type { CacheHook } from '../cache-hook';
import type { SeerOptions } from './seer-options';

export interface CompareOptions extends Omit<SampleOptions, 'seer' | 'onStep'> {
  seer: SeerOptions | CacheHook;
  /** a full-compute result of the same options to reuse instead of running it again */
  full?: SampleResult;
  onStep?: (run: 'full' | 'accelerated', info: StepInfo) => void;
}

export interface Comparison {
  full: SampleResult;
  accelerated: SampleResult;
  quality: QualityReport;
  /** moduleEvals(full) / moduleEvals(accelerated) */
  evalSpeedup: number;
  /** wallMs(full) / wallMs(accelerated) */
  wallSpeedup: number;
  /** wallSpeedup / evalSpeedup: 1 means forecast steps cost nothing */
  overheadRatio: number;
}

export async function compare(model: DenoiserModel, options: CompareOptions): Promise<Comparison> {
  const { seer, full: given, onStep, ...base } = options;
  const full = given ?? (await sample(model, { ...base, onStep: onStep && ((i) => onStep('full', i)) }));
  const accelerated = await sample(model, { ...base, seer, onStep: onStep && ((i) => onStep('accelerated', i)) });
  const quality = compareImages(accelerated.images, full.images, accelerated.shape);
  const evalSpeedup = full.moduleEvals / Math.max(1, accelerated.moduleEvals);
  const wallSpeedup = full.wallMs / accelerated.wallMs;
  return { full, accelerated, quality, evalSpeedup, wallSpeedup, overheadRatio: wallSpeedup / evalSpeedup };
}

export interface TimedCompareOptions extends Omit<CompareOptions, 'full' | 'seer'> {
  seer: SeerOptions;
  /** timed rounds of (full, accelerated); at least 1 */
  repeat: number;
  /** untimed, before the first round */
  warmUp?: () => Promise<unknown>;
  /** the clock (ms), for tests */
  now?: () => number;
}

export interface TimedComparison extends Comparison {
  /** wall times by the shared method (lib/bench/timing.ts): warm-up, then full and accelerated alternated */
  timing: { repeat: number; full: Timing; accelerated: Timing; wallSpeedup: number; overhead: Overhead };
}

/**
 * compare() timed the trustworthy way: after an untimed warm-up, full compute and the accelerated run
 * alternate `repeat` times; speedups are ratios of medians, and the overhead ratio comes with its verdict.
 * Samples and quality are those of the last round (every round computes the same values).
 */
export async function compareTimed(model: DenoiserModel, options: TimedCompareOptions): Promise<TimedComparison> {
  const { seer, onStep, repeat, warmUp, now, ...base } = options;
  let full: SampleResult | undefined;
  let accelerated: SampleResult | undefined;
  const [tf, ta] = await alternate(
    [
      async () => (full = await sample(model, { ...base, onStep: onStep && ((i) => onStep('full', i)) })),
      async () => (accelerated = await sample(model, { ...base, seer, onStep: onStep && ((i) => onStep('accelerated', i)) })),
    ],
    { repeat, warmUp, now },
  );
  const quality = compareImages(accelerated!.images, full!.images, accelerated!.shape);
  const evalSpeedup = full!.moduleEvals / Math.max(1, accelerated!.moduleEvals);
  const overhead = overheadOf(evalSpeedup, tf, ta);
  const wallSpeedup = tf.medianMs / ta.medianMs;
  return {
    full: full!,
    accelerated: accelerated!,
    quality,
    evalSpeedup,
    wallSpeedup,
    overheadRatio: overhead.rawRatio,
    timing: { repeat, full: tf, accelerated: ta, wallSpeedup, overhead },
  };
}
