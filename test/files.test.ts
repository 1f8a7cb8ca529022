/**
 * Files a user names (lib/files.ts, and readF32 / writeF32 on top): only regular files are read, their size
 * is checked before a byte is read, output paths fail fast with ERR_IO naming the path, and a failed write
 * leaves no partial file.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { taylorSeerErrorOf } from './helpers/code-of';
import { prepareOutputDir, prepareOutputFile, readRegularFile, writeFileAtomic } from '../lib/files';
import { readF32, writeF32 } from '../lib/pipeline/noise';
import { tempDirOfFile } from './helpers/temp-dir';

const tmp = tempDirOfFile('taylorseer-files-');

describe('bounded reads', () => {
  it.runIf(process.platform !== 'win32')('refuses a FIFO at once instead of waiting for a writer', () => {
    const fifo = path.join(tmp(), 'noise.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    const e = taylorSeerErrorOf(() => readF32(fifo, 16));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/FIFO/);
    expect(e.message).toContain(fifo);
  });

  it.runIf(fs.existsSync('/dev/zero'))('refuses a device such as /dev/zero (no size, endless data)', () => {
    const e = taylorSeerErrorOf(() => readF32('/dev/zero'));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/\/dev\/zero: it is a device, not a regular file/);
  });

  it('checks the size from fstat before reading: a huge sparse file is refused without being read', () => {
    const big = path.join(tmp(), 'big.f32');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 2 ** 33); // 8 GiB, sparse: reading it would take seconds and gigabytes
    const seen: number[] = [];
    const t0 = Date.now();
    const e = taylorSeerErrorOf(() => readRegularFile(big, { maxBytes: 1 << 20, checkSize: (n) => void seen.push(n) }));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(seen).toEqual([2 ** 33]);
    expect(e.message).toMatch(/more than the 1048576 accepted/);
    expect(taylorSeerErrorOf(() => readF32(big, 1024)).code).toBe('ERR_LENGTH');
    expect(taylorSeerErrorOf(() => readF32(big)).message).toMatch(/more than the \d+ accepted/);
  });

  it('reads exactly the file a regular path names', () => {
    const f = path.join(tmp(), 'ok.f32');
    writeF32(f, Float32Array.from([1, -2.5, 3e-8]));
    expect([...readF32(f, 3)]).toEqual([...Float32Array.from([1, -2.5, 3e-8])]);
    expect(taylorSeerErrorOf(() => readF32(path.join(tmp(), 'missing.f32'))).message).toMatch(/cannot read .*missing\.f32 \(ENOENT, no such file or directory/);
  });
});

describe('output paths', () => {
  it.runIf(fs.existsSync('/proc/self'))('a directory under /proc fails at once (a recursive mkdir there never returns)', () => {
    const t0 = Date.now();
    const e = taylorSeerErrorOf(() => prepareOutputDir('/proc/taylorseer/out'));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/\/proc\/taylorseer/);
  });

  it('a file in the way of a directory is ERR_IO naming it', () => {
    const file = path.join(tmp(), 'plain');
    fs.writeFileSync(file, 'x');
    const e = taylorSeerErrorOf(() => prepareOutputDir(path.join(file, 'sub')));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/not a directory/);
    // the file itself named as the directory: said as it is
    expect(taylorSeerErrorOf(() => prepareOutputDir(file)).message).toMatch(/plain is a regular file, not a directory/);
    expect(taylorSeerErrorOf(() => prepareOutputFile(path.join(file, 'sub', 'x.f32'))).code).toBe('ERR_IO');
    expect(taylorSeerErrorOf(() => prepareOutputFile(tmp())).message).toMatch(/it is a directory, not a file/);
  });

  it('missing directories are made, one level at a time', () => {
    const deep = path.join(tmp(), 'a', 'b', 'c');
    expect(prepareOutputDir(deep)).toBe(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    expect(fs.readdirSync(deep)).toEqual([]); // the write probe is gone
  });
});

describe('atomic writes', () => {
  it('a failed write leaves neither a partial file nor a temporary one, and keeps what was there', () => {
    const dir = path.join(tmp(), 'atomic');
    fs.mkdirSync(dir);
    const target = path.join(dir, 'out.png');
    fs.mkdirSync(target); // renaming a file over a directory fails after the data is written
    const e = taylorSeerErrorOf(() => writeFileAtomic(target, Buffer.alloc(4096, 1)));
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(target);
    expect(fs.readdirSync(dir)).toEqual(['out.png']);
    expect(fs.statSync(target).isDirectory()).toBe(true);
  });

  it('replaces a file whole', () => {
    const f = path.join(tmp(), 'whole.json');
    writeFileAtomic(f, 'old');
    writeFileAtomic(f, 'new contents');
    expect(fs.readFileSync(f, 'utf8')).toBe('new contents');
    expect(fs.readdirSync(tmp()).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
