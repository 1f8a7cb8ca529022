/**
 * The optional peer dependencies of the pipeline and the CLI (onnxruntime-node, onnx-proto, the image, font
 * and progress-bar packages, the demo model), loaded on first use: installing taylorseer for the hook alone
 * brings none of them, and a missing one is ERR_DEPENDENCY with the one npm command that installs
 * every missing piece, never a bare MODULE_NOT_FOUND.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from './errors';

/** What the pipeline and the CLI use beyond the core (package.json peerDependenciesMeta: optional). */
export const PIPELINE_PACKAGES = [
  'onnxruntime-node',
  'onnx-proto',
  '@pdf-lib/upng',
  'pngjs',
  '@resvg/resvg-js',
  'dejavu-fonts-ttf',
  'cli-progress',
  'taylorseer-dit-digits',
] as const;

const root = path.resolve(__dirname, '..');

/** The version range taylorseer declares for a peer, e.g. "^1.23.0" ("" if it declares none). */
export function peerRange(name: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { peerDependencies?: Record<string, string> };
  return pkg.peerDependencies?.[name] ?? '';
}

function installed(name: string): boolean {
  try {
    require.resolve(`${name}/package.json`, { paths: [root] });
    return true;
  } catch (e) {
    // a package whose "exports" hides package.json is still there
    return (e as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
  }
}

/** `npm install a@range b@range` for the named packages plus every other pipeline package not installed. */
export function installCommand(names: readonly string[], isInstalled: (name: string) => boolean = installed): string {
  const missing = [...new Set([...names, ...PIPELINE_PACKAGES.filter((n) => !isInstalled(n))])];
  return `npm install ${missing.map((n) => (peerRange(n) ? `${n}@${peerRange(n)}` : n)).join(' ')}`;
}

/** The error for a pipeline package that is not installed; `purpose` says what needed it. */
export function missingDependency(name: string, purpose: string): TaylorSeerError {
  return new TaylorSeerError(
    'ERR_DEPENDENCY',
    `${purpose} needs ${name}, which is not installed (the pipeline's packages are optional peer dependencies ` +
      `of taylorseer, left out of a hook-only install); install them with: ${installCommand([name])}`,
  );
}

function isNotFound(e: unknown, name: string): boolean {
  const err = e as NodeJS.ErrnoException;
  // the package itself, not something it requires (resvg's platform binary is another package)
  return err?.code === 'MODULE_NOT_FOUND' && (err.message.includes(`'${name}'`) || err.message.includes(`'${name}/`));
}

/** require(name), or ERR_DEPENDENCY saying how to install it. */
export function requireOptional<T>(name: string, purpose: string): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch (e) {
    if (isNotFound(e, name)) throw missingDependency(name, purpose);
    throw new TaylorSeerError(
      'ERR_DEPENDENCY',
      `${name} is installed but does not load here (${(e as Error).message.split('\n')[0]}); reinstall it for ${process.platform}-${process.arch}`,
    );
  }
}

/** The path of a file inside an optional package (a font, the demo model's manifest). */
export function resolveOptional(name: string, file: string, purpose: string): string {
  try {
    return require.resolve(`${name}/${file}`, { paths: [root] });
  } catch (e) {
    if (isNotFound(e, name)) throw missingDependency(name, purpose);
    throw new TaylorSeerError('ERR_DEPENDENCY', `${name} is installed but has no ${file}; reinstall it (${installCommand([name])})`);
  }
}
