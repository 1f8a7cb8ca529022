#!/usr/bin/env node
// `strip` (end of prepack): takes the repository-only `prepare` script out of package.json before npm packs
// it; `restore` (postpack) puts the file back. In a clone, prepare builds the addon and dist/ after
// `npm install`; in the tarball it has nothing to do, but npm 11 lists it as an unreviewed install script
// whenever the tarball is installed from a file, a URL or git. The same approach as pinst (husky's
// postinstall). A leftover backup from an interrupted pack is restored first, so the file is never lost.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.resolve(__dirname, '..', 'package.json');
const backup = `${file}.prepack`;
const mode = process.argv[2];

function restore() {
  if (fs.existsSync(backup)) fs.renameSync(backup, file);
}

if (mode === 'restore') {
  restore();
} else if (mode === 'strip') {
  restore();
  const text = fs.readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  delete pkg.scripts.prepare;
  fs.writeFileSync(backup, text);
  fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
} else {
  console.error('usage: node scripts/pack-manifest.js strip|restore');
  process.exit(2);
}
