/**
 * One exported graph of a whole denoiser is a model like any other: its residual branches are found, the
 * full graph reproduces the model's PyTorch reference, and TaylorSeer at module granularity gives what the
 * per-piece pipeline gives on the same weights, with one onnxruntime run per step.
 *
 * fixtures/dit-shapes-small-graph is fixtures/dit-shapes-small exported whole by
 * scripts/train-dit/export.py --graph (weights read back from the pieces); its reference is the pieces'
 * float64 PyTorch reference. TAYLORSEER_GRAPHS=GRAPH=PIECES[;...] runs the pipeline tests on more graphs
 * (e.g. .graphs/dit-digits=fixtures/dit-digits after export.py --graph --from-pieces fixtures/dit-digits).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaylorSeer } from '../../lib/taylor-seer';
import { analyzeGraph, DitModel, GraphModel, loadModel, readF32, relL2, sample } from '../../lib/pipeline';
import { ROOT } from './helpers';
import { mmditGraph, STANDARD_INPUTS, toyModel, twoBlockGraph, writeTemp, F32, I64 } from './toy-graph';

const GRAPH_DIR = path.join(ROOT, 'fixtures/dit-shapes-small-graph');
const PIECES_DIR = path.join(ROOT, 'fixtures/dit-shapes-small');
const DEPTH = 4;
const FIXED = { schedule: { kind: 'fixed' as const, steps: 50, interval: 5, warmup: 3 }, maxOrder: 2 };

describe('branch detection on an exported DiT', () => {
  it('finds exactly the 2 x depth gated branches, block by block in graph order', () => {
    const a = analyzeGraph(GRAPH_DIR);
    const b = a.detection.branches;
    expect(b).toHaveLength(2 * DEPTH);
    expect(b.every((x) => x.kind === 'gated')).toBe(true);
    expect(a.detection.streams).toBe(1);
    expect(b.map((x) => x.block)).toEqual(['block0', 'block0', 'block1', 'block1', 'block2', 'block2', 'block3', 'block3']);
    expect(new Set(b.map((x) => x.key)).size).toBe(2 * DEPTH);
    // the attention projection and the second MLP layer, before their gates
    expect(b.map((x) => x.tensor)).toEqual([0, 1, 2, 3].flatMap((i) => (i === 0 ? ['/model/proj/Add_output_0', '/model/fc2/Add_output_0'] : [`/model/proj_${i}/Add_output_0`, `/model/fc2_${i}/Add_output_0`])));
  });

  it('recognises sample, timestep and label by type and rank, and the label range from the embedding table', () => {
    const a = analyzeGraph(path.join(GRAPH_DIR, 'model.onnx'));
    expect(a.io).toMatchObject({ sample: 'x', timestep: 't', label: 'y', output: 'v', labelRows: 11 });
    expect(a.shape).toEqual({ channels: 3, imageSize: 16, classes: 10, nullClass: 10 });
  });

  it('keeps only the branches a pattern names', () => {
    const a = analyzeGraph(GRAPH_DIR, { cache: ['fc2'] });
    expect(a.detection.branches.map((x) => x.key)).toEqual(['block0.fc2', 'block1.fc2', 'block2.fc2', 'block3.fc2']);
  });

  it('tells plain from gated branches and takes block names from node names', () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const b = analyzeGraph(file).detection.branches;
    expect(b.map((x) => [x.key, x.kind, x.tensor])).toEqual([
      ['blocks.0.attn', 'plain', 'a0'],
      ['blocks.0.mlp', 'gated', 'm0'],
      ['blocks.1.attn', 'plain', 'a1'],
      ['blocks.1.mlp', 'gated', 'm1'],
    ]);
    expect(b[1].gate).toBe('g');
  });

  it('finds the image, text and single streams of an MMDiT-shaped graph, each branch once', () => {
    const file = writeTemp('mmdit.onnx', toyModel(mmditGraph()));
    const d = analyzeGraph(file).detection;
    expect(d.streams).toBe(3);
    expect(d.branches.map((x) => [x.key, x.kind, x.tensor, x.stream])).toEqual([
      ['transformer_blocks.0.attn', 'gated', 'ia', 0],
      ['transformer_blocks.0.ff', 'gated', 'im', 0],
      ['transformer_blocks.0.attn.s1', 'gated', 'ta', 1],
      ['transformer_blocks.0.ff_context', 'gated', 'tm', 1],
      ['single_transformer_blocks.0.proj_out', 'gated', 'sa', 2],
      ['single_transformer_blocks.1.proj_out', 'gated', 'sb', 2],
    ]);
  });
});

const PAIRS = [
  { graphDir: GRAPH_DIR, piecesDir: PIECES_DIR },
  ...(process.env.TAYLORSEER_GRAPHS ?? '')
    .split(';')
    .filter((p) => p.length > 0)
    .map((p) => ({ graphDir: path.resolve(ROOT, p.split('=')[0]), piecesDir: path.resolve(ROOT, p.split('=')[1]) })),
];

describe.each(PAIRS)('a single-graph model in the pipeline ($graphDir)', ({ graphDir, piecesDir }) => {
  let graph: GraphModel;
  let pieces: DitModel;
  let noise: Float32Array;
  let labels: number[];
  let DEPTH: number;
  beforeAll(async () => {
    const m = await loadModel(graphDir, { threads: 1 });
    expect(m).toBeInstanceOf(GraphModel);
    graph = m as GraphModel;
    pieces = await DitModel.load(piecesDir, { threads: 1 });
    DEPTH = pieces.arch.depth;
    noise = readF32(graph.manifest.reference!.noise);
    labels = graph.manifest.reference!.labels;
  });
  afterAll(async () => {
    await graph?.dispose();
    await pieces?.dispose();
  });

  it('has exactly 2 x depth gated branches, two per block', () => {
    expect(graph.branches).toHaveLength(2 * DEPTH);
    expect(graph.branches.every((b) => b.kind === 'gated')).toBe(true);
    expect(new Set(graph.branches.map((b) => b.block)).size).toBe(DEPTH);
  });

  it('full compute reproduces the float64 PyTorch reference to 1e-5', async () => {
    const ref = graph.manifest.reference!;
    const r = await sample(graph, { labels, steps: ref.steps, guidance: ref.guidance, noise });
    expect(relL2(r.images, readF32(ref.output))).toBeLessThanOrEqual(1e-5);
    expect(r.moduleEvals).toBe(50 * 2 * DEPTH);
  });

  it("equals the per-piece pipeline under the reference's fixed schedule at module granularity, one run per step", async () => {
    graph.resetCounters();
    const g = await sample(graph, { labels, steps: 50, guidance: 3, noise, seer: FIXED });
    const p = await sample(pieces, { labels, steps: 50, guidance: 3, noise, seer: FIXED });
    expect(relL2(g.images, p.images)).toBeLessThanOrEqual(1e-4);
    expect(g.fullStepList).toEqual(p.fullStepList);
    expect(g.moduleEvals).toBe(p.moduleEvals);
    expect(graph.counters.fullRuns).toBe(g.fullSteps);
    expect(graph.counters.trunkRuns).toBe(50 - g.fullSteps);
    expect(g.seerStats).toMatchObject({ computes: g.fullSteps * 2 * DEPTH, computesSkipped: (50 - g.fullSteps) * 2 * DEPTH, entries: 2 * DEPTH });
  });

  it('gives the same result through the TypeScript reference hook (one moduleAsync per branch)', async () => {
    // the reference hook has no fused chain: it takes the conditioning path, so the library's hook does too here
    const seer = { ...FIXED, schedule: { ...FIXED.schedule, steps: 12, interval: 3, warmup: 2 } };
    const same = (await loadModel(graphDir, { threads: 1, forecastPath: 'conditioning' })) as GraphModel;
    try {
      const a = await sample(same, { labels, steps: 12, guidance: 3, noise, seer });
      const b = await sample(graph, { labels, steps: 12, guidance: 3, noise, seer, implementation: 'reference' });
      expect(relL2(a.images, b.images)).toBeLessThanOrEqual(1e-6);
    } finally {
      await same.dispose();
    }
  });

  it('caches the output at lite granularity and refuses block granularity', async () => {
    const seer = { ...FIXED, schedule: { ...FIXED.schedule, steps: 10, interval: 3, warmup: 2 } };
    const g = await sample(graph, { labels, steps: 10, guidance: 3, noise, seer, granularity: 'lite' });
    const p = await sample(pieces, { labels, steps: 10, guidance: 3, noise, seer, granularity: 'lite' });
    expect(relL2(g.images, p.images)).toBeLessThanOrEqual(1e-4);
    await expect(sample(graph, { labels, steps: 10, noise, seer, granularity: 'block' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('runs separate-forward CFG with one cache context per forward', async () => {
    const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 10, interval: 3, warmup: 2 }, maxOrder: 1 });
    try {
      const r = await sample(graph, { labels, steps: 10, guidance: 3, noise, seer, cfg: 'separate' });
      expect(r.forwards).toBe(20);
      expect(seer.inspect().map((e) => e.context).sort()).toEqual([...Array(2 * DEPTH).fill('cond'), ...Array(2 * DEPTH).fill('uncond')]);
    } finally {
      seer.dispose();
    }
  });
});

describe('a toy graph with plain and gated branches', () => {
  it('forecast steps feed the forecasts through the trunk: order 0 reuses the cached branches exactly', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const m = (await loadModel(file, { threads: 1 })) as GraphModel;
    try {
      expect(m.nodes.trunk).toBeLessThan(m.nodes.full);
      const seer = new TaylorSeer({ schedule: { kind: 'fixed', steps: 4, interval: 4, warmup: 1 }, maxOrder: 0 });
      const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
      const y = BigInt64Array.from([3n]);
      seer.beginStep(0, 1);
      const full = await m.forward(x, 0.5, y, 1, { hook: seer });
      // step 1 forecasts: the branches are those of step 0; only the gate (t) and the residual adds change
      seer.beginStep(1, 0.75);
      expect(seer.isFull).toBe(false);
      const fc = await m.forward(x, 0.25, y, 1, { hook: seer });
      const sig = (t: number) => 1 / (1 + Math.exp(-t));
      const expected = new Float32Array(32);
      for (let i = 0; i < 32; i++) {
        const h1 = x[i] + Math.tanh(x[i]);
        const m0 = Math.sin(h1);
        const h2 = h1 + sig(0.5) * m0;
        const a1 = Math.tanh(h2);
        const m1 = Math.sin(h2 + a1);
        expect(full[i]).toBeCloseTo(h2 + a1 + sig(0.5) * m1, 5);
        // forecast step at t = 0.25: cached a0, m0, a1, m1 with the new gate
        const f2 = x[i] + Math.tanh(x[i]) + sig(0.25) * m0;
        expected[i] = f2 + a1 + sig(0.25) * m1;
      }
      for (let i = 0; i < 32; i++) expect(fc[i]).toBeCloseTo(expected[i], 5);
      seer.dispose();
    } finally {
      await m.dispose();
    }
  });
});

describe('forecast steps reuse their arrays', () => {
  it('two forecast-step forwards in flight at once each get their own forecasts, equal to running them in turn', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const m = (await loadModel(file, { threads: 1 })) as GraphModel;
    try {
      const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
      const y = BigInt64Array.from([3n]);
      const run = async (together: boolean) => {
        const seers = [0, 1].map(() => new TaylorSeer({ schedule: { kind: 'fixed', steps: 6, interval: 6, warmup: 2 }, maxOrder: 1 }));
        const outs: Float32Array[][] = [[], []];
        for (let s = 0; s < 6; s++) {
          seers.forEach((seer) => seer.beginStep(s, 1 - s / 6));
          // each seer caches its own sample: the second one's is x scaled
          const call = (k: number) => m.forward(k === 0 ? x : x.map((v) => 2 * v), 1 - s / 6, y, 1, { hook: seers[k] });
          const pair = together ? await Promise.all([call(0), call(1)]) : [await call(0), await call(1)];
          pair.forEach((v, k) => outs[k].push(Float32Array.from(v)));
        }
        seers.forEach((seer) => seer.dispose());
        return outs;
      };
      const apart = await run(false);
      const together = await run(true);
      expect(together.map((o) => o.map((v) => Array.from(v)))).toEqual(apart.map((o) => o.map((v) => Array.from(v))));
      expect(apart[0][5]).not.toEqual(apart[1][5]);
    } finally {
      await m.dispose();
    }
  });
});

describe('graphs that cannot be used are refused with one-line ERR_MODEL errors', () => {
  const refused = async (file: string, options = {}) => {
    const err = (await loadModel(file, options).then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; message?: string } | undefined;
    expect(err?.code).toBe('ERR_MODEL');
    expect(err?.message).not.toContain('\n');
    return err!.message!;
  };

  it('random bytes', async () => {
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    expect(await refused(writeTemp('noise.onnx', bytes))).toMatch(/not an ONNX model/);
  });

  it('a name with a control character (a damaged file), quoted with it escaped', async () => {
    const g = twoBlockGraph();
    const nodes = g.nodes.map((n, i) => (i === 1 ? { ...n, name: 'blocks.0\n\u001b[2Jattn' } : n));
    const message = await refused(writeTemp('names.onnx', toyModel({ ...g, nodes })));
    expect(message).toMatch(/node "blocks\.0\\n\\u001b\[2Jattn" has a control character in its name/);
    const renamed = g.nodes.map((n, i) => (i === 1 ? { ...n, output: 'a\u009bb' } : n));
    const second = await refused(writeTemp('values.onnx', toyModel({ ...g, nodes: renamed })));
    expect(second).toMatch(/value "a\\u009bb" has a control character/);
    for (const m of [message, second]) expect(m).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it('a sample larger than the pipelines allocate, before anything is allocated or run', async () => {
    const g = twoBlockGraph();
    const big = <V extends { dims: Array<number | string> }>(v: V): V => ({ ...v, dims: ['batch', 2, 3, 8192, 8192] });
    const file = writeTemp('big.onnx', toyModel({ ...g, inputs: g.inputs.map((i) => (i.name === 'sample' ? big(i) : i)), outputs: g.outputs.map(big) }));
    expect(await refused(file)).toMatch(/a sample of 2 x 3 x 8192 x 8192 = 402653184 elements is larger than the pipelines allocate/);
  });

  it('a graph with no residual stream', async () => {
    const g = { ...twoBlockGraph(), nodes: [{ op: 'Tanh', inputs: ['sample'], output: 'v' }] };
    expect(await refused(writeTemp('plain.onnx', toyModel(g)))).toMatch(/no residual stream found/);
  });

  it('a single residual add is not a stream', async () => {
    const g = {
      ...twoBlockGraph(),
      nodes: [
        { op: 'Tanh', inputs: ['sample'], output: 'a' },
        { op: 'Add', inputs: ['sample', 'a'], output: 'v' },
      ],
    };
    expect(await refused(writeTemp('one.onnx', toyModel(g)))).toMatch(/chain of at least two/);
  });

  it('wrong input types', async () => {
    const g = { ...twoBlockGraph(), inputs: STANDARD_INPUTS.map((i) => (i.name === 'class_labels' ? { ...i, elem: F32 } : i)) };
    expect(await refused(writeTemp('types.onnx', toyModel(g)))).toMatch(/cannot tell which input is the timestep: timestep, class_labels/);
  });

  it('inputs that cannot be recognised', async () => {
    const g = { ...twoBlockGraph(), inputs: STANDARD_INPUTS.map((i) => (i.name === 'sample' ? { ...i, dims: ['batch', 32] } : i)) };
    expect(await refused(writeTemp('rank.onnx', toyModel(g)))).toMatch(/no float32 input of rank 4 \[B, C, H, W\] \(images\) or rank 5 \[B, C, F, H, W\] \(videos\) for the sample among sample \(float32 \[batch, 32\]\)/);
  });

  it('an input override naming a missing input or one of the wrong type', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    expect(await refused(file, { inputs: { label: 'labels' } })).toMatch(/the label input "labels" \(--inputs, or "inputs" in model.json\) is not an input of the graph/);
    expect(await refused(file, { inputs: { label: 'a\u001b[2J\u009b' } })).toMatch(/the label input "a\\u001b\[2J\\u009b" \(--inputs/);
    expect(await refused(file, { inputs: { timestep: 'class_labels' } })).toMatch(/cannot be the timestep: expected float32 of rank 1/);
  });

  it('a branch pattern that matches nothing', async () => {
    expect(await refused(GRAPH_DIR, { cache: ['blocks\\.\\d+\\.cross'] })).toMatch(/match none of the 8 branches/);
  });

  it('16-bit float inputs or outputs, named, with what to export instead', async () => {
    const F16 = 10;
    const g = { ...twoBlockGraph(), inputs: STANDARD_INPUTS.map((i) => (i.name === 'sample' ? { ...i, elem: F16 } : i)) };
    expect(await refused(writeTemp('half.onnx', toyModel(g)))).toMatch(/16-bit float inputs or outputs are not supported: sample \(float16\); export the graph in float32/);
    const out = { ...twoBlockGraph(), outputs: [{ name: 'v', elem: 16, dims: ['batch', 2, 4, 4] }] };
    expect(await refused(writeTemp('bf16.onnx', toyModel(out)))).toMatch(/not supported: v \(bfloat16\)/);
  });

  it('a model.json claiming more classes than the label table holds', async () => {
    const dir = path.dirname(writeTemp('model.onnx', fs.readFileSync(path.join(GRAPH_DIR, 'model.onnx'))));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'taylorseer-graph/1', graph: 'model.onnx', classes: 50, null_label: 10 }));
    expect(await refused(dir)).toMatch(/50 classes do not fit the label table's 11 rows \(labels 0\.\.10\)/);
  });

  it("a model.json contradicting the graph's fixed sample dims", async () => {
    const dir = path.dirname(writeTemp('model.onnx', fs.readFileSync(path.join(GRAPH_DIR, 'model.onnx'))));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ format: 'taylorseer-graph/1', graph: 'model.onnx', image_size: 1e9 }));
    expect(await refused(dir)).toMatch(/model\.json says "image_size": 1000000000, but the sample input x \[batch, 3, 16, 16\] has 16/);
  });

  it('an extra input the sampler cannot feed', async () => {
    const g = { ...twoBlockGraph(), inputs: [...STANDARD_INPUTS, { name: 'mask', elem: I64, dims: ['batch', 4] }] };
    expect(await refused(writeTemp('extra.onnx', toyModel(g)))).toMatch(/inputs besides sample, timestep and label: mask/);
  });
});

describe('where the derived graphs go', () => {
  it('writes the derived graphs only where cacheDir says', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const cacheDir = path.join(path.dirname(file), 'derived');
    const m = await loadModel(file, { threads: 1, cacheDir });
    await m.dispose();
    expect(fs.readdirSync(cacheDir).sort()).toEqual(['toy.conditioning.onnx', 'toy.full.onnx', 'toy.rest.onnx']);
    const trunk = path.join(path.dirname(file), 'trunk');
    await (await loadModel(file, { threads: 1, cacheDir: trunk, forecastPath: 'trunk' })).dispose();
    expect(fs.readdirSync(trunk).sort()).toEqual(['toy.full.onnx', 'toy.trunk.onnx']);
    expect(fs.readdirSync(path.dirname(file)).sort()).toEqual(['derived', 'toy.onnx', 'trunk']);
  });

  it('by default keeps them in memory and writes nothing beside the model', async () => {
    const file = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const m = await loadModel(file, { threads: 1 });
    await m.dispose();
    expect(fs.readdirSync(path.dirname(file))).toEqual(['toy.onnx']);
  });
});
