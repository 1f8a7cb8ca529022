/**
 * HiDream-I1's block layout, made small with random weights (fixtures/hidream-structure): double-stream blocks
 * with one joint attention and two outputs (to_out, to_out_t), mixture-of-experts image feed-forwards,
 * single-stream blocks that run attention and feed-forward in turn. The `hidream` preset's module map finds
 * its 12 branches, and the cache under the preset's setting reproduces a float64 PyTorch reference TaylorSeer
 * (scripts/train-dit/reference_seer.py) with guidance as one batched forward and one shared cache.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeGraph, readF32, relL2, sample } from '../../lib/pipeline';
import { ROOT } from './helpers';
import { fixtureManifest, referenceModel } from './reference-model';

const DIR = path.join(ROOT, 'fixtures/hidream-structure');
const manifest = fixtureManifest<{ reference: { v_t1: string } }>(DIR);

describe("the hidream preset's module map on HiDream's block layout", () => {
  it('finds the image and text attention outputs apart (to_out, to_out_t), the MoE and plain feed-forwards, and two branches per single block', () => {
    const b = analyzeGraph(DIR, { preset: 'hidream' }).detection.branches;
    expect(b.map((x) => x.tensor.replace(/^\/model\//, '').replace(/\/Add(_\d+)?_output_0$/, ''))).toEqual([
      'double_stream_blocks.0/block/attn1/to_out', 'double_stream_blocks.0/block/ff_i',
      'double_stream_blocks.1/block/attn1/to_out', 'double_stream_blocks.1/block/ff_i',
      'double_stream_blocks.0/block/attn1/to_out_t', 'double_stream_blocks.0/block/ff_t/w2',
      'double_stream_blocks.1/block/attn1/to_out_t', 'double_stream_blocks.1/block/ff_t/w2',
      'single_stream_blocks.0/block/attn1/to_out', 'single_stream_blocks.0/block/ff_i',
      'single_stream_blocks.1/block/attn1/to_out', 'single_stream_blocks.1/block/ff_i',
    ]);
    expect(b.every((x) => x.kind === 'gated')).toBe(true);
    // keys name the module inside HiDream's `.block` wrapper
    expect(b.slice(0, 2).map((x) => x.key)).toEqual(['double_stream_blocks.0.attn1', 'double_stream_blocks.0.ff_i']);
    // the image attention's pattern stops at to_out: the text stream's to_out_t is another module
    expect(analyzeGraph(DIR, { cache: ['double_stream_blocks[./]\\d+[./]block[./]attn1[./]to_out(?:[./]|$)'] }).detection.branches).toHaveLength(2);
  });
});

describe('the made-small HiDream in the pipeline', () => {
  const fixture = referenceModel(DIR);

  it('full compute (50 steps, guidance 5, cond and uncond in one forward) matches the float64 PyTorch reference to 1e-5', async () => {
    const ref = fixture.model.manifest.reference!;
    const v = await fixture.model.forward(fixture.base.noise!, 1, fixture.labels, ref.labels.length);
    expect(relL2(v, readF32(path.join(DIR, manifest.reference.v_t1)))).toBeLessThan(1e-5);
    const r = await sample(fixture.model, fixture.base);
    expect(r.forwards).toBe(50);
    expect(relL2(r.images, readF32(ref.output))).toBeLessThan(1e-5);
  });

  for (const s of manifest.reference.seer) {
    it(`TaylorSeer fixed N=${s.schedule.interval} W=${s.schedule.warmup} O=${s.maxOrder} with one shared cache matches the PyTorch reference TaylorSeer`, async () => {
      const seer = s.schedule.interval === 4 ? { preset: 'hidream' as const } : { schedule: s.schedule, maxOrder: s.maxOrder };
      const r = await sample(fixture.model, { ...fixture.base, seer });
      expect(r.fullStepList).toEqual(s.fullSteps);
      expect(r.seerStats!.entries).toBe(12);
      const expected = readF32(path.join(DIR, s.output));
      const full = readF32(fixture.model.manifest.reference!.output);
      // the forecasts move the samples by relL2ToFull (about 1e-4); the hook is within float32 rounding of the reference (2e-7 measured)
      expect(relL2(r.images, expected)).toBeLessThan(s.relL2ToFull / 100);
      expect(relL2(r.images, full)).toBeGreaterThan(s.relL2ToFull / 2);
    });
  }
});
