/**
 * Image-quality metrics of an accelerated result against the full-compute one, both [B, C, H, W] in the
 * model's [-1, 1] range. PSNR follows taylorseer-quality.json: clamp to [-1, 1], map to [0, 1], per
 * sample 10*log10(1/MSE), mean over samples.
 *
 * Video clips [B, C, F, H, W] (a shape with `frames`) are scored per clip: PSNR and SSIM of every frame,
 * averaged over the clip's frames, then over clips; compareImages adds a temporal metric, the relative L2
 * of the frame-to-frame changes (temporalPerSample).
 */
import { TaylorSeerError } from '../errors';

export interface ImageShape {
  batch: number;
  channels: number;
  /** frames per clip: the samples are video clips [B, C, F, H, W] (absent: images [B, C, H, W]) */
  frames?: number;
  height: number;
  width: number;
}

/** The shape of `batch` samples of a model ([B, C, H, W], or [B, C, F, H, W] when it has frames). */
export function sampleShape(model: { channels: number; imageSize: number; frames?: number }, batch: number): ImageShape {
  const { channels, imageSize, frames } = model;
  return { batch, channels, ...(frames !== undefined ? { frames } : {}), height: imageSize, width: imageSize };
}

function dimsText(shape: ImageShape): string {
  const { batch, channels, frames, height, width } = shape;
  return `[${[batch, channels, ...(frames !== undefined ? [frames] : []), height, width].join(', ')}]`;
}

function checkPair(a: Float32Array, b: Float32Array, shape: ImageShape): number {
  const { batch, channels, frames = 1, height, width } = shape;
  for (const [k, v] of Object.entries(shape)) {
    if (!Number.isInteger(v) || v < 1) throw new TaylorSeerError('ERR_SHAPE', `image shape ${k} must be a positive integer, found ${v}`);
  }
  const per = channels * frames * height * width;
  if (a.length !== batch * per || b.length !== batch * per) {
    throw new TaylorSeerError('ERR_LENGTH', `images have ${a.length} and ${b.length} elements, expected ${batch * per} for ${dimsText(shape)}`);
  }
  return per;
}

/**
 * The frames of clips [B, C, F, H, W] as a batch of images [B * F, C, H, W], clip b's frame f at index
 * b * F + f (a copy). Images (no `frames`) come back as they are. Errors: ERR_SHAPE, ERR_LENGTH.
 */
export function clipFrames(x: Float32Array, shape: ImageShape): { images: Float32Array; shape: ImageShape } {
  checkPair(x, x, shape);
  const { batch: B, channels: C, frames: F, height: H, width: W } = shape;
  if (F === undefined) return { images: x, shape };
  const plane = H * W;
  const out = new Float32Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let f = 0; f < F; f++) {
        const src = ((b * C + c) * F + f) * plane;
        out.set(x.subarray(src, src + plane), ((b * F + f) * C + c) * plane);
      }
    }
  }
  return { images: out, shape: { batch: B * F, channels: C, height: H, width: W } };
}

/** Per-frame values [B * F] -> the mean over each clip's F frames [B]. */
function perClip(values: number[], frames: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < values.length / frames; b++) {
    let acc = 0;
    for (let f = 0; f < frames; f++) acc += values[b * frames + f];
    out.push(acc / frames);
  }
  return out;
}

/** A per-image metric applied per frame and averaged over each clip's frames (images: as it is). */
function framewise(a: Float32Array, b: Float32Array, shape: ImageShape, metric: (a: Float32Array, b: Float32Array, shape: ImageShape) => number[]): number[] {
  checkPair(a, b, shape);
  if (shape.frames === undefined) return metric(a, b, shape);
  const fa = clipFrames(a, shape);
  return perClip(metric(fa.images, clipFrames(b, shape).images, fa.shape), shape.frames);
}

/** [-1, 1] -> [0, 1] after clamping. */
export function toUnit(v: number): number {
  const c = v < -1 ? -1 : v > 1 ? 1 : v;
  return (c + 1) / 2;
}

/** Per-sample MSE in [0, 1] units (after clamping). */
export function msePerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  const per = checkPair(a, b, shape);
  const out: number[] = [];
  for (let s = 0; s < shape.batch; s++) {
    let acc = 0;
    for (let i = s * per, e = i + per; i < e; i++) {
      const d = toUnit(a[i]) - toUnit(b[i]);
      acc += d * d;
    }
    out.push(acc / per);
  }
  return out;
}

/** Per-sample PSNR in dB (Infinity for identical samples); for clips, the mean of their frames' PSNR. */
export function psnrPerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  return framewise(a, b, shape, (x, y, s) => msePerSample(x, y, s).map((m) => (m === 0 ? Infinity : 10 * Math.log10(1 / m))));
}

/** Mean over samples of the per-sample PSNR (dB). */
export function psnr(a: Float32Array, b: Float32Array, shape: ImageShape): number {
  const p = psnrPerSample(a, b, shape);
  return p.reduce((x, y) => x + y, 0) / p.length;
}

/** ||a - b|| / ||b|| over the raw values (b is the reference). */
export function relL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new TaylorSeerError('ERR_LENGTH', `relL2 of ${a.length} vs ${b.length} elements`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const r = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
    sum += w[i];
  }
  for (let i = 0; i < size; i++) w[i] /= sum;
  return w;
}

/** Separable 'valid' filtering of an H x W plane with a 1-D window. */
function filterValid(src: Float64Array, h: number, w: number, win: Float64Array): Float64Array {
  const k = win.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += win[i] * src[y * w + x + i];
      tmp[y * ow + x] = acc;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += win[i] * tmp[(y + i) * ow + x];
      out[y * ow + x] = acc;
    }
  }
  return out;
}

/**
 * Per-sample SSIM (Wang et al. 2004): Gaussian window 11 x 11, sigma 1.5 (shrunk to the image for
 * images under 11 pixels), K1 = 0.01, K2 = 0.03, data range 1 on the [0, 1]-mapped images, valid
 * positions only, averaged over positions and channels; for clips, the mean over their frames.
 */
export function ssimPerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  return framewise(a, b, shape, ssimOfImages);
}

function ssimOfImages(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  const per = checkPair(a, b, shape);
  const { batch, channels, height: h, width: w } = shape;
  let size = Math.min(11, h, w);
  if (size % 2 === 0) size -= 1;
  const win = gaussianWindow(size, 1.5 * (size / 11));
  const C1 = 0.01 ** 2;
  const C2 = 0.03 ** 2;
  const plane = h * w;
  const pa = new Float64Array(plane);
  const pb = new Float64Array(plane);
  const paa = new Float64Array(plane);
  const pbb = new Float64Array(plane);
  const pab = new Float64Array(plane);
  const out: number[] = [];
  for (let s = 0; s < batch; s++) {
    let total = 0;
    let count = 0;
    for (let c = 0; c < channels; c++) {
      const off = s * per + c * plane;
      for (let i = 0; i < plane; i++) {
        const x = toUnit(a[off + i]);
        const y = toUnit(b[off + i]);
        pa[i] = x;
        pb[i] = y;
        paa[i] = x * x;
        pbb[i] = y * y;
        pab[i] = x * y;
      }
      const ma = filterValid(pa, h, w, win);
      const mb = filterValid(pb, h, w, win);
      const saa = filterValid(paa, h, w, win);
      const sbb = filterValid(pbb, h, w, win);
      const sab = filterValid(pab, h, w, win);
      for (let i = 0; i < ma.length; i++) {
        const mx = ma[i];
        const my = mb[i];
        const vx = saa[i] - mx * mx;
        const vy = sbb[i] - my * my;
        const cxy = sab[i] - mx * my;
        total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        count++;
      }
    }
    out.push(total / count);
  }
  return out;
}

/** Mean over samples of the per-sample SSIM. */
export function ssim(a: Float32Array, b: Float32Array, shape: ImageShape): number {
  const s = ssimPerSample(a, b, shape);
  return s.reduce((x, y) => x + y, 0) / s.length;
}

/**
 * Per-clip temporal error: ||dA - dB|| / ||dB||, where dX holds the clip's frame-to-frame changes
 * X[f + 1] - X[f] (all channels and pixels, [0, 1] units after clamping) and B is the reference. 0 when the
 * clips move alike (even if offset by a constant), large when the test clip flickers or lags; Infinity when
 * the reference is still and the test is not. Needs clips of 2 frames or more.
 */
export function temporalPerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  const per = checkPair(a, b, shape);
  const { batch: B, channels: C, frames: F, height: H, width: W } = shape;
  if (F === undefined || F < 2) {
    throw new TaylorSeerError('ERR_SHAPE', `the temporal metric needs clips of 2 frames or more, found ${F === undefined ? 'images' : `${F} frame`} (${dimsText(shape)})`);
  }
  const plane = H * W;
  const out: number[] = [];
  for (let s = 0; s < B; s++) {
    let num = 0;
    let den = 0;
    for (let c = 0; c < C; c++) {
      for (let f = 0; f + 1 < F; f++) {
        const o = s * per + (c * F + f) * plane;
        for (let i = o; i < o + plane; i++) {
          const da = toUnit(a[i + plane]) - toUnit(a[i]);
          const db = toUnit(b[i + plane]) - toUnit(b[i]);
          num += (da - db) ** 2;
          den += db * db;
        }
      }
    }
    out.push(den === 0 ? (num === 0 ? 0 : Infinity) : Math.sqrt(num / den));
  }
  return out;
}

export interface QualityReport {
  /** dB, mean over samples (Infinity when identical); clips: each clip's mean over its frames */
  psnr: number;
  ssim: number;
  relL2: number;
  psnrPerSample: number[];
  /** clips of 2 frames or more: the mean over clips of temporalPerSample */
  temporal?: number;
  temporalPerSample?: number[];
}

/** PSNR, SSIM and relative L2 of `test` against `reference`, and for clips the temporal metric. */
export function compareImages(test: Float32Array, reference: Float32Array, shape: ImageShape): QualityReport {
  const per = psnrPerSample(test, reference, shape);
  const temporal = shape.frames !== undefined && shape.frames >= 2 ? temporalPerSample(test, reference, shape) : undefined;
  return {
    psnr: per.reduce((x, y) => x + y, 0) / per.length,
    ssim: ssim(test, reference, shape),
    relL2: relL2(test, reference),
    psnrPerSample: per,
    ...(temporal ? { temporal: temporal.reduce((x, y) => x + y, 0) / temporal.length, temporalPerSample: temporal } : {}),
  };
}
