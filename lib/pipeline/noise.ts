/**
 * Float32 little-endian tensor files (`.f32`, row-major, no header) and seeded Gaussian noise.
 */
import * as path from 'node:path';
import { TaylorSeerError } from '../errors';
import { prepareOutputDir, readRegularFile, writeFileAtomic } from '../files';

/** The largest .f32 file read when the caller does not say how many values to expect (1 GiB). */
export const MAX_F32_FILE_BYTES = 2 ** 30;

/** float32 little-endian bytes as a Float32Array (a copy). */
export function f32FromBytes(buf: Uint8Array): Float32Array {
  const out = new Float32Array(buf.byteLength / 4);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * Reads a raw float32 little-endian file. `expected` (elements) is checked against the file's size before
 * anything is read; only regular files are read (lib/files.ts), at most MAX_F32_FILE_BYTES without `expected`.
 */
export function readF32(file: string, expected?: number): Float32Array {
  const buf = readRegularFile(file, {
    maxBytes: expected === undefined ? MAX_F32_FILE_BYTES : expected * 4,
    what: expected === undefined ? 'float32 values' : `${expected} float32 values`,
    checkSize: (bytes) => {
      if (bytes % 4 !== 0) throw new TaylorSeerError('ERR_LENGTH', `${file} has ${bytes} bytes, not a whole number of float32 values`);
      if (expected !== undefined && bytes !== expected * 4) {
        throw new TaylorSeerError('ERR_LENGTH', `${file} holds ${bytes / 4} float32 values, expected ${expected}`);
      }
    },
  });
  return f32FromBytes(buf);
}

/** float32 values as little-endian bytes. */
export function f32ToBytes(data: Float32Array): Buffer {
  const buf = Buffer.allocUnsafe(data.length * 4);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], i * 4);
  return buf;
}

/** Writes a raw float32 little-endian file (creating its directory; never a partial file). */
export function writeF32(file: string, data: Float32Array): void {
  prepareOutputDir(path.dirname(path.resolve(file)));
  writeFileAtomic(file, f32ToBytes(data));
}

/** splitmix64-seeded xoshiro128** generator: uniform 32-bit integers, deterministic across platforms. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `seed must be a non-negative safe integer, found ${seed}`);
    }
    let x = BigInt(seed);
    const mask = (1n << 64n) - 1n;
    const next = () => {
      x = (x + 0x9e3779b97f4a7c15n) & mask;
      let z = x;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
      return z ^ (z >> 31n);
    };
    const a = next();
    const b = next();
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform in (0, 1), 53 bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const th = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * n standard-normal float32 values from `seed` (same seed, same values on every platform). Not the
 * sequence of torch.randn: use a `.f32` noise file to reproduce a PyTorch run.
 */
export function gaussianNoise(n: number, seed: number): Float32Array {
  if (!Number.isInteger(n) || n < 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `noise length must be a non-negative integer, found ${n}`);
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}
