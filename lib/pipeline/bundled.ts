import * as path from 'node:path';

/**
 * The model shipped with the package (fixtures/dit-digits), resolved from the package root: this file
 * sits at lib/pipeline/ (tsx, vitest) or dist/pipeline/ (compiled), both two levels below the root.
 */
export function bundledModelDir(): string {
  return path.resolve(__dirname, '../..', 'fixtures/dit-digits');
}
