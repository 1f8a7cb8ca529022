/**
 * The package's entries: `taylorseer` is the core (hook, cache, schedules, expansion, errors, info, the
 * typed binding) and loads no onnxruntime and no image library; `taylorseer/pipeline` brings the ONNX
 * pipeline, metrics, PNG output and charts. Each entry is loaded in a fresh process, which reports every
 * module file it pulled in.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const HEAVY = /[\\/]node_modules[\\/](onnxruntime-node|onnxruntime-common|@resvg|pngjs|cli-progress)[\\/]/;

/**
 * Requires `entry` (a file under lib/) in a fresh Node process, then runs `use` (code with `api` in scope);
 * returns the entry's export names and the files loaded.
 */
function load(entry: string, use = ''): { names: string[]; files: string[] } {
  const script = `require('tsx/cjs/api').register();
    const api = require(${JSON.stringify(path.join(root, entry))});
    (async () => { ${use} })().then(() => console.log(JSON.stringify({ names: Object.keys(api), files: Object.keys(require.cache) })));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }));
}

describe('entries', () => {
  it('the core entry loads no onnxruntime, resvg or pngjs', () => {
    const { names, files } = load('lib/index.ts');
    expect(names).toEqual(expect.arrayContaining(['TaylorSeer', 'isCacheHook', 'FactorCache', 'createSchedule', 'TaylorSeerError', 'info', 'native']));
    expect(names).not.toContain('loadModel');
    expect(files.filter((f) => HEAVY.test(f))).toEqual([]);
  });

  it('the pipeline entry brings the ONNX pipeline, metrics, images and charts, and loads their packages on first use', () => {
    const { names, files } = load('lib/pipeline/index.ts');
    expect(names).toEqual(expect.arrayContaining(['loadModel', 'sample', 'compare', 'psnr', 'writeImageGrid', 'chartSvg', 'bundledModelDir']));
    // optional peer dependencies (lib/optional.ts): a hook-only install has none of them
    expect(files.filter((f) => HEAVY.test(f))).toEqual([]);
    const used = load('lib/pipeline/index.ts', 'const m = await api.loadModel(api.bundledModelDir()); await m.dispose(); api.encodePng({ width: 1, height: 1, data: Buffer.alloc(4) });');
    // the check above is meaningful: using the entry does load files that match the pattern
    expect(used.files.some((f) => /[\\/]onnxruntime-node[\\/]/.test(f))).toBe(true);
    expect(used.files.some((f) => /[\\/]pngjs[\\/]/.test(f))).toBe(true);
  });

  it('the command line loads none of them until a command needs one', () => {
    expect(load('lib/cli/main.ts').files.filter((f) => HEAVY.test(f))).toEqual([]);
  });
});
