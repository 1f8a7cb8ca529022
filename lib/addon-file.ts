/**
 * Which taylorseer.node file to load, and a load failure turned into a message that says what to do.
 * Order (node-gyp-build's): TAYLORSEER_ADDON when set, then a source build in build/Release, then the
 * prebuilt binary in prebuilds/<platform>-<arch>/ that matches this Node and libc. lib/native.ts is the
 * only caller; nothing here knows the addon's API.
 */
import * as path from 'node:path';
import { TaylorSeerError } from './errors';

export interface AddonFile {
  /** absolute path of the .node file */
  file: string;
  /** true when it came from the package's prebuilds/ (not compiled on this machine) */
  prebuilt: boolean;
  /** true when TAYLORSEER_ADDON named it */
  explicit: boolean;
}

/** The command that builds the addon from source, as it must be typed where the package sits. */
/** True when the package at root is installed in a project (under node_modules), not a clone. */
export function installedAsDependency(root: string): boolean {
  return root.split(path.sep).includes('node_modules');
}

export function buildCommand(root: string): string {
  return installedAsDependency(root)
    ? 'npm explore taylorseer -- npm run build:native'
    : 'npm run build:native';
}

const BUILD_NEEDS = 'needs cmake (>= 3.18) or python3 and make, and a C++17 compiler; nvcc adds the CUDA kernels';

/** TAYLORSEER_ADDON (already checked to name a file by checkAddonEnvironment; empty means unset) wins. */
export function locateAddon(root: string, env: NodeJS.ProcessEnv = process.env): AddonFile {
  const explicit = env.TAYLORSEER_ADDON || undefined;
  if (explicit !== undefined) return { file: path.resolve(explicit), prebuilt: false, explicit: true };
  let file: string;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    file = (require('node-gyp-build') as { path(dir: string): string }).path(root);
  } catch {
    throw new TaylorSeerError(
      'ERR_DEVICE',
      `no taylorseer addon for ${process.platform}-${process.arch} (Node-API ${process.versions.napi}): prebuilt binaries ` +
        `ship for linux-x64 and linux-arm64 with glibc, and no source build was found in ${path.join(root, 'build')}. ` +
        `Build it once with \`${buildCommand(root)}\` (${BUILD_NEEDS})`,
    );
  }
  const prebuilt = !path.relative(path.join(root, 'prebuilds'), file).startsWith('..');
  return { file, prebuilt, explicit: false };
}

/** require() of the chosen file; a dlopen failure (wrong glibc, wrong CPU, truncated file) becomes ERR_DEVICE. */
export function requireAddon(root: string, where: AddonFile): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(where.file);
  } catch (e) {
    const reason = (e as Error).message.split('\n')[0].replace(`${where.file}: `, '');
    const shown = where.explicit ? `TAYLORSEER_ADDON=${where.file}` : path.relative(root, where.file);
    const advice = where.explicit
      ? 'point it at a build for this machine, or unset it'
      : `build the addon for this machine from source with \`${buildCommand(root)}\` (${BUILD_NEEDS})`;
    throw new TaylorSeerError(
      'ERR_DEVICE',
      `the ${where.prebuilt ? 'prebuilt ' : ''}taylorseer addon ${shown} does not load on this machine (${reason}); ${advice}`,
    );
  }
}
