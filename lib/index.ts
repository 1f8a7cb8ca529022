/**
 * taylorseer: TaylorSeer feature forecasting for diffusion transformers. Everything a user imports comes
 * from here (ESM and CommonJS alike).
 */

// The hook: wrap any module computation of a transformer forward.
export { TaylorSeer } from './taylor-seer';
export type { TaylorSeerOptions, TaylorSeerStats, ModuleOptions, GateShape, ActivationTensor, DeviceOption } from './taylor-seer';

// Schedules (pure, no native code) and the expansion math.
export { createSchedule, FixedSchedule, MaskSchedule, AdaptiveSchedule } from './schedule';
export type { Schedule, ScheduleOptions, FixedScheduleOptions, MaskScheduleOptions, AdaptiveScheduleOptions, StepObservation } from './schedule';
export { updatePlan, forecastCoeffs, MAX_ORDER, VARIABLES } from './expansion';
export type { Variable, Node, UpdatePlan } from './expansion';

// The lower-level cache the hook is built on.
export { FactorCache } from './cache';
export type { CacheOptions, CacheEntryInfo, Device, ShapeChangePolicy } from './cache';

// Errors and environment.
export { TaylorSeerError } from './errors';
export type { TaylorSeerErrorCode } from './errors';
export { info, packageVersion } from './info';
export type { TaylorSeerInfo } from './info';

// The kernels, for microbenchmarks and custom integrations.
export { native } from './native';
export type {
  Dtype,
  HostTensor,
  DeviceTensor,
  Tensor,
  UpdateEntry,
  ForecastEntry,
  NativeAddon,
  BuildInfo,
  CpuInfo,
  CudaInfo,
} from './native';

// Running a DiT exported in the taylorseer-dit-onnx/1 format with onnxruntime-node.
export {
  loadModel,
  loadManifest,
  parseManifest,
  DitModel,
  sample,
  timesteps,
  compare,
  calibrateSchedule,
  calibrationRunBound,
  CALIBRATE_MOVES,
  bundledModelDir,
  psnr,
  ssim,
  relL2,
  compareImages,
  readF32,
  writeF32,
  gaussianNoise,
  writeImageGrid,
  GRANULARITIES,
  ReferenceSeer,
} from './pipeline';
export type {
  ModelManifest,
  SampleOptions,
  SampleResult,
  StepInfo,
  CfgMode,
  Comparison,
  CompareOptions,
  CalibrateOptions,
  Calibration,
  CalibrateProgress,
  Granularity,
  SeerOptions,
  ImageShape,
  QualityReport,
} from './pipeline';

// Charts (the sweep's PSNR-vs-speed plots): SVG built here, rasterised with resvg.
export { chartSvg, renderChartPng, renderSvgToPng } from './plot';
export type { ChartOptions, Series, Point } from './plot';
