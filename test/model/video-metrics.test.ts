/**
 * Quality of video clips [B, C, F, H, W]: PSNR and SSIM per clip are the means over its frames, and the
 * temporal metric compares the frame-to-frame changes of a clip with those of the reference.
 */
import { describe, expect, it } from 'vitest';
import { clipFrames, compareImages, psnrPerSample, ssimPerSample, temporalPerSample, type ImageShape } from '../../lib/pipeline/metrics';

const SHAPE: ImageShape = { batch: 2, channels: 3, frames: 4, height: 8, width: 8 };
const PLANE = 64;
const N = 2 * 3 * 4 * PLANE;

/** value of clip b, channel c, frame f, pixel i in [B, C, F, H, W] order */
function clip(fn: (b: number, c: number, f: number, i: number) => number, shape: ImageShape = SHAPE): Float32Array {
  const { batch: B, channels: C, frames: F = 1, height: H, width: W } = shape;
  const out = new Float32Array(B * C * F * H * W);
  let k = 0;
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) for (let i = 0; i < H * W; i++) out[k++] = fn(b, c, f, i);
  return out;
}

/** a bright 2 x 3 block moving one pixel right each frame, on a dark background (inside the frame throughout) */
const moving = (shift = 0) => clip((b, c, f, i) => {
  const x = i % 8;
  const y = Math.floor(i / 8);
  const left = f + shift + b;
  return x >= left && x < left + 2 && y >= 2 && y < 5 ? 0.8 : -0.6;
});

describe('clipFrames', () => {
  it('reorders [B, C, F, H, W] into a batch of frames [B * F, C, H, W], clip b frame f at b * F + f', () => {
    const x = clip((b, c, f, i) => b * 1000 + c * 100 + f * 10 + (i % 10));
    const { images, shape } = clipFrames(x, SHAPE);
    expect(shape).toEqual({ batch: 8, channels: 3, height: 8, width: 8 });
    // frame (b = 1, f = 2), channel 1, pixel 3
    expect(images[((1 * 4 + 2) * 3 + 1) * PLANE + 3]).toBe(1000 + 100 + 20 + 3);
  });

  it('refuses values that are not one [B, C, F, H, W] batch (ERR_LENGTH)', () => {
    expect(() => clipFrames(new Float32Array(5), SHAPE)).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
  });
});

describe('per-clip PSNR and SSIM', () => {
  it("a clip's PSNR is the mean of its frames' PSNR, not the PSNR of its pooled error", () => {
    const ref = new Float32Array(N).fill(0);
    // clip 0: error 0.2 (in [-1, 1] units, 0.1 in [0, 1]) on frame 0 only; clip 1: error 0.2 on every frame
    const test = clip((b, c, f) => (b === 1 || f === 0 ? 0.2 : 0));
    const p = psnrPerSample(test, ref, SHAPE);
    const framePsnr = 10 * Math.log10(1 / 0.01); // 20 dB
    expect(p[1]).toBeCloseTo(framePsnr, 6);
    // three identical frames are Infinity, so the mean over frames is too
    expect(p[0]).toBe(Infinity);
  });

  it('identical clips: SSIM 1; a frame-wise shifted clip scores lower than a still copy', () => {
    const a = moving();
    expect(ssimPerSample(a, a, SHAPE)).toEqual([1, 1]);
    const s = ssimPerSample(moving(1), a, SHAPE);
    for (const v of s) expect(v).toBeLessThan(0.9);
  });
});

describe('temporal metric', () => {
  it('is 0 for a clip moving exactly as the reference, even offset by a constant brightness', () => {
    const a = moving();
    const brighter = a.map((v) => v + 0.1);
    expect(temporalPerSample(brighter, a, SHAPE)).toEqual([0, 0]);
  });

  it('is 1 for a frozen clip (no change where the reference moves), and about 1.4 for the same motion one frame late', () => {
    const a = moving();
    const frozen = clip((b, c, f, i) => a[((b * 3 + c) * 4 + 0) * PLANE + i]);
    const t = temporalPerSample(frozen, a, SHAPE);
    for (const v of t) expect(v).toBeCloseTo(1, 12);
    // shifted by one pixel: every change happens at other pixels, ||dA - dB|| = sqrt(2) ||dB||
    const late = temporalPerSample(moving(1), a, SHAPE);
    for (const v of late) expect(v).toBeCloseTo(Math.SQRT2, 12);
  });

  it('is Infinity when the reference is still and the clip is not', () => {
    const still = new Float32Array(N).fill(0.5);
    expect(temporalPerSample(moving(), still, SHAPE)).toEqual([Infinity, Infinity]);
  });

  it('compareImages reports it for clips and leaves it out for images', () => {
    const a = moving();
    const q = compareImages(moving(1), a, SHAPE);
    expect(q.temporalPerSample).toHaveLength(2);
    expect(q.temporal).toBeCloseTo(Math.SQRT2, 12);
    expect(q.psnrPerSample).toEqual(psnrPerSample(moving(1), a, SHAPE));
    const img: ImageShape = { batch: 8, channels: 3, height: 8, width: 8 };
    const qi = compareImages(a, a, img);
    expect(qi.temporal).toBeUndefined();
  });

  it('refuses images and one-frame clips (ERR_SHAPE), and mismatched lengths (ERR_LENGTH)', () => {
    const a = moving();
    expect(() => temporalPerSample(a, a, { batch: 8, channels: 3, height: 8, width: 8 })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => temporalPerSample(a, a, { batch: 8, channels: 3, frames: 1, height: 8, width: 8 })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => temporalPerSample(a.subarray(1), a, SHAPE)).toThrow(expect.objectContaining({ code: 'ERR_LENGTH' }));
    expect(() => psnrPerSample(a, a, { ...SHAPE, frames: 0 })).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
  });
});
