/**
 * libtaylorseer, the kernels' C interface as a shared library: `taylorseer info --lib` finds it, and a C
 * program (clib/tests/link_test.c) compiles against cuda/taylorseer.h, links it, runs the CPU twins
 * bit-exactly and gets a clean answer from the CUDA probe on a machine without a GPU. Skips when this
 * install has no library (a node-gyp fallback build) or no C compiler.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import { cLibrary } from '../lib/info';

const lib = cLibrary();
const cc = process.env.CC ?? 'cc';
const haveCc = spawnSync(cc, ['--version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!lib.path || !haveCc)('libtaylorseer', () => {
  it('is found next to the addon, with the header beside it', () => {
    expect(path.basename(lib.path!)).toMatch(/taylorseer\.(so|dylib|dll)$/);
    expect(fs.existsSync(path.join(lib.include, 'taylorseer.h'))).toBe(true);
  });

  it('links from C and runs the host path; the CUDA probe answers without crashing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-clib-'));
    try {
      const exe = path.join(dir, 'link_test');
      const libDir = path.dirname(lib.path!);
      const src = path.join(__dirname, '..', 'clib', 'tests', 'link_test.c');
      const build = spawnSync(cc, ['-std=c99', '-O1', src, `-I${lib.include}`, `-L${libDir}`, '-ltaylorseer', `-Wl,-rpath,${libDir}`, '-lm', '-o', exe], {
        encoding: 'utf8',
      });
      expect(build.status, build.stderr).toBe(0);
      const run = spawnSync(exe, [], { encoding: 'utf8' });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/ts_cuda_usable: \d+ \(.+\)/);
      expect(run.stdout).toContain('ok (0 failures)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
