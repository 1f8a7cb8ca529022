/**
 * Float32 little-endian tensor files (`.f32`, row-major, no header) and seeded Gaussian noise.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TaylorSeerError } from '../errors';

/** Reads a raw float32 little-endian file. `expected` (elements) is checked when given. */
export function readF32(file: string, expected?: number): Float32Array {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new TaylorSeerError('ERR_IO', `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (buf.byteLength % 4 !== 0) {
    throw new TaylorSeerError('ERR_LENGTH', `${file} has ${buf.byteLength} bytes, not a whole number of float32 values`);
  }
  const n = buf.byteLength / 4;
  if (expected !== undefined && n !== expected) {
    throw new TaylorSeerError('ERR_LENGTH', `${file} holds ${n} float32 values, expected ${expected}`);
  }
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** Writes a raw float32 little-endian file (creating its directory). */
export function writeF32(file: string, data: Float32Array): void {
  const buf = Buffer.allocUnsafe(data.length * 4);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], i * 4);
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, buf);
  } catch (e) {
    throw new TaylorSeerError('ERR_IO', `cannot write ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
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
