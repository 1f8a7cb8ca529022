#!/usr/bin/env node
// Builds the native addon from source into build/Release: cmake-js when it and cmake are available (CUDA
// kernels when nvcc is found), else node-gyp with binding.gyp (CPU only). The repository's `prepare` runs
// it (npm install in a clone); the published package has no install script (linux-x64 and linux-arm64
// load the prebuilds in prebuilds/), so elsewhere a user runs it once:
// `npm explore taylorseer -- npm run build:native`.
// It prints one line per decision and hides the tools' own chatter unless a step fails.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const env = { ...process.env };
if (!env.CMAKE_BUILD_PARALLEL_LEVEL) env.CMAKE_BUILD_PARALLEL_LEVEL = String(os.availableParallelism());
const verbose = args.includes('--verbose') || Boolean(env.TAYLORSEER_BUILD_VERBOSE);
// Inside a consumer's node_modules the repository's npm scripts do not apply: say what works there.
const installed = root.split(path.sep).includes('node_modules');
const rerun = installed ? '`npm explore taylorseer -- npm run build:native`' : '`npm run build:native`';

const say = (line) => console.error(`taylorseer: ${line}`);
// --lib: libtaylorseer alone (taylorseer.h's functions as a shared library, build/Release/libtaylorseer.so)
// for an install whose addon is prebuilt, which stays the addon in use. cmake-js only: node-gyp builds the
// addon alone.
const libOnly = args.includes('--lib');
const what = libOnly ? 'libtaylorseer' : 'the addon';

function onPath(cmd) {
  return (env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, cmd)));
}

/** Runs a build tool; the end of its output is shown only when it fails (all of it with --verbose). */
function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, encoding: 'utf8', stdio: verbose ? 'inherit' : 'pipe', maxBuffer: 256 << 20 });
  if (r.status !== 0 && !verbose) {
    const lines = `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd().split('\n');
    if (lines.length > 40) say(`last 40 of ${lines.length} lines of output (all of them: ${rerun.slice(0, -1)} -- --verbose\`)`);
    process.stderr.write(`${lines.slice(-40).join('\n')}\n`);
  }
  return r.status === 0;
}

function tryCmake() {
  let cli;
  try {
    cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    if (libOnly) return false;
    say('cmake-js is not installed; building the CPU-only addon with node-gyp (for the CUDA kernels: npm install cmake-js, then ' + rerun + ')');
    return false;
  }
  // Checked here so cmake-js does not print its own alarming error before the fallback.
  if (!onPath('cmake')) {
    if (!libOnly) say('cmake is not on the PATH; building the CPU-only addon with node-gyp');
    return false;
  }
  const extra = [];
  const cudaOff = env.TAYLORSEER_CUDA === '0' || env.TAYLORSEER_CUDA === 'OFF';
  if (cudaOff) extra.push('--CDTAYLORSEER_CUDA=OFF');
  const cuda = !cudaOff && onPath('nvcc');
  const kernels = cuda ? 'CUDA kernels with nvcc' : cudaOff ? `CPU only: TAYLORSEER_CUDA=${env.TAYLORSEER_CUDA}` : 'CPU only: no nvcc on the PATH';
  say(`building ${what} from source with cmake-js (${kernels}; a few minutes)`);
  if (libOnly) extra.push('--target', 'taylorseer_c');
  // The CUDA benchmark and baseline kernels (`taylorseer bench --device cuda`) are for development only.
  if (env.TAYLORSEER_BENCH === '1' || env.TAYLORSEER_BENCH === 'ON') extra.push('--CDTAYLORSEER_BENCH=ON');
  // `compile` configures when needed and rebuilds incrementally; --force starts from a clean build tree.
  // --lib keeps the tree: a clean one would take a source-built addon with it.
  const verb = args.includes('--force') && !libOnly ? 'rebuild' : 'compile';
  if (run(process.execPath, [cli, verb, '--out', 'build', ...extra])) return true;
  if (!libOnly) say('the cmake-js build failed (output above); trying node-gyp (CPU only)');
  return false;
}

function tryGyp() {
  // Build against this Node's own headers when it ships them, so node-gyp needs no download.
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/node_api.h'))) env.npm_config_nodedir = prefix;
  let cli;
  try {
    cli = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root, path.dirname(process.execPath)] });
  } catch {
    // npm bundles node-gyp
    const npmGyp = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
    if (!fs.existsSync(npmGyp)) {
      say('node-gyp was not found either');
      return false;
    }
    cli = npmGyp;
  }
  const missing = ['make', 'python3'].filter((t) => !onPath(t));
  if (!onPath('g++') && !onPath('c++') && !env.CXX) missing.push('a C++ compiler (g++)');
  if (missing.length) {
    say(`node-gyp cannot build here: ${missing.join(', ')} not found`);
    return false;
  }
  return run(process.execPath, [cli, 'rebuild']);
}

if (libOnly) {
  if (!tryCmake()) {
    say(
      `could not build libtaylorseer: it needs cmake-js (${installed ? 'npm install cmake-js in your project' : 'npm install'}), ` +
        `cmake (>= 3.18) and a C++17 compiler, and nvcc on the PATH for the CUDA kernels; then run ${rerun.slice(0, -1)} -- --lib\`.`,
    );
    process.exit(1);
  }
  say(`built libtaylorseer in ${path.join('build', 'Release')} (taylorseer info --lib prints its path)`);
  process.exit(0);
}
if (!tryCmake() && !tryGyp()) {
  say(
    'could not build the native addon. Install cmake (>= 3.18) or python3 and make, and a C++17 compiler ' +
      `(e.g. apt-get install cmake g++), then run ${rerun}.`,
  );
  process.exit(1);
}
say(`built ${path.join('build', 'Release', 'taylorseer.node')}`);
