/**
 * taylorseer: TaylorSeer feature forecasting for diffusion transformers. The core entry (ESM and CommonJS
 * alike): the hook, the cache, schedules, the expansion math, errors, info and the typed binding. It loads
 * no onnxruntime and no image library; the ONNX DiT pipeline, image metrics, PNG output and charts come
 * from `taylorseer/pipeline` (lib/pipeline/index.ts).
 */

// The hook: wrap any module computation of a transformer forward.
export { TaylorSeer } from './taylor-seer';
export { isCacheHook } from './cache-hook';
export type { CacheHook } from './cache-hook';
export type { TaylorSeerOptions, TaylorSeerStats, ModuleOptions, GateShape, ActivationTensor, DeviceOption } from './taylor-seer';

// Schedules (pure, no native code) and the expansion math.
export { createSchedule, FixedSchedule, MaskSchedule, AdaptiveSchedule } from './schedule';
export type { Schedule, ScheduleOptions, FixedScheduleOptions, MaskScheduleOptions, AdaptiveScheduleOptions, StepObservation } from './schedule';
export { updatePlan, forecastCoeffs, MAX_ORDER, VARIABLES } from './expansion';
export type { Variable, Node, UpdatePlan } from './expansion';

// The lower-level cache the hook is built on.
export { FactorCache } from './cache';
export type { CacheOptions, CacheEntryInfo, Device, ShapeChangePolicy, BudgetPolicy, BudgetDowngrade } from './cache';

// Errors and environment.
export { TaylorSeerError, TaylorSeerBudgetError } from './errors';
export type { TaylorSeerErrorCode, FactorLayout } from './errors';
export { info, packageVersion } from './info';
export type { TaylorSeerInfo } from './info';

// The kernels, for microbenchmarks and custom integrations.
export { native, DTYPES } from './native';
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
