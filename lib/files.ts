/**
 * Files a user names. Reads are bounded by what is expected: only regular files are read (a FIFO, a device
 * such as /dev/zero or a /proc file has no size to check and could block or grow without end), their size is
 * checked from fstat before anything is read, and exactly that many bytes are read. Output paths are checked
 * (and their directories made) before any work starts, and writes go to a temporary file in the same
 * directory that is renamed into place, so a failed write never leaves a partial file. Every failure is one
 * ERR_IO error that names the path and what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from './errors';

const ADVICE: Record<string, string> = {
  ENOENT: 'no such file or directory: check the path',
  EACCES: 'permission denied: check its permissions or choose another path',
  EPERM: 'operation not permitted: choose another path',
  ENOTDIR: 'a part of the path is a file, not a directory: choose another path',
  EISDIR: 'it is a directory: name a file',
  ENOSPC: 'the disk is full: free some space or choose another path',
  EDQUOT: 'the disk quota is exceeded: free some space or choose another path',
  EROFS: 'the file system is read-only: choose another path',
  EEXIST: 'it already exists and is not a directory: choose another path',
  EMFILE: 'too many open files: close other programs or raise the limit',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links in the path',
};

/** The ERR_IO error for a failed file operation: the path, the system's code and what to do. */
export function ioError(e: unknown, action: string, file: string): TaylorSeerError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why = code ? `${code}, ${ADVICE[code] ?? (e as Error).message}` : (e as Error)?.message ?? String(e);
  return new TaylorSeerError('ERR_IO', `cannot ${action} ${file} (${why})`);
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return st.isFile() ? 'a regular file' : 'another kind of file';
}

export interface ReadOptions {
  /** the most bytes accepted; larger files are refused before they are read */
  maxBytes: number;
  /** what the file should hold, for messages (e.g. "initial noise of [2, 3, 32, 32] float32 values") */
  what?: string;
  /** called with the file's size before it is read; throws to refuse it */
  checkSize?: (bytes: number) => void;
}

/**
 * Reads a regular file whose size fstat reports, after checking that size: never waits on a FIFO, never
 * reads a device, never reads more than `maxBytes`.
 */
export function readRegularFile(file: string, options: ReadOptions): Buffer {
  const what = options.what ? ` (expected ${options.what})` : '';
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw ioError(e, 'read', file);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new TaylorSeerError('ERR_IO', `cannot read ${file}: it is ${kindOf(st)}, not a regular file${what}`);
    options.checkSize?.(st.size);
    if (st.size > options.maxBytes) {
      throw new TaylorSeerError('ERR_IO', `cannot read ${file}: it has ${st.size} bytes, more than the ${options.maxBytes} accepted${what}`);
    }
    const buf = Buffer.allocUnsafe(st.size);
    let off = 0;
    while (off < st.size) {
      const n = fs.readSync(fd, buf, off, st.size - off, off);
      if (n === 0) throw new TaylorSeerError('ERR_IO', `cannot read ${file}: it shrank from ${st.size} to ${off} bytes while being read`);
      off += n;
    }
    return buf;
  } catch (e) {
    throw e instanceof TaylorSeerError ? e : ioError(e, 'read', file);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes sure `dir` is a writable directory, creating it and its missing parents one level at a time (a
 * recursive mkdir under /proc never returns on some Node versions). Call it before the work whose results
 * go there. Returns the absolute path.
 */
export function prepareOutputDir(dir: string, flag = 'out'): string {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && path.dirname(p) !== p) {
        missing.unshift(p);
        continue;
      }
      throw ioError(e, `use --${flag}`, abs);
    }
    if (!st.isDirectory()) throw new TaylorSeerError('ERR_IO', `cannot use --${flag} ${abs}: ${p} is ${kindOf(st)}, not a directory (choose another path)`);
    break;
  }
  for (const m of missing) {
    try {
      fs.mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, `create the --${flag} directory`, m);
    }
  }
  // A directory can exist and still refuse files (permissions, a read-only mount, /proc): try one.
  const probe = path.join(abs, `.taylorseer-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
    fs.unlinkSync(probe);
  } catch (e) {
    throw ioError(e, `write files into the --${flag} directory`, abs);
  }
  return abs;
}

/** Checks before any work that `file` can be written (its directory made if missing). Returns the absolute path. */
export function prepareOutputFile(file: string, flag = 'out'): string {
  const abs = path.resolve(file);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, `use --${flag}`, abs);
  }
  if (st && !st.isFile()) throw new TaylorSeerError('ERR_IO', `cannot use --${flag} ${abs}: it is ${kindOf(st)}, not a file (name a file)`);
  prepareOutputDir(path.dirname(abs), flag);
  if (st) {
    try {
      fs.accessSync(abs, fs.constants.W_OK);
    } catch (e) {
      throw ioError(e, `overwrite --${flag}`, abs);
    }
  }
  return abs;
}

/**
 * Writes `data` to `file` through a temporary file in the same directory and a rename: readers see the old
 * file or the complete new one, and a failure (a full disk) leaves no partial file behind.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, abs);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw ioError(e, 'write', abs);
  }
}
