/**
 * docs/native-api.md's complete example runs as printed and prints what its comments say.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';
import * as lib from '../lib';

it('the native() example in docs/native-api.md runs and prints the outputs its comments give', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '../docs/native-api.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(doc)![1];
  const printed: string[] = [];
  const fakeConsole = { log: (...a: unknown[]) => printed.push(a.map(String).join(' ')) };
  const fakeRequire = (id: string) => {
    if (id !== 'taylorseer') throw new Error(`the example requires ${id}`);
    return lib;
  };
  new Function('require', 'console', code)(fakeRequire, fakeConsole);
  const expected = [...code.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
  expect(expected).toEqual(['4 5 6 7', 'true ERR_LENGTH']);
  expect(printed).toEqual(expected);
});
