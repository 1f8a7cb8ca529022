/**
 * Presets: the reference forks' TaylorSeer settings for the systems TaylorSeer was published for (FLUX,
 * HunyuanVideo, HiDream, Wan2.1, DiT), so that `--preset flux-dev` (or `{ preset: 'flux-dev' }`) reproduces
 * what the reference runs on that model.
 *
 * Each preset names the real models it is for (lib/seed-systems.ts, the ids `taylorseer plan` takes) and
 * reads the fork's numbers from there: the fixed schedule (interval N, warm-up W) and order O from the
 * system's `reference` (granularity 'module') or `lite` (granularity 'lite'), the guidance mode from its
 * `cfg`. What a preset adds is where the cache sits and its module map: per branch the fork caches
 * (before its gate), name patterns that find it in a graph exported the family's usual way. Patterns are
 * regular expressions matched against a branch's key and its graph names (tensor, residual Add, producing
 * node and that node's inputs, where parameter names keep the module path), and cover both the original
 * repositories' module names (BFL `flux`, Tencent `HunyuanVideo`, HiDream-ai's, Wan-Video `Wan2.1`,
 * facebookresearch `DiT`) and diffusers' (`transformer_blocks.N.attn.to_out`, `blocks.N.attn1`, ...).
 *
 * Preset ids are the names users type; they map to seed systems as follows:
 *   flux-dev, flux-dev-lite -> flux-dev;  hunyuanvideo -> hunyuan-video;  hidream -> hidream-i1;
 *   wan2.1, wan2.1-lite -> wan2.1-1.3b and wan2.1-14b;  dit-xl -> dit-xl-2.
 * Pure data and lookups: nothing here runs a model.
 */
import { TaylorSeerError } from './errors';
import { SEED_SYSTEM_IDS, seedSystem, type GuidanceMode, type SeedSystem, type SeedSystemId } from './seed-systems';

export type PresetId = 'flux-dev' | 'flux-dev-lite' | 'hunyuanvideo' | 'hidream' | 'wan2.1' | 'wan2.1-lite' | 'dit-xl';

/** How classifier-free guidance meets the cache (lib/seed-systems.ts GuidanceMode). */
export type PresetCfg = GuidanceMode;

/**
 * The kind of block a cached module sits in: 'double' and 'single', an MMDiT's double-stream and
 * single-stream blocks (FLUX, HunyuanVideo, HiDream); 'block', the one block kind of a single-stream
 * transformer (DiT, Wan).
 */
export type PresetBlock = 'double' | 'single' | 'block';

export interface PresetModule {
  /** the reference's name for the branch */
  name: string;
  block: PresetBlock;
  /**
   * the tokens it updates: an MMDiT double block's 'image' or 'text' stream, an MMDiT single block's
   * 'joint' image + text sequence; a DiT's 'image' tokens, Wan's 'video' tokens
   */
  stream: 'image' | 'text' | 'joint' | 'video';
  /** 'gated': added to the residual stream times an adaLN gate; 'plain': added as it is (Wan's cross-attention) */
  kind: 'gated' | 'plain';
  /** name patterns that find it in an exported graph */
  patterns: readonly RegExp[];
}

export interface Preset {
  id: PresetId;
  /** the model the preset is for */
  model: string;
  /** the seed systems it is for (lib/seed-systems.ts), whose reference numbers it reads */
  systems: readonly SeedSystemId[];
  granularity: 'module' | 'lite';
  schedule: { kind: 'fixed'; interval: number; warmup: number; cooldown: number };
  maxOrder: number;
  cfg: PresetCfg;
  /** the cached branches ('module'); empty for 'lite', which caches the network output */
  modules: readonly PresetModule[];
  /** where the numbers and the module map come from */
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
    kind: 'gated',
    patterns: [at('double_blocks', original[name]), DIFFUSERS_DOUBLE[name]],
  });
  return [
    d('img_attn', 'image'),
    d('img_mlp', 'image'),
    d('txt_attn', 'text'),
    d('txt_mlp', 'text'),
    { name: 'single', block: 'single', stream: 'joint', kind: 'gated', patterns: [at('single_blocks', original.single), DIFFUSERS_SINGLE] },
  ];
}

const FLUX_MODULES = mmditModules({ img_attn: 'img_attn', txt_attn: 'txt_attn', img_mlp: 'img_mlp', txt_mlp: 'txt_mlp', single: 'linear2' });

/**
 * Wan2.1's block (Wan-Video `WanAttentionBlock`: self_attn, cross_attn, ffn; diffusers `WanTransformerBlock`:
 * attn1, attn2, ffn). The cross-attention is added without a gate.
 */
const WAN_MODULES: readonly PresetModule[] = [
  { name: 'self_attn', block: 'block', stream: 'video', kind: 'gated', patterns: [at('blocks', 'self_attn'), at('blocks', 'attn1')] },
  { name: 'cross_attn', block: 'block', stream: 'video', kind: 'plain', patterns: [at('blocks', 'cross_attn'), at('blocks', 'attn2')] },
  { name: 'ffn', block: 'block', stream: 'video', kind: 'gated', patterns: [at('blocks', 'ffn')] },
];

/**
 * DiT's block (facebookresearch `DiTBlock`: attn, mlp; diffusers `BasicTransformerBlock` in
 * DiTTransformer2DModel: transformer_blocks.N.attn1, .ff). The made-small DiT (scripts/train-dit/dit.py)
 * holds timm's attn.proj and mlp.fc2 in the block itself: blocks.N.proj, blocks.N.fc2.
 */
const DIT_MODULES: readonly PresetModule[] = [
  { name: 'attn', block: 'block', stream: 'image', kind: 'gated', patterns: [at('blocks', 'attn'), at('transformer_blocks', 'attn1'), at('blocks', 'proj')] },
  { name: 'mlp', block: 'block', stream: 'image', kind: 'gated', patterns: [at('blocks', 'mlp'), at('transformer_blocks', 'ff'), at('blocks', 'fc2')] },
];

interface PresetRow {
  id: PresetId;
  model: string;
  systems: readonly [SeedSystemId, ...SeedSystemId[]];
  granularity: 'module' | 'lite';
  modules: readonly PresetModule[];
  /** what the fork caches and how guidance runs, in words (the numbers come from the seed systems) */
  notes: string;
}

/** A preset from its row: the numbers from its seed system's reference ('module') or Lite ('lite') settings. */
function preset(row: PresetRow): Preset {
  const system: SeedSystem = seedSystem(row.systems[0]);
  const settings = row.granularity === 'lite' ? system.lite : system.reference;
  // a table error, caught by the tests of every preset
  if (!settings) throw new Error(`preset ${row.id}: ${system.name} has no Lite settings`);
  const { interval, order, warmup } = settings;
  return {
    id: row.id,
    model: row.model,
    systems: row.systems,
    granularity: row.granularity,
    schedule: { kind: 'fixed', interval, warmup, cooldown: 0 },
    maxOrder: order,
    cfg: system.cfg,
    modules: row.modules,
    source: `${settings.source}: interval ${interval}, order ${order}, warm-up ${warmup}; ${row.notes}`,
  };
}

const ROWS: readonly PresetRow[] = [
  {
    id: 'flux-dev',
    model: 'FLUX.1-dev',
    systems: ['flux-dev'],
    granularity: 'module',
    modules: FLUX_MODULES,
    notes: 'caches img_attn, img_mlp, txt_attn, txt_mlp per double block and the fused attention+MLP output (linear2) per single block; guidance-distilled, no CFG pass',
  },
  {
    id: 'flux-dev-lite',
    model: 'FLUX.1-dev',
    systems: ['flux-dev'],
    granularity: 'lite',
    modules: [],
    notes: 'the final output only',
  },
  {
    id: 'hunyuanvideo',
    model: 'HunyuanVideo',
    systems: ['hunyuan-video'],
    granularity: 'module',
    modules: mmditModules({ img_attn: 'img_attn_proj', txt_attn: 'txt_attn_proj', img_mlp: 'img_mlp', txt_mlp: 'txt_mlp', single: 'linear2' }),
    notes:
      'caches as FLUX (the fork also stores the raw single-stream attention, which is not cached here); embedded guidance (real CFG, if used, batched with one cache)',
  },
  {
    id: 'hidream',
    model: 'HiDream-I1',
    systems: ['hidream-i1'],
    granularity: 'module',
    modules: [
      { name: 'img_attn', block: 'double', stream: 'image', kind: 'gated', patterns: [at('double_stream_blocks', '(?:block[./])?attn1[./]to_out')] },
      { name: 'img_mlp', block: 'double', stream: 'image', kind: 'gated', patterns: [at('double_stream_blocks', '(?:block[./])?ff_i')] },
      { name: 'txt_attn', block: 'double', stream: 'text', kind: 'gated', patterns: [at('double_stream_blocks', '(?:block[./])?attn1[./]to_out_t')] },
      { name: 'txt_mlp', block: 'double', stream: 'text', kind: 'gated', patterns: [at('double_stream_blocks', '(?:block[./])?ff_t')] },
      { name: 'img_attn', block: 'single', stream: 'joint', kind: 'gated', patterns: [at('single_stream_blocks', '(?:block[./])?attn1[./]to_out')] },
      { name: 'img_mlp', block: 'single', stream: 'joint', kind: 'gated', patterns: [at('single_stream_blocks', '(?:block[./])?ff_i')] },
    ],
    notes:
      'caches img/txt attention and MLP (MoE output) per double block, attention and MLP per single block; CFG batched (cond and uncond in one forward), one shared cache',
  },
  {
    id: 'wan2.1',
    model: 'Wan2.1 (T2V-1.3B, T2V-14B)',
    systems: ['wan2.1-1.3b', 'wan2.1-14b'],
    granularity: 'module',
    modules: WAN_MODULES,
    notes:
      'caches self_attn (gated), cross_attn (added without a gate) and ffn (gated) per block; CFG as two forwards with separate cond / uncond caches, ' +
      'the full-or-forecast decision taken on the cond pass',
  },
  {
    id: 'wan2.1-lite',
    model: 'Wan2.1 (T2V-1.3B, T2V-14B)',
    systems: ['wan2.1-1.3b', 'wan2.1-14b'],
    granularity: 'lite',
    modules: [],
    notes: 'the final output only; CFG as two forwards with separate cond / uncond caches',
  },
  {
    id: 'dit-xl',
    model: 'DiT-XL/2 (256x256; eps-prediction, sampled with DDIM over 50 steps)',
    systems: ['dit-xl-2'],
    granularity: 'module',
    modules: DIT_MODULES,
    notes: 'caches attn and mlp per block (fp32 factors); CFG batched (cond and uncond in one forward), one shared cache',
  },
];

const PRESETS: readonly Preset[] = ROWS.map(preset);

export const PRESET_IDS: readonly PresetId[] = PRESETS.map((p) => p.id);

/** The preset named `id`. Errors: ERR_INVALID_ARGUMENT naming the presets there are. */
export function getPreset(id: unknown): Preset {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `unknown preset ${JSON.stringify(id)}: expected one of ${PRESET_IDS.join(', ')}`);
  }
  return p;
}

/**
 * The seed system `id` names: a seed-system id ('wan2.1-14b'), or a preset id whose preset is for one
 * system ('hunyuanvideo' -> 'hunyuan-video'). Errors: ERR_INVALID_ARGUMENT naming the ids there are, or the
 * systems a preset for several stands for ('wan2.1').
 */
export function seedSystemFor(id: unknown): SeedSystem {
  if (SEED_SYSTEM_IDS.includes(id as SeedSystemId)) return seedSystem(id as SeedSystemId);
  const p = PRESETS.find((x) => x.id === id);
  if (p && p.systems.length === 1) return seedSystem(p.systems[0]);
  if (p) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `preset ${p.id} is for ${p.systems.join(' and ')}: name one of them`);
  throw new TaylorSeerError(
    'ERR_INVALID_ARGUMENT',
    `unknown model ${JSON.stringify(id)}: expected a seed system (${SEED_SYSTEM_IDS.join(', ')}) or a preset for one (${PRESETS.filter((x) => x.systems.length === 1).map((x) => x.id).join(', ')})`,
  );
}

/** Every preset, in the order `taylorseer presets` lists them. */
export function listPresets(): readonly Preset[] {
  return PRESETS;
}

/** The preset's modules whose patterns match `name` (a module path, node or tensor name). */
export function presetModulesOf(p: Preset, name: string): PresetModule[] {
  return p.modules.filter((m) => m.patterns.some((re) => re.test(name)));
}

/**
 * Whether the preset's module map names exactly these branches: each name matches one module, and each
 * module matches one of the names ('lite' presets name none and fit any list).
 */
export function presetFits(p: Preset, names: readonly string[]): boolean {
  if (p.modules.length === 0) return true;
  const hits = names.map((n) => presetModulesOf(p, n));
  return hits.every((h) => h.length === 1) && p.modules.every((m) => hits.some((h) => h[0] === m));
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
