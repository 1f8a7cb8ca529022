import * as ort from 'onnxruntime-node';
import { analyzeGraph } from '../lib/pipeline/graph/graph-model';
import { deriveGraphs } from '../lib/pipeline/graph/derive';
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
(async () => {
  const a = analyzeGraph(process.argv[2]);
  const br = a.detection.branches.map((b) => b.tensor);
  const d = deriveGraphs(a.model, br);
  const s = await ort.InferenceSession.create(d.full, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const [, C, H, W] = a.io.sampleDims as number[];
  const feeds = { [a.io.sample]: new ort.Tensor('float32', new Float32Array(2 * C * H * W).map((_, i) => Math.sin(i)), [2, C, H, W]), [a.io.timestep]: new ort.Tensor('float32', Float32Array.from([0.5, 0.5]), [2]), [a.io.label]: new ort.Tensor('int64', BigInt64Array.from([3n, 10n]), [2]) };
  const r0 = await s.run(feeds, [a.io.output, ...br]);
  const pre: Record<string, ort.Tensor> = { [a.io.output]: null as any };
  for (const b of br) pre[b] = new ort.Tensor('float32', new Float32Array((r0[b] as ort.Tensor).data.length), (r0[b] as ort.Tensor).dims);
  const plain: number[] = [], fetch: number[] = [], prealloc: number[] = [];
  for (let i = 0; i < Number(process.argv[3] ?? 8); i++) {
    let c = cpu(); await s.run(feeds, [a.io.output]); plain.push(cpu() - c);
    c = cpu(); await s.run(feeds, [a.io.output, ...br]); fetch.push(cpu() - c);
    c = cpu(); await s.run(feeds, pre); prealloc.push(cpu() - c);
  }
  const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1].toFixed(1);
  const min = (x: number[]) => Math.min(...x).toFixed(1);
  console.log(`plain ${min(plain)}/${med(plain)}  fetch ${min(fetch)}/${med(fetch)}  prealloc ${min(prealloc)}/${med(prealloc)} (min/median CPU ms)`);
})();
