/**
 * libtaylorseer, the kernels' C interface as a shared library: `taylorseer info --lib` finds it, and a C
 * program (clib/tests/link_test.c) compiles against cuda/taylorseer.h, links it, runs the CPU twins
 * bit-exactly (the 8-bit storage byte for byte against the header's description) on the fastest and the
 * portable kernels, is refused with the reason while an environment variable is malformed, and gets a
 * clean answer from the CUDA probe on a machine without a GPU. Skips when this
 * install has no library (a node-gyp fallback build) or no C compiler.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cLibrary } from '../lib/info';

const lib = cLibrary();
const cc = process.env.CC ?? 'cc';
const haveCc = spawnSync(cc, ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!lib.path || !haveCc)('libtaylorseer', () => {
  let dir = '';
  let exe = '';
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync(exe, args, { encoding: 'utf8', env: { ...process.env, TAYLORSEER_THREADS: '', TAYLORSEER_CPU_KERNELS: '', ...env } });
    return { status: r.status, out: r.stdout + r.stderr };
  };

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-clib-'));
    exe = path.join(dir, 'link_test');
    const libDir = path.dirname(lib.path!);
    const src = path.join(__dirname, '..', 'clib', 'tests', 'link_test.c');
    const build = spawnSync(cc, ['-std=c99', '-O1', src, `-I${lib.include}`, `-L${libDir}`, '-ltaylorseer', `-Wl,-rpath,${libDir}`, '-lm', '-o', exe], {
      encoding: 'utf8',
    });
    expect(build.status, build.stderr).toBe(0);
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is found next to the addon, with the header beside it', () => {
    expect(path.basename(lib.path!)).toMatch(/taylorseer\.(so|dylib|dll)$/);
    expect(fs.existsSync(path.join(lib.include, 'taylorseer.h'))).toBe(true);
  });

  it('links from C and runs the host path (f32 and 8-bit storage as the header documents them); the CUDA probe answers without crashing', () => {
    const r = run([]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/ts_cuda_usable: \d+ \(.+\)/);
    expect(r.out).toContain('ok (0 failures)');
  });

  it('runs the same checks on the portable kernels with a set number of threads, and reports both', () => {
    const r = run([], { TAYLORSEER_CPU_KERNELS: 'generic', TAYLORSEER_THREADS: '3' });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/ts_cpu_kernels: (sse2|neon|portable), ts_cpu_threads: 3\n/);
    expect(r.out).toContain('ok (0 failures)');
  });

  it.each([
    ['TAYLORSEER_THREADS', 'abc', 'expected an integer from 1 to 256'],
    ['TAYLORSEER_THREADS', '0', 'expected an integer from 1 to 256'],
    ['TAYLORSEER_THREADS', '257', 'expected an integer from 1 to 256'],
    ['TAYLORSEER_THREADS', '4x', 'expected an integer from 1 to 256'],
    ['TAYLORSEER_CPU_KERNELS', 'avx512', 'expected auto or generic'],
  ])('refuses every call while %s=%s, saying what it expected', (name, value, expected) => {
    const r = run(['--expect-refused'], { [name]: value });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain(`${name}=${value}: ${expected}`);
  });

  it('accepts the values the Node side accepts', () => {
    const r = run([], { TAYLORSEER_CPU_KERNELS: 'auto', TAYLORSEER_THREADS: ' 2 ' });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('ts_cpu_threads: 2\n');
  });
});
