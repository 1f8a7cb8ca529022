/**
 * Which addon file loads, and what happens when it cannot: a prebuilt binary made for another machine
 * (here one that needs a glibc symbol version no glibc has, the way a binary from a newer distribution
 * fails) is reported as ERR_DEVICE naming the file, the loader's reason and the command that builds a
 * matching addon from source; the process does not crash. A source build is preferred over the prebuild.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCommand, locateAddon, requireAddon } from '../../lib/addon-file';
import { TaylorSeerError } from '../../lib/errors';

const ROOT = path.resolve(__dirname, '../..');
const PREBUILD = path.join('prebuilds', `${process.platform}-${process.arch}`, 'taylorseer.napi.glibc.node');
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

let tmp: string;
let mismatched: string;

/** A package root (package.json named taylorseer) holding the given files. */
function fakePackage(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'taylorseer', version: '0.0.0' }));
  for (const [rel, from] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(dir, rel));
  }
  return dir;
}

function loadError(root: string, env: NodeJS.ProcessEnv = {}): TaylorSeerError {
  try {
    requireAddon(root, locateAddon(root, env));
  } catch (e) {
    expect(e).toBeInstanceOf(TaylorSeerError);
    return e as TaylorSeerError;
  }
  throw new Error('expected the addon load to fail');
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-loading-'));
  if (!hasCc) return;
  // A stand-in libc.so.6 that defines ts_glibc_probe at version GLIBC_99; a .node linked against it asks
  // the real libc for GLIBC_99 at load time and dlopen refuses it.
  fs.writeFileSync(path.join(tmp, 'stub.c'), 'void ts_glibc_probe(void) {}\n');
  fs.writeFileSync(path.join(tmp, 'stub.map'), 'GLIBC_99 { global: ts_glibc_probe; local: *; };\n');
  fs.writeFileSync(path.join(tmp, 'addon.c'), 'extern void ts_glibc_probe(void);\nvoid ts_use(void) { ts_glibc_probe(); }\n');
  const cc = (args: string[]) => execFileSync('cc', args, { cwd: tmp, stdio: 'pipe' });
  cc(['-shared', '-fPIC', '-o', 'libstub.so', 'stub.c', '-Wl,-soname,libc.so.6', '-Wl,--version-script=stub.map']);
  cc(['-shared', '-fPIC', '-o', 'mismatched.node', 'addon.c', './libstub.so']);
  mismatched = path.join(tmp, 'mismatched.node');
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a prebuilt addon that does not match the machine', () => {
  it.runIf(hasCc && process.platform === 'linux')('is ERR_DEVICE with the reason and the source-build command, not a crash', () => {
    const root = fakePackage('wrong-glibc', { [PREBUILD]: mismatched });
    const where = locateAddon(root, {});
    expect(where).toEqual({ file: path.join(root, PREBUILD), prebuilt: true, explicit: false });
    const e = loadError(root);
    expect(e.code).toBe('ERR_DEVICE');
    expect(e.message).toContain(`prebuilt taylorseer addon ${PREBUILD} does not load on this machine`);
    expect(e.message).toContain("version `GLIBC_99' not found");
    expect(e.message).toContain('`npm run build:native`');
  });

  it.runIf(hasCc && process.platform === 'linux')('is passed over when a source build sits in build/Release', () => {
    const root = fakePackage('with-source-build', { [PREBUILD]: mismatched, 'build/Release/taylorseer.node': mismatched });
    expect(locateAddon(root, {})).toEqual({ file: path.join(root, 'build/Release/taylorseer.node'), prebuilt: false, explicit: false });
  });

  it.runIf(hasCc && process.platform === 'linux')('leaves `taylorseer info` exiting 1 with one clear line', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'lib/cli/main.ts'), 'info'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TAYLORSEER_ADDON: mismatched },
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/native addon: not loaded: the taylorseer addon TAYLORSEER_ADDON=.*mismatched\.node does not load on this machine \(.*GLIBC_99/);
  });
});

describe('no addon for this platform', () => {
  it('says which platform, that prebuilds are linux-x64 only, and how to build one', () => {
    const root = fakePackage(path.join('node_modules', 'taylorseer'), {});
    const e = loadError(root);
    expect(e.code).toBe('ERR_DEVICE');
    expect(e.message).toContain(`no taylorseer addon for ${process.platform}-${process.arch}`);
    expect(e.message).toContain('prebuilt binaries ship for linux-x64 and linux-arm64 with glibc');
    // inside a consumer's node_modules the repository's npm scripts are reached through npm explore
    expect(e.message).toContain('`npm explore taylorseer -- npm run build:native`');
  });

  it('names the build command for where the package sits', () => {
    expect(buildCommand(ROOT)).toBe('npm run build:native');
    expect(buildCommand(path.join(tmp, 'node_modules', 'taylorseer'))).toBe('npm explore taylorseer -- npm run build:native');
  });
});

describe('a CPU without AVX2', () => {
  const file = (() => {
    try {
      return locateAddon(ROOT).file;
    } catch {
      return undefined;
    }
  })();
  const hasObjdump = spawnSync('objdump', ['--version'], { stdio: 'ignore' }).status === 0;

  // The addon is compiled for baseline x86-64; the AVX2+F16C+FMA kernels are entered only after
  // __builtin_cpu_supports says yes. So any function holding a VEX-encoded (AVX) instruction must be one
  // of those kernels (namespace ts::avx2), or the addon would die with SIGILL on an older CPU.
  it.runIf(file !== undefined && hasObjdump && process.arch === 'x64')('finds AVX instructions only in the dispatched avx2 kernels', () => {
    const dis = execFileSync('objdump', ['-d', '--no-show-raw-insn', '-C', file!], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const offenders = new Set<string>();
    let avxInstructions = 0;
    let fn = '';
    for (const line of dis.split('\n')) {
      const head = /^[0-9a-f]+ <(.*)>:$/.exec(line);
      if (head) {
        fn = head[1];
        continue;
      }
      const mnemonic = line.split('\t')[1] ?? '';
      if (!/^v[a-z]/.test(mnemonic)) continue;
      if (fn.includes('ts::avx2::')) avxInstructions++;
      else offenders.add(`${fn}: ${mnemonic.trim()}`);
    }
    expect([...offenders].slice(0, 10)).toEqual([]);
    expect(avxInstructions).toBeGreaterThan(0);
  });
});

