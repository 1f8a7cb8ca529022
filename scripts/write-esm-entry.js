#!/usr/bin/env node
// Writes an ES module facade beside each CommonJS entry of the build (dist/index.mjs for `taylorseer`,
// dist/pipeline/index.mjs for `taylorseer/pipeline`), so `import` and `require` share one module instance
// (and one native addon). The names are read from the built entry itself, so the facade never drifts.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
for (const entry of ['index.js', 'pipeline/index.js']) {
  const file = path.join(dist, entry);
  const api = require(file);
  const names = Object.keys(api).filter((k) => k !== 'default' && k !== '__esModule');
  const body = [
    "import api from './index.js';",
    ...names.map((n) => `export const ${n} = api.${n};`),
    'export default api;',
    '',
  ].join('\n');
  fs.writeFileSync(file.replace(/\.js$/, '.mjs'), body);
}
