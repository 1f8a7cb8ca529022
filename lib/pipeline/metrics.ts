/**
 * Image-quality metrics of an accelerated result against the full-compute one, both [B, C, H, W] in the
 * model's [-1, 1] range. PSNR follows taylorseer-quality.json: clamp to [-1, 1], map to [0, 1], per
 * sample 10*log10(1/MSE), mean over samples.
 */
import { TaylorSeerError } from '../errors';

export interface ImageShape {
  batch: number;
  channels: number;
  height: number;
  width: number;
}

function checkPair(a: Float32Array, b: Float32Array, shape: ImageShape): number {
  const { batch, channels, height, width } = shape;
  for (const [k, v] of Object.entries(shape)) {
    if (!Number.isInteger(v) || v < 1) throw new TaylorSeerError('ERR_SHAPE', `image shape ${k} must be a positive integer, found ${v}`);
  }
  const per = channels * height * width;
  if (a.length !== batch * per || b.length !== batch * per) {
    throw new TaylorSeerError(
      'ERR_LENGTH',
      `images have ${a.length} and ${b.length} elements, expected ${batch * per} for [${batch}, ${channels}, ${height}, ${width}]`,
    );
  }
  return per;
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

/** Per-sample PSNR in dB (Infinity for identical samples). */
export function psnrPerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
  return msePerSample(a, b, shape).map((m) => (m === 0 ? Infinity : 10 * Math.log10(1 / m)));
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
 * positions only, averaged over positions and channels.
 */
export function ssimPerSample(a: Float32Array, b: Float32Array, shape: ImageShape): number[] {
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

export interface QualityReport {
  /** dB, mean over samples (Infinity when identical) */
  psnr: number;
  ssim: number;
  relL2: number;
  psnrPerSample: number[];
}

/** PSNR, SSIM and relative L2 of `test` against `reference`. */
export function compareImages(test: Float32Array, reference: Float32Array, shape: ImageShape): QualityReport {
  const per = psnrPerSample(test, reference, shape);
  return {
    psnr: per.reduce((x, y) => x + y, 0) / per.length,
    ssim: ssim(test, reference, shape),
    relL2: relL2(test, reference),
    psnrPerSample: per,
  };
}
