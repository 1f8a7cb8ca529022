/**
 * The command line on one exported graph: `inspect` lists the cached branches (text and JSON), `eval` runs
 * on a graph as on a model directory, and an unusable graph is one line on stderr, a non-zero exit, no stack
 * trace and no file written.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli-run';
import { ROOT } from './helpers';
import { toyModel, twoBlockGraph, writeTemp } from './toy-graph';
import { tempDirOfFile } from '../helpers/temp-dir';

const GRAPH = path.join(ROOT, 'fixtures/dit-shapes-small-graph/model.onnx');
const NOISE = path.join(ROOT, 'fixtures/dit-shapes-small-graph/reference/noise.f32');

const tmp = tempDirOfFile('taylorseer-graph-cli-');

describe('inspect', () => {
  it('lists the 2 x depth gated branches per block with their shapes', async () => {
    const r = await cli(['inspect', GRAPH, '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dit-shapes-small-graph: 8 branches \(8 gated, 0 plain\) in 1 residual stream/);
    expect(r.stdout.match(/gated +\[1, 64, 96\]/g)).toHaveLength(8);
    expect(r.stdout).toMatch(/a forecast step \(path fused\) runs the conditioning \(84 nodes, batched over the coming steps\), a head \(14 nodes\), the fused forecast of every branch into the stream, a tail \(18 nodes\)$/m);
  });

  it('--forecast-path caps the path a forecast step takes, and says why not a better one; anything else is refused', async () => {
    const r = await cli(['inspect', GRAPH, '--forecast-path', 'conditioning', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/a forecast step \(path conditioning\) runs the conditioning \(84 nodes, batched over the coming steps\) and the rest of the trunk \(48 nodes\); not fused: not asked for \(forecastPath conditioning\)/);
    const bad = await cli(['inspect', GRAPH, '--forecast-path', 'fast']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--forecast-path fast: expected one of fused, conditioning, trunk \[ERR_INVALID_ARGUMENT\]/);
  });

  it('--json gives { branches: [{ tensor, kind, block, shape }] } and the recognised inputs', async () => {
    const r = await cli(['inspect', GRAPH, '--json', '--threads', '1']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.inputs).toEqual({ sample: 'x', timestep: 't', label: 'y' });
    expect(j.branches).toHaveLength(8);
    expect(j.branches[2]).toMatchObject({ tensor: '/model/proj_1/Add_output_0', kind: 'gated', block: 'block1', shape: [1, 64, 96] });
    expect(j.nodes.trunk).toBeLessThan(j.nodes.full);
    expect(j.forecast).toMatchObject({ path: 'fused', reasons: {}, nodes: { conditioning: 84, rest: 48, head: 14, tail: 18 }, frontier: 10 });
    expect(j.forecast.nodes.conditioning + j.forecast.nodes.rest).toBe(j.nodes.trunk);
  });

  it('--cache keeps the branches a pattern names, and plain branches are listed as such', async () => {
    const toy = writeTemp('toy.onnx', toyModel(twoBlockGraph()));
    const r = await cli(['inspect', toy, '--json', '--cache', 'attn', '--threads', '1']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).branches.map((b: { key: string; kind: string; shape: number[] }) => [b.key, b.kind, b.shape])).toEqual([
      ['blocks.0.attn', 'plain', [1, 2, 4, 4]],
      ['blocks.1.attn', 'plain', [1, 2, 4, 4]],
    ]);
  });
});

describe('eval on a graph', () => {
  it('prints the comparison of full compute and TaylorSeer', async () => {
    const r = await cli(['eval', '--model', GRAPH, '--steps', '10', '--labels', '3,7', '--noise', NOISE, '--interval', '3', '--warmup', '2', '--order', '1', '--threads', '1', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.model).toBe('dit-shapes-small-graph');
    expect(j.fullSteps).toBeLessThan(10);
    expect(j.evalSpeedup).toBeGreaterThan(1);
  });
});

describe('demo on a graph', () => {
  /** the fixture graph in a directory of its own, with `sampler` settings in its model.json */
  const withSampler = (name: string, sampler: unknown): string => {
    const dir = path.join(tmp(), name);
    fs.mkdirSync(dir);
    fs.copyFileSync(GRAPH, path.join(dir, 'model.onnx'));
    const json = JSON.parse(fs.readFileSync(path.join(path.dirname(GRAPH), 'model.json'), 'utf8'));
    delete json.reference;
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...json, sampler }));
    return dir;
  };

  it("takes steps, guidance and labels from the graph's model.json; flags override them", async () => {
    const dir = withSampler('sampler', { steps: 4, guidance: 2, labels: [1, 6] });
    const r = await cli(['demo', '--model', dir, '--out', path.join(tmp(), 'demo'), '--threads', '1', '--json', '--quiet']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ steps: 4, guidance: 2, labels: [1, 6] });
    const o = await cli(['demo', '--model', dir, '--out', path.join(tmp(), 'demo'), '--steps', '5', '--guidance', '1.5', '--threads', '1', '--json', '--quiet']);
    expect(o.code).toBe(0);
    expect(JSON.parse(o.stdout)).toMatchObject({ steps: 5, guidance: 1.5, labels: [1, 6] });
  });

  it('refuses sampler settings demo cannot run, and labels outside the classes, before sampling', async () => {
    const few = await cli(['demo', '--model', withSampler('few', { steps: 2 }), '--out', path.join(tmp(), 'demo'), '--threads', '1']);
    expect(few.code).not.toBe(0);
    expect(few.stderr).toMatch(/model.json's sampler.steps is 2; demo takes a number in \[4, 10000\] \(give --steps to override it\) \[ERR_MODEL\]/);
    const label = await cli(['demo', '--model', withSampler('label', { labels: [3, 12] }), '--out', path.join(tmp(), 'demo'), '--threads', '1']);
    expect(label.code).not.toBe(0);
    expect(label.stderr).toMatch(/sampler.labels names label 12, outside the classes 0..9 and the null label 10 \[ERR_MODEL\]/);
  });
});

describe('--cache-dir', () => {
  it('writes the derived graphs there (made if missing) and nowhere else', async () => {
    const dir = path.join(tmp(), 'derived', 'graphs');
    const r = await cli(['inspect', GRAPH, '--cache-dir', dir, '--threads', '1']);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['model.conditioning.onnx', 'model.full.onnx', 'model.head.onnx', 'model.rest.onnx', 'model.tail.onnx']);
    expect(fs.readdirSync(path.dirname(GRAPH)).sort()).toEqual(['README.md', 'model.json', 'model.onnx', 'reference']);
  });

  it('refuses a path that is a file, and an empty one', async () => {
    const file = path.join(tmp(), 'a-file');
    fs.writeFileSync(file, 'x');
    const r = await cli(['inspect', GRAPH, '--cache-dir', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--cache-dir .*a-file is not a directory .*\[ERR_INVALID_ARGUMENT\]/);
    const e = await cli(['inspect', GRAPH, '--cache-dir', '']);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/--cache-dir must be a non-empty directory path/);
  });
});

describe('unusable graphs on the command line', () => {
  const oneLine = (r: { code: number; stderr: string; stdout: string }, pattern: RegExp) => {
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it('random bytes: ERR_MODEL, and eval writes no output file', async () => {
    const bad = path.join(tmp(), 'random.onnx');
    fs.writeFileSync(bad, Uint8Array.from({ length: 2048 }, (_, i) => (i * 2246822519) >>> 24));
    oneLine(await cli(['inspect', bad]), /not an ONNX model .*\[ERR_MODEL\]/);
    const out = path.join(tmp(), 'out.f32');
    oneLine(await cli(['eval', '--model', bad, '--labels', '1', '--out', out]), /\[ERR_MODEL\]/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it("a graph that fails on its first run: onnxruntime's own log of the failure stays off stderr", () => {
    // the sample declares 1 channel where the patch embedding takes 3: it loads, then fails to run. In a
    // process of its own: onnxruntime writes its log to the process's stderr, past any JavaScript capture.
    const model = onnx.ModelProto.decode(fs.readFileSync(GRAPH));
    model.graph!.input![0].type!.tensorType!.shape!.dim![1] = { dimValue: 1 };
    const file = path.join(tmp(), 'one-channel.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const script = `require('tsx/cjs/api').register();
      require(${JSON.stringify(path.join(ROOT, 'lib/cli/main.ts'))}).main(['inspect', ${JSON.stringify(file)}]).then((c) => (process.exitCode = c));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
    oneLine({ code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }, /onnxruntime cannot run it on a batch-1 input \(.*Conv.*\) \[ERR_MODEL\]\n$/);
  });

  it('a cache pattern that matches nothing', async () => {
    oneLine(await cli(['inspect', GRAPH, '--cache', 'cross_attn']), /match none of the 8 branches .*\[ERR_MODEL\]/);
  });

  it('a graph whose inputs cannot be recognised, and a malformed --inputs', async () => {
    const pieces = path.join(ROOT, 'fixtures/dit-shapes-small/attn_0.onnx');
    oneLine(await cli(['inspect', pieces]), /cannot recognise the graph's inputs.*\[ERR_MODEL\]/);
    oneLine(await cli(['inspect', GRAPH, '--inputs', 'noise=x']), /--inputs expects ROLE=NAME pairs/);
  });

  it('graph-only flags on a per-piece model directory', async () => {
    oneLine(await cli(['eval', '--model', path.join(ROOT, 'fixtures/dit-shapes-small'), '--null-label', '10', '--labels', '1']), /only for single-graph models/);
  });
});
