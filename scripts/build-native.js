#!/usr/bin/env node
// Builds the native addon: cmake-js first (CUDA kernels when nvcc is found), then, if cmake-js or cmake
// is unusable, node-gyp with binding.gyp (CPU only). Runs as the package's install script.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const env = { ...process.env };
if (!env.CMAKE_BUILD_PARALLEL_LEVEL) env.CMAKE_BUILD_PARALLEL_LEVEL = String(require('node:os').availableParallelism?.() ?? 2);

function run(cmd, cmdArgs) {
  console.error(`taylorseer: ${[cmd, ...cmdArgs].map((a) => path.relative(root, a) || a).join(' ')}`);
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  return r.status === 0;
}

function tryCmake() {
  let cli;
  try {
    cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    console.error('taylorseer: cmake-js is not installed');
    return false;
  }
  const extra = [];
  if (env.TAYLORSEER_CUDA === '0' || env.TAYLORSEER_CUDA === 'OFF') extra.push('--CDTAYLORSEER_CUDA=OFF');
  // The CUDA benchmark and baseline kernels (`taylorseer bench --device cuda`) are for development only.
  if (env.TAYLORSEER_BENCH === '1' || env.TAYLORSEER_BENCH === 'ON') extra.push('--CDTAYLORSEER_BENCH=ON');
  // `compile` configures when needed and rebuilds incrementally; --force starts from a clean build tree.
  const verb = args.includes('--force') ? 'rebuild' : 'compile';
  return run(process.execPath, [cli, verb, '--out', 'build', ...extra]);
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
    if (!fs.existsSync(npmGyp)) return false;
    cli = npmGyp;
  }
  console.error('taylorseer: falling back to node-gyp (CPU-only build)');
  return run(process.execPath, [cli, 'rebuild']);
}

if (!tryCmake() && !tryGyp()) {
  console.error('taylorseer: could not build the native addon. Install cmake (>= 3.18) and a C++17 compiler, then run `npm rebuild taylorseer`.');
  process.exit(1);
}
