/**
 * The FLUX family made small: fixtures/mmdit-shapes is an MMDiT with FLUX.1's block structure (two
 * double-stream blocks, three single-stream blocks, guidance-distilled) exported as one ONNX graph by
 * scripts/train-dit/export_mmdit.py, with float64 PyTorch references: full compute, and the reference
 * TaylorSeer (scripts/train-dit/reference_seer.py) at module and lite granularity.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeGraph, readF32, relL2, sample } from '../../lib/pipeline';
import { getPreset } from '../../lib/presets';
import { ROOT } from './helpers';
import { fixtureManifest, referenceModel } from './reference-model';
import { cli } from '../helpers/cli-run';

const DIR = path.join(ROOT, 'fixtures/mmdit-shapes');

const manifest = fixtureManifest<{ reference: { v_t1: string } }>(DIR);

describe('branch detection on the made-small FLUX', () => {
  it("finds the reference's module map: img_attn, img_mlp, txt_attn, txt_mlp per double block, one gated output per single block", () => {
    const a = analyzeGraph(DIR);
    const b = a.detection.branches;
    expect(b.every((x) => x.kind === 'gated')).toBe(true);
    // three residual streams: image tokens and text tokens through the double blocks, then the joint sequence
    expect(a.detection.streams).toBe(3);
    const byStream = [0, 1, 2].map((s) => b.filter((x) => x.stream === s).map((x) => x.key));
    expect(byStream).toEqual([
      ['double_blocks.0.img_attn', 'double_blocks.0.img_mlp', 'double_blocks.1.img_attn', 'double_blocks.1.img_mlp'],
      ['double_blocks.0.txt_attn', 'double_blocks.0.txt_mlp', 'double_blocks.1.txt_attn', 'double_blocks.1.txt_mlp'],
      ['single_blocks.0.linear2', 'single_blocks.1.linear2', 'single_blocks.2.linear2'],
    ]);
    // each is the branch before its gate: the output projection, the MLP's last layer, linear2
    expect(b.find((x) => x.key === 'double_blocks.1.txt_attn')!.tensor).toBe('/model/double_blocks.1/txt_attn/proj/Add_output_0');
    expect(b.find((x) => x.key === 'single_blocks.2.linear2')!.gate).toMatch(/single_blocks\.2\/modulation/);
  });

  it('inspect says a forecast step adds into the three streams, the joint one started by a bridge graph', async () => {
    const r = await cli(['inspect', '--model', DIR]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/a forecast step \(path fused\) runs .*, a head \(\d+ nodes\), the fused forecast of every branch into its stream \(3 streams, bridged by 1 node\), a tail \(\d+ nodes\)$/m);
    const json = JSON.parse((await cli(['inspect', '--model', DIR, '--json'])).stdout) as { forecast: { path: string; streams: number; nodes: { bridges: number } } };
    expect(json.forecast).toMatchObject({ path: 'fused', streams: 3, nodes: { bridges: 1 } });
  });

  it('recognises the guidance input by its name, beside the timestep', () => {
    const a = analyzeGraph(DIR, { inputs: {} });
    expect(a.io).toMatchObject({ sample: 'x', timestep: 't', label: 'y', guidance: 'guidance', output: 'v', labelRows: 11 });
    expect(a.shape).toEqual({ channels: 3, imageSize: 16, classes: 10, nullClass: 10 });
  });

  it("keeps what the flux-dev preset's name patterns select: all eleven; hunyuanvideo's patterns (img_attn_proj) not the attention", () => {
    expect(analyzeGraph(DIR, { preset: 'flux-dev' }).detection.branches).toHaveLength(11);
    const h = analyzeGraph(DIR, { preset: 'hunyuanvideo' }).detection.branches.map((x) => x.key);
    expect(h.some((k) => k.endsWith('attn'))).toBe(false);
    expect(h).toHaveLength(7);
  });
});

describe('the made-small FLUX in the pipeline', () => {
  const fixture = referenceModel(DIR);

  it('one forward at t = 1 matches the float64 PyTorch reference to 1e-5', async () => {
    const ref = fixture.model.manifest.reference!;
    const v = await fixture.model.forward(fixture.base.noise!, 1, fixture.labels, ref.labels.length, { guidance: ref.guidance });
    expect(relL2(v, readF32(path.join(DIR, manifest.reference.v_t1)))).toBeLessThan(1e-5);
  });

  it('full compute (50 steps, distilled guidance 3.5, one forward a step) matches the float64 PyTorch reference to 1e-5', async () => {
    const r = await sample(fixture.model, fixture.base);
    expect(r.forwards).toBe(50);
    expect(relL2(r.images, readF32(fixture.model.manifest.reference!.output))).toBeLessThan(1e-5);
  });

  for (const s of manifest.reference.seer) {
    it(`TaylorSeer ${s.granularity}, fixed N=${s.schedule.interval} W=${s.schedule.warmup} O=${s.maxOrder}, matches the PyTorch reference TaylorSeer to 1e-4`, async () => {
      const r = await sample(fixture.model, { ...fixture.base, granularity: s.granularity, seer: { schedule: s.schedule, maxOrder: s.maxOrder } });
      expect(r.fullStepList).toEqual(s.fullSteps);
      const expected = readF32(path.join(DIR, s.output));
      expect(relL2(r.images, expected)).toBeLessThan(1e-4);
      // and it is not full compute: the forecasts changed the samples
      expect(relL2(r.images, readF32(fixture.model.manifest.reference!.output))).toBeGreaterThan(1e-3);
    });
  }

  it("seer: { preset: 'flux-dev' } runs the fork's schedule (N=6, W=3, O=1, module) and gives the reference's samples", async () => {
    const p = getPreset('flux-dev');
    const r = await sample(fixture.model, { ...fixture.base, seer: { preset: 'flux-dev' } });
    const s = manifest.reference.seer.find((x) => x.granularity === 'module' && x.schedule.interval === p.schedule.interval && x.maxOrder === p.maxOrder)!;
    expect(r.fullStepList).toEqual(s.fullSteps);
    expect(r.moduleEvals).toBe(10 * 11);
    expect(relL2(r.images, readF32(path.join(DIR, s.output)))).toBeLessThan(1e-4);
  });

  it('feeds the guidance scale to the graph: another scale gives other samples, and is still one forward a step', async () => {
    const r = await sample(fixture.model, { ...fixture.base, steps: 10, guidance: 1.5 });
    const q = await sample(fixture.model, { ...fixture.base, steps: 10, guidance: 3.5 });
    expect(r.forwards).toBe(10);
    expect(relL2(r.images, q.images)).toBeGreaterThan(1e-3);
  });
});

describe('presets on the command line', () => {
  const NOISE = path.join(DIR, 'reference/noise.f32');

  it('`taylorseer presets` lists every preset with its schedule and source', async () => {
    const r = await cli(['presets']);
    expect(r.code).toBe(0);
    const ids = ['flux-dev', 'flux-dev-lite', 'hunyuanvideo', 'hidream', 'wan2.1', 'wan2.1-lite', 'dit-xl'];
    for (const id of ids) expect(r.stdout).toMatch(new RegExp(`^${id.replace('.', '\\.')} \\(`, 'm'));
    expect(r.stdout).toMatch(/interval 6, warm-up 3, cool-down 0; order 1; granularity module/);
    expect(r.stdout).toMatch(/source: TaylorSeer-FLUX cache_init\.py/);
    const json = JSON.parse((await cli(['presets', '--json'])).stdout) as Array<{ id: string; modules: Array<{ patterns: string[] }> }>;
    expect(r.stdout).toMatch(/^wan2\.1 \(Wan2\.1 .*; plan --preset wan2\.1-1\.3b \| wan2\.1-14b\)$/m);
    expect(r.stdout).toMatch(/caches: per block: self_attn, cross_attn \(added without a gate\), ffn/);
    expect(r.stdout).toMatch(/guidance: CFG as two forwards, separate cond \/ uncond caches, the decision taken on the cond pass/);
    expect(r.stdout).toMatch(/^dit-xl \(DiT-XL\/2 .*eps-prediction.*DDIM.*\)/m);
    expect(json.map((p) => p.id)).toEqual(ids);
    expect(typeof json[0].modules[0].patterns[0]).toBe('string');
  });

  it('eval --preset flux-dev runs the fork\'s schedule on the module map, and an explicit flag still wins', async () => {
    const args = ['eval', '--model', DIR, '--preset', 'flux-dev', '--steps', '50', '--guidance', '3.5', '--labels', '3,7', '--noise', NOISE, '--threads', '1', '--json'];
    const r = JSON.parse((await cli(args)).stdout) as Record<string, unknown>;
    expect(r).toMatchObject({ preset: 'flux-dev', order: 1, granularity: 'module', fullStepList: [0, 1, 2, 8, 14, 20, 26, 32, 38, 44], cacheEntries: 11, evalSpeedup: 5 });
    const o2 = JSON.parse((await cli([...args, '--order', '2'])).stdout) as Record<string, unknown>;
    expect(o2).toMatchObject({ preset: 'flux-dev', order: 2 });
  });

  it('refuses an unknown preset, and a module-map preset with --cache, in one line', async () => {
    const bad = await cli(['eval', '--model', DIR, '--preset', 'flux']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unknown preset "flux": expected one of flux-dev, flux-dev-lite, hunyuanvideo, hidream, wan2\.1, wan2\.1-lite, dit-xl/);
    const both = await cli(['eval', '--model', DIR, '--preset', 'flux-dev', '--cache', 'img_attn', '--steps', '4']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/preset and cache exclude each other/);
  });
});
