/**
 * The source build's messages on a machine without build tools: one line per decision, no alarming text
 * from cmake-js before the fallback, and a last line naming a command that works where the package sits
 * (npm has no install script of taylorseer to roll back, so `npm rebuild` would do nothing).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
let tmp: string;
let bare: string;

/** Runs build-native.js from `root` with only node on the PATH. */
function buildWithoutTools(root: string): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build-native.js')], {
    cwd: root,
    encoding: 'utf8',
    env: { PATH: bare, HOME: process.env.HOME },
  });
  return { status: r.status, lines: `${r.stdout}${r.stderr}`.trim().split('\n') };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-build-'));
  bare = path.join(tmp, 'bin');
  fs.mkdirSync(bare);
  fs.symlinkSync(process.execPath, path.join(bare, 'node'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a source build with no cmake, make or compiler', () => {
  it('says why each tool was passed over and which command to run once they are installed', () => {
    const { status, lines } = buildWithoutTools(ROOT);
    expect(status).toBe(1);
    expect(lines).toEqual([
      'taylorseer: cmake is not on the PATH; building the CPU-only addon with node-gyp',
      'taylorseer: node-gyp cannot build here: make, python3, a C++ compiler (g++) not found',
      'taylorseer: could not build the native addon. Install cmake (>= 3.18) or python3 and make, and a C++17 compiler ' +
        '(e.g. apt-get install cmake g++), then run `npm run build:native`.',
    ]);
  });

  it('inside a consumer project, names the command that reaches the installed package', () => {
    const installed = path.join(tmp, 'project/node_modules/taylorseer');
    fs.mkdirSync(path.join(installed, 'scripts'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'scripts/build-native.js'), path.join(installed, 'scripts/build-native.js'));
    const { status, lines } = buildWithoutTools(installed);
    expect(status).toBe(1);
    // no cmake-js in a consumer project unless they add it for the CUDA kernels
    expect(lines[0]).toBe(
      'taylorseer: cmake-js is not installed; building the CPU-only addon with node-gyp ' +
        '(for the CUDA kernels: npm install cmake-js, then `npm explore taylorseer -- npm run build:native`)',
    );
    expect(lines.at(-1)).toMatch(/then run `npm explore taylorseer -- npm run build:native`\.$/);
    expect(lines.join('\n')).not.toMatch(/ERROR|OMG|npm rebuild/);
  });
});
