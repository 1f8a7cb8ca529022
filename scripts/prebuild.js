#!/usr/bin/env node
// Builds the prebuilt addons that the npm package ships (node-gyp-build's prebuilds/ layout).
// - linux-x64: the CUDA kernels as sm_80 and sm_90 machine code plus compute_90 PTX (newer GPUs JIT it),
//   cudart linked statically so one file loads with or without a driver. libstdc++ stays dynamic: linking
//   it in (gcc 12) would raise the glibc floor from 2.34 to 2.36 (its random_device needs arc4random).
//   Needs cmake and nvcc (no GPU). Checked in a fresh process: it must load, have the kernels, and run a
//   CPU kernel.
// - linux-arm64: the CPU kernels (NEON), cross-compiled with g++-aarch64-linux-gnu (scripts/cross-arm64.js),
//   checked the same way under emulation (qemu-user, an arm64 Node from the npm registry) where
//   qemu-aarch64 is installed.
// Runs as `prepack`, so every `npm pack` / `npm publish` tarball carries fresh prebuilds. Where nvcc or
// cmake is missing (a git dependency built on a laptop) it packs none and says so in one line, and the
// tarball builds from source; where the cross compiler is missing it packs linux-x64 alone. With
// --required (`npm publish`) either is an error instead.
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
const ARM64 = 'linux-arm64';
const arm64BuildDir = path.join(root, 'build-prebuild-arm64');

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

const cross = require('./cross-arm64.js');

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Highest symbol version (GLIBC_x.y, GLIBCXX_3.4.z) the binary needs: the oldest runtime it loads with. */
function floor(file, lib, objdump = 'objdump') {
  const r = spawnSync(objdump, ['-T', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
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
  stripInto(built, out, 'strip');

  const got = probe(out, (args) => spawnSync(process.execPath, args, { encoding: 'utf8' }));
  if (!got.build.cuda) die('the prebuild has no CUDA kernels');
  report(out, got, seconds);
  arm64();
}

// Symbols are for debugging a local build; the published file is stripped (copied as it is where strip fails).
function stripInto(built, out, strip) {
  if (spawnSync(strip, ['--strip-unneeded', '-o', out, built], { stdio: 'inherit' }).status !== 0) fs.copyFileSync(built, out);
}

// Checks in a fresh process what a user's require() will see: the file loads and computes 2 * 1.
function probe(file, runNode) {
  const r = runNode([
    '-e',
    `const a = require(${JSON.stringify(file)});
     const x = new Float32Array(8).fill(1), o = new Float32Array(8);
     a.forecast('f32', 'f32', [{ factors: x, out: o, count: 1, coeffs: [2] }]);
     console.log(JSON.stringify({ build: a.build, cpu: a.cpuInfo().vector, out: o[7] }));`,
  ]);
  if (r.status !== 0) die(`${path.relative(root, file)} does not load: ${`${r.stderr}`.trim().split('\n')[0]}`);
  const got = JSON.parse(r.stdout);
  if (got.out !== 2) die(`${path.relative(root, file)} computed ${got.out} for 2 * 1`);
  return got;
}

function report(file, got, seconds, objdump) {
  const mb = (fs.statSync(file).size / 1e6).toFixed(1);
  console.error(
    `taylorseer prebuild: ${path.relative(root, file)} (${mb} MB, CUDA ${got.build.cuda ? 'on' : 'off'}, ${got.cpu ?? 'not run here'}, ` +
      `needs glibc >= ${floor(file, 'GLIBC', objdump)}, libstdc++ GLIBCXX >= ${floor(file, 'GLIBCXX', objdump)}), built in ${seconds.toFixed(0)} s`,
  );
}

/** The linux-arm64 prebuild: CPU kernels only, cross-compiled; skipped (or, with --required, fatal) without the cross compiler. */
function arm64() {
  const absent = cross.missing('compile');
  if (absent.length) {
    const message = `${absent.join(' and ')} not on the PATH; the ${ARM64} prebuild needs the aarch64 cross compiler (Debian: apt-get install g++-aarch64-linux-gnu)`;
    if (required) die(message);
    console.error(`taylorseer prebuild: ${message}; packing without it (${ARM64} users build from source)`);
    return;
  }
  const started = process.hrtime.bigint();
  if (process.argv.includes('--force')) fs.rmSync(arm64BuildDir, { recursive: true, force: true });
  console.error(`taylorseer prebuild: building ${ARM64} (CPU kernels, cross-compiled) in ${path.relative(root, arm64BuildDir)}`);
  const built = cross.build(arm64BuildDir);
  if (!built.ok) {
    process.stderr.write(`${built.output.trimEnd().split('\n').slice(-40).join('\n')}\n`);
    die(`the ${ARM64} build failed (output above)`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const dir = path.join(root, 'prebuilds', ARM64);
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, FILE);
  stripInto(built.addon, out, cross.TOOLS.strip);
  if (!cross.isArm64Elf(out)) die(`${path.relative(root, out)} is not an arm64 ELF file`);
  // Run it where the emulator is installed; the file's format was checked above either way.
  let got = { build: { cuda: false }, cpu: null };
  if (cross.missing('run').length === 0) {
    let node;
    try {
      node = cross.node();
    } catch (e) {
      if (required) die(e.message);
      console.error(`taylorseer prebuild: ${e.message}; ${path.relative(root, out)} is packed without the emulated check`);
    }
    if (node) got = probe(out, (args) => cross.runNode(node, args));
    if (node && (got.build.cuda || !/^neon/.test(got.cpu))) die(`${path.relative(root, out)} reports CUDA ${got.build.cuda} and ${got.cpu}; expected the NEON kernels alone`);
  }
  report(out, got, seconds, cross.TOOLS.objdump);
}

main();
