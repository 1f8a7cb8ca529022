/**
 * The diffusion transformers TaylorSeer was published for, at their real shapes: hidden size, blocks, the
 * outputs the reference caches per block, tokens per resolution (and frames), CFG streams and the
 * reference's defaults. One table, used by `taylorseer plan` (cache memory) and by the model presets
 * (lib/presets.ts), which read their interval, order and warm-up from `reference` and `lite` here.
 *
 * Every number names the public config or code it comes from (`source`). Token counts follow the models'
 * latent layouts: a VAE that downsamples space by 8 (and time by 4 for the video models) and a 2x2 patch
 * (FLUX packs 2x2 latents into one token), so one image token covers 16x16 pixels.
 *
 * What is cached, per granularity (the library's 'module' | 'block' | 'lite'):
 *  - module: the reference's choice, each module output before its gate (FLUX double block: img_attn,
 *    img_mlp on image tokens, txt_attn, txt_mlp on text tokens; single block: one output over the joint
 *    image + text sequence; DiT: attn, mlp; Wan: self_attn, cross_attn, ffn on the video tokens);
 *  - block: each block's residual contribution (a double-stream block has two: image and text stream);
 *  - lite: the network's final output only ([tokens, outDim] per stream).
 */
import { TaylorSeerError } from './errors';

export type SeedSystemId = 'flux-dev' | 'hunyuan-video' | 'hidream-i1' | 'wan2.1-1.3b' | 'wan2.1-14b' | 'dit-xl-2';
export type CacheGranularity = 'module' | 'block' | 'lite';
export const CACHE_GRANULARITIES: readonly CacheGranularity[] = ['module', 'block', 'lite'];

/**
 * How classifier-free guidance meets the cache:
 *  - 'embedded': guidance is distilled into an input of the network (FLUX-dev, HunyuanVideo): one forward
 *    per step, one cache;
 *  - 'batched': cond and uncond run as one forward of batch 2B with one shared cache entry per branch;
 *  - 'separate': two forwards per step, separate cond / uncond caches.
 */
export type GuidanceMode = 'embedded' | 'batched' | 'separate';

/** A fork's fixed schedule and order: a full step every `interval` steps after `warmup` full ones, order `order`. */
export interface ReferenceSettings {
  interval: number;
  order: number;
  warmup: number;
  /** the code (or example) that sets them */
  source: string;
}

export interface SeedSystem {
  id: SeedSystemId;
  name: string;
  /** hidden size D of the transformer stream */
  hidden: number;
  /** double-stream blocks (separate image and text streams; 0 for single-stream-only models) */
  doubleBlocks: number;
  /** blocks over one sequence: single-stream blocks of an MMDiT (image + text), or the plain DiT/Wan blocks (image/video only) */
  singleBlocks: number;
  /** whether the single blocks run over image + text tokens (MMDiT) or image/video tokens only */
  singleBlocksSeeText: boolean;
  /** module outputs cached per double block, on the image stream and on the text stream */
  doubleModules: { image: number; text: number };
  /** module outputs cached per single block */
  singleModules: number;
  /** text tokens in the transformer's sequence (0 when text only enters through cross-attention) */
  textTokens: number;
  /** channels per token of the network output (what 'lite' caches) */
  outDim: number;
  /** video: latent frames = (frames - 1) / temporalStride + 1; 0 for image models */
  temporalStride: number;
  /** pixels per token side (VAE stride x patch) */
  pixelsPerToken: number;
  /** default resolution (width x height) and frames */
  defaultSize: { width: number; height: number; frames: number };
  /**
   * Copies of every cached output that classifier-free guidance keeps: 1 when guidance is distilled into an
   * embedding (FLUX, HunyuanVideo), 2 when cond and uncond run batched with one shared entry (the tensor
   * has batch 2) or as two forwards with separate caches (Wan): the bytes are the same.
   */
  cfgStreams: number;
  cfg: GuidanceMode;
  /** the reference fork's defaults (module granularity): interval N, order O, warm-up W, factor dtype, and where they are set */
  reference: ReferenceSettings & { dtype: 'bf16' | 'f32' };
  /** TaylorSeer-Lite's settings for this family (the network output only), where a Lite port sets them */
  lite?: ReferenceSettings;
  /** where the numbers come from */
  source: string;
}

/** What FLUX, HunyuanVideo and HiDream share: double- and single-stream blocks, 16 latent channels in 2x2 patches. */
const MMDIT = {
  singleBlocksSeeText: true,
  doubleModules: { image: 2, text: 2 },
  outDim: 64,
  pixelsPerToken: 16,
} as const;

/** What Wan and DiT share: one kind of block over the image (or video) tokens; text enters by cross-attention or a label. */
const SINGLE_STREAM = {
  doubleBlocks: 0,
  singleBlocksSeeText: false,
  doubleModules: { image: 0, text: 0 },
  textTokens: 0,
  pixelsPerToken: 16,
} as const;

/** An image model's default size: one frame, no temporal stride. */
function image(width: number, height: number): Pick<SeedSystem, 'temporalStride' | 'defaultSize'> {
  return { temporalStride: 0, defaultSize: { width, height, frames: 1 } };
}

/** A video model's default size; its VAE strides time by 4. */
function video(width: number, height: number, frames: number): Pick<SeedSystem, 'temporalStride' | 'defaultSize'> {
  return { temporalStride: 4, defaultSize: { width, height, frames } };
}

/** The guidance mode and the copies of every cached output it keeps: 1 when distilled into an input, else 2. */
function guidance(cfg: GuidanceMode): Pick<SeedSystem, 'cfgStreams' | 'cfg'> {
  return { cfgStreams: cfg === 'embedded' ? 1 : 2, cfg };
}

/** Where both Wan sizes' shared numbers come from. */
const WAN_SHARED_SOURCE =
  'patch_size [1, 2, 2], out_dim 16; Wan-VAE stride 4 x 8 x 8; ' +
  'reference fork TaylorSeer-Wan2.1 caches self_attn, cross_attn, ffn per block, separate cond / uncond caches';

const WAN_1_3B: SeedSystem = {
  ...SINGLE_STREAM, id: 'wan2.1-1.3b', name: 'Wan2.1-T2V-1.3B', hidden: 1536, singleBlocks: 30, singleModules: 3, outDim: 64,
  ...video(832, 480, 81), ...guidance('separate'),
  reference: { interval: 5, order: 1, warmup: 1, dtype: 'bf16', source: 'TaylorSeer-Wan2.1 cache_init.py (mode Taylor: fresh_threshold, max_order, first_enhance)' },
  lite: { interval: 5, order: 1, warmup: 1, source: 'ComfyUI-TaylorSeer examples/taylorseerlite_example_wan2-2.json (TaylorSeerLite, model_type wanvideo)' },
  source: `Wan-AI/Wan2.1-T2V-1.3B config.json: dim 1536, num_layers 30, ${WAN_SHARED_SOURCE}`,
};

const SYSTEMS: readonly SeedSystem[] = [
  {
    ...MMDIT, id: 'flux-dev', name: 'FLUX.1-dev', hidden: 3072, doubleBlocks: 19, singleBlocks: 38, singleModules: 1, textTokens: 512,
    ...image(1024, 1024), ...guidance('embedded'),
    reference: { interval: 6, order: 1, warmup: 3, dtype: 'bf16', source: 'TaylorSeer-FLUX cache_init.py (mode Taylor: fresh_threshold, max_order, first_enhance; the paper reports O=2)' },
    lite: { interval: 5, order: 2, warmup: 3, source: 'TaylorSeer-Lite (Cache4Diffusion; ports in ComfyUI-TaylorSeer and OpenVINO GenAI)' },
    source:
      'black-forest-labs/FLUX.1-dev transformer/config.json: num_layers 19, num_single_layers 38, num_attention_heads 24 x attention_head_dim 128 = 3072, ' +
      'in_channels 64 (2x2-packed 16-channel latents, VAE stride 8); FluxPipeline max_sequence_length 512 (T5); reference fork TaylorSeer-FLUX caches ' +
      'img_attn, img_mlp, txt_attn, txt_mlp per double block and the fused attention+MLP output per single block',
  },
  {
    ...MMDIT, id: 'hunyuan-video', name: 'HunyuanVideo', hidden: 3072, doubleBlocks: 20, singleBlocks: 40, singleModules: 1, textTokens: 256,
    ...video(640, 480, 65), ...guidance('embedded'),
    reference: { interval: 5, order: 1, warmup: 1, dtype: 'bf16', source: 'TaylorSeer-HunyuanVideo cache_init.py (mode Taylor: fresh_threshold, max_order, first_enhance)' },
    source:
      'hunyuanvideo-community/HunyuanVideo transformer/config.json: num_layers 20, num_single_layers 40, 24 heads x 128 = 3072, patch_size 2, patch_size_t 1, ' +
      'out_channels 16 (x 2x2 patch = 64 per token); causal 3D VAE stride 4 (time) x 8 x 8; text_len 256 (LLaVA-Llama encoder); ' +
      'embedded guidance. The reference fork also stores the raw single-stream attention, which this library does not',
  },
  {
    ...MMDIT, id: 'hidream-i1', name: 'HiDream-I1', hidden: 2560, doubleBlocks: 16, singleBlocks: 32, singleModules: 2, textTokens: 384,
    ...image(1024, 1024), ...guidance('batched'),
    reference: { interval: 4, order: 2, warmup: 1, dtype: 'bf16', source: 'TaylorSeer-HiDream cache_init.py (fresh_threshold, max_order, first_enhance)' },
    source:
      'HiDream-ai/HiDream-I1-Full transformer/config.json: num_layers 16, num_single_layers 32, num_attention_heads 20 x attention_head_dim 128 = 2560, ' +
      'patch_size 2, out_channels 16; HiDreamImageTransformer2DModel.forward: text = T5 (128) + last Llama-3.1 layer (128) + the block\'s Llama layer (128) = 384 tokens, ' +
      'single blocks run over image + text; reference fork caches img/txt attn and mlp (MoE output) per double block, img attn and mlp per single block; CFG batched',
  },
  WAN_1_3B,
  {
    ...WAN_1_3B, id: 'wan2.1-14b', name: 'Wan2.1-T2V-14B', hidden: 5120, singleBlocks: 40, defaultSize: { width: 1280, height: 720, frames: 81 },
    source: `Wan-AI/Wan2.1-T2V-14B config.json: dim 5120, num_layers 40, ${WAN_SHARED_SOURCE}`,
  },
  {
    ...SINGLE_STREAM, id: 'dit-xl-2', name: 'DiT-XL/2', hidden: 1152, singleBlocks: 28, singleModules: 2, outDim: 32,
    ...image(256, 256), ...guidance('batched'),
    reference: { interval: 4, order: 4, warmup: 2, dtype: 'f32', source: 'TaylorSeer-DiT sample.py (--interval and --max-order on the command line) and cache_init.py (first_enhance)' },
    source:
      'facebookresearch/DiT models.py DiT_XL_2: hidden_size 1152, depth 28, patch_size 2, learn_sigma (out 2 x 4 channels x 2x2 patch = 32 per token); ' +
      'sd-vae-ft stride 8; sample.py batches cond + uncond; reference fork TaylorSeer-DiT caches attn and mlp per block in fp32',
  },
];

/** Every seed system, in a stable order. */
export function seedSystems(): readonly SeedSystem[] {
  return SYSTEMS;
}

export const SEED_SYSTEM_IDS: readonly SeedSystemId[] = SYSTEMS.map((s) => s.id);

export function seedSystem(id: string): SeedSystem {
  const s = SYSTEMS.find((x) => x.id === id);
  if (!s) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `unknown model preset '${id}' (expected one of: ${SEED_SYSTEM_IDS.join(', ')})`);
  return s;
}

export interface GenerationSize {
  width: number;
  height: number;
  /** video frames (1 for image models) */
  frames: number;
}

/** Tokens of one sample in the transformer's sequence: image (or video) tokens and text tokens. */
export function tokensOf(system: SeedSystem, size: GenerationSize): { image: number; text: number } {
  const { width, height, frames } = size;
  const p = system.pixelsPerToken;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < p || v % p !== 0) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${system.name}: ${name} ${v} must be a positive multiple of ${p} pixels (one token)`);
    }
  }
  let latentFrames = 1;
  if (system.temporalStride > 0) {
    if (!Number.isInteger(frames) || frames < 1 || (frames - 1) % system.temporalStride !== 0) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${system.name}: frames ${frames} must be ${system.temporalStride}k + 1 (the VAE's temporal stride), e.g. 81`);
    }
    latentFrames = (frames - 1) / system.temporalStride + 1;
  } else if (frames !== 1) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${system.name} is an image model: frames must be 1, got ${frames}`);
  }
  return { image: latentFrames * (width / p) * (height / p), text: system.textTokens };
}

/** One group of equally shaped cached tensors: `count` tensors of [batch, tokens, dim]. */
export interface CachedTensors {
  what: string;
  count: number;
  tokens: number;
  dim: number;
}

/** The tensors one factor holds at a granularity, for one sample (batch 1, one CFG stream). */
export function cachedTensors(system: SeedSystem, granularity: CacheGranularity, size: GenerationSize): CachedTensors[] {
  const { image, text } = tokensOf(system, size);
  const D = system.hidden;
  const joint = system.singleBlocksSeeText ? image + text : image;
  const groups: CachedTensors[] = [];
  if (granularity === 'lite') return [{ what: 'final output', count: 1, tokens: image, dim: system.outDim }];
  if (granularity === 'module') {
    if (system.doubleBlocks > 0) {
      groups.push({ what: 'double-block image-stream modules', count: system.doubleBlocks * system.doubleModules.image, tokens: image, dim: D });
      groups.push({ what: 'double-block text-stream modules', count: system.doubleBlocks * system.doubleModules.text, tokens: text, dim: D });
    }
    groups.push({ what: system.doubleBlocks > 0 ? 'single-block modules' : 'block modules', count: system.singleBlocks * system.singleModules, tokens: joint, dim: D });
  } else if (granularity === 'block') {
    if (system.doubleBlocks > 0) {
      groups.push({ what: 'double-block image-stream residuals', count: system.doubleBlocks, tokens: image, dim: D });
      groups.push({ what: 'double-block text-stream residuals', count: system.doubleBlocks, tokens: text, dim: D });
    }
    groups.push({ what: system.doubleBlocks > 0 ? 'single-block residuals' : 'block residuals', count: system.singleBlocks, tokens: joint, dim: D });
  } else {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `granularity must be one of ${CACHE_GRANULARITIES.join(', ')}, got ${String(granularity)}`);
  }
  return groups.filter((g) => g.count > 0 && g.tokens > 0);
}
