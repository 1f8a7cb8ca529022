/**
 * Presets: the reference forks' TaylorSeer settings for the MMDiT family (FLUX, HunyuanVideo, HiDream), so
 * that `--preset flux-dev` (or `{ preset: 'flux-dev' }`) reproduces what the reference runs on that model.
 *
 * Each preset holds the fork's fixed schedule (interval N, warm-up W, cool-down), its order O, where the
 * cache sits ('module': every branch the fork caches, before its gate; 'lite': the network output only),
 * how classifier-free guidance meets the cache, and the module map: per branch the fork caches, name
 * patterns that find it in a graph exported the family's usual way. Patterns are regular expressions
 * matched against a branch's key and its graph names (tensor, residual Add, producing node), and cover
 * both the original repositories' module names (BFL `flux`, Tencent `HunyuanVideo`, HiDream-ai's, which
 * this library's made-small MMDiT follows) and diffusers' (`transformer_blocks.N.attn.to_out`, ...).
 * Pure data and lookups: nothing here runs a model.
 */
import { TaylorSeerError } from './errors';

export type PresetId = 'flux-dev' | 'flux-dev-lite' | 'hunyuanvideo' | 'hidream';

/**
 * How classifier-free guidance meets the cache:
 *  - 'embedded': guidance is distilled into an input of the network (FLUX-dev, HunyuanVideo): one forward
 *    per step, one cache;
 *  - 'batched': cond and uncond run as one forward of batch 2B with one shared cache entry per branch;
 *  - 'separate': two forwards per step, separate cond / uncond caches.
 */
export type PresetCfg = 'embedded' | 'batched' | 'separate';

export interface PresetModule {
  /** the reference's name for the branch */
  name: string;
  /** 'double' (a double-stream block) or 'single' (a single-stream block) */
  block: 'double' | 'single';
  /** the token stream it updates */
  stream: 'image' | 'text' | 'joint';
  /** name patterns that find it in an exported graph */
  patterns: readonly RegExp[];
}

export interface Preset {
  id: PresetId;
  /** the model the preset is for */
  model: string;
  granularity: 'module' | 'lite';
  schedule: { kind: 'fixed'; interval: number; warmup: number; cooldown: number };
  maxOrder: number;
  cfg: PresetCfg;
  /** the cached branches ('module'); empty for 'lite', which caches the network output */
  modules: readonly PresetModule[];
  /** where the numbers come from */
  source: string;
}

/** A pattern for `<blocks>.<i>.<module>` (separators `.` or `/`, as in module paths and ONNX node names). */
function at(blocks: string, module: string): RegExp {
  return new RegExp(`(?:^|[./])${blocks}[./]\\d+[./]${module}(?:[./]|$)`);
}

// diffusers names FLUX's and HunyuanVideo's blocks alike (FluxTransformerBlock, HunyuanVideoTransformerBlock)
const DIFFUSERS_DOUBLE = {
  img_attn: at('transformer_blocks', 'attn[./]to_out'),
  txt_attn: at('transformer_blocks', 'attn[./]to_add_out'),
  img_mlp: at('transformer_blocks', 'ff'),
  txt_mlp: at('transformer_blocks', 'ff_context'),
};
const DIFFUSERS_SINGLE = at('single_transformer_blocks', 'proj_out');

function mmditModules(original: { img_attn: string; txt_attn: string; img_mlp: string; txt_mlp: string; single: string }): PresetModule[] {
  const d = (name: keyof typeof DIFFUSERS_DOUBLE, stream: 'image' | 'text'): PresetModule => ({
    name,
    block: 'double',
    stream,
    patterns: [at('double_blocks', original[name]), DIFFUSERS_DOUBLE[name]],
  });
  return [
    d('img_attn', 'image'),
    d('img_mlp', 'image'),
    d('txt_attn', 'text'),
    d('txt_mlp', 'text'),
    { name: 'single', block: 'single', stream: 'joint', patterns: [at('single_blocks', original.single), DIFFUSERS_SINGLE] },
  ];
}

const FLUX_MODULES = mmditModules({ img_attn: 'img_attn', txt_attn: 'txt_attn', img_mlp: 'img_mlp', txt_mlp: 'txt_mlp', single: 'linear2' });

const PRESETS: readonly Preset[] = [
  {
    id: 'flux-dev',
    model: 'FLUX.1-dev',
    granularity: 'module',
    schedule: { kind: 'fixed', interval: 6, warmup: 3, cooldown: 0 },
    maxOrder: 1,
    cfg: 'embedded',
    modules: FLUX_MODULES,
    source:
      'TaylorSeer-FLUX cache_init.py (mode Taylor): fresh_threshold 6, max_order 1, first_enhance 3 (the paper reports O=2); ' +
      'caches img_attn, img_mlp, txt_attn, txt_mlp per double block and the fused attention+MLP output (linear2) per single block; guidance-distilled, no CFG pass',
  },
  {
    id: 'flux-dev-lite',
    model: 'FLUX.1-dev',
    granularity: 'lite',
    schedule: { kind: 'fixed', interval: 5, warmup: 3, cooldown: 0 },
    maxOrder: 2,
    cfg: 'embedded',
    modules: [],
    source: 'TaylorSeer-Lite (Cache4Diffusion; ports in ComfyUI-TaylorSeer and OpenVINO GenAI): the final output only, interval 5, max_order 2, first_enhance 3',
  },
  {
    id: 'hunyuanvideo',
    model: 'HunyuanVideo',
    granularity: 'module',
    schedule: { kind: 'fixed', interval: 5, warmup: 1, cooldown: 0 },
    maxOrder: 1,
    cfg: 'embedded',
    modules: mmditModules({ img_attn: 'img_attn_proj', txt_attn: 'txt_attn_proj', img_mlp: 'img_mlp', txt_mlp: 'txt_mlp', single: 'linear2' }),
    source:
      'TaylorSeer-HunyuanVideo cache_init.py: fresh_threshold 5, max_order 1, first_enhance 1; caches as FLUX (the fork also stores the raw ' +
      'single-stream attention, which is not cached here); embedded guidance (real CFG, if used, batched with one cache)',
  },
  {
    id: 'hidream',
    model: 'HiDream-I1',
    granularity: 'module',
    schedule: { kind: 'fixed', interval: 4, warmup: 1, cooldown: 0 },
    maxOrder: 2,
    cfg: 'batched',
    modules: [
      { name: 'img_attn', block: 'double', stream: 'image', patterns: [at('double_stream_blocks', '(?:block[./])?attn1[./]to_out')] },
      { name: 'img_mlp', block: 'double', stream: 'image', patterns: [at('double_stream_blocks', '(?:block[./])?ff_i')] },
      { name: 'txt_attn', block: 'double', stream: 'text', patterns: [at('double_stream_blocks', '(?:block[./])?attn1[./]to_out_t')] },
      { name: 'txt_mlp', block: 'double', stream: 'text', patterns: [at('double_stream_blocks', '(?:block[./])?ff_t')] },
      { name: 'img_attn', block: 'single', stream: 'joint', patterns: [at('single_stream_blocks', '(?:block[./])?attn1[./]to_out')] },
      { name: 'img_mlp', block: 'single', stream: 'joint', patterns: [at('single_stream_blocks', '(?:block[./])?ff_i')] },
    ],
    source:
      'TaylorSeer-HiDream cache_init.py: fresh_threshold 4, max_order 2, first_enhance 1; caches img/txt attention and MLP (MoE output) per double ' +
      'block, attention and MLP per single block; CFG batched (cond and uncond in one forward), one shared cache',
  },
];

export const PRESET_IDS: readonly PresetId[] = PRESETS.map((p) => p.id);

/** The preset named `id`. Errors: ERR_INVALID_ARGUMENT naming the presets there are. */
export function getPreset(id: unknown): Preset {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `unknown preset ${JSON.stringify(id)}: expected one of ${PRESET_IDS.join(', ')}`);
  }
  return p;
}

/** Every preset, in the order `taylorseer presets` lists them. */
export function listPresets(): readonly Preset[] {
  return PRESETS;
}

/** The preset's name patterns, flattened: what a graph's branch detection keeps ('lite': none). */
export function presetPatterns(p: Preset): RegExp[] {
  return p.modules.flatMap((m) => [...m.patterns]);
}

/**
 * The preset's fixed schedule and order for a run of `steps` steps, as the hook takes them. Errors:
 * ERR_INVALID_ARGUMENT when the run is shorter than the warm-up plus the cool-down.
 */
export function presetSeer(p: Preset, steps: number): { schedule: { kind: 'fixed'; steps: number; interval: number; warmup: number; cooldown: number }; maxOrder: number } {
  if (!Number.isInteger(steps) || steps < p.schedule.warmup + p.schedule.cooldown) {
    throw new TaylorSeerError(
      'ERR_INVALID_ARGUMENT',
      `preset ${p.id} needs at least ${p.schedule.warmup + p.schedule.cooldown} steps (its warm-up and cool-down), found ${steps}`,
    );
  }
  return { schedule: { ...p.schedule, steps }, maxOrder: p.maxOrder };
}
