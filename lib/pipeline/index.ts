/**
 * `taylorseer/pipeline`: the DiT pipeline on onnxruntime-node. Load a `taylorseer-dit-onnx/1` model
 * directory or one exported graph of a whole denoiser (model.onnx), sample with rectified-flow Euler and
 * classifier-free guidance, accelerate with TaylorSeer at module, block or lite granularity, and measure the
 * result against full compute.
 *
 *   const model = await loadModel('fixtures/dit-digits');
 *   const full = await sample(model, { labels: [3, 7], steps: 50, guidance: 3 });
 *   const fast = await sample(model, { labels: [3, 7], steps: 50, guidance: 3,
 *     seer: { schedule: { kind: 'fixed', steps: 50, interval: 5, warmup: 3 }, maxOrder: 2 } });
 *   psnr(fast.images, full.images, fast.shape);
 *
 * It loads onnxruntime-node and the image libraries, which the core entry (`taylorseer`) never does.
 */
export { loadManifest, parseManifest, MANIFEST_FORMAT, type ModelManifest, type DitArchitecture, type ModelFiles, type ModelReference } from './manifest';
export { loadModel, DitModel, MOD, MOD_CHUNKS, type Model, type LoadModelOptions, type ModelCounters } from './model';
export type { DenoiserModel, ModelShape, ModelInfo } from './denoiser';
export { GraphModel, analyzeGraph, type LoadGraphOptions, type GraphAnalysis, type GraphCounters } from './graph/graph-model';
export { detectBranches, type Branch, type BranchKind, type Detection, type DetectOptions } from './graph/branches';
export { recognizeIo, type InputNames, type RecognizedIo } from './graph/inputs';
export { deriveGraphs, type DerivedGraphs } from './graph/derive';
export { GRAPH_FORMAT } from './graph/description';
export { sample, timesteps, type SampleOptions, type SampleResult, type StepInfo, type CfgMode } from './sampler';
export {
  alphaBars,
  betaTable,
  ddimCoefficients,
  ddpmCoefficients,
  diffusionPlan,
  diffusionTimesteps,
  resolveScheduler,
  DIT_SCHEDULER,
  type BetaSchedule,
  type DiffusionPlan,
  type DiffusionScheduler,
  type FlowScheduler,
  type Scheduler,
  type SchedulerSpec,
  type StepCoefficients,
} from './diffusion-scheduler';
export { forward, gatedAdd, splitModulation, cacheKeys, type ForwardOptions } from './transformer';
export { compare, compareTimed, type CompareOptions, type Comparison, type TimedCompareOptions, type TimedComparison } from './evaluate';
export { alternate, overheadOf, summarize, type Overhead, type OverheadVerdict, type Timing } from '../bench/timing';
export { calibrateSchedule, calibrationRunBound, fixedStart, CALIBRATE_MOVES, type CalibrateOptions, type Calibration, type CalibrateProgress } from './calibrate';
export { createHook, type HookImplementation } from './hook-factory';
export { ReferenceSeer } from './reference-seer';
export { GRANULARITIES, type Granularity, type SeerOptions } from './seer-options';
export { psnr, psnrPerSample, ssim, ssimPerSample, relL2, msePerSample, compareImages, toUnit, temporalPerSample, clipFrames, sampleShape, type ImageShape, type QualityReport } from './metrics';
export { readF32, writeF32, gaussianNoise, Rng } from './noise';
export { renderRows, renderGrid, encodePng, encodeApng, writePng, writeImageGrid, type GridOptions, type RgbaImage } from './image';
export { bundledModelDir } from './bundled';

// Charts (the sweep's PSNR-vs-speed plots): SVG built in lib/plot, rasterised with resvg on first use.
export { chartSvg, renderChartPng, renderSvgToPng, titledImagesPng, type ChartOptions, type Series, type Point, type TitledRow } from '../plot';
