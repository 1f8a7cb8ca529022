#!/usr/bin/env node
// Builds the prebuilt addon that the npm package ships for linux-x64 (node-gyp-build's prebuilds/
// layout): the CUDA kernels as sm_80 and sm_90 machine code plus compute_90 PTX (newer GPUs JIT it),
// cudart linked statically so one file loads with or without a driver. libstdc++ stays dynamic: linking
// it in (gcc 12) would raise the glibc floor from 2.34 to 2.36 (its random_device needs arc4random). Needs cmake and nvcc (no GPU). Then checks the result
// in a fresh process: it must load, have the kernels, and run a CPU kernel.
// Runs as `prepack`, so every `npm pack` / `npm publish` tarball carries a fresh prebuild. Where nvcc or
// cmake is missing (a git dependency built on a laptop) it packs none and says so in one line, and the
// tarball builds from source; with --required (CI, `npm publish`) that is an error instead.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const TARGET = 'linux-x64';
// node-gyp-build tags: a Node-API build (any Node version) for glibc; musl systems build from source.
const FILE = 'taylorseer.napi.glibc.node';
const ARCHS = '80-real;90-real;90-virtual';
// Not under build/: cmake-js and node-gyp clear that folder on every rebuild of the development addon.
const buildDir = path.join(root, 'build-prebuild');
const outDir = path.join(root, 'prebuilds', TARGET);

const required = process.argv.includes('--required');

function die(message) {
  console.error(`taylorseer prebuild: ${message}`);
  process.exit(1);
}

/** A missing tool: an error with --required, else no prebuild in this tarball. */
function cannot(message) {
  if (required) die(message);
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  console.error(`taylorseer prebuild: ${message}; packing without a prebuilt addon (users build from source)`);
  process.exit(0);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Highest symbol version (GLIBC_x.y, GLIBCXX_3.4.z) the binary needs: the oldest runtime it loads with. */
function floor(file, lib) {
  const r = spawnSync('objdump', ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return 'unknown (objdump failed)';
  const versions = [...new Set(r.stdout.match(new RegExp(`\\b${lib}_\\d+(\\.\\d+)*`, 'g')) ?? [])].map((v) => v.slice(lib.length + 1));
  versions.sort((a, b) => {
    const [x, y] = [a.split('.').map(Number), b.split('.').map(Number)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
  });
  return versions.at(-1) ?? 'none';
}

function main() {
  const platform = `${process.platform}-${process.arch}`;
  if (platform !== TARGET) cannot(`prebuilds are made on ${TARGET}; this machine is ${platform}`);
  for (const tool of ['cmake', 'nvcc']) {
    if (!has(tool)) cannot(`${tool} is not on the PATH; the ${TARGET} prebuild needs cmake (>= 3.18) and the CUDA toolkit (no GPU)`);
  }
  let cli;
  try {
    cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  } catch {
    cannot('cmake-js is not installed (a devDependency: run `npm install` in the repository)');
  }

  const started = process.hrtime.bigint();
  const args = [
    cli,
    process.argv.includes('--force') ? 'rebuild' : 'compile',
    '--out',
    buildDir,
    `--CDCMAKE_CUDA_ARCHITECTURES=${ARCHS}`,
    '--CDTAYLORSEER_CUDA=ON',
    '--CDTAYLORSEER_REQUIRE_CUDA=ON',
  ];
  console.error(`taylorseer prebuild: building ${TARGET} with CUDA (${ARCHS}) in ${path.relative(root, buildDir)}`);
  const env = { ...process.env };
  if (!env.CMAKE_BUILD_PARALLEL_LEVEL) env.CMAKE_BUILD_PARALLEL_LEVEL = String(require('node:os').availableParallelism());
  const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) die('the build failed (output above)');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const built = path.join(buildDir, 'Release', 'taylorseer.node');
  fs.rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, FILE);
  // Symbols are for debugging a local build; the published file is stripped.
  const strip = spawnSync('strip', ['--strip-unneeded', '-o', out, built], { stdio: 'inherit' });
  if (strip.status !== 0) fs.copyFileSync(built, out);

  // Check in a fresh process what a user's require() will see.
  const probe = spawnSync(
    process.execPath,
    [
      '-e',
      `const a = require(${JSON.stringify(out)});
       const x = new Float32Array(8).fill(1), o = new Float32Array(8);
       a.forecast('f32', 'f32', [{ factors: x, out: o, count: 1, coeffs: [2] }]);
       console.log(JSON.stringify({ build: a.build, cpu: a.cpuInfo().vector, out: o[7] }));`,
    ],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0) die(`the prebuild does not load: ${probe.stderr.trim().split('\n')[0]}`);
  const got = JSON.parse(probe.stdout);
  if (!got.build.cuda) die('the prebuild has no CUDA kernels');
  if (got.out !== 2) die(`the prebuild computed ${got.out} for 2 * 1`);

  const mb = (fs.statSync(out).size / 1e6).toFixed(1);
  console.error(
    `taylorseer prebuild: ${path.relative(root, out)} (${mb} MB, CUDA ${got.build.cuda ? 'on' : 'off'}, ` +
      `needs glibc >= ${floor(out, 'GLIBC')}, libstdc++ GLIBCXX >= ${floor(out, 'GLIBCXX')}), built in ${seconds.toFixed(0)} s`,
  );
}

main();
