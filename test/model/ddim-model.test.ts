/**
 * The original DiT made small: fixtures/dit-ddim is a class-conditional DiT trained for noise prediction
 * (DDPM, linear betas 1e-4..0.02 over 1000 timesteps) and exported as one ONNX graph whose timestep input is
 * the integer training timestep, by scripts/train-dit/export.py --graph --weights. Its model.json says
 * "prediction": "epsilon" and the scheduler, so the sampler walks it back by DDIM with no option given; the
 * float64 PyTorch references are full compute and the reference TaylorSeer (reference_seer.py) with cond and
 * uncond batched through one shared cache, at the DiT fork's defaults (N=4 O=4 W=2) and the paper's points.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeGraph, GraphModel, loadModel, readF32, relL2, sample, DIT_SCHEDULER } from '../../lib/pipeline';
import { getPreset } from '../../lib/presets';
import { ROOT } from './helpers';
import { fixtureManifest, referenceModel } from './reference-model';
import { cli } from '../helpers/cli-run';

const DIR = path.join(ROOT, 'fixtures/dit-ddim');
const DEPTH = 4;

const manifest = fixtureManifest<{ reference: { eps_t980_cond: string } }>(DIR);

describe('the eps-prediction DiT as a graph', () => {
  it("finds the DiT module map, blocks.{i}.attn and blocks.{i}.mlp, each a gated branch", () => {
    const a = analyzeGraph(DIR);
    expect(a.detection.branches.map((b) => [b.key, b.kind])).toEqual(
      Array.from({ length: DEPTH }, (_, i) => [[`blocks.${i}.attn`, 'gated'], [`blocks.${i}.mlp`, 'gated']]).flat(),
    );
  });

  it("reads the scheduler from model.json, and takes the integer timestep: the timestep scale defaults to the 1000 training steps", () => {
    const a = analyzeGraph(DIR);
    expect(a.description.scheduler).toEqual(DIT_SCHEDULER);
    expect(a.timestepScale).toBe(1000);
    expect(analyzeGraph(DIR, { timestepScale: 999 }).timestepScale).toBe(999);
  });

  describe('a model.json that contradicts itself or names what is not a scheduler fails with ERR_MODEL', () => {
    const description = JSON.parse(fs.readFileSync(path.join(DIR, 'model.json'), 'utf8')) as Record<string, unknown>;
    const variant = (patch: Record<string, unknown>) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ddim-json-'));
      fs.copyFileSync(path.join(DIR, 'model.onnx'), path.join(dir, 'model.onnx'));
      const json: Record<string, unknown> = { ...description, ...patch };
      delete json.reference;
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
      return dir;
    };
    it.each([
      [{ prediction: 'sample' }, /"prediction" must be "epsilon" \(noise, sampled by DDIM\/DDPM\) or "velocity"/],
      [{ prediction: 'velocity' }, /"prediction" "velocity" contradicts "scheduler".kind "ddim"/],
      [{ scheduler: { kind: 'ddim', beta_schedule: 'sigmoid' } }, /"scheduler".betaSchedule must be linear or cosine, found "sigmoid"/],
      [{ scheduler: { kind: 'ddim', clip: true } }, /"scheduler".clip is not a scheduler field/],
      [{ scheduler: 'ddim' }, /"scheduler" must be an object/],
      [{ scheduler: { kind: 'ddim', train_timesteps: 0 } }, /"scheduler".trainSteps must be an integer in 2\.\./],
    ])('%j', (patch, message) => {
      expect(() => analyzeGraph(variant(patch))).toThrow(message);
      try {
        analyzeGraph(variant(patch));
      } catch (e) {
        expect((e as { code: string }).code).toBe('ERR_MODEL');
      }
    });

    it('"prediction": "epsilon" alone means DiT\'s DDIM; no prediction and no scheduler means flow', () => {
      expect(analyzeGraph(variant({ scheduler: undefined })).description.scheduler).toEqual(DIT_SCHEDULER);
      const flow = analyzeGraph(variant({ scheduler: undefined, prediction: undefined, timestep_scale: undefined }));
      expect(flow.description.scheduler).toBeUndefined();
      expect(flow.timestepScale).toBe(1);
    });
  });
});

describe('the eps-prediction DiT in the pipeline', () => {
  const fixture = referenceModel(DIR);
  let full: Awaited<ReturnType<typeof sample>> | undefined;

  it('one conditional forward at timestep 980 (sampler time 0.98) predicts the float64 PyTorch noise to 1e-5', async () => {
    const ref = fixture.model.manifest.reference!;
    const eps = await fixture.model.forward(fixture.base.noise!, 0.98, fixture.labels, ref.labels.length);
    expect(relL2(eps, readF32(path.join(DIR, manifest.reference.eps_t980_cond)))).toBeLessThan(1e-5);
  });

  it('full compute, DDIM 50 steps, guidance 4 batched: reproduces the float64 PyTorch reference to 1e-5', async () => {
    full = await sample(fixture.model, fixture.base);
    expect(full.scheduler).toEqual(DIT_SCHEDULER);
    expect(full.forwards).toBe(50);
    expect(full.moduleEvals).toBe(50 * 2 * DEPTH);
    expect(relL2(full.images, readF32(fixture.model.manifest.reference!.output))).toBeLessThanOrEqual(1e-5);
  });

  for (const s of manifest.reference.seer) {
    const fork = s.schedule.interval === 4 && s.maxOrder === 4 ? " (the DiT fork's defaults)" : '';
    it(`TaylorSeer N=${s.schedule.interval} O=${s.maxOrder} W=${s.schedule.warmup}${fork}, batched CFG, one shared cache: matches the PyTorch reference TaylorSeer to 1e-4`, async () => {
      const r = await sample(fixture.model, { ...fixture.base, cfg: 'batched', seer: { schedule: s.schedule, maxOrder: s.maxOrder } });
      expect(r.fullStepList).toEqual(s.fullSteps);
      expect(r.moduleEvals).toBe(s.fullSteps.length * 2 * DEPTH);
      expect(r.seerStats!.entries).toBe(2 * DEPTH);
      expect(relL2(r.images, readF32(path.join(DIR, s.output)))).toBeLessThan(1e-4);
      // and it is not full compute: the forecasts changed the samples
      expect(relL2(r.images, readF32(fixture.model.manifest.reference!.output))).toBeGreaterThan(1e-3);
    });
  }

  it("seer: { preset: 'dit-xl' } with the preset's module map finds every block's attn and mlp and gives the reference's N=4 O=4 W=2 samples", async () => {
    const p = getPreset('dit-xl');
    const s = manifest.reference.seer.find((x) => x.schedule.interval === p.schedule.interval && x.schedule.warmup === p.schedule.warmup && x.maxOrder === p.maxOrder)!;
    const mapped = (await loadModel(DIR, { threads: 1, preset: 'dit-xl' })) as GraphModel;
    try {
      expect(mapped.branches.map((b) => b.key)).toEqual(fixture.model.branches.map((b) => b.key));
      const r = await sample(mapped, { ...fixture.base, seer: { preset: 'dit-xl' } });
      expect(r.fullStepList).toEqual(s.fullSteps);
      expect(relL2(r.images, readF32(path.join(DIR, s.output)))).toBeLessThan(1e-4);
    } finally {
      await mapped.dispose();
    }
  });

  it('DDPM on the same model: other samples than DDIM from the same start, the same ones for the same seed', async () => {
    const a = await sample(fixture.model, { ...fixture.base, steps: 10, scheduler: { kind: 'ddpm' }, seed: 1 });
    const b = await sample(fixture.model, { ...fixture.base, steps: 10, scheduler: { kind: 'ddpm' }, seed: 1 });
    const d = await sample(fixture.model, { ...fixture.base, steps: 10 });
    expect(a.scheduler.kind).toBe('ddpm');
    expect(b.images).toEqual(a.images);
    expect(relL2(a.images, d.images)).toBeGreaterThan(1e-2);
  });

  it('`taylorseer eval --scheduler` samples with another scheduler than model.json\'s and reports the one that ran', async () => {
    const args = ['eval', '--model', DIR, '--steps', '10', '--labels', '3', '--repeat', '1', '--threads', '1', '--json'];
    const r = await cli([...args, '--scheduler', 'ddpm,beta_schedule=cosine']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).scheduler).toEqual({ ...DIT_SCHEDULER, kind: 'ddpm', betaSchedule: 'cosine' });
    const d = await cli(args);
    expect(JSON.parse(d.stdout).scheduler).toEqual(DIT_SCHEDULER);
    const bad = await cli([...args, '--scheduler', 'ddim,beta_start=0.05']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/scheduler: betaStart 0\.05 is above betaEnd 0\.02 .*\[ERR_INVALID_ARGUMENT\]/);
  });
});
