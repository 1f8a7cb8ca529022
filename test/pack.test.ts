/**
 * The published tarball as a user meets it, in empty projects:
 * - `npm pack` makes the linux-x64 prebuild (prepack) and packs it, with the sources of a source build
 *   and without the demo model;
 * - installed for the hook alone on a machine with no cmake, make, compiler or nvcc on the PATH, it
 *   compiles nothing, prints no npm warning, brings two small packages beside itself, and works from
 *   CommonJS, ESM and the CLI, which asks for the pipeline's packages by name;
 * - with cmake-js added, one command builds libtaylorseer (the C library) beside the prebuilt addon, which
 *   stays the addon in use; `taylorseer info` says how where it is missing;
 * - without a prebuild for the platform, one command builds the addon from source (node-gyp, CPU only);
 * - installed with the pipeline's optional packages and the model package, `taylorseer/pipeline` imports
 *   from ESM and `taylorseer eval` runs on the demo model;
 * - where TAYLORSEER_ARM64_TEST=1 (the aarch64 cross compiler and qemu-user installed, see test/arm64.test.ts):
 *   it packs a linux-arm64 prebuild too, and installed for linux-arm64 with no build tools on the PATH, the
 *   hook runs on it in an emulated arm64 Node.
 * Slow (a CUDA build of the prebuild, installs), so it runs where TAYLORSEER_PACK_TEST=1 (CI sets it).
 * It prints the sizes and times it measures; none of them is asserted.
 */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE_PACKAGES, peerRange } from '../lib/optional';
import * as cross from '../scripts/cross-arm64.js';

const ROOT = path.resolve(__dirname, '..');
const PREBUILD = 'prebuilds/linux-x64/taylorseer.napi.glibc.node';
const PREBUILD_ARM64 = 'prebuilds/linux-arm64/taylorseer.napi.glibc.node';
const arm64 = process.env.TAYLORSEER_ARM64_TEST === '1';
// Build tools a user's machine may lack; hidden from the core install's PATH.
const BUILD_TOOLS = /^(cmake|make|gmake|nvcc|cc|c\+\+|gcc|g\+\+|clang|clang\+\+|x86_64-linux-gnu-(gcc|g\+\+|c\+\+))(-[\d.]+)?$/;
const HOOK = `const s = new t.TaylorSeer({ schedule: { kind: 'fixed', steps: 6, interval: 3, warmup: 1 }, maxOrder: 1 });
  const out = [];
  for (let i = 0; i < 6; i++) { s.beginStep(i); out.push(s.module('x', () => new Float32Array(3).fill(2 * i))[0]); }
  console.log(JSON.stringify({ out, skipped: s.stats.computesSkipped, build: t.info().build }));`;

let tmp: string;
let tarball: string;
let modelTarball: string;
let files: string[];

/** Runs a command; the result, with stdout and stderr as text and the seconds it took. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> & { seconds: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function ok(r: SpawnSyncReturns<string>): string {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A project directory with a package.json (plus extra fields). */
function project(name: string, extra: Record<string, unknown> = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, ...extra }));
  return dir;
}

/** A PATH with every program of this one except the build tools, as on a machine without them. */
function pathWithoutBuildTools(): string {
  const bin = path.join(tmp, 'bin');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(bin);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (BUILD_TOOLS.test(name) || fs.existsSync(path.join(bin, name))) continue;
      fs.symlinkSync(path.join(dir, name), path.join(bin, name));
    }
  }
  return bin;
}

const du = (dir: string) => execFileSync('du', ['-sh', dir], { encoding: 'utf8' }).split('\t')[0];
const npmWarnings = (r: SpawnSyncReturns<string>) => `${r.stdout}${r.stderr}`.split('\n').filter((l) => /npm warn/i.test(l));
const installFlags = ['install', '--no-audit', '--no-fund', '--prefer-offline'];

describe.runIf(process.env.TAYLORSEER_PACK_TEST === '1')('the npm package', () => {
  // a consumer's environment: no project settings of this repository leak into it
  const env = { ...process.env };
  delete env.ONNXRUNTIME_NODE_INSTALL;

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-pack-'));
    const packed = run('npm', ['pack', '--json', '--pack-destination', tmp], ROOT);
    const info = JSON.parse(ok(packed).slice(ok(packed).indexOf('\n[') + 1)) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
    tarball = path.join(tmp, info[0].filename);
    files = info[0].files.map((f) => f.path);
    const model = JSON.parse(ok(run('npm', ['pack', '--json', '--pack-destination', tmp, './fixtures/dit-digits'], ROOT))) as Array<{ filename: string; size: number }>;
    modelTarball = path.join(tmp, model[0].filename);
    console.log(
      `npm pack: ${packed.seconds.toFixed(0)} s (prepack: dist/ and the prebuild); taylorseer ${(info[0].size / 1e6).toFixed(1)} MB ` +
        `(${(info[0].unpackedSize / 1e6).toFixed(1)} MB unpacked), taylorseer-dit-digits ${(model[0].size / 1e6).toFixed(1)} MB`,
    );
  }, 1_800_000);
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs the linux-x64 prebuild and the sources of a source build, not the demo model', () => {
    expect(files).toContain(PREBUILD);
    for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/cli/main.js', 'native/addon.cc', 'cuda/update.cu', 'CMakeLists.txt', 'binding.gyp', 'scripts/build-native.js'])
      expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith('fixtures/') || f.endsWith('.onnx'))).toEqual([]);
    const pkg = JSON.parse(execFileSync('tar', ['-xOzf', tarball, 'package/package.json'], { encoding: 'utf8' })) as { scripts: Record<string, string> };
    // npm flags every dependency's install script (and `prepare`, for a tarball installed from a file, a
    // URL or git); with the prebuild there is nothing to run, and prepare is for a clone only
    expect(Object.keys(pkg.scripts).filter((s) => /^((pre|post)?install|prepare)$/.test(s))).toEqual([]);
    const own = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(own.scripts.prepare).toBeDefined(); // put back after packing
    expect(fs.existsSync(path.join(ROOT, 'package.json.prepack'))).toBe(false);
  });

  describe('installed for the hook alone, with no build tools on the PATH', () => {
    let dir: string;
    let coreEnv: NodeJS.ProcessEnv;
    beforeAll(() => {
      dir = project('core');
      coreEnv = { ...env, PATH: pathWithoutBuildTools() };
    });

    it('compiles nothing, warns nothing and brings only the addon loader and headers', { timeout: 300_000 }, () => {
      for (const tool of ['cmake', 'make', 'g++', 'cc', 'nvcc']) expect(run('sh', ['-c', `command -v ${tool}`], dir, coreEnv).status, tool).not.toBe(0);
      const r = run('npm', [...installFlags, tarball], dir, coreEnv);
      ok(r);
      expect(npmWarnings(r)).toEqual([]);
      expect(fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => !n.startsWith('.')).sort()).toEqual(['node-addon-api', 'node-gyp-build', 'taylorseer']);
      expect(fs.existsSync(path.join(dir, 'node_modules/taylorseer/build'))).toBe(false);
      console.log(
        `core install (prebuild, no build tools): ${r.seconds.toFixed(1)} s; du -sh node_modules ${du(path.join(dir, 'node_modules'))}, ` +
          `of which the prebuild ${du(path.join(dir, 'node_modules/taylorseer', PREBUILD))}`,
      );
    });

    it('runs the hook from CommonJS on the prebuilt addon', () => {
      const r = JSON.parse(ok(run('node', ['-e', `const t = require('taylorseer');\n${HOOK}`], dir, coreEnv)));
      // full at 0 and 3; steps 1-2 reuse step 0 (no derivative yet), steps 4-5 extrapolate 2 * step exactly
      expect(r.out).toEqual([0, 0, 0, 6, 8, 10]);
      expect(r.skipped).toBeGreaterThan(0);
      expect(r.build.prebuilt).toBe(true);
      expect(r.build.cuda).toBe(true);
      expect(fs.realpathSync(r.build.file)).toBe(fs.realpathSync(path.join(dir, 'node_modules/taylorseer', PREBUILD)));
    });

    it('runs the hook from ESM', () => {
      const r = JSON.parse(ok(run('node', ['--input-type=module', '-e', `import * as t from 'taylorseer';\n${HOOK}`], dir, coreEnv)));
      expect(r.out).toEqual([0, 0, 0, 6, 8, 10]);
      expect(r.build.prebuilt).toBe(true);
    });

    it('loads `taylorseer/pipeline`, which asks for its packages when they are first needed', () => {
      const r = run('node', ['-e', "const p = require('taylorseer/pipeline'); try { p.bundledModelDir() } catch (e) { console.log(e.code, e.message) }"], dir, coreEnv);
      expect(ok(r)).toMatch(/^ERR_DEPENDENCY the demo model needs taylorseer-dit-digits, which is not installed/);
    });

    it('answers `taylorseer info` and asks for the pipeline packages by name', () => {
      const info = run('npx', ['taylorseer', 'info'], dir, coreEnv);
      expect(ok(info)).toMatch(/native addon: .*prebuilds\/linux-x64\/taylorseer\.napi\.glibc\.node \(prebuilt; /);
      expect(info.stdout).toContain('c library: not in this install (to build it: npm install cmake-js && npm explore taylorseer -- npm run build:native -- --lib)');
      expect(npmWarnings(info)).toEqual([]);
      const e = run('npx', ['taylorseer', 'eval'], dir, coreEnv);
      expect(e.status).toBe(1);
      expect(e.stderr).toContain('[ERR_DEPENDENCY]');
      for (const name of PIPELINE_PACKAGES) expect(e.stderr).toContain(` ${name}@${peerRange(name)}`);
    });

    it('builds libtaylorseer with one command where it is wanted, and the prebuilt addon stays in use', () => {
      const lib = project('core-lib');
      ok(run('npm', [...installFlags, tarball, `cmake-js@${peerRange('cmake-js')}`], lib, env));
      // CPU only, to keep the test short; with nvcc on the PATH the same command adds the CUDA kernels
      const build = run('npm', ['explore', 'taylorseer', '--', 'npm', 'run', 'build:native', '--', '--lib'], lib, { ...env, TAYLORSEER_CUDA: '0' });
      ok(build);
      expect(build.stderr).toContain('taylorseer: built libtaylorseer in build/Release');
      const where = ok(run('npx', ['taylorseer', 'info', '--lib'], lib, env)).trim();
      expect(fs.realpathSync(where)).toBe(fs.realpathSync(path.join(lib, 'node_modules/taylorseer/build/Release/libtaylorseer.so')));
      const addon = JSON.parse(ok(run('node', ['-e', "console.log(JSON.stringify(require('taylorseer').info().build))"], lib, env)));
      expect(addon).toMatchObject({ prebuilt: true, cuda: true });
      console.log(`libtaylorseer built in a consumer (cmake-js, CPU only): ${build.seconds.toFixed(0)} s`);
    }, 900_000);

    it('without a prebuild for the platform, says so and builds from source with one command', () => {
      const installed = path.join(dir, 'node_modules/taylorseer');
      fs.rmSync(path.join(installed, 'prebuilds'), { recursive: true });
      const missing = run('node', ['-e', "require('taylorseer').native()"], dir, coreEnv);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toContain('no taylorseer addon for linux-x64');
      expect(missing.stderr).toContain('`npm explore taylorseer -- npm run build:native`');
      // with the build tools back (cmake-js is not installed here: node-gyp, CPU only)
      const build = run('npm', ['explore', 'taylorseer', '--', 'npm', 'run', 'build:native'], dir, env);
      ok(build);
      expect(build.stderr).toContain('taylorseer: cmake-js is not installed; building the CPU-only addon with node-gyp');
      const r = JSON.parse(ok(run('node', ['-e', `const t = require('taylorseer');\n${HOOK}`], dir, coreEnv)));
      expect(r.out).toEqual([0, 0, 0, 6, 8, 10]);
      expect(r.build).toMatchObject({ prebuilt: false, cuda: false, system: 'node-gyp' });
      console.log(`source build in a consumer (node-gyp, CPU only): ${build.seconds.toFixed(0)} s`);
    }, 900_000);
  });

  describe.runIf(arm64)('installed on linux-arm64 (emulated), with no build tools on the PATH', () => {
    it('packs the linux-arm64 prebuild, CPU kernels only', () => {
      expect(files).toContain(PREBUILD_ARM64);
    });

    it('installs for arm64 and runs the hook on the prebuilt addon in an arm64 Node', { timeout: 600_000 }, () => {
      const dir = project('arm64');
      const coreEnv = { ...env, PATH: pathWithoutBuildTools() };
      const r = run('npm', [...installFlags, '--os=linux', '--cpu=arm64', tarball], dir, coreEnv);
      ok(r);
      expect(npmWarnings(r)).toEqual([]);
      const node = cross.node();
      const t0 = process.hrtime.bigint();
      const hook = cross.runNode(node, ['-e', `const t = require('taylorseer');\n${HOOK.replace('build: t.info().build', 'build: t.info().build, arch: process.arch, cpu: t.info().cpu')}`], {
        cwd: dir,
        env: coreEnv,
      });
      const got = JSON.parse(ok(hook)) as { out: number[]; skipped: number; arch: string; cpu: { vector: string }; build: { prebuilt: boolean; cuda: boolean; file: string } };
      expect(got.out).toEqual([0, 0, 0, 6, 8, 10]);
      expect(got.skipped).toBeGreaterThan(0);
      expect(got.arch).toBe('arm64');
      expect(got.cpu.vector).toBe('neon (128-bit)');
      expect(got.build).toMatchObject({ prebuilt: true, cuda: false });
      expect(fs.realpathSync(got.build.file)).toBe(fs.realpathSync(path.join(dir, 'node_modules/taylorseer', PREBUILD_ARM64)));
      console.log(
        `arm64 install (prebuild, no build tools): ${r.seconds.toFixed(1)} s; the hook under emulation ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s; ` +
          `prebuild ${du(path.join(dir, 'node_modules/taylorseer', PREBUILD_ARM64))}`,
      );
    });
  });

  it('installed with the pipeline packages and the model, runs `taylorseer eval` on the demo model', () => {
    // onnxruntime-node's install script would download a CUDA provider (its CPU backend is in the package);
    // protobufjs's (under onnx-proto) only prepares its own CLI
    const dir = project('full', { allowScripts: { 'onnxruntime-node': false, protobufjs: false } });
    const peers = PIPELINE_PACKAGES.filter((n) => n !== 'taylorseer-dit-digits').map((n) => `${n}@${peerRange(n)}`);
    const r = run('npm', [...installFlags, tarball, modelTarball, ...peers], dir, env);
    ok(r);
    expect(npmWarnings(r)).toEqual([]);
    console.log(`full install (pipeline packages and model): ${r.seconds.toFixed(1)} s; du -sh node_modules ${du(path.join(dir, 'node_modules'))}`);
    const esm = run('node', ['--input-type=module', '-e', "import { loadModel, chartSvg, bundledModelDir } from 'taylorseer/pipeline'; console.log(typeof loadModel, typeof chartSvg, bundledModelDir())"], dir, env);
    expect(ok(esm).trim()).toBe(`function function ${fs.realpathSync(path.join(dir, 'node_modules/taylorseer-dit-digits'))}`);
    const e = run('npx', ['taylorseer', 'eval', '--steps', '6', '--labels', '3', '--interval', '3', '--warmup', '1', '--json'], dir, env);
    const report = JSON.parse(ok(e)) as { modelDir: string; steps: number; fullSteps: number; psnr: number | null };
    expect(npmWarnings(e)).toEqual([]);
    expect(fs.realpathSync(report.modelDir)).toBe(fs.realpathSync(path.join(dir, 'node_modules/taylorseer-dit-digits')));
    expect(report.steps).toBe(6);
    expect(report.fullSteps).toBeLessThan(6);
    expect(report.psnr).toBeGreaterThan(10);
  }, 600_000);
});
