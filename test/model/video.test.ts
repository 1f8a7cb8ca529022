/**
 * The video family made small: fixtures/wan-clips is a video DiT with Wan2.1's block structure (3D patches,
 * per block gated self-attention with 3D RoPE, UNGATED cross-attention to text tokens, gated FFN) exported
 * as one ONNX graph whose sample is [B, C, F, H, W], by scripts/train-dit/wan_export.py, with float64
 * PyTorch references: full compute with classifier-free guidance as two forwards per step, and the
 * reference TaylorSeer (scripts/train-dit/reference_seer.py) with separate cond/uncond caches.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeGraph, loadModel, readF32, relL2, sample } from '../../lib/pipeline';
import { ROOT } from './helpers';
import { fixtureManifest, referenceModel } from './reference-model';
import { cli } from '../helpers/cli-run';
import { errorCode } from './imports';
import { F32, toyModel, twoBlockGraph, writeTemp } from './toy-graph';

const DIR = path.join(ROOT, 'fixtures/wan-clips');

const manifest = fixtureManifest<{
  architecture: { depth: number; frames: number; hidden: number; tokens: { video: number } };
  reference: { v_t1: string };
}>(DIR);
const DEPTH = manifest.architecture.depth;
/** a branch's shape at batch 1 as inspect prints it: [1, video tokens, hidden] */
const BRANCH_SHAPE = `\\[1, ${manifest.architecture.tokens.video}, ${manifest.architecture.hidden}\\]`;

describe('the video graph is recognised', () => {
  it('takes a rank-5 sample [B, C, F, H, W] and gives the model its frames', () => {
    const a = analyzeGraph(DIR);
    expect(a.io).toMatchObject({ sample: 'x', timestep: 't', label: 'y', output: 'v', sampleDims: ['batch', 3, 4, 16, 16] });
    expect(a.shape).toEqual({ channels: 3, frames: 4, imageSize: 16, classes: 5, nullClass: 5 });
  });

  it("finds Wan's module map: per block self_attn (gated), cross_attn (plain: added without a gate), ffn (gated)", () => {
    const b = analyzeGraph(DIR).detection.branches;
    expect(b).toHaveLength(3 * DEPTH);
    for (let i = 0; i < DEPTH; i++) {
      expect(b.slice(3 * i, 3 * i + 3).map((x) => [x.key, x.kind])).toEqual([
        [`blocks.${i}.self_attn`, 'gated'],
        [`blocks.${i}.cross_attn`, 'plain'],
        [`blocks.${i}.ffn`, 'gated'],
      ]);
    }
    // the branch is the module's output before the gate, and the gate comes from the block's modulation
    const first = b[0];
    expect(first.tensor).toBe('/model/blocks.0/self_attn/o/Add_output_0');
    expect(first.gate).toBeDefined();
    expect(b[1].gate).toBeUndefined();
  });

  it('`taylorseer inspect` lists them with their kinds and [1, tokens, hidden] shapes', async () => {
    const r = await cli(['inspect', DIR, '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wan-clips: ${3 * DEPTH} branches \\(${2 * DEPTH} gated, ${DEPTH} plain\\) in 1 residual stream`));
    expect(r.stdout).toMatch(/output v \[1, 3, 4, 16, 16\]/);
    expect(r.stdout.match(new RegExp(`blocks\\.\\d\\.cross_attn +plain +${BRANCH_SHAPE}`, 'g'))).toHaveLength(DEPTH);
    expect(r.stdout.match(new RegExp(`blocks\\.\\d\\.(self_attn|ffn) +gated +${BRANCH_SHAPE}`, 'g'))).toHaveLength(2 * DEPTH);
  });
});

describe('samples of other ranks are refused with ERR_MODEL', () => {
  const refused = async (dims: Array<number | string>, outDims: Array<number | string>) => {
    const g = twoBlockGraph();
    const toy = {
      ...g,
      inputs: g.inputs.map((i) => (i.name === 'sample' ? { ...i, dims } : i)),
      outputs: [{ name: 'v', elem: F32, dims: outDims }],
    };
    const err = (await loadModel(writeTemp('rank.onnx', toyModel(toy))).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; message?: string } | undefined;
    expect(err?.code).toBe('ERR_MODEL');
    return err!.message!;
  };

  it('a rank-3 or rank-6 sample', async () => {
    const want = /for the sample among sample \(float32 \[[^\]]*\]\).*rank 4 \[B, C, H, W\] \(images\) or rank 5 \[B, C, F, H, W\] \(videos\)/;
    expect(await refused(['batch', 2, 4], ['batch', 2, 4])).toMatch(want);
    expect(await refused(['batch', 2, 1, 2, 4, 4], ['batch', 2, 1, 2, 4, 4])).toMatch(want);
  });

  it('a rank-5 sample whose prediction is rank 4', async () => {
    expect(await refused(['batch', 2, 3, 4, 4], ['batch', 2, 4, 4])).toMatch(/expected one float32 rank-5 output \(the prediction, shaped as the sample sample \(float32 \[batch, 2, 3, 4, 4\]\)\), found v/);
  });

  it('an --inputs override naming an int64 input as the sample', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const err = await loadModel(file, { inputs: { sample: 'class_labels' } }).then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(err?.code).toBe('ERR_MODEL');
    expect(err?.message).toMatch(/cannot be the sample: expected float32 of rank 4 \[B, C, H, W\] \(images\) or rank 5/);
  });
});

describe('the made-small Wan in the pipeline', () => {
  const fixture = referenceModel(DIR, { cfg: 'separate' });

  it('one forward at t = 1 matches the float64 PyTorch reference to 1e-5', async () => {
    const ref = fixture.model.manifest.reference!;
    const v = await fixture.model.forward(fixture.base.noise!, 1, fixture.labels, ref.labels.length);
    expect(relL2(v, readF32(path.join(DIR, manifest.reference.v_t1)))).toBeLessThan(1e-5);
  });

  it('full compute (50 steps, guidance 4 as two forwards a step) matches the float64 PyTorch reference to 1e-5, and batched CFG agrees', async () => {
    const r = await sample(fixture.model, fixture.base);
    expect(r.forwards).toBe(100);
    expect(r.shape).toEqual({ batch: 2, channels: 3, frames: 4, height: 16, width: 16 });
    const expected = readF32(fixture.model.manifest.reference!.output);
    expect(relL2(r.images, expected)).toBeLessThan(1e-5);
    const batched = await sample(fixture.model, { ...fixture.base, cfg: 'batched' });
    expect(batched.forwards).toBe(50);
    expect(relL2(batched.images, expected)).toBeLessThan(1e-5);
  });

  for (const s of manifest.reference.seer) {
    it(`TaylorSeer module N=${s.schedule.interval} W=${s.schedule.warmup} O=${s.maxOrder}, --cfg separate, matches the PyTorch reference TaylorSeer (separate cond/uncond caches) to 1e-4`, async () => {
      const r = await sample(fixture.model, { ...fixture.base, granularity: s.granularity, seer: { schedule: s.schedule, maxOrder: s.maxOrder } });
      expect(r.fullStepList).toEqual(s.fullSteps);
      expect(relL2(r.images, readF32(path.join(DIR, s.output)))).toBeLessThan(1e-4);
      // and it is not full compute: the forecasts changed the clips
      expect(relL2(r.images, readF32(fixture.model.manifest.reference!.output))).toBeGreaterThan(1e-3);
    });
  }

  it('--cfg separate keeps one cache per pass: every branch once under "cond" and once under "uncond", each computed only on full steps', async () => {
    const s = manifest.reference.seer[0];
    const r = await sample(fixture.model, { ...fixture.base, seer: { schedule: s.schedule, maxOrder: s.maxOrder } });
    const st = r.seerStats!;
    expect(st.entries).toBe(2 * 3 * DEPTH);
    const contexts = new Map<string, string[]>();
    for (const e of st.bytesByEntry) contexts.set(e.context, [...(contexts.get(e.context) ?? []), e.key]);
    expect([...contexts.keys()].sort()).toEqual(['cond', 'uncond']);
    expect(contexts.get('cond')).toEqual(contexts.get('uncond'));
    expect(contexts.get('cond')).toHaveLength(3 * DEPTH);
    // both passes follow the step's one decision: full graphs run on the full steps only, two a step
    expect(r.moduleEvals).toBe(2 * s.fullSteps.length * 3 * DEPTH);
    expect(r.forwards).toBe(100);
  });

  it("seer: { preset: 'wan2.1' } runs the fork's N=5 W=1 O=1 with separate caches and gives the reference's clips; its module map selects all the branches", async () => {
    expect(analyzeGraph(DIR, { preset: 'wan2.1' }).detection.branches).toHaveLength(3 * DEPTH);
    const s = manifest.reference.seer.find((x) => x.schedule.interval === 5 && x.maxOrder === 1)!;
    const { cfg: _cfg, ...rest } = fixture.base;
    const r = await sample(fixture.model, { ...rest, seer: { preset: 'wan2.1' } });
    expect(r.forwards).toBe(100);
    expect(r.fullStepList).toEqual(s.fullSteps);
    expect(r.seerStats!.entries).toBe(2 * 3 * DEPTH);
    expect(relL2(r.images, readF32(path.join(DIR, s.output)))).toBeLessThan(1e-4);
  });

  it('noise of the wrong size names the [B, C, F, H, W] it expected (ERR_LENGTH)', async () => {
    const err = await sample(fixture.model, { ...fixture.base, noise: new Float32Array(5) }).then(() => 'resolved', errorCode);
    expect(err).toBe('ERR_LENGTH');
    const msg = await sample(fixture.model, { ...fixture.base, noise: new Float32Array(5) }).catch((e: Error) => e.message);
    expect(msg).toMatch(/\[2, 3, 4, 16, 16\]/);
  });
});
