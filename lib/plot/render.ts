/**
 * SVG -> PNG with resvg (@resvg/resvg-js, a prebuilt napi binary per platform; like the font, an optional
 * peer dependency of taylorseer, lib/optional.ts). Text is set in DejaVu Sans from the dejavu-fonts-ttf package and
 * system fonts are never loaded: the same SVG gives the same pixels on every machine, and text cannot
 * silently vanish on a machine without fonts (resvg drops text it has no font for, without an error).
 *
 * resvg is loaded on first use, so importing this module costs nothing until a chart is rendered.
 */
import type { Resvg as ResvgClass, ResvgRenderOptions } from '@resvg/resvg-js';
import { fail } from '../errors';
import { requireOptional, resolveOptional } from '../optional';
import { chartSvg, escapeXml, type ChartOptions, type MeasureText } from './chart';

export interface RenderOptions {
  /** Output pixels per SVG unit, from 0.25 to 8; default 1 (a chart's width x height in pixels). */
  scale?: number;
}

let resvg: typeof ResvgClass | undefined;
let fonts: string[] | undefined;

function loadResvg(): typeof ResvgClass {
  resvg ??= requireOptional<typeof import('@resvg/resvg-js')>('@resvg/resvg-js', 'rendering a chart or a labelled image').Resvg;
  return resvg;
}

/** The font files every render uses: DejaVu Sans, regular and bold. */
export function fontFiles(): string[] {
  fonts ??= ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'].map((f) => resolveOptional('dejavu-fonts-ttf', `ttf/${f}`, 'setting text in an image'));
  return fonts;
}

function resvgOptions(scale = 1): ResvgRenderOptions {
  return {
    font: {
      loadSystemFonts: false,
      fontFiles: fontFiles(),
      defaultFontFamily: 'DejaVu Sans',
      sansSerifFamily: 'DejaVu Sans',
    },
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: '#ffffff',
    shapeRendering: 2,
    textRendering: 1,
    logLevel: 'off',
  };
}

/** Rasterises SVG markup to PNG bytes (white background, DejaVu Sans for all text). */
export function renderSvgToPng(svg: string, options: RenderOptions = {}): Buffer {
  if (typeof svg !== 'string' || svg.trim() === '') {
    fail('ERR_INVALID_ARGUMENT', `renderSvgToPng: svg must be a non-empty string of SVG markup, got ${typeof svg === 'string' ? 'an empty string' : typeof svg}`);
  }
  const scale = options.scale ?? 1;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || scale < 0.25 || scale > 8) {
    fail('ERR_INVALID_ARGUMENT', `renderSvgToPng: scale must be a number from 0.25 to 8, got ${String(scale)}`);
  }
  const Resvg = loadResvg();
  let r: ResvgClass;
  try {
    r = new Resvg(svg, resvgOptions(scale));
  } catch (e) {
    fail('ERR_INVALID_ARGUMENT', `renderSvgToPng: expected valid SVG markup, resvg says: ${(e as Error).message}`);
  }
  return r.render().asPng();
}

const widthCache = new Map<string, number>();

/**
 * The width in pixels of `text` in DejaVu Sans at `fontSize` px, as resvg lays it out (the ink extent,
 * plus the advance of leading and trailing spaces).
 */
export const measureText: MeasureText = (text, fontSize, bold) => {
  const key = `${bold ? 'b' : 'r'}${fontSize}|${text}`;
  const hit = widthCache.get(key);
  if (hit !== undefined) return hit;
  const spaces = text.length - text.trim().length;
  let width = spaces * 0.318 * fontSize; // DejaVu Sans space advance: 651/2048 em
  if (text.trim() !== '') {
    const Resvg = loadResvg();
    const svg =
      `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text x="0" y="${fontSize * 2}" ` +
      `font-family="DejaVu Sans" font-size="${fontSize}"${bold ? ' font-weight="bold"' : ''}>${escapeXml(text)}</text></svg>`;
    const box = new Resvg(svg, resvgOptions()).getBBox();
    width += box ? box.width : 0;
  }
  if (widthCache.size > 2000) widthCache.clear();
  widthCache.set(key, width);
  return width;
};

/** chartSvg laid out with exact text widths, rendered to PNG (width x height pixels at scale 1). */
export function renderChartPng(options: ChartOptions, render: RenderOptions = {}): Buffer {
  return renderSvgToPng(chartSvg(options, { measureText }), render);
}
