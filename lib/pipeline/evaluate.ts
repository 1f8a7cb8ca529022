/**
 * Full compute against an accelerated run on the same noise: speed (module evaluations, wall time) and
 * quality (PSNR, SSIM, relative L2 of the accelerated samples against the full-compute ones).
 */
import { compareImages, type QualityReport } from './metrics';
import type { DitModel } from './model';
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

export async function compare(model: DitModel, options: CompareOptions): Promise<Comparison> {
  const { seer, full: given, onStep, ...base } = options;
  const full = given ?? (await sample(model, { ...base, onStep: onStep && ((i) => onStep('full', i)) }));
  const accelerated = await sample(model, { ...base, seer, onStep: onStep && ((i) => onStep('accelerated', i)) });
  const quality = compareImages(accelerated.images, full.images, accelerated.shape);
  const evalSpeedup = full.moduleEvals / Math.max(1, accelerated.moduleEvals);
  const wallSpeedup = full.wallMs / accelerated.wallMs;
  return { full, accelerated, quality, evalSpeedup, wallSpeedup, overheadRatio: wallSpeedup / evalSpeedup };
}
