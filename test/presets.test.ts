import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getPreset, listPresets, presetFits, presetModulesOf, presetPatterns, presetSeer, PRESET_IDS, seedSystemFor, type Preset } from '../lib/presets';
import { seedSystem } from '../lib/seed-systems';
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
  return presetModulesOf(p, name).map((m) => `${m.block}:${m.name}`);
}

/** Wan2.1's branch producers: Wan-Video's module names and diffusers' WanTransformer3DModel's, by the module each is. */
const WAN = {
  self_attn: ['/blocks.0/self_attn/o/Add', 'blocks.29.self_attn.o.bias', '/blocks.0/attn1/to_out.0/Add', 'blocks.39.attn1.to_out.0.bias'],
  cross_attn: ['/blocks.0/cross_attn/o/Add', 'blocks.7.cross_attn.o.bias', '/blocks.0/attn2/to_out.0/Add', 'blocks.12.attn2.to_out.0.bias'],
  ffn: ['/blocks.0/ffn/ffn.2/Add', 'blocks.3.ffn.2.bias', '/blocks.0/ffn/net.2/Add', 'blocks.3.ffn.net.2.bias'],
};
const WAN_NOT_BRANCHES = ['/blocks.0/norm3/Add', '/blocks.0/norm_added_q/Mul', '/time_projection/time_projection.1/Gemm', '/head/head/Add', '/text_embedding/text_embedding.2/Add', '/condition_embedder/time_proj/Gemm', '/proj_out/Add'];
/** DiT's: facebookresearch's (timm Attention and Mlp), diffusers' DiTTransformer2DModel's, and the made-small DiT's parameter names. */
const DIT = {
  attn: ['/blocks.0/attn/proj/Add', 'blocks.27.attn.proj.bias', '/transformer_blocks.0/attn1/to_out.0/Add', 'transformer_blocks.27.attn1.to_out.0.bias', 'model.blocks.3.proj.bias'],
  mlp: ['/blocks.0/mlp/fc2/Add', 'blocks.27.mlp.fc2.bias', '/transformer_blocks.0/ff/net.2/Add', 'transformer_blocks.27.ff.net.2.bias', 'model.blocks.3.fc2.bias'],
};
const DIT_NOT_BRANCHES = ['/blocks.0/adaLN_modulation/adaLN_modulation.1/Gemm', '/transformer_blocks.0/norm1/linear/Gemm', '/t_embedder/mlp/mlp.2/Gemm', '/final_layer/linear/Add', '/proj_out_2/Add', '/blocks.0/fc1/Add'];

function expectedModule(key: string): string {
  return key.startsWith('single') ? 'single:single' : `double:${key.split('.').pop()}`;
}

describe('presets', () => {
  it("are the reference forks' defaults (N, O, W, cool-down, granularity, CFG)", () => {
    const table = listPresets().map((p) => [p.id, p.schedule.interval, p.maxOrder, p.schedule.warmup, p.schedule.cooldown, p.granularity, p.cfg]);
    expect(table).toEqual([
      ['flux-dev', 6, 1, 3, 0, 'module', 'embedded'],
      ['flux-dev-lite', 5, 2, 3, 0, 'lite', 'embedded'],
      ['hunyuanvideo', 5, 1, 1, 0, 'module', 'embedded'],
      ['hidream', 4, 2, 1, 0, 'module', 'batched'],
      ['wan2.1', 5, 1, 1, 0, 'module', 'separate'],
      ['wan2.1-lite', 5, 1, 1, 0, 'lite', 'separate'],
      ['dit-xl', 4, 4, 2, 0, 'module', 'batched'],
    ]);
    expect(PRESET_IDS).toEqual(['flux-dev', 'flux-dev-lite', 'hunyuanvideo', 'hidream', 'wan2.1', 'wan2.1-lite', 'dit-xl']);
    for (const p of listPresets()) expect(p.source.length).toBeGreaterThan(40);
    expect(getPreset('dit-xl').model).toMatch(/eps-prediction.*DDIM.*50 steps/);
  });

  it('read their numbers from the seed systems: the reference settings (module) or the Lite ones (lite), and the guidance mode', () => {
    for (const p of listPresets()) {
      for (const id of p.systems) {
        const s = seedSystem(id);
        const ref = p.granularity === 'lite' ? s.lite! : s.reference;
        expect([p.schedule.interval, p.maxOrder, p.schedule.warmup, p.cfg], `${p.id} / ${id}`).toEqual([ref.interval, ref.order, ref.warmup, s.cfg]);
        expect(p.source.startsWith(`${ref.source}: interval ${ref.interval}, order ${ref.order}, warm-up ${ref.warmup}`)).toBe(true);
      }
    }
    expect(getPreset('wan2.1').systems).toEqual(['wan2.1-1.3b', 'wan2.1-14b']);
  });

  it("cache per block what the seed systems' memory counts: as many modules per kind of block and stream", () => {
    for (const p of listPresets().filter((x) => x.granularity === 'module')) {
      const count = (f: (m: Preset['modules'][number]) => boolean) => p.modules.filter(f).length;
      for (const id of p.systems) {
        const s = seedSystem(id);
        expect(count((m) => m.block === 'double' && m.stream === 'image'), p.id).toBe(s.doubleModules.image);
        expect(count((m) => m.block === 'double' && m.stream === 'text'), p.id).toBe(s.doubleModules.text);
        expect(count((m) => m.block !== 'double'), p.id).toBe(s.singleModules);
      }
    }
  });

  it('name the seed system `taylorseer plan` sizes: a preset for one system stands for it, one for several asks which', () => {
    expect(seedSystemFor('dit-xl').id).toBe('dit-xl-2');
    expect(seedSystemFor('hunyuanvideo').id).toBe('hunyuan-video');
    expect(seedSystemFor('hidream').id).toBe('hidream-i1');
    expect(seedSystemFor('flux-dev-lite').id).toBe('flux-dev');
    expect(seedSystemFor('wan2.1-14b').id).toBe('wan2.1-14b');
    expect(() => seedSystemFor('wan2.1')).toThrow(/preset wan2\.1 is for wan2\.1-1\.3b and wan2\.1-14b: name one of them/);
    expect(codeOf(() => seedSystemFor('sd3'))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => seedSystemFor('sd3')).toThrow(/expected a seed system \(flux-dev, .*dit-xl-2\) or a preset for one \(flux-dev, flux-dev-lite, hunyuanvideo, hidream, dit-xl\)/);
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

  it('wan2.1 finds self_attn (gated), cross_attn (plain) and ffn (gated) by Wan-Video and diffusers names, and nothing else', () => {
    const p = getPreset('wan2.1');
    expect(p.modules.map((m) => [m.name, m.block, m.stream, m.kind])).toEqual([
      ['self_attn', 'block', 'video', 'gated'],
      ['cross_attn', 'block', 'video', 'plain'],
      ['ffn', 'block', 'video', 'gated'],
    ]);
    for (const [module, names] of Object.entries(WAN)) for (const name of names) expect(matches(p, name), name).toEqual([`block:${module}`]);
    for (const name of [...WAN_NOT_BRANCHES, ...DIT.attn, ...DIT.mlp]) expect(matches(p, name), name).toEqual([]);
  });

  it('dit-xl finds attn and mlp by facebookresearch, diffusers and made-small names, and nothing else', () => {
    const p = getPreset('dit-xl');
    expect(p.modules.map((m) => [m.name, m.block, m.stream, m.kind])).toEqual([
      ['attn', 'block', 'image', 'gated'],
      ['mlp', 'block', 'image', 'gated'],
    ]);
    for (const [module, names] of Object.entries(DIT)) for (const name of names) expect(matches(p, name), name).toEqual([`block:${module}`]);
    for (const name of [...DIT_NOT_BRANCHES, ...WAN.self_attn, ...WAN.cross_attn, ...WAN.ffn, ...Object.values(BFL)]) expect(matches(p, name), name).toEqual([]);
  });

  it('fit a list of branch names when each name is one module and each module is named', () => {
    const dit = getPreset('dit-xl');
    expect(presetFits(dit, ['blocks.0.attn', 'blocks.0.mlp'])).toBe(true);
    expect(presetFits(dit, ['blocks.0.attn'])).toBe(false);
    expect(presetFits(dit, ['blocks.0.attn', 'blocks.0.mlp', 'blocks.0.ffn'])).toBe(false);
    expect(presetFits(getPreset('flux-dev'), ['blocks.0.attn', 'blocks.0.mlp'])).toBe(false);
    expect(presetFits(getPreset('wan2.1-lite'), ['blocks.0.attn', 'blocks.0.mlp'])).toBe(true);
  });

  it('lite caches the output only: no module patterns', () => {
    for (const id of ['flux-dev-lite', 'wan2.1-lite'] as const) {
      expect(getPreset(id).modules).toEqual([]);
      expect(presetPatterns(getPreset(id))).toEqual([]);
    }
    expect(presetPatterns(getPreset('flux-dev'))).toHaveLength(10);
  });

  it('rejects an unknown preset and a run shorter than the warm-up, naming what is expected', () => {
    expect(codeOf(() => getPreset('flux'))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => getPreset('flux')).toThrow(/expected one of flux-dev, flux-dev-lite, hunyuanvideo, hidream, wan2\.1, wan2\.1-lite, dit-xl/);
    expect(codeOf(() => getPreset(undefined))).toBe('ERR_INVALID_ARGUMENT');
    expect(() => presetSeer(getPreset('flux-dev'), 2)).toThrow(/at least 3 steps/);
    expect(codeOf(() => presetSeer(getPreset('flux-dev'), 2.5))).toBe('ERR_INVALID_ARGUMENT');
  });

  it("are documented in docs/cli.md with their systems and numbers", () => {
    const doc = fs.readFileSync(path.join(__dirname, '../docs/cli.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([\w.-]+)` \| ([^|]+) \| N=(\d+) W=(\d+), O=(\d+) \|/gm)].map((m) => [
      m[1],
      [...m[2].matchAll(/`([\w.-]+)`/g)].map((x) => x[1]),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
    ]);
    expect(rows).toEqual(listPresets().map((p) => [p.id, [...p.systems], p.schedule.interval, p.schedule.warmup, p.maxOrder]));
  });
});
