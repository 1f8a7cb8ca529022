/**
 * A figure of image rows, each under a title line, with a heading: so that a picture shared on its own still
 * says what it shows. The rows are PNGs already (pixel grids); the titles are set in the bundled font.
 */
import { TaylorSeerError } from '../errors';
import { escapeXml } from './chart';
import { measureText, renderSvgToPng } from './render';

export interface TitledRow {
  title: string;
  /** PNG bytes and their size in pixels */
  png: Uint8Array;
  width: number;
  height: number;
}

/** Pixel layout of a titled figure (exported so that callers and tests agree on it). */
export const TITLED_LAYOUT = { margin: 6, headingHeight: 24, titleHeight: 20, rowGap: 6, fontSize: 13, headingSize: 15 } as const;

/** The figure's size in pixels: the widest row or text, and the rows' heights with their titles. */
export function titledImagesSize(rows: ReadonlyArray<{ width: number; height: number; title?: string }>, heading?: string): { width: number; height: number } {
  const L = TITLED_LAYOUT;
  const texts = [
    ...rows.map((r) => (r.title ? Math.ceil(measureText(r.title, L.fontSize, false)) : 0)),
    heading ? Math.ceil(measureText(heading, L.headingSize, true)) : 0,
  ];
  const width = 2 * L.margin + Math.max(0, ...rows.map((r) => r.width), ...texts);
  const height = 2 * L.margin + L.headingHeight + rows.reduce((h, r) => h + L.titleHeight + r.height, 0) + Math.max(0, rows.length - 1) * L.rowGap;
  return { width, height };
}

/** The figure as SVG markup (rows embedded as PNG data, drawn at 1:1 without smoothing). */
export function titledImagesSvg(heading: string, rows: readonly TitledRow[]): string {
  if (rows.length === 0) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', 'a titled figure needs at least one row');
  const L = TITLED_LAYOUT;
  const { width, height } = titledImagesSize(rows, heading);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${L.margin}" y="${L.margin + L.headingSize + 2}" font-family="DejaVu Sans" font-size="${L.headingSize}" font-weight="bold" fill="#111111">${escapeXml(heading)}</text>`,
  ];
  let y = L.margin + L.headingHeight;
  for (const r of rows) {
    parts.push(`<text x="${L.margin}" y="${y + L.fontSize + 2}" font-family="DejaVu Sans" font-size="${L.fontSize}" fill="#222222">${escapeXml(r.title)}</text>`);
    y += L.titleHeight;
    const data = Buffer.from(r.png.buffer, r.png.byteOffset, r.png.byteLength).toString('base64');
    parts.push(`<image x="${L.margin}" y="${y}" width="${r.width}" height="${r.height}" image-rendering="optimizeSpeed" href="data:image/png;base64,${data}"/>`);
    y += r.height + L.rowGap;
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** The figure as PNG bytes (titledImagesSize pixels). */
export function titledImagesPng(heading: string, rows: readonly TitledRow[]): Buffer {
  return renderSvgToPng(titledImagesSvg(heading, rows));
}
