/**
 * A forecast step of a single-graph model runs less than the trunk when the graph allows: the conditioning
 * (what depends on the timestep and label alone) comes from one batched run over the steps the sampler
 * announces ('conditioning'), and when the residual stream carries nothing but the branches' adds, the
 * forecasts are added into it by the cache's fused chain between a head and a tail graph ('fused'). Either
 * gives the trunk path's samples; a graph that does not allow a path gets the next one, with the reason.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnx } from 'onnx-proto';
import { GraphModel, loadModel, relL2, sample, type SampleOptions } from '../../lib/pipeline';
import { ROOT } from './helpers';
import { mmditGraph, toyModel, twoBlockGraph, writeTemp, type ToyGraph, type ToyNode } from './toy-graph';

const seer = (steps: number) => ({ schedule: { kind: 'fixed' as const, steps, interval: 5, warmup: 3 }, maxOrder: 2 });

/** the model with no prepare(): every forecast step computes its own conditioning */
function unannounced(m: GraphModel): GraphModel {
  return new Proxy(m, { get: (t, k) => (k === 'prepare' ? undefined : Reflect.get(t, k, t)) });
}

const FIXTURES = [
  { dir: 'fixtures/dit-shapes-small-graph', path: 'fused', cfg: 'batched' },
  { dir: 'fixtures/dit-ddim', path: 'fused', cfg: 'batched' },
  // the gates are Slices of a modulation reshaped by the sample's batch size, computed by the head; video
  // samples, plain cross-attention branches
  { dir: 'fixtures/wan-clips', path: 'fused', cfg: 'separate' },
  // three streams: the image and text streams of the double blocks, then their concatenation (a bridge)
  { dir: 'fixtures/mmdit-shapes', path: 'fused', cfg: 'batched' },
] as const;

describe.each(FIXTURES.filter((f) => fs.existsSync(path.join(ROOT, f.dir))))('forecast paths of $dir', ({ dir, path: expected, cfg }) => {
  let best: GraphModel;
  let trunk: GraphModel;
  const steps = 20;
  const run = (m: GraphModel, extra: Partial<SampleOptions> = {}) => sample(m, { labels: [1, 2], steps, guidance: 3, seed: 5, cfg, seer: seer(steps), ...extra });
  beforeAll(async () => {
    best = (await loadModel(path.join(ROOT, dir), { threads: 1, forecastPath: 'fused' })) as GraphModel;
    trunk = (await loadModel(path.join(ROOT, dir), { threads: 1, forecastPath: 'trunk' })) as GraphModel;
  });
  afterAll(async () => {
    await best?.dispose();
    await trunk?.dispose();
  });

  it(`takes the best path the graph allows by default (here ${expected})`, async () => {
    const plain = (await loadModel(path.join(ROOT, dir), { threads: 1 })) as GraphModel;
    try {
      expect(plain.forecastPlan).toEqual(best.forecastPlan);
    } finally {
      await plain.dispose();
    }
  });

  it(`asked for the fused path, takes the ${expected} path and says why not a better one`, () => {
    expect(best.forecastPlan.path).toBe(expected);
    expect(Object.keys(best.forecastPlan.reasons)).toEqual(expected === 'fused' ? [] : ['fused']);
    expect(trunk.forecastPlan).toMatchObject({ path: 'trunk', reasons: { conditioning: 'not asked for (forecastPath trunk)' } });
  });

  it("gives the trunk path's samples, with the conditioning of all forecast steps from few batched runs", async () => {
    best.resetCounters();
    const a = await run(best);
    const b = await run(trunk);
    expect(relL2(a.images, b.images)).toBeLessThanOrEqual(1e-5);
    expect(a.fullStepList).toEqual(b.fullStepList);
    expect(a.moduleEvals).toBe(b.moduleEvals);
    expect(best.counters.trunkRuns).toBe(trunk.counters.trunkRuns);
    expect(best.counters.conditioningRuns).toBe(1);
    expect(trunk.counters.conditioningRuns).toBe(0);
  });

  it('gives the same samples without the announcement, each forecast step computing its own conditioning', async () => {
    const fresh = (await loadModel(path.join(ROOT, dir), { threads: 1, forecastPath: 'fused' })) as GraphModel;
    try {
      const a = await run(unannounced(fresh));
      const b = await run(trunk);
      expect(relL2(a.images, b.images)).toBeLessThanOrEqual(1e-5);
      expect(fresh.counters.conditioningRuns).toBe(fresh.counters.trunkRuns);
    } finally {
      await fresh.dispose();
    }
  });

  it('a hook without the fused entry points (the TypeScript reference) takes the conditioning path to the same samples', async () => {
    const a = await run(best, { implementation: 'reference' });
    const b = await run(trunk, { implementation: 'reference' });
    expect(relL2(a.images, b.images)).toBeLessThanOrEqual(1e-5);
  });
});

/** twoBlockGraph with its nodes changed by `edit` */
function toy(edit: (nodes: ToyNode[]) => ToyNode[]): string {
  const g: ToyGraph = twoBlockGraph();
  return writeTemp('toy.onnx', toyModel({ ...g, nodes: edit(g.nodes) }));
}

const keepdims = [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 1 }];

describe('forecast paths of small graphs, and the fallbacks', () => {
  const samples = async (file: string) => {
    const opts = { labels: [1, 2], steps: 12, guidance: 3, seer: { schedule: { kind: 'fixed' as const, steps: 12, interval: 3, warmup: 2 }, maxOrder: 1 } };
    const m = (await loadModel(file, { threads: 1, forecastPath: 'fused' })) as GraphModel;
    const t = (await loadModel(file, { threads: 1, forecastPath: 'trunk' })) as GraphModel;
    try {
      const [a, b] = [await sample(m, opts), await sample(t, opts)];
      return { plan: m.forecastPlan, error: relL2(a.images, b.images) };
    } finally {
      await m.dispose();
      await t.dispose();
    }
  };

  it('a stream that starts at the sample and ends at the output is fused with no head and no tail graph', async () => {
    const { plan, error } = await samples(toy((n) => n));
    expect(plan).toMatchObject({ path: 'fused', reasons: {}, nodes: { head: 0, tail: 0 } });
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it("a gate that reads the sample (not the stream) is computed by the head, and the stream fused", async () => {
    // g = sigmoid(t) * sigmoid(mean(x)): per sample, from the sample's values
    const file = toy((nodes) =>
      nodes.flatMap((n) =>
        n.output === 'g'
          ? [
              { ...n, output: 'gt' },
              { op: 'ReduceMean', inputs: ['sample'], output: 'xm', attrs: [...keepdims, { name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 2, 3] }] },
              { op: 'Sigmoid', inputs: ['xm'], output: 'xs' },
              { op: 'Mul', inputs: ['gt', 'xs'], output: 'g' },
            ]
          : [n],
      ),
    );
    const { plan, error } = await samples(file);
    expect(plan).toMatchObject({ path: 'fused', reasons: {}, streams: 1 });
    expect(plan.nodes.head).toBeGreaterThanOrEqual(3);
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it('a stream that passes through another node between two adds is not fused: conditioning only, with the reason', async () => {
    const file = toy((nodes) =>
      nodes.flatMap((n) => {
        if (n.output === 'h2') return [n, { op: 'Clip', inputs: ['h2'], output: 'h2c', name: '/blocks.0/Clip' }];
        return n.name?.startsWith('/blocks.1/') ? [{ ...n, inputs: n.inputs.map((x) => (x === 'h2' ? 'h2c' : x)) }] : [n];
      }),
    );
    const { plan, error } = await samples(file);
    expect(plan.path).toBe('conditioning');
    expect(plan.reasons.fused).toMatch(/stream passes through Clip/);
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it("an MMDiT's streams are fused one at a time, the joined stream's start computed from the others' ends by a bridge graph", async () => {
    const { plan, error } = await samples(writeTemp('mmdit.onnx', toyModel(mmditGraph())));
    // the head gives the text stream's start (-x); the bridge adds the image and text ends; v is the joined stream's end
    expect(plan).toMatchObject({ path: 'fused', reasons: {}, streams: 3, nodes: { head: 1, bridges: 1, tail: 0 } });
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it('a stream read inside by the graph between streams is not fused: conditioning only, with the reason', async () => {
    // the joined stream's start also reads the image stream's value after its first add, which a fused step never forms
    const g = mmditGraph();
    const nodes = g.nodes.flatMap((n) =>
      n.output === 's0' ? [{ ...n, output: 's00' }, { op: 'Max', inputs: ['s00', 'h1'], output: 's0', name: '/Max_join' }] : [n],
    );
    const { plan, error } = await samples(writeTemp('mmdit.onnx', toyModel({ ...g, nodes })));
    expect(plan.path).toBe('conditioning');
    expect(plan.reasons.fused).toBe('the stream value h1 is read by Max /Max_join besides the next residual add');
    expect(error).toBeLessThanOrEqual(1e-6);
  });

  it('conditioning that mixes the samples of a batch is not batched: the trunk, with the reason', async () => {
    // the gate is sigmoid(t) minus its mean over the batch: right leading dim, but one sample's depends on the others
    const mixed = toy((nodes) =>
      nodes.flatMap((n) =>
        n.output === 'gs'
          ? [
              { op: 'Sigmoid', inputs: ['timestep'], output: 'gs0' },
              { op: 'ReduceMean', inputs: ['gs0'], output: 'gm', attrs: keepdims },
              { op: 'Sub', inputs: ['gs0', 'gm'], output: 'gs' },
            ]
          : [n],
      ),
    );
    const a = await samples(mixed);
    expect(a.plan.path).toBe('trunk');
    expect(a.plan.reasons.conditioning).toMatch(/not separable over the batch: .*depends on the other samples of its batch/);
    expect(a.error).toBe(0);
    // the gate is the batch's mean alone: its leading dim is not the batch
    const shared = toy((nodes) => nodes.flatMap((n) => (n.output === 'gs' ? [{ op: 'Sigmoid', inputs: ['timestep'], output: 'gs0' }, { op: 'ReduceMean', inputs: ['gs0'], output: 'gs', attrs: keepdims }] : [n])));
    const b = await samples(shared);
    expect(b.plan.path).toBe('trunk');
    expect(b.plan.reasons.conditioning).toMatch(/leading dim is not the batch/);
  });

  it('forecastPath caps the path, and must name one', async () => {
    const file = toy((n) => n);
    const m = (await loadModel(file, { threads: 1, forecastPath: 'conditioning' })) as GraphModel;
    expect(m.forecastPlan).toMatchObject({ path: 'conditioning', reasons: { fused: 'not asked for (forecastPath conditioning)' } });
    await m.dispose();
    await expect(loadModel(file, { forecastPath: 'fast' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('prepare() checks what it is given', async () => {
    const m = (await loadModel(toy((n) => n), { threads: 1 })) as GraphModel;
    try {
      expect(() => m.prepare([0.5, Number.NaN], [BigInt64Array.from([1n])])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() => m.prepare([0.5], [])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      expect(() => m.prepare([0.5], [[1] as never])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    } finally {
      await m.dispose();
    }
  });
});
