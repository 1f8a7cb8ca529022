/**
 * PNG output of generated samples ([B, C, H, W] float32 in [-1, 1]) as grids, with pngjs. Video clips
 * ([B, C, F, H, W]) are drawn as frame strips (a clip's frames left to right in its cell), or one frame of
 * every clip at a time for an animation, which encodeApng writes as an animated PNG with @pdf-lib/upng.
 */
import * as path from 'node:path';
import type * as Pngjs from 'pngjs';
import type * as Upng from '@pdf-lib/upng';
import { TaylorSeerError } from '../errors';
import { prepareOutputDir, writeFileAtomic } from '../files';
import { requireOptional } from '../optional';
import type { ImageShape } from './metrics';

export interface GridOptions {
  /** integer nearest-neighbour upscaling of every sample (default 3) */
  scale?: number;
  /** pixels between cells (default 2) and around the grid */
  padding?: number;
  /** extra pixels between rows, e.g. to separate compared runs (default 0) */
  rowGap?: number;
  /** RGB of the padding (default dark grey) */
  background?: [number, number, number];
  /** clips: pixels between the frames of a strip (default 1) */
  frameGap?: number;
  /** clips: draw only this frame of every clip (an animation frame) instead of the strips */
  frame?: number;
}

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes */
  data: Buffer;
}

function byte(v: number): number {
  const c = v < -1 ? -1 : v > 1 ? 1 : v;
  return Math.round(((c + 1) / 2) * 255);
}

/**
 * Lays out rows of samples: `rows[r]` holds the samples of row r ([n_r, C, H, W], n_r <= columns of the
 * widest row; clips [n_r, C, F, H, W] when the shape has frames). 1 channel is grey, 3 channels RGB, more
 * channels show the first three.
 */
export function renderRows(rows: Float32Array[], shape: Omit<ImageShape, 'batch'>, options: GridOptions = {}): RgbaImage {
  const { scale = 3, padding = 2, rowGap = 0, background = [40, 40, 40], frameGap = 1, frame } = options;
  const { channels: C, height: H, width: W } = shape;
  const F = shape.frames ?? 1;
  if (!Number.isInteger(scale) || scale < 1) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `scale must be a positive integer, found ${scale}`);
  if (!Number.isInteger(padding) || padding < 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `padding must be a non-negative integer, found ${padding}`);
  if (!Number.isInteger(frameGap) || frameGap < 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `frameGap must be a non-negative integer, found ${frameGap}`);
  if (frame !== undefined && (!Number.isInteger(frame) || frame < 0 || frame >= F)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `frame must be an integer in 0..${F - 1}, found ${frame}`);
  }
  const per = C * F * H * W;
  const counts = rows.map((r, i) => {
    if (r.length % per !== 0) {
      throw new TaylorSeerError('ERR_LENGTH', `row ${i} has ${r.length} values, not a multiple of one [${shape.frames !== undefined ? `${C}, ${F}` : C}, ${H}, ${W}] sample`);
    }
    return r.length / per;
  });
  const cols = Math.max(1, ...counts);
  // the frames a cell shows, left to right: a strip of all of them, or the one of an animation frame
  const shown = frame !== undefined ? [frame] : Array.from({ length: F }, (_, f) => f);
  const fw = W * scale;
  const cw = shown.length * fw + (shown.length - 1) * frameGap;
  const ch = H * scale;
  const width = padding + cols * (cw + padding);
  const height = padding + rows.length * (ch + padding) + Math.max(0, rows.length - 1) * rowGap;
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = background[0];
    data[i * 4 + 1] = background[1];
    data[i * 4 + 2] = background[2];
    data[i * 4 + 3] = 255;
  }
  const plane = H * W;
  rows.forEach((row, r) => {
    const y0 = padding + r * (ch + padding + rowGap);
    for (let n = 0; n < counts[r]; n++) {
      shown.forEach((f, k) => {
        const x0 = padding + n * (cw + padding) + k * (fw + frameGap);
        // channel c of frame f: [C, F, H, W] for clips, [C, H, W] (F = 1) for images
        const base = n * per + f * plane;
        const step = F * plane;
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const idx = y * W + x;
            const rv = byte(row[base + idx]);
            const gv = C >= 3 ? byte(row[base + step + idx]) : rv;
            const bv = C >= 3 ? byte(row[base + 2 * step + idx]) : rv;
            for (let dy = 0; dy < scale; dy++) {
              let o = ((y0 + y * scale + dy) * width + x0 + x * scale) * 4;
              for (let dx = 0; dx < scale; dx++, o += 4) {
                data[o] = rv;
                data[o + 1] = gv;
                data[o + 2] = bv;
              }
            }
          }
        }
      });
    }
  });
  return { width, height, data };
}

/** One batch as a grid of `columns` samples per row. */
export function renderGrid(images: Float32Array, shape: ImageShape, columns = shape.batch, options?: GridOptions): RgbaImage {
  const per = shape.channels * (shape.frames ?? 1) * shape.height * shape.width;
  if (images.length !== shape.batch * per) {
    throw new TaylorSeerError('ERR_LENGTH', `images have ${images.length} values, expected ${shape.batch * per}`);
  }
  if (!Number.isInteger(columns) || columns < 1) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `columns must be a positive integer, found ${columns}`);
  const rows: Float32Array[] = [];
  for (let s = 0; s < shape.batch; s += columns) rows.push(images.subarray(s * per, Math.min(shape.batch, s + columns) * per));
  return renderRows(rows, shape, options);
}

export function encodePng(image: RgbaImage): Buffer {
  const { PNG } = requireOptional<typeof Pngjs>('pngjs', 'writing a PNG');
  const png = new PNG({ width: image.width, height: image.height });
  image.data.copy(png.data);
  return PNG.sync.write(png);
}

/**
 * An animated PNG of equally sized frames, each shown `delayMs` (looping forever), lossless: browsers and
 * image viewers play it, and a viewer without APNG support shows the first frame.
 */
export function encodeApng(frames: readonly RgbaImage[], delayMs: number): Buffer {
  if (!Array.isArray(frames) || frames.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'an animation needs at least one frame');
  if (!Number.isInteger(delayMs) || delayMs < 1 || delayMs > 60_000) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `delayMs must be an integer in 1..60000, found ${delayMs}`);
  }
  const { width, height } = frames[0];
  frames.forEach((f, i) => {
    if (f.width !== width || f.height !== height || f.data.length !== width * height * 4) {
      throw new TaylorSeerError('ERR_SHAPE', `animation frame ${i} is ${f.width}x${f.height} (${f.data.length} bytes), expected ${width}x${height} like frame 0`);
    }
  });
  // its CommonJS build exports the API as `default`
  const mod = requireOptional<typeof Upng & { default?: typeof Upng }>('@pdf-lib/upng', 'writing an animated PNG');
  const UPNG = mod.default ?? mod;
  const buffers = frames.map((f) => f.data.buffer.slice(f.data.byteOffset, f.data.byteOffset + f.data.length) as ArrayBuffer);
  // cnum 0: lossless, every colour kept
  return Buffer.from(UPNG.encode(buffers, width, height, 0, frames.map(() => delayMs)));
}

/** Writes an RGBA image as PNG (creating the directory; never a partial file). */
export function writePng(file: string, image: RgbaImage): void {
  const buf = encodePng(image);
  prepareOutputDir(path.dirname(path.resolve(file)));
  writeFileAtomic(file, buf);
}

/** Writes a batch of samples as a PNG grid. */
export function writeImageGrid(file: string, images: Float32Array, shape: ImageShape, columns?: number, options?: GridOptions): void {
  writePng(file, renderGrid(images, shape, columns, options));
}
