/** What was built and what is usable on this machine: the data behind `taylorseer info`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildCommand, installedAsDependency } from './addon-file';
import { TaylorSeerError } from './errors';
import { native, type BuildInfo, type CpuInfo, type CudaInfo } from './native';

/** libtaylorseer, the kernels' C interface as a shared library for native code (see cuda/taylorseer.h). */
export interface CLibraryInfo {
  /** absolute path of the library, or null when this install has none (built without cmake-js) */
  path: string | null;
  /** directory holding taylorseer.h */
  include: string;
}

export interface TaylorSeerInfo {
  version: string;
  node: string;
  platform: string;
  /** null when the addon could not be loaded (see addonError) */
  build: BuildInfo | null;
  addonError?: string;
  cpu: CpuInfo | null;
  cuda: CudaInfo;
  library: CLibraryInfo;
}

const LIB_NAMES: Partial<Record<NodeJS.Platform, string>> = { linux: 'libtaylorseer.so', darwin: 'libtaylorseer.dylib', win32: 'taylorseer.dll' };

/** Where libtaylorseer is: TAYLORSEER_LIB if set, else beside the built addon, else in prebuilds/. */
export function cLibrary(): CLibraryInfo {
  const root = path.resolve(__dirname, '..');
  const include = path.join(root, 'cuda');
  const name = LIB_NAMES[process.platform] ?? 'libtaylorseer.so';
  const candidates = [
    process.env.TAYLORSEER_LIB,
    path.join(root, 'build', 'Release', name),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, name),
  ];
  for (const c of candidates) if (c && fs.existsSync(c)) return { path: path.resolve(c), include };
  return { path: null, include };
}

/**
 * How to build libtaylorseer where this install has none (the prebuilt package carries the addon alone):
 * cmake-js with cmake, which node-gyp cannot replace; `--lib` leaves the addon in use as it is.
 */
export function cLibraryBuildCommand(): string {
  const root = path.resolve(__dirname, '..');
  const command = `${buildCommand(root)} -- --lib`;
  return installedAsDependency(root) ? `npm install cmake-js && ${command}` : command;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function info(): TaylorSeerInfo {
  const base = { version: packageVersion(), node: process.version, platform: `${process.platform}-${process.arch}`, library: cLibrary() };
  let addon;
  try {
    addon = native();
  } catch (e) {
    const message = e instanceof TaylorSeerError ? e.message : String(e);
    return {
      ...base,
      build: null,
      addonError: message,
      cpu: null,
      cuda: { compiled: false, runtimeVersion: '', driverVersion: '', usable: false, reason: 'the native addon is not loaded', devices: [] },
    };
  }
  return { ...base, build: addon.build, cpu: addon.cpuInfo(), cuda: addon.cudaInfo() };
}
