import { describe, expect, it } from 'vitest';
import { getPreset, listPresets, presetPatterns, presetSeer, PRESET_IDS, type Preset } from '../lib/presets';
import { createSchedule } from '../lib/schedule';
import { codeOf } from './helpers/code-of';

/** The branch producers of an MMDiT exported three ways: the made-small model (BFL names), diffusers, HunyuanVideo. */
const BFL = {
  'double_blocks.0.img_attn': '/model/double_blocks.0/img_attn/proj/Add',
  'double_blocks.0.img_mlp': '/model/double_blocks.0/img_mlp/img_mlp.2/Add',
  'double_blocks.0.txt_attn': '/model/double_blocks.0/txt_attn/proj/Add',
  'double_blocks.0.txt_mlp': '/model/double_blocks.0/txt_mlp/txt_mlp.2/Add',
  'double_blocks.1.img_attn': '/model/double_blocks.1/img_attn/proj/Add',
  'single_blocks.0': '/model/single_blocks.0/linear2/Add',
  'single_blocks.12': '/model/single_blocks.12/linear2/Add',
};
const DIFFUSERS = {
  'double_blocks.0.img_attn': '/transformer_blocks.0/attn/to_out.0/Add',
  'double_blocks.0.img_mlp': '/transformer_blocks.0/ff/net.2/Add',
  'double_blocks.0.txt_attn': '/transformer_blocks.0/attn/to_add_out/Add',
  'double_blocks.0.txt_mlp': '/transformer_blocks.0/ff_context/net.2/Add',
  'double_blocks.18.img_attn': '/transformer_blocks.18/attn/to_out.0/Add',
  'single_blocks.0': '/single_transformer_blocks.0/proj_out/Add',
  'single_blocks.37': '/single_transformer_blocks.37/proj_out/Add',
};
const HUNYUAN = {
  'double_blocks.0.img_attn': '/double_blocks.0/img_attn_proj/Add',
  'double_blocks.0.img_mlp': '/double_blocks.0/img_mlp/fc2/Add',
  'double_blocks.0.txt_attn': '/double_blocks.0/txt_attn_proj/Add',
  'double_blocks.0.txt_mlp': '/double_blocks.0/txt_mlp/fc2/Add',
  'single_blocks.0': '/single_blocks.0/linear2/Add',
};
/**
 * Other modules of a block. (Patterns name modules: nodes inside a cached module, e.g. img_attn/qkv, match
 * too, but only residual branches found by the graph's branch detection are ever tested against them.)
 */
const NOT_BRANCHES = [
  '/model/double_blocks.0/img_mod/lin/Gemm',
  '/model/double_blocks.0/txt_mod/lin/Gemm',
  '/model/single_blocks.0/linear1/Add',
  '/model/single_blocks.0/modulation/lin/Gemm',
  '/transformer_blocks.0/attn/to_q/Add',
  '/transformer_blocks.0/norm1/linear/Gemm',
  '/single_transformer_blocks.0/proj_mlp/Add',
  '/model/final_layer/linear/Add',
];

/** Which of a preset's modules match `name`, as "block:name" strings. */
function matches(p: Preset, name: string): string[] {
  return p.modules.filter((m) => m.patterns.some((re) => re.test(name))).map((m) => `${m.block}:${m.name}`);
}

function expectedModule(key: string): string {
  return key.startsWith('single') ? 'single:single' : `double:${key.split('.').pop()}`;
}

describe('presets', () => {
  it('are the reference forks\' defaults (N, O, W, cool-down, granularity, CFG)', () => {
    const table = listPresets().map((p) => [p.id, p.schedule.interval, p.maxOrder, p.schedule.warmup, p.schedule.cooldown, p.granularity, p.cfg]);
    expect(table).toEqual([
      ['flux-dev', 6, 1, 3, 0, 'module', 'embedded'],
      ['flux-dev-lite', 5, 2, 3, 0, 'lite', 'embedded'],
      ['hunyuanvideo', 5, 1, 1, 0, 'module', 'embedded'],
      ['hidream', 4, 2, 1, 0, 'module', 'batched'],
    ]);
    expect(PRESET_IDS).toEqual(['flux-dev', 'flux-dev-lite', 'hunyuanvideo', 'hidream']);
    for (const p of listPresets()) expect(p.source.length).toBeGreaterThan(40);
  });

  it('flux-dev over 50 steps computes the 10 full steps behind the paper\'s 4.99x', () => {
    const o = presetSeer(getPreset('flux-dev'), 50);
    expect(o.maxOrder).toBe(1);
    expect(createSchedule(o.schedule).fullSteps()).toEqual([0, 1, 2, 8, 14, 20, 26, 32, 38, 44]);
  });

  it('flux-dev finds each branch by name in the made-small model and in a diffusers export, and nothing else', () => {
    const p = getPreset('flux-dev');
    for (const names of [BFL, DIFFUSERS]) {
      for (const [key, name] of Object.entries(names)) expect(matches(p, name), name).toEqual([expectedModule(key)]);
    }
    for (const name of NOT_BRANCHES) expect(matches(p, name), name).toEqual([]);
  });

  it('hunyuanvideo finds the Tencent and the diffusers names, and not FLUX\'s img_attn module path', () => {
    const p = getPreset('hunyuanvideo');
    for (const names of [HUNYUAN, DIFFUSERS]) {
      for (const [key, name] of Object.entries(names)) expect(matches(p, name), name).toEqual([expectedModule(key)]);
    }
    expect(matches(p, '/model/double_blocks.0/img_attn/proj/Add')).toEqual([]);
  });

  it('hidream tells the image attention (to_out) from the text attention (to_out_t) and caches two branches per single block', () => {
    const p = getPreset('hidream');
    expect(matches(p, '/double_stream_blocks.3/block/attn1/to_out/Add')).toEqual(['double:img_attn']);
    expect(matches(p, '/double_stream_blocks.3/block/attn1/to_out_t/Add')).toEqual(['double:txt_attn']);
    expect(matches(p, '/double_stream_blocks.3/block/ff_i/Add_4')).toEqual(['double:img_mlp']);
    expect(matches(p, '/double_stream_blocks.3/block/ff_t/w2/MatMul')).toEqual(['double:txt_mlp']);
    expect(matches(p, '/single_stream_blocks.0/block/attn1/to_out/Add')).toEqual(['single:img_attn']);
    expect(matches(p, '/single_stream_blocks.0/block/ff_i/Add_4')).toEqual(['single:img_mlp']);
    expect(p.modules.filter((m) => m.block === 'single')).toHaveLength(2);
  });

  it('lite caches the output only: no module patterns', () => {
    const p = getPreset('flux-dev-lite');
    expect(p.modules).toEqual([]);
    expect(presetPatterns(p)).toEqual([]);
    expect(presetPatterns(getPreset('flux-dev'))).toHaveLength(10);
  });

  it('rejects an unknown preset and a run shorter than the warm-up, naming what is expected', () => {
    expect(codeOf(() => getPreset('flux'))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => getPreset('flux')).toThrow(/expected one of flux-dev, flux-dev-lite, hunyuanvideo, hidream/);
    expect(codeOf(() => getPreset(undefined))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => presetSeer(getPreset('flux-dev'), 2)).toThrow(/at least 3 steps/);
    expect(codeOf(() => presetSeer(getPreset('flux-dev'), 2.5))).toBe('ERR_INVALID_ARGUMENT');
  });
});
