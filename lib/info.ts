/** What was built and what is usable on this machine: the data behind `taylorseer info`. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from './errors';
import { native, type BuildInfo, type CpuInfo, type CudaInfo } from './native';

export interface TaylorSeerInfo {
  version: string;
  node: string;
  platform: string;
  /** null when the addon could not be loaded (see addonError) */
  build: BuildInfo | null;
  addonError?: string;
  cpu: CpuInfo | null;
  cuda: CudaInfo;
}

export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function info(): TaylorSeerInfo {
  const base = { version: packageVersion(), node: process.version, platform: `${process.platform}-${process.arch}` };
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
