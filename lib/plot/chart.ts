/**
 * Line charts as SVG markup: a pure function from data to an SVG string, no I/O and no native code.
 * Built for quality-vs-speed plots (PSNR against evaluation speedup, one polyline per configuration),
 * but nothing here is specific to that. render.ts rasterises the result to PNG.
 *
 * Layout: title on top, y label rotated on the left, x label below, legend outside the plot area (on the
 * right when it is narrow enough, else in rows below the x label), so it never covers the data. Axis
 * ranges are the data range (reference lines included) padded by 4% on each side and widened to nice
 * tick values (1, 2, 2.5 or 5 times a power of ten), so each axis starts and ends on a labelled tick.
 *
 * Text is laid out with a width estimate for DejaVu Sans (the font render.ts ships); pass `measureText`
 * for exact widths (render.ts passes one backed by the renderer itself).
 */
import { fail } from '../errors';
import { isRecord, requireFinite, requireInt, requireString, show } from '../validate';

export interface Point {
  x: number;
  y: number;
  /** Drawn next to the marker, e.g. "N=4". */
  label?: string;
}

export interface Series {
  name: string;
  /** Joined in the order given (sort by x first for a left-to-right line). */
  points: readonly Point[];
  dashed?: boolean;
}

export interface ReferenceLine {
  y: number;
  label: string;
}

export type LegendPlacement = 'auto' | 'right' | 'bottom';

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Pixels, an integer from 320 to 8192; default 800. */
  width?: number;
  /** Pixels, an integer from 240 to 8192; default 500. */
  height?: number;
  /** Horizontal dashed lines across the plot (e.g. the PSNR of a baseline), labelled at the right end. */
  referenceLines?: readonly ReferenceLine[];
  /** 'auto' (default): right of the plot when it takes at most 30% of the width and fits, else below. */
  legend?: LegendPlacement;
  /** Tick label text; default: the tick value with as many decimals as the tick step needs. */
  formatX?: (value: number) => string;
  formatY?: (value: number) => string;
}

/** Width in pixels of `text` set in DejaVu Sans at `fontSize` px (bold for the title). */
export type MeasureText = (text: string, fontSize: number, bold: boolean) => number;

export interface ChartEnvironment {
  measureText?: MeasureText;
}

/** Series colours, in order (matplotlib's tab10, distinguishable in colour and in greyscale pairs). */
export const SERIES_COLORS: readonly string[] = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf',
];

/** Marker shapes, in order. Series i gets colour i mod 10 and marker i mod 6: 30 distinct styles. */
export const MARKERS = ['circle', 'square', 'triangle-up', 'diamond', 'triangle-down', 'pentagon'] as const;
export type Marker = (typeof MARKERS)[number];

export function seriesStyle(index: number): { color: string; marker: Marker } {
  return { color: SERIES_COLORS[index % SERIES_COLORS.length], marker: MARKERS[index % MARKERS.length] };
}

export const MIN_WIDTH = 320;
export const MIN_HEIGHT = 240;
export const MAX_SIZE = 8192;
const DEFAULT_WIDTH = 800;
const DEFAULT_HEIGHT = 500;

/** Escapes text for XML content and attribute values; drops what XML 1.0 cannot hold. */
export function escapeXml(text: string): string {
  return (
    text
      // C0 controls (tab and newlines included: SVG text is one line) become spaces
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f]/g, ' ')
      .replace(/[\ufffe\uffff]/g, '\ufffd')
      // lone surrogates
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

export interface NiceScale {
  /** First tick: at most the range's low end. */
  min: number;
  /** Last tick: at least the range's high end. */
  max: number;
  /** 1, 2, 2.5 or 5 times a power of ten. */
  step: number;
  /** min, min + step, ..., max. */
  ticks: number[];
  /** Decimals that show every tick exactly. */
  decimals: number;
}

/**
 * Nice ticks covering [lo, hi]: the smallest step of the form {1, 2, 2.5, 5} x 10^k that splits the
 * range into at most about `target` intervals, and the multiples of it from below lo to above hi. An
 * empty range (lo == hi, or narrower than 1e-12 of its magnitude) is widened by 10% of its centre (or by
 * 1 at zero) each way.
 */
export function niceTicks(lo: number, hi: number, target = 6): NiceScale {
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) {
    fail('ERR_INVALID_ARGUMENT', `niceTicks: expected finite lo <= hi, got lo=${lo}, hi=${hi}`);
  }
  if (!Number.isInteger(target) || target < 1 || target > 100) {
    fail('ERR_INVALID_ARGUMENT', `niceTicks: target must be an integer from 1 to 100, got ${target}`);
  }
  if (hi - lo <= Math.max(Math.abs(lo), Math.abs(hi)) * 1e-12 || hi - lo < 1e-200) {
    // empty, or too narrow to tell apart in doubles: widen around the centre (around zero, by 1)
    const c = (lo + hi) / 2;
    const d = Math.abs(c) > 1e-200 ? Math.abs(c) * 0.1 : 1;
    lo = c - d;
    hi = c + d;
  }
  const span = hi - lo;
  if (!Number.isFinite(span) || span <= 0) {
    fail('ERR_INVALID_ARGUMENT', `niceTicks: the range [${lo}, ${hi}] is too wide or too narrow to tick`);
  }
  const raw = span / target;
  let exp = Math.floor(Math.log10(raw));
  let mult = 10;
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (raw <= m * 10 ** exp * (1 + 1e-9)) {
      mult = m;
      break;
    }
  }
  if (mult === 10) {
    mult = 1;
    exp += 1;
  }
  // 10 ** -k is inexact; dividing by 10 ** k keeps steps like 0.1 and 0.25 as close as doubles get
  const step = exp >= 0 ? mult * 10 ** exp : mult / 10 ** -exp;
  const decimals = Math.max(0, -exp + (mult === 2.5 ? 1 : 0));
  const tick = (k: number) => {
    const v = k * step;
    return (decimals <= 20 ? Number(v.toFixed(decimals)) : v) + 0; // + 0 turns -0 into 0
  };
  // the tolerance keeps lo = 0.3, step = 0.1 from starting at 0.2; the checks keep the range covered
  let k0 = Math.floor(lo / step + 1e-9);
  if (tick(k0) > lo) k0 -= 1;
  let k1 = Math.ceil(hi / step - 1e-9);
  if (tick(k1) < hi) k1 += 1;
  const ticks: number[] = [];
  for (let k = k0; k <= k1; k++) ticks.push(tick(k));
  return { min: ticks[0], max: ticks[ticks.length - 1], step, ticks, decimals };
}

/**
 * A tick value as text: fixed-point with the scale's decimals, or, for a scale reaching 1e15 or staying
 * under 1e-5, scientific notation with the mantissa digits the step needs.
 */
export function formatTick(value: number, scale: Pick<NiceScale, 'min' | 'max' | 'step' | 'decimals'>): string {
  if (value === 0) return '0';
  const big = Math.max(Math.abs(scale.min), Math.abs(scale.max));
  if (big >= 1e15 || big < 1e-5) {
    // the fewest mantissa digits that still tell this tick from its neighbours
    let d = 0;
    while (d < 15 && Math.abs(Number(value.toExponential(d)) - value) > scale.step * 1e-3) d++;
    return value.toExponential(d);
  }
  return value.toFixed(Math.min(20, scale.decimals));
}

/**
 * Width estimate for DejaVu Sans (a wide face: digits are 0.64 em). Slightly generous, so layout built
 * on it does not clip.
 */
export function approxTextWidth(text: string, fontSize: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if (/[iljI.,:;'|!`]/.test(ch)) em += 0.32;
    else if (ch === ' ' || /[ftr()[\]{}-]/.test(ch)) em += 0.4;
    else if (/[mwMW@%]/.test(ch)) em += 0.95;
    else if (/[A-Z]/.test(ch)) em += 0.74;
    else if (ch.charCodeAt(0) > 0x2e7f) em += 1; // CJK and other full-width scripts
    else em += 0.64;
  }
  return em * fontSize * (bold ? 1.1 : 1);
}

// ---- validation -------------------------------------------------------------------------------------

function checkSize(v: unknown, what: string, min: number, dflt: number): number {
  return v === undefined ? dflt : requireInt(`chart: ${what} (pixels)`, v, min, MAX_SIZE);
}

const checkString = (v: unknown, what: string): string => requireString(`chart: ${what}`, v);
const checkFinite = (v: unknown, what: string): number => requireFinite(`chart: ${what}`, v, 'ERR_INVALID_ARGUMENT');

interface Checked {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width: number;
  height: number;
  refs: ReferenceLine[];
  legend: LegendPlacement;
  formatX?: (v: number) => string;
  formatY?: (v: number) => string;
}

function validate(o: ChartOptions): Checked {
  if (!isRecord(o)) fail('ERR_INVALID_ARGUMENT', `chart: expected an options object, got ${show(o)}`);
  const title = checkString(o.title, 'title');
  const xLabel = checkString(o.xLabel, 'xLabel');
  const yLabel = checkString(o.yLabel, 'yLabel');
  const width = checkSize(o.width, 'width', MIN_WIDTH, DEFAULT_WIDTH);
  const height = checkSize(o.height, 'height', MIN_HEIGHT, DEFAULT_HEIGHT);
  if (!Array.isArray(o.series) || o.series.length === 0) {
    fail('ERR_INVALID_ARGUMENT', `chart: series must be a non-empty array of { name, points }, got ${show(o.series)}`);
  }
  const series: Series[] = o.series.map((s: unknown, i) => {
    if (!isRecord(s)) fail('ERR_INVALID_ARGUMENT', `chart: series[${i}] must be an object { name, points }, got ${show(s)}`);
    const name = checkString(s.name, `series[${i}].name`);
    if (!Array.isArray(s.points) || s.points.length === 0) {
      fail('ERR_INVALID_ARGUMENT', `chart: series[${i}].points must be a non-empty array of { x, y }, got ${show(s.points)}`);
    }
    const points = s.points.map((p: unknown, j) => {
      const at = `series[${i}].points[${j}]`;
      if (!isRecord(p)) fail('ERR_INVALID_ARGUMENT', `chart: ${at} must be an object { x, y }, got ${show(p)}`);
      const point: Point = { x: checkFinite(p.x, `${at}.x`), y: checkFinite(p.y, `${at}.y`) };
      if (p.label !== undefined) point.label = checkString(p.label, `${at}.label`);
      return point;
    });
    if (s.dashed !== undefined && typeof s.dashed !== 'boolean') {
      fail('ERR_INVALID_ARGUMENT', `chart: series[${i}].dashed must be a boolean, got ${show(s.dashed)}`);
    }
    return { name, points, dashed: s.dashed === true };
  });
  const rawRefs: unknown = o.referenceLines ?? [];
  if (!Array.isArray(rawRefs)) {
    fail('ERR_INVALID_ARGUMENT', `chart: referenceLines must be an array of { y, label }, got ${show(rawRefs)}`);
  }
  const refs = rawRefs.map((r: unknown, i) => {
    if (!isRecord(r)) fail('ERR_INVALID_ARGUMENT', `chart: referenceLines[${i}] must be an object { y, label }, got ${show(r)}`);
    return { y: checkFinite(r.y, `referenceLines[${i}].y`), label: checkString(r.label, `referenceLines[${i}].label`) };
  });
  const legend = o.legend ?? 'auto';
  if (legend !== 'auto' && legend !== 'right' && legend !== 'bottom') {
    fail('ERR_INVALID_ARGUMENT', `chart: legend must be 'auto', 'right' or 'bottom', got ${show(legend)}`);
  }
  for (const k of ['formatX', 'formatY'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') {
      fail('ERR_INVALID_ARGUMENT', `chart: ${k} must be a function (value: number) => string, got ${show(o[k])}`);
    }
  }
  return { title, xLabel, yLabel, series, width, height, refs, legend, formatX: o.formatX, formatY: o.formatY };
}

// ---- layout and drawing ------------------------------------------------------------------------------

const PAD = 14;
const TITLE_SIZE = 18;
const AXIS_LABEL_SIZE = 13;
const TICK_SIZE = 11;
const LEGEND_SIZE = 12;
const NOTE_SIZE = 10; // point labels and reference line labels
const TICK_LEN = 5;
const LEGEND_ROW = 20;
const SWATCH = 30; // legend line sample
const HALO = 'stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'; // text over data stays legible
const CAP = 0.73; // DejaVu Sans cap height, em
const DESC = 0.24; // descender, em

/** Numbers in the markup: at most two decimals, no "-0". */
function n(v: number): string {
  return String(Math.round(v * 100) / 100 + 0);
}

function fit(text: string, size: number, bold: boolean, maxWidth: number, measure: MeasureText): string {
  if (measure(text, size, bold) <= maxWidth) return text;
  const chars = Array.from(text);
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(chars.slice(0, mid).join('') + '…', size, bold) <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return lo === 0 ? '' : chars.slice(0, lo).join('').trimEnd() + '…';
}

function markerSvg(marker: Marker, cx: number, cy: number, color: string): string {
  const attrs = `fill="${color}" stroke="#ffffff" stroke-width="1"`;
  const poly = (pts: Array<[number, number]>) =>
    `<path d="M${pts.map(([x, y]) => `${n(cx + x)} ${n(cy + y)}`).join('L')}Z" ${attrs}/>`;
  switch (marker) {
    case 'circle':
      return `<circle cx="${n(cx)}" cy="${n(cy)}" r="4.5" ${attrs}/>`;
    case 'square':
      return `<rect x="${n(cx - 4)}" y="${n(cy - 4)}" width="8" height="8" ${attrs}/>`;
    case 'triangle-up':
      return poly([[0, -5.5], [4.8, 3], [-4.8, 3]]);
    case 'triangle-down':
      return poly([[0, 5.5], [4.8, -3], [-4.8, -3]]);
    case 'diamond':
      return poly([[0, -5.5], [5, 0], [0, 5.5], [-5, 0]]);
    case 'pentagon': {
      const pts: Array<[number, number]> = [];
      for (let k = 0; k < 5; k++) {
        const a = -Math.PI / 2 + (k * 2 * Math.PI) / 5;
        pts.push([5 * Math.cos(a), 5 * Math.sin(a)]);
      }
      return poly(pts);
    }
  }
}

function text(x: number, y: number, size: number, content: string, extra = ''): string {
  return `<text x="${n(x)}" y="${n(y)}" font-size="${size}"${extra ? ' ' + extra : ''}>${escapeXml(content)}</text>`;
}

/**
 * Data -> SVG 1.1 markup, `width` x `height` user units (= pixels). Throws TaylorSeerError
 * ERR_INVALID_ARGUMENT for unusable input (no series, a series without points, a non-finite coordinate,
 * a size out of range, a chart too small for its legend).
 */
export function chartSvg(options: ChartOptions, env: ChartEnvironment = {}): string {
  const o = validate(options);
  const measure: MeasureText = env.measureText ?? approxTextWidth;
  const W = o.width;
  const H = o.height;

  // Data range (reference lines included), padded by 4% so no marker sits on the frame.
  let xLo = Infinity;
  let xHi = -Infinity;
  let yLo = Infinity;
  let yHi = -Infinity;
  for (const s of o.series) {
    for (const p of s.points) {
      xLo = Math.min(xLo, p.x);
      xHi = Math.max(xHi, p.x);
      yLo = Math.min(yLo, p.y);
      yHi = Math.max(yHi, p.y);
    }
  }
  for (const r of o.refs) {
    yLo = Math.min(yLo, r.y);
    yHi = Math.max(yHi, r.y);
  }
  const padRange = (lo: number, hi: number): [number, number] => {
    const d = (hi - lo) * 0.04;
    return [lo - d, hi + d];
  };
  [xLo, xHi] = padRange(xLo, xHi);
  [yLo, yHi] = padRange(yLo, yHi);
  if (!Number.isFinite(xHi - xLo) || !Number.isFinite(yHi - yLo)) {
    fail('ERR_INVALID_ARGUMENT', 'chart: the data range is too wide to plot (coordinates must differ by less than about 1e307)');
  }

  // Vertical layout: title, plot, x ticks, x label, legend (when below).
  const titleSize = Math.max(11, Math.min(TITLE_SIZE, (TITLE_SIZE * (W - 2 * PAD)) / Math.max(1, measure(o.title, TITLE_SIZE, true))));
  const title = fit(o.title, titleSize, true, W - 2 * PAD, measure);
  const plotTop = PAD + (title ? titleSize * (CAP + DESC) + 14 : 6);
  const xAxisBlock = TICK_LEN + 4 + TICK_SIZE + (o.xLabel ? 8 + AXIS_LABEL_SIZE : 0);

  // Legend entries and placement.
  const names = o.series.map((s) => s.name);
  const nameWidths = names.map((s) => measure(s, LEGEND_SIZE, false));
  const rightLegendWidth = 10 + SWATCH + 6 + Math.max(...nameWidths) + 10;
  const rightLegendHeight = o.series.length * LEGEND_ROW + 10;
  const roughPlotHeight = H - plotTop - xAxisBlock - PAD;
  let legendRight: boolean;
  if (o.legend === 'right') legendRight = true;
  else if (o.legend === 'bottom') legendRight = false;
  else legendRight = rightLegendWidth <= 0.3 * W && rightLegendHeight <= roughPlotHeight;

  let legendW = 0;
  let legendNames = names;
  let legendRows: number[][] = [];
  if (legendRight) {
    const maxName = Math.max(20, Math.min(Math.max(...nameWidths), 0.4 * W - 26 - SWATCH));
    legendNames = names.map((s) => fit(s, LEGEND_SIZE, false, maxName, measure));
    legendW = 10 + SWATCH + 6 + Math.max(...legendNames.map((s) => measure(s, LEGEND_SIZE, false))) + 10;
  } else {
    const avail = W - 2 * PAD;
    legendNames = names.map((s) => fit(s, LEGEND_SIZE, false, avail - SWATCH - 6, measure));
    let row: number[] = [];
    let used = 0;
    legendNames.forEach((s, i) => {
      const w = SWATCH + 6 + measure(s, LEGEND_SIZE, false) + 18;
      if (row.length > 0 && used + w - 18 > avail) {
        legendRows.push(row);
        row = [];
        used = 0;
      }
      row.push(i);
      used += w;
    });
    legendRows.push(row);
  }
  const legendBelowHeight = legendRight ? 0 : 10 + legendRows.length * LEGEND_ROW;
  const plotBottom = H - PAD - legendBelowHeight - xAxisBlock;
  const plotHeight = plotBottom - plotTop;
  if (plotHeight < 40) {
    fail(
      'ERR_INVALID_ARGUMENT',
      `chart: height ${H} leaves no room for the plot with ${o.series.length} series in the legend; ` +
        `expected a height of at least ${Math.ceil(H - plotHeight + 40)}`,
    );
  }
  if (legendRight && rightLegendHeight > plotHeight) {
    fail(
      'ERR_INVALID_ARGUMENT',
      `chart: a legend of ${o.series.length} series does not fit right of the plot; ` +
        `expected a height of at least ${Math.ceil(H - plotHeight + rightLegendHeight)} or legend 'bottom'`,
    );
  }

  // y scale (its tick labels decide the left margin).
  const yScale = niceTicks(yLo, yHi, Math.max(2, Math.min(12, Math.round(plotHeight / 40))));
  const fmtY = o.formatY ?? ((v: number) => formatTick(v, yScale));
  const yTickText = yScale.ticks.map((v) => String(fmtY(v)));
  const yTickWidth = Math.max(...yTickText.map((s) => measure(s, TICK_SIZE, false)));
  const plotLeft = PAD + (o.yLabel ? AXIS_LABEL_SIZE + 8 : 0) + yTickWidth + 4 + TICK_LEN;

  // x scale: fewer ticks until their labels do not collide.
  const rightEdge = W - PAD - (legendRight ? legendW + 12 : 0);
  let xScale = niceTicks(xLo, xHi, 2);
  let xTickText: string[] = [];
  let plotRight = rightEdge;
  const fmtX = (scale: NiceScale) => o.formatX ?? ((v: number) => formatTick(v, scale));
  for (let target = Math.max(2, Math.min(15, Math.round((rightEdge - plotLeft) / 60))); target >= 1; target--) {
    const scale = niceTicks(xLo, xHi, target);
    const labels = scale.ticks.map((v) => String(fmtX(scale)(v)));
    const widths = labels.map((s) => measure(s, TICK_SIZE, false));
    const right = rightEdge - Math.max(0, widths[widths.length - 1] / 2 - (legendRight ? 8 : PAD - 2));
    const spacing = (right - plotLeft) / Math.max(1, labels.length - 1);
    xScale = scale;
    xTickText = labels;
    plotRight = right;
    if (Math.max(...widths) + 10 <= spacing) break;
  }
  const plotWidth = plotRight - plotLeft;
  if (plotWidth < 40) {
    fail(
      'ERR_INVALID_ARGUMENT',
      `chart: width ${W} leaves no room for the plot beside its labels and legend; expected a width of at least ${Math.ceil(W - plotWidth + 40)}`,
    );
  }

  const px = (x: number) => plotLeft + ((x - xScale.min) / (xScale.max - xScale.min)) * plotWidth;
  const py = (y: number) => plotBottom - ((y - yScale.min) / (yScale.max - yScale.min)) * plotHeight;

  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
      `font-family="DejaVu Sans, sans-serif" fill="#222222">`,
  );
  out.push(`<title>${escapeXml(o.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);

  // Grid and axes.
  out.push('<g id="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const v of xScale.ticks) out.push(`<line x1="${n(px(v))}" y1="${n(plotTop)}" x2="${n(px(v))}" y2="${n(plotBottom)}"/>`);
  for (const v of yScale.ticks) out.push(`<line x1="${n(plotLeft)}" y1="${n(py(v))}" x2="${n(plotRight)}" y2="${n(py(v))}"/>`);
  out.push('</g>');
  out.push('<g id="axes">');
  out.push(
    `<rect x="${n(plotLeft)}" y="${n(plotTop)}" width="${n(plotWidth)}" height="${n(plotHeight)}" fill="none" stroke="#444444" stroke-width="1"/>`,
  );
  const tickLines: string[] = [];
  xScale.ticks.forEach((v, i) => {
    tickLines.push(`M${n(px(v))} ${n(plotBottom)}v${TICK_LEN}`);
    out.push(text(px(v), plotBottom + TICK_LEN + 4 + CAP * TICK_SIZE, TICK_SIZE, xTickText[i], 'text-anchor="middle"'));
  });
  yScale.ticks.forEach((v, i) => {
    tickLines.push(`M${n(plotLeft)} ${n(py(v))}h${-TICK_LEN}`);
    out.push(text(plotLeft - TICK_LEN - 4, py(v) + (CAP * TICK_SIZE) / 2, TICK_SIZE, yTickText[i], 'text-anchor="end"'));
  });
  out.push(`<path d="${tickLines.join('')}" fill="none" stroke="#444444" stroke-width="1"/>`);
  out.push('</g>');

  // Titles.
  if (title) out.push(text(W / 2, PAD + CAP * titleSize, titleSize, title, 'text-anchor="middle" font-weight="bold"'));
  if (o.xLabel) {
    const xl = fit(o.xLabel, AXIS_LABEL_SIZE, false, W - 2 * PAD, measure);
    const cx = Math.min(Math.max((plotLeft + plotRight) / 2, PAD + measure(xl, AXIS_LABEL_SIZE, false) / 2), W - PAD - measure(xl, AXIS_LABEL_SIZE, false) / 2);
    out.push(text(cx, plotBottom + TICK_LEN + 4 + TICK_SIZE + 8 + CAP * AXIS_LABEL_SIZE, AXIS_LABEL_SIZE, xl, 'text-anchor="middle"'));
  }
  if (o.yLabel) {
    const yl = fit(o.yLabel, AXIS_LABEL_SIZE, false, H - 2 * PAD, measure);
    const half = measure(yl, AXIS_LABEL_SIZE, false) / 2;
    const cy = Math.min(Math.max((plotTop + plotBottom) / 2, PAD + half), H - PAD - half);
    const bx = PAD + CAP * AXIS_LABEL_SIZE;
    out.push(text(0, 0, AXIS_LABEL_SIZE, yl, `text-anchor="middle" transform="translate(${n(bx)} ${n(cy)}) rotate(-90)"`));
  }

  // Where the data is drawn, in pixels (markers and points every 3 px along the lines), so labels can
  // go where they cover the least of it.
  const samples: Array<[number, number]> = [];
  for (const s of o.series) {
    s.points.forEach((p, j) => {
      const [x1, y1] = [px(p.x), py(p.y)];
      samples.push([x1, y1]);
      if (j === 0) return;
      const [x0, y0] = [px(s.points[j - 1].x), py(s.points[j - 1].y)];
      const steps = Math.min(1000, Math.floor(Math.hypot(x1 - x0, y1 - y0) / 3));
      for (let k = 1; k < steps; k++) samples.push([x0 + ((x1 - x0) * k) / steps, y0 + ((y1 - y0) * k) / steps]);
    });
  }
  type Box = [number, number, number, number]; // x0, y0, x1, y1
  const placed: Box[] = [];
  const inside = (b: Box) => b[0] >= plotLeft + 2 && b[2] <= plotRight - 2 && b[1] >= plotTop + 2 && b[3] <= plotBottom - 2;
  const cost = (b: Box) => {
    let c = inside(b) ? 0 : 1e6;
    for (const [x, y] of samples) if (x >= b[0] - 3 && x <= b[2] + 3 && y >= b[1] - 3 && y <= b[3] + 3) c += 1;
    for (const q of placed) if (b[0] < q[2] && q[0] < b[2] && b[1] < q[3] && q[1] < b[3]) c += 1000;
    return c;
  };
  /** Places a note at the cheapest candidate; each is [anchor x, baseline y, 'start' | 'end']. */
  const note = (label: string, candidates: Array<[number, number, 'start' | 'end']>, fill: string): string => {
    const w = measure(label, NOTE_SIZE, false);
    const boxOf = ([x, y, a]: [number, number, 'start' | 'end']): Box =>
      a === 'start' ? [x, y - CAP * NOTE_SIZE, x + w, y + DESC * NOTE_SIZE] : [x - w, y - CAP * NOTE_SIZE, x, y + DESC * NOTE_SIZE];
    let best = candidates[0];
    let bestCost = Infinity;
    for (const c of candidates) {
      const k = cost(boxOf(c));
      if (k < bestCost) [best, bestCost] = [c, k];
    }
    placed.push(boxOf(best));
    return text(best[0], best[1], NOTE_SIZE, label, `${best[2] === 'end' ? 'text-anchor="end" ' : ''}fill="${fill}" ${HALO}`);
  };
  const notes: string[] = [];

  // Reference lines under the data, their labels over it (with a halo).
  if (o.refs.length > 0) {
    out.push('<g id="reference-lines">');
    for (const r of o.refs) {
      const y = py(r.y);
      out.push(`<line x1="${n(plotLeft)}" y1="${n(y)}" x2="${n(plotRight)}" y2="${n(y)}" stroke="#555555" stroke-width="1.2" stroke-dasharray="2 3"/>`);
      const label = fit(r.label, NOTE_SIZE, false, plotWidth * 0.6, measure);
      const [up, down] = [y - 2 - DESC * NOTE_SIZE, y + 2 + CAP * NOTE_SIZE];
      const at: Array<[number, number, 'start' | 'end']> = [
        [plotRight - 5, up, 'end'],
        [plotLeft + 5, up, 'start'],
        [plotRight - 5, down, 'end'],
        [plotLeft + 5, down, 'start'],
      ];
      notes.push(note(label, at, '#555555'));
    }
    out.push('</g>');
  }

  // Series.
  out.push('<g id="series">');
  o.series.forEach((s, i) => {
    const { color, marker } = seriesStyle(i);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (s.points.length > 1) {
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${n(px(p.x))} ${n(py(p.y))}`).join('');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"${s.dashed ? ' stroke-dasharray="7 4"' : ''}/>`,
      );
    }
    for (const p of s.points) out.push(markerSvg(marker, px(p.x), py(p.y), color));
    for (const p of s.points) {
      if (!p.label) continue;
      const [x, y] = [px(p.x), py(p.y)];
      const label = fit(p.label, NOTE_SIZE, false, plotWidth / 3, measure);
      const at: Array<[number, number, 'start' | 'end']> = [
        [x + 6, y - 7, 'start'],
        [x - 6, y - 7, 'end'],
        [x + 6, y + 7 + CAP * NOTE_SIZE, 'start'],
        [x - 6, y + 7 + CAP * NOTE_SIZE, 'end'],
      ];
      notes.push(note(label, at, color));
    }
    out.push('</g>');
  });
  out.push('</g>');
  if (notes.length > 0) out.push('<g id="notes">', ...notes, '</g>');

  // Legend.
  out.push('<g id="legend">');
  const entry = (i: number, x: number, yMid: number) => {
    const { color, marker } = seriesStyle(i);
    out.push(
      `<line x1="${n(x)}" y1="${n(yMid)}" x2="${n(x + SWATCH)}" y2="${n(yMid)}" stroke="${color}" stroke-width="2"${o.series[i].dashed ? ' stroke-dasharray="7 4"' : ''}/>`,
    );
    out.push(markerSvg(marker, x + SWATCH / 2, yMid, color));
    out.push(text(x + SWATCH + 6, yMid + (CAP * LEGEND_SIZE) / 2, LEGEND_SIZE, legendNames[i]));
  };
  if (legendRight) {
    const x0 = W - PAD - legendW;
    out.push(
      `<rect x="${n(x0)}" y="${n(plotTop)}" width="${n(legendW)}" height="${n(rightLegendHeight)}" fill="#ffffff" stroke="#cccccc" stroke-width="1" rx="3"/>`,
    );
    o.series.forEach((_, i) => entry(i, x0 + 10, plotTop + 5 + LEGEND_ROW * (i + 0.5)));
  } else {
    const top = plotBottom + xAxisBlock + 10;
    legendRows.forEach((row, r) => {
      const widths = row.map((i) => SWATCH + 6 + measure(legendNames[i], LEGEND_SIZE, false));
      const total = widths.reduce((a, b) => a + b, 0) + 18 * (row.length - 1);
      let x = Math.max(PAD, (W - total) / 2);
      row.forEach((i, k) => {
        entry(i, x, top + LEGEND_ROW * (r + 0.5));
        x += widths[k] + 18;
      });
    });
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
