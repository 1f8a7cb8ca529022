/**
 * The pipeline's packages are optional peer dependencies (test/entry.test.ts: no entry loads them on
 * import): a missing one is ERR_DEPENDENCY with one npm command that installs what is missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { taylorSeerErrorOf } from './helpers/code-of';
import { installCommand, peerRange, PIPELINE_PACKAGES, requireOptional, resolveOptional } from '../lib/optional';

const ROOT = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

describe('package.json', () => {
  it('declares every pipeline package as an optional peer, installed for development', () => {
    for (const name of PIPELINE_PACKAGES) {
      expect(pkg.peerDependencies[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
      expect(pkg.devDependencies[name], name).toBeDefined();
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
  });

  it("the install commands of the README and docs/install.md name every pipeline package", () => {
    const commands = [
      ...fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').matchAll(/^npm install onnxruntime-node .*$/gm),
      ...fs.readFileSync(path.join(ROOT, 'docs/install.md'), 'utf8').matchAll(/`npm install taylorseer onnxruntime-node [^`]*`/g),
    ].map((m) => m[0]);
    expect(commands).toHaveLength(2);
    for (const c of commands) for (const name of PIPELINE_PACKAGES.filter((n) => n !== 'taylorseer-dit-digits')) expect(c.split(/[\s`]+/), name).toContain(name);
  });

  it('keeps the hook-only install to the addon loader and the headers of a source build', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['node-addon-api', 'node-gyp-build']);
  });
});

describe('a missing optional package', () => {
  it('is ERR_DEPENDENCY naming what needed it and the install command', () => {
    const e = taylorSeerErrorOf(() => requireOptional('taylorseer-no-such-package', 'testing the message'));
    expect(e.code).toBe('ERR_DEPENDENCY');
    expect(e.message).toMatch(/^testing the message needs taylorseer-no-such-package, which is not installed/);
    expect(e.message).toMatch(/install them with: npm install taylorseer-no-such-package( |$)/);
  });

  it('is a missing file inside a package too', () => {
    const e = taylorSeerErrorOf(() => resolveOptional('taylorseer-no-such-package', 'model.json', 'the demo model'));
    expect(e.code).toBe('ERR_DEPENDENCY');
    expect(e.message).toContain('the demo model needs taylorseer-no-such-package');
  });

  it('lists every other missing pipeline package in the same command, with the declared ranges', () => {
    const absent = new Set(['onnxruntime-node', 'taylorseer-dit-digits']);
    expect(installCommand(['pngjs'], (n) => !absent.has(n))).toBe(
      `npm install pngjs@${peerRange('pngjs')} onnxruntime-node@${peerRange('onnxruntime-node')} taylorseer-dit-digits@${peerRange('taylorseer-dit-digits')}`,
    );
  });
});

describe('an installed optional package', () => {
  it('is the module itself', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(requireOptional('pngjs', 'writing a PNG')).toBe(require('pngjs'));
    expect(resolveOptional('dejavu-fonts-ttf', 'ttf/DejaVuSans.ttf', 'text')).toMatch(/DejaVuSans\.ttf$/);
  });
});
