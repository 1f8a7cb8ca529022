/**
 * taylorseer: TaylorSeer feature forecasting for diffusion transformers. The core entry (ESM and CommonJS
 * alike): the hook, the cache, schedules, the expansion math, errors, info and the typed binding. It loads
 * no onnxruntime and no image library; the ONNX DiT pipeline, image metrics, PNG output and charts come
 * from `taylorseer/pipeline` (lib/pipeline/index.ts).
 */

// The hook: wrap any module computation of a transformer forward.
export { TaylorSeer } from './taylor-seer';
export { isCacheHook } from './cache-hook';
export type { CacheHook, GatedItem, ModuleCompute } from './cache-hook';
export type { TaylorSeerOptions, TaylorSeerStats, ModuleOptions, ModulesOptions, GateShape, ActivationTensor, DeviceOption } from './taylor-seer';

// Schedules (pure, no native code) and the expansion math.
export { createSchedule, FixedSchedule, MaskSchedule, AdaptiveSchedule } from './schedule';
export type { Schedule, ScheduleOptions, FixedScheduleOptions, MaskScheduleOptions, AdaptiveScheduleOptions, StepObservation } from './schedule';
export { updatePlan, forecastCoeffs, MAX_ORDER, VARIABLES } from './expansion';
export type { Variable, Node, UpdatePlan } from './expansion';
export { planRun, PLAN_ROW } from './run-plan';
export type { RunPlan, StepPlan, RunPlanOptions } from './run-plan';

// The reference forks' settings for the MMDiT family (FLUX, HunyuanVideo, HiDream).
export { getPreset, listPresets, presetFits, presetModulesOf, presetPatterns, presetSeer, seedSystemFor, PRESET_IDS } from './presets';
export type { Preset, PresetBlock, PresetId, PresetCfg, PresetModule } from './presets';

// The lower-level cache the hook is built on.
export { FactorCache } from './cache';
export type { CacheOptions, CacheEntryInfo, Device, ShapeChangePolicy, BudgetPolicy, BudgetDowngrade } from './cache';

// Errors and environment.
export { TaylorSeerError, TaylorSeerBudgetError } from './errors';
export type { TaylorSeerErrorCode, FactorLayout } from './errors';
export { info, packageVersion, cLibrary } from './info';
export type { TaylorSeerInfo, CLibraryInfo } from './info';

// The kernels, for microbenchmarks and custom integrations.
export { native, DTYPES, STORAGE_DTYPES, factorBytes, factorOffset, factorUnits, Q8_BLOCK, Q8_RECORD_BYTES } from './native';
export type {
  Dtype,
  StorageDtype,
  HostFactors,
  FactorTensor,
  HostTensor,
  DeviceTensor,
  Tensor,
  UpdateEntry,
  ForecastEntry,
  ForecastOptions,
  IndirectOptions,
  NativeAddon,
  BuildInfo,
  CpuInfo,
  CudaInfo,
} from './native';

// Cache memory of the real models TaylorSeer was published for (pure TypeScript, no native code).
export { plan, formatGB, parseMemorySize, PLAN_STORAGES } from './plan';
export type { Plan, PlanOptions, PlanRow } from './plan';
export { seedSystems, seedSystem, tokensOf, cachedTensors, SEED_SYSTEM_IDS, CACHE_GRANULARITIES } from './seed-systems';
export type { SeedSystem, SeedSystemId, CacheGranularity, CachedTensors, GenerationSize, GuidanceMode, ReferenceSettings } from './seed-systems';
