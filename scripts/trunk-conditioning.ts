/*
 * What the trunk of a single-graph model (the graph a forecast step runs) spends on conditioning: the nodes
 * that read the timestep and label but not the sample (a DiT's timestep/label embedding and every block's adaLN
 * modulation), measured apart from the rest, and what they would cost computed for all forecast steps in one
 * batched run instead of one run per step. The split is the pipeline's own (forecast-split.ts: the
 * 'conditioning' and 'fused' forecast paths batch the conditioning over the steps the sampler announces);
 * this script measures its parts apart.
 *
 *   npx tsx scripts/trunk-conditioning.ts MODEL.onnx|DIR [--threads T] [--runs R] [--steps K] [--batch B]
 *
 * Prints CPU ms per run (the fastest of R, process CPU time): the trunk as the pipeline runs it, its
 * conditioning part alone at batch B (default 4: two labels with batched CFG, as graph-overhead.ts samples),
 * the rest with the conditioning fed in, and the conditioning at batch B x K (K forecast steps at once,
 * default 38: N=5 W=3 at 50 steps).
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { analyzeGraph } from '../lib/pipeline/graph/graph-model';
import { deriveGraphs, encodeSubgraph, readsOf } from '../lib/pipeline/graph/derive';
import { splitConditioning } from '../lib/pipeline/graph/forecast-split';
import { GraphIndex } from '../lib/pipeline/graph/graph-index';
import { realInputs, type ValueInfoProto } from '../lib/pipeline/graph/onnx-file';

const ELEM_OF: Record<string, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function typed(name: string, t: ort.Tensor): ValueInfoProto {
  return { name, type: { tensorType: { elemType: ELEM_OF[t.type] ?? 1, shape: { dim: t.dims.map((d) => ({ dimValue: d })) } } } };
}

async function fastest(runs: number, f: () => Promise<unknown>): Promise<number> {
  await f();
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const c0 = cpuMs();
    await f();
    best = Math.min(best, cpuMs() - c0);
  }
  return best;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string' }, runs: { type: 'string' }, steps: { type: 'string' }, batch: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error('name one graph (an .onnx file or its directory)');
  const threads = Number(values.threads ?? 1);
  const runs = Number(values.runs ?? 5);
  const K = Number(values.steps ?? 38);
  const B = Number(values.batch ?? 4);
  const so: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const a = analyzeGraph(positionals[0]);
  const g = a.model.graph!;
  const branches = a.detection.branches.map((b) => b.tensor);
  const outputs = (g.output ?? []).map((o) => o.name!);
  const index = new GraphIndex(g);
  const trunkNodes = index.needed(outputs, new Set(branches));
  const split = splitConditioning(g, a.io, branches, index);
  if (!split.ok) throw new Error(`the trunk has no separate conditioning: ${split.reason}`);
  const { frontier: frontierList, condNodes, restNodes } = split.value;
  const frontier = new Set(frontierList);
  const condReads = readsOf(g, condNodes);
  const condModel = encodeSubgraph(a.model, condNodes, realInputs(g).filter((v) => condReads.has(v.name!)), frontierList.map((name) => ({ name })));
  const feeds = (batch: number): Record<string, ort.Tensor> => {
    const [, C, H, W] = a.io.sampleDims as number[];
    const f: Record<string, ort.Tensor> = {
      [a.io.sample]: new ort.Tensor('float32', new Float32Array(batch * C * H * W).map((_, i) => Math.sin(i)), [batch, C, H, W]),
      [a.io.timestep]: new ort.Tensor('float32', Float32Array.from({ length: batch }, (_, i) => 1 - (Math.floor(i / B) + 0.5) / (K + 1)), [batch]),
      [a.io.label]: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % B < B / 2 ? i % a.shape.classes : a.shape.nullClass)), [batch]),
    };
    return f;
  };
  const pick = (f: Record<string, ort.Tensor>, names: readonly string[]) => Object.fromEntries(names.filter((n) => n in f).map((n) => [n, f[n]]));

  const derived = deriveGraphs(a.model, branches);
  const full = await ort.InferenceSession.create(derived.full, so);
  const f2 = feeds(B);
  const fr = await full.run(f2, [...branches]);
  await full.release();
  const trunk = await ort.InferenceSession.create(derived.trunk(), so);
  const trunkFeeds = { ...pick(f2, trunk.inputNames), ...Object.fromEntries(branches.map((b) => [b, fr[b] as ort.Tensor])) };
  const cond = await ort.InferenceSession.create(condModel, so);
  const c2 = await cond.run(pick(f2, cond.inputNames));
  const restReads = readsOf(g, restNodes);
  const rest = await ort.InferenceSession.create(
    encodeSubgraph(a.model, restNodes, [...realInputs(g).filter((v) => restReads.has(v.name!)), ...[...frontier].map((n) => typed(n, c2[n] as ort.Tensor)), ...branches.map((b) => typed(b, fr[b] as ort.Tensor))], g.output ?? []),
    so,
  );
  const restFeeds = { ...pick(f2, rest.inputNames), ...(c2 as Record<string, ort.Tensor>), ...pick(trunkFeeds, branches) };
  const fB = feeds(B * K);
  const bytes = (names: Set<string>) => (g.initializer ?? []).filter((t) => names.has(t.name!)).reduce((s, t) => s + (t.rawData?.length ?? 4 * (t.floatData?.length ?? 0)), 0);

  const tTrunk = await fastest(runs, () => trunk.run(trunkFeeds));
  const tCond = await fastest(runs, () => cond.run(pick(f2, cond.inputNames)));
  const tRest = await fastest(runs, () => rest.run(restFeeds));
  const tBatched = await fastest(Math.max(1, Math.ceil(runs / 2)), () => cond.run(pick(fB, cond.inputNames)));
  const row = {
    model: a.description.name ?? positionals[0],
    threads,
    nodes: { trunk: trunkNodes.size, conditioning: condNodes.size, rest: restNodes.size },
    frontier: frontier.size,
    weightsMB: { conditioning: +(bytes(condReads) / 1e6).toFixed(1), rest: +(bytes(restReads) / 1e6).toFixed(1) },
    batch: B,
    cpuMs: { trunk: +tTrunk.toFixed(1), conditioning: +tCond.toFixed(1), rest: +tRest.toFixed(1), [`conditioningBatch${B * K}`]: +tBatched.toFixed(1) },
    perForecastStepIfBatched: +(tRest + tBatched / K).toFixed(1),
  };
  console.log(JSON.stringify(row));
  await Promise.all([trunk, cond, rest].map((s) => s.release()));
}

main().catch((e: Error) => {
  console.error(`trunk-conditioning: ${e.message}`);
  process.exit(1);
});
