/**
 * Video clips on the command line and in the image writer: `demo` writes frame strips and animated PNGs that
 * decode back to the clips' frames, `eval` reports per-clip PSNR/SSIM and the temporal metric.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as UPNGModule from '@pdf-lib/upng';
import { PNG } from 'pngjs';
import { encodeApng, renderRows, type RgbaImage } from '../../lib/pipeline/image';
import { cli } from '../helpers/cli-run';
import { ROOT } from './helpers';

const UPNG = ((UPNGModule as unknown as { default?: typeof UPNGModule }).default ?? UPNGModule) as typeof UPNGModule;
const DIR = path.join(ROOT, 'fixtures/wan-clips');
const NOISE = path.join(DIR, 'reference/noise.f32');

/** decoded APNG: its frames as RGBA bytes */
function decodeApng(bytes: Buffer): { width: number; height: number; frames: Uint8Array[]; delays: number[] } {
  const img = UPNG.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
  return { width: img.width, height: img.height, frames: UPNG.toRGBA8(img).map((f) => new Uint8Array(f)), delays: img.frames.map((f) => f.delay) };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-video-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('encodeApng', () => {
  // two clips of 3 frames, 1 channel 2 x 2: pixel value = frame index spread over [-1, 1]
  const shape = { channels: 1, frames: 3, height: 2, width: 2 };
  const clips = Float32Array.from({ length: 2 * 3 * 4 }, (_, k) => -1 + Math.floor((k % 12) / 4));

  it('writes one animation frame per clip frame; they decode to exactly what was rendered', () => {
    const frames = [0, 1, 2].map((f) => renderRows([clips], shape, { scale: 2, frame: f }));
    const apng = encodeApng(frames, 200);
    const d = decodeApng(apng);
    expect(d.frames).toHaveLength(3);
    expect([d.width, d.height]).toEqual([frames[0].width, frames[0].height]);
    d.frames.forEach((f, i) => expect(Buffer.from(f).equals(frames[i].data)).toBe(true));
    expect(d.delays).toEqual([200, 200, 200]);
  });

  it('a frame strip shows every frame of a clip left to right', () => {
    const strip = renderRows([clips], shape, { scale: 1, padding: 0, frameGap: 0 });
    expect([strip.width, strip.height]).toEqual([2 * 3 * 2, 2]);
    // row 0 of clip 0: frame 0 black (-1), frame 1 mid grey (0), frame 2 white (1)
    const red = (x: number) => strip.data[x * 4];
    expect([red(0), red(2), red(4)]).toEqual([0, 128, 255]);
  });

  it('refuses no frames, frames of different sizes and bad delays', () => {
    const a: RgbaImage = { width: 1, height: 1, data: Buffer.alloc(4) };
    const b: RgbaImage = { width: 2, height: 1, data: Buffer.alloc(8) };
    expect(() => encodeApng([], 100)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => encodeApng([a, b], 100)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => encodeApng([a], 0)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => renderRows([clips], shape, { frame: 3 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
  });
});

describe('demo and eval on the video model', () => {
  it('demo writes frame-strip PNGs and animated PNGs (full above accelerated) that decode, and a temporal column', async () => {
    const out = path.join(tmp, 'demo');
    const r = await cli(['demo', '--model', DIR, '--steps', '4', '--guidance', '4', '--cfg', 'separate', '--out', out, '--threads', '1', '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PSNR dB +SSIM +temporal +cache/);
    expect(r.stdout).toMatch(/module-n5-o2\.anim\.png +top: full compute, bottom: TaylorSeer N=5 O=2/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
      cfg: string;
      frames: number;
      rows: Array<{ id: string; temporal: number | null; animation: string | null; png: string }>;
    };
    expect(summary).toMatchObject({ cfg: 'separate', frames: 4 });
    expect(summary.rows[0]).toMatchObject({ id: 'full', temporal: null });
    for (const row of summary.rows.slice(1)) expect(row.temporal).toBeGreaterThanOrEqual(0);

    const full = decodeApng(fs.readFileSync(summary.rows[0].animation!));
    const cmp = decodeApng(fs.readFileSync(summary.rows[1].animation!));
    expect(full.frames).toHaveLength(4);
    expect(cmp.frames).toHaveLength(4);
    // the comparison holds two rows of clips: full compute's row is the top of it
    expect(cmp.width).toBe(full.width);
    expect(cmp.height).toBeGreaterThan(full.height);
    const topRows = full.height * full.width * 4 - 4 * 4 * full.width; // all but the bottom padding
    expect(Buffer.from(cmp.frames[2].subarray(0, topRows)).equals(Buffer.from(full.frames[2].subarray(0, topRows)))).toBe(true);
    // the clips change from frame to frame
    expect(Buffer.from(full.frames[0]).equals(Buffer.from(full.frames[3]))).toBe(false);

    const strip = PNG.sync.read(fs.readFileSync(summary.rows[0].png));
    expect(strip.width).toBeGreaterThan(4 * 16 * 3 * 5);
  });

  it('eval reports per-clip PSNR/SSIM, the temporal metric and the frames', async () => {
    const args = ['eval', '--model', DIR, '--steps', '10', '--guidance', '4', '--cfg', 'separate', '--labels', '1,3', '--noise', NOISE];
    const r = await cli([...args, '--schedule', 'fixed', '--interval', '5', '--warmup', '1', '--order', '1', '--repeat', '1', '--threads', '1', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ frames: 4, cfg: 'separate', cacheEntries: 24 });
    expect((j.psnrPerSample as number[]).length).toBe(2);
    expect((j.temporalPerSample as number[]).length).toBe(2);
    expect(j.temporal as number).toBeGreaterThan(0);
  });
});
