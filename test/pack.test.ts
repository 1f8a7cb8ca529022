/**
 * The published tarball installs into an empty project and works there, from CommonJS and ESM: the
 * addon builds from the packed sources, the core entry loads no onnxruntime or image library, and the
 * bundled model is found through `taylorseer/pipeline`. Slow (a full native build), so it
 * runs where TAYLORSEER_PACK_TEST=1 (CI sets it).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, stdio: 'pipe' });

describe.runIf(process.env.TAYLORSEER_PACK_TEST === '1')('npm pack', () => {
  it('installs in an empty folder and runs from CommonJS, ESM and the CLI', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-pack-'));
    try {
      const tarball = run('npm', ['pack', '--silent', '--pack-destination', dir], root).trim().split('\n').pop()!;
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
      run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, tarball)], dir);

      const cjs = run(
        'node',
        [
          '-e',
          `const t = require('taylorseer');
           const s = new t.TaylorSeer({ schedule: { kind: 'fixed', steps: 6, interval: 3, warmup: 1 }, maxOrder: 1 });
           const out = [];
           for (let i = 0; i < 6; i++) { s.beginStep(i); out.push(s.module('x', () => new Float32Array(3).fill(2 * i))[0]); }
           const heavy = Object.keys(require.cache).filter((f) => /node_modules[\\/](onnxruntime-node|@resvg|pngjs)[\\/]/.test(f));
           const p = require('taylorseer/pipeline');
           console.log(JSON.stringify({ out, stats: s.stats, heavy, model: require('fs').existsSync(p.bundledModelDir() + '/model.json') }));`,
        ],
        dir,
      );
      const r = JSON.parse(cjs);
      // full at 0 and 3; steps 1-2 reuse step 0 (no derivative yet), steps 4-5 extrapolate 2 * step exactly
      expect(r.out).toEqual([0, 0, 0, 6, 8, 10]);
      expect(r.stats.computesSkipped).toBeGreaterThan(0);
      expect(r.heavy).toEqual([]); // the core entry loads no onnxruntime or image library
      expect(r.model).toBe(true);

      const esm = run('node', ['--input-type=module', '-e', "import { TaylorSeer, info } from 'taylorseer'; console.log(typeof TaylorSeer, info().build !== null)"], dir);
      expect(esm.trim()).toBe('function true');
      const esmPipeline = run('node', ['--input-type=module', '-e', "import { loadModel, chartSvg } from 'taylorseer/pipeline'; console.log(typeof loadModel, typeof chartSvg)"], dir);
      expect(esmPipeline.trim()).toBe('function function');

      const cli = JSON.parse(run(path.join(dir, 'node_modules/.bin/taylorseer'), ['info', '--json'], dir));
      expect(cli.build).not.toBeNull();
      expect(cli.cpu.threads).toBeGreaterThan(0);
      // libtaylorseer is built beside the addon by cmake-js (the node-gyp fallback builds the addon only)
      if (cli.build.system === 'cmake-js') {
        const lib = run(path.join(dir, 'node_modules/.bin/taylorseer'), ['info', '--lib'], dir).trim();
        expect(fs.existsSync(lib)).toBe(true);
        expect(fs.existsSync(path.join(cli.library.include, 'taylorseer.h'))).toBe(true);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
