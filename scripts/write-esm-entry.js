#!/usr/bin/env node
// Writes dist/index.mjs: an ES module facade over the CommonJS build, so `import { TaylorSeer } from
// 'taylorseer'` and `require('taylorseer')` share one module instance (and one native addon).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', 'dist');
const api = require(path.join(dist, 'index.js'));
const names = Object.keys(api).filter((k) => k !== 'default' && k !== '__esModule');
const body = [
  "import api from './index.js';",
  ...names.map((n) => `export const ${n} = api.${n};`),
  'export default api;',
  '',
].join('\n');
fs.writeFileSync(path.join(dist, 'index.mjs'), body);
