/**
 * The single-stream presets (wan2.1, dit-xl) on graphs: their module maps select every branch of a graph
 * named the way Wan-Video, facebookresearch's DiT or diffusers name their modules, and nothing of the other
 * family's; dit-xl runs end to end on the made-small DiT, exported as one graph and as pieces.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeGraph, loadModel, readF32, relL2, sample, type Model } from '../../lib/pipeline';
import { getPreset, type PresetId } from '../../lib/presets';
import { cli } from '../helpers/cli-run';
import { codeOf } from '../helpers/code-of';
import { ROOT } from './helpers';
import { singleStreamGraph, toyModel, writeTemp } from './toy-graph';

const GRAPH_DIR = path.join(ROOT, 'fixtures/dit-shapes-small-graph');
const PIECES_DIR = path.join(ROOT, 'fixtures/dit-shapes-small');

/** Two-block graphs of each family, with each exporter's module scopes, by the preset that should fit them. */
const GRAPHS: ReadonlyArray<{ what: string; preset: PresetId; blocks: string; scopes: string[] }> = [
  { what: 'Wan-Video WanModel', preset: 'wan2.1', blocks: 'blocks', scopes: ['self_attn/o', 'cross_attn/o', 'ffn/ffn.2'] },
  { what: 'diffusers WanTransformer3DModel', preset: 'wan2.1', blocks: 'blocks', scopes: ['attn1/to_out.0', 'attn2/to_out.0', 'ffn/net.2'] },
  { what: 'facebookresearch DiT', preset: 'dit-xl', blocks: 'blocks', scopes: ['attn/proj', 'mlp/fc2'] },
  { what: 'diffusers DiTTransformer2DModel', preset: 'dit-xl', blocks: 'transformer_blocks', scopes: ['attn1/to_out.0', 'ff/net.2'] },
];

describe('single-stream presets on graphs named as their families export them', () => {
  for (const g of GRAPHS) {
    it(`${g.preset} keeps every branch of a ${g.what} graph, gated and plain as the fork caches them`, () => {
      const p = getPreset(g.preset);
      const graph = singleStreamGraph(
        g.blocks,
        g.scopes.map((scope, i) => ({ scope, gated: p.modules[i].kind === 'gated' })),
      );
      const file = writeTemp('model.onnx', toyModel(graph));
      const all = analyzeGraph(file).detection.branches;
      const kept = analyzeGraph(file, { preset: g.preset }).detection.branches;
      expect(kept.map((b) => b.key)).toEqual(all.map((b) => b.key));
      expect(kept).toHaveLength(2 * p.modules.length);
      expect(kept.map((b) => b.kind)).toEqual([...p.modules, ...p.modules].map((m) => m.kind));
      // the other family's module map names none of them
      const other: PresetId = g.preset === 'wan2.1' ? 'dit-xl' : 'wan2.1';
      expect(codeOf(() => analyzeGraph(file, { preset: other }))).toBe('ERR_MODEL');
    });
  }
});

describe('dit-xl on the made-small DiT', () => {
  const NOISE = path.join(GRAPH_DIR, 'reference/noise.f32');

  it('selects the eight branches of the one-graph export (attn and mlp of four blocks) by their parameter names', () => {
    const b = analyzeGraph(GRAPH_DIR, { preset: 'dit-xl' }).detection.branches;
    expect(b.map((x) => x.key)).toEqual(analyzeGraph(GRAPH_DIR).detection.branches.map((x) => x.key));
    expect(b).toHaveLength(8);
    expect(b.every((x) => x.kind === 'gated')).toBe(true);
    expect(codeOf(() => analyzeGraph(GRAPH_DIR, { preset: 'wan2.1' }))).toBe('ERR_MODEL');
  });

  it("eval --preset dit-xl runs the fork's N=4 O=4 W=2 on the one-graph export, close to full compute", async () => {
    const args = ['eval', '--model', GRAPH_DIR, '--preset', 'dit-xl', '--labels', '3,7', '--noise', NOISE, '--threads', '1', '--repeat', '1', '--json'];
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ preset: 'dit-xl', order: 4, granularity: 'module', cfg: 'batched', cacheEntries: 8 });
    expect(j.fullStepList).toEqual([0, 1, 5, 9, 13, 17, 21, 25, 29, 33, 37, 41, 45, 49]);
    expect(j.psnr).toBeGreaterThan(40);
  });

  describe('exported as pieces', () => {
    let pieces: Model;
    let graph: Model;
    beforeAll(async () => {
      pieces = await loadModel(PIECES_DIR, { threads: 1, preset: 'dit-xl' });
      graph = await loadModel(GRAPH_DIR, { threads: 1, preset: 'dit-xl' });
    });
    afterAll(async () => {
      await pieces?.dispose();
      await graph?.dispose();
    });

    it('takes dit-xl (its blocks cache attn and mlp) and samples as the one-graph export does', async () => {
      const opts = { labels: [3, 7], steps: 50, guidance: 3, noise: readF32(NOISE), seer: { preset: 'dit-xl' as const } };
      const a = await sample(pieces, opts);
      const b = await sample(graph, opts);
      expect(a.fullStepList).toEqual(b.fullStepList);
      expect(relL2(a.images, b.images)).toBeLessThan(1e-5);
    });

    it('refuses a module map it cannot follow, naming the presets that fit', async () => {
      const r = await cli(['eval', '--model', PIECES_DIR, '--preset', 'flux-dev', '--steps', '4']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/preset flux-dev caches img_attn, .*whose blocks cache attn and mlp: use dit-xl or a lite preset, or a single-graph export/);
      await expect(loadModel(PIECES_DIR, { preset: 'wan2.1' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    });
  });
});

describe("wan2.1's guidance on any model (wan2.1-lite caches the output only)", () => {
  const args = ['--model', GRAPH_DIR, '--preset', 'wan2.1-lite', '--steps', '10', '--threads', '1', '--repeat', '1', '--json'];

  it('eval runs cond and uncond as two forwards with a cache each, full compute too', async () => {
    const r = await cli(['eval', ...args, '--labels', '3,7']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    // 10 steps x 8 branches x 2 forwards in full; 2 full steps accelerated; one output entry per pass
    expect(j).toMatchObject({ preset: 'wan2.1-lite', cfg: 'separate', granularity: 'lite', order: 1, fullStepList: [0, 5], cacheEntries: 2, moduleEvalsFull: 160, moduleEvals: 32 });
  });

  it('demo compares it with full compute guided the same way', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-demo-'));
    const r = await cli(['demo', ...args, '--out', out]).finally(() => fs.rmSync(out, { recursive: true, force: true }));
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { rows: Array<{ id: string; fullSteps: number; moduleEvals: number }> }).rows;
    // ten labels in one batch: 8 branches per forward, two forwards per step
    expect(rows.map((x) => [x.id, x.fullSteps, x.moduleEvals])).toEqual([
      ['full', 10, 160],
      ['wan2.1-lite', 2, 32],
    ]);
  });
});
