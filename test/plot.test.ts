/**
 * Charts: nice ticks, escaping, layout (legend outside the data, data inside the frame), validation with
 * typed errors, and PNG rendering through resvg with the bundled DejaVu Sans.
 */
import * as path from 'node:path';
import fc from 'fast-check';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  approxTextWidth,
  chartSvg,
  escapeXml,
  fontFiles,
  formatTick,
  measureText,
  niceTicks,
  renderChartPng,
  renderSvgToPng,
  SERIES_COLORS,
  seriesStyle,
  type ChartOptions,
} from '../lib/plot';

function errorOf(fn: () => unknown): { code?: string; name?: string; message: string } | undefined {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; name?: string; message: string };
  }
  return undefined;
}

const speedups = [1, 2, 3, 4, 6, 8];
const sample = (): ChartOptions => ({
  title: 'Quality vs speed',
  xLabel: 'evaluation speedup',
  yLabel: 'PSNR (dB)',
  series: [
    { name: 'fixed step O=2', points: speedups.map((x) => ({ x, y: 40 - 1.4 * x })) },
    { name: 'adaptive time O=2', points: speedups.map((x) => ({ x, y: 41 - 1.1 * x })), dashed: true },
    { name: 'reuse', points: speedups.map((x, i) => ({ x, y: 38 - 2 * x, label: i === 2 ? 'N=3' : undefined })) },
  ],
  referenceLines: [{ y: 30, label: 'lossless-looking' }],
  formatX: (v) => `${v}x`,
});

/** The plot frame: the only unfilled rect with the axis stroke. */
function frameOf(svg: string): { left: number; top: number; right: number; bottom: number } {
  const m = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none" stroke="#444444"/.exec(svg);
  expect(m).not.toBeNull();
  const [x, y, w, h] = m!.slice(1).map(Number);
  return { left: x, top: y, right: x + w, bottom: y + h };
}

function groupOf(svg: string, id: string): string {
  const start = svg.indexOf(`<g id="${id}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  return svg.slice(start, svg.indexOf('\n</g>', start));
}

describe('niceTicks', () => {
  it('covers the range with steps of 1, 2, 2.5 or 5 times a power of ten, without float noise', () => {
    expect(niceTicks(0, 1, 5)).toEqual({ min: 0, max: 1, step: 0.2, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], decimals: 1 });
    expect(niceTicks(0.72, 8.28, 8).ticks).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(niceTicks(31.3, 35.7, 5).ticks).toEqual([31, 32, 33, 34, 35, 36]);
    expect(niceTicks(31.3, 35.7, 4).ticks).toEqual([30, 32, 34, 36]);
    expect(niceTicks(0, 10, 4)).toMatchObject({ step: 2.5, ticks: [0, 2.5, 5, 7.5, 10], decimals: 1 });
    expect(niceTicks(-0.35, 0.05, 4).ticks).toEqual([-0.4, -0.3, -0.2, -0.1, 0, 0.1]);
    expect(niceTicks(1200, 98000, 5).ticks).toEqual([0, 20000, 40000, 60000, 80000, 100000]);
  });

  it('holds for random ranges: covering, evenly spaced, nice, few', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
        fc.integer({ min: 1, max: 15 }),
        (lo, span, target) => {
          const hi = lo + span;
          const s = niceTicks(lo, hi, target);
          expect(s.min).toBeLessThanOrEqual(lo);
          expect(s.max).toBeGreaterThanOrEqual(hi);
          expect(s.min).toBe(s.ticks[0]);
          expect(s.max).toBe(s.ticks[s.ticks.length - 1]);
          const mantissa = s.step / 10 ** Math.floor(Math.log10(s.step) + 1e-9);
          expect([1, 2, 2.5, 5].some((m) => Math.abs(mantissa - m) < 1e-9)).toBe(true);
          expect(s.ticks.length - 1).toBeLessThanOrEqual(target + 2);
          for (let i = 0; i < s.ticks.length; i++) {
            // every tick is a multiple of the step, printed exactly by formatTick
            const q = s.ticks[i] / s.step;
            expect(Math.abs(q - Math.round(q))).toBeLessThan(1e-6 + Math.abs(q) * 1e-12);
            if (i > 0) expect(s.ticks[i] - s.ticks[i - 1]).toBeCloseTo(s.step, 6);
            const text = formatTick(s.ticks[i], s);
            expect(Number(text)).toBeCloseTo(s.ticks[i], 9);
            expect(text.replace(/^-/, '').length).toBeLessThanOrEqual(String(Math.round(Math.abs(s.ticks[i]))).length + 1 + s.decimals);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('widens an empty range and rejects unusable ones', () => {
    expect(niceTicks(30, 30).ticks[0]).toBeLessThan(30);
    expect(niceTicks(30, 30).max).toBeGreaterThan(30);
    expect(niceTicks(0, 0).ticks).toContain(0);
    for (const [lo, hi] of [[NaN, 1], [0, Infinity], [2, 1]]) {
      const e = errorOf(() => niceTicks(lo, hi));
      expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e?.message).toMatch(/expected finite lo <= hi/);
    }
    expect(errorOf(() => niceTicks(0, 1, 0))?.code).toBe('ERR_INVALID_ARGUMENT');
  });

  it('formats ticks with the decimals the step needs', () => {
    const s = niceTicks(0, 0.3, 3);
    expect(s.ticks.map((v) => formatTick(v, s))).toEqual(['0', '0.1', '0.2', '0.3']);
    const q = niceTicks(0, 10, 4);
    expect(q.ticks.map((v) => formatTick(v, q))).toEqual(['0', '2.5', '5.0', '7.5', '10.0']);
    const big = niceTicks(0, 3e15, 3);
    expect(big.ticks.map((v) => formatTick(v, big))).toEqual(['0', '1e+15', '2e+15', '3e+15']);
  });
});

describe('escapeXml', () => {
  it('escapes markup characters and drops what XML cannot hold', () => {
    expect(escapeXml(`a<b>&"c"'d'`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
    expect(escapeXml('x\u0000y\nz\u0007')).toBe('x y z ');
    expect(escapeXml('\ud800lone')).toBe('\ufffdlone');
    expect(escapeXml('pair \ud83d\ude00 ok')).toBe('pair \ud83d\ude00 ok');
    expect(escapeXml('already &amp;')).toBe('already &amp;amp;');
  });

  it('is applied to every piece of text in a chart', () => {
    const evil = '</text><script>alert(1)</script> & "q"';
    const svg = chartSvg({
      ...sample(),
      title: evil,
      xLabel: evil,
      yLabel: evil,
      series: [{ name: evil, points: [{ x: 1, y: 2, label: evil }, { x: 2, y: 3 }] }],
      referenceLines: [{ y: 2.5, label: evil }],
      formatX: () => evil,
    });
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('</text><');
    expect(svg).toContain('&lt;script&gt;');
    // well-formed enough for a strict SVG parser
    expect(() => renderSvgToPng(svg)).not.toThrow();
  });
});

describe('chartSvg layout', () => {
  it('is deterministic and has the requested size, every series colour and legend entry, the ticks', () => {
    const svg = chartSvg(sample());
    expect(chartSvg(sample())).toBe(svg);
    expect(svg).toMatch(/^<\?xml[^\n]*\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="800" height="500" viewBox="0 0 800 500"/);
    for (let i = 0; i < 3; i++) expect(svg).toContain(seriesStyle(i).color);
    const legend = groupOf(svg, 'legend');
    for (const s of sample().series) expect(legend).toContain(`>${escapeXml(s.name)}</text>`);
    expect(svg).toContain('>1x</text>');
    expect(svg).toContain('>8x</text>');
    expect(svg).toContain('>PSNR (dB)</text>');
    expect(svg).toContain('>lossless-looking</text>');
    expect(svg).toContain('>N=3</text>');
    expect(svg).toContain('stroke-dasharray="7 4"'); // the dashed series
  });

  it('gives each series a distinct colour and marker', () => {
    const styles = Array.from({ length: 30 }, (_, i) => seriesStyle(i));
    expect(new Set(styles.map((s) => `${s.color}/${s.marker}`)).size).toBe(30);
    expect(new Set(styles.slice(0, 10).map((s) => s.color)).size).toBe(10);
    expect(new Set(styles.slice(0, 6).map((s) => s.marker)).size).toBe(6);
  });

  it('keeps the data inside the frame and the legend outside it (right when narrow, below when wide)', () => {
    const svg = chartSvg(sample());
    const f = frameOf(svg);
    const series = groupOf(svg, 'series');
    const coords = [...series.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(coords.length).toBe(6); // series 0 uses circles
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThan(f.left + 2);
      expect(x).toBeLessThan(f.right - 2);
      expect(y).toBeGreaterThan(f.top + 2);
      expect(y).toBeLessThan(f.bottom - 2);
    }
    const legendXs = [...groupOf(svg, 'legend').matchAll(/ x1?="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.min(...legendXs)).toBeGreaterThan(f.right);

    const wide = chartSvg({ ...sample(), series: sample().series.map((s) => ({ ...s, name: `${s.name}, with a long description of the setting` })) });
    const g = frameOf(wide);
    const legendYs = [...groupOf(wide, 'legend').matchAll(/ y1?="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Math.min(...legendYs)).toBeGreaterThan(g.bottom + 20); // below the x tick labels
    expect(g.right).toBeGreaterThan(800 - 40); // the plot got the full width
  });

  it('includes reference lines in the y range', () => {
    const svg = chartSvg({ ...sample(), referenceLines: [{ y: 50, label: 'target' }] });
    expect(svg).toContain('>50</text>'); // a tick at or above 50
  });

  it('keeps the text inside the canvas with exact widths, at small and large sizes', () => {
    for (const [width, height] of [
      [320, 240],
      [800, 500],
      [1600, 900],
    ]) {
      const svg = chartSvg({ ...sample(), width, height }, { measureText });
      for (const m of svg.matchAll(/<text x="([\d.-]+)" y="([\d.-]+)" font-size="([\d.]+)"([^>]*)>([^<]*)<\/text>/g)) {
        const [x, y, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
        const content = m[5].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
        const w = measureText(content, size, m[4].includes('bold'));
        const rotated = /transform="translate\(([\d.]+) ([\d.]+)\) rotate\(-90\)"/.exec(m[4]);
        if (rotated) {
          // the y label: centred on its anchor, running upwards
          const [bx, cy] = [Number(rotated[1]), Number(rotated[2])];
          expect(bx - 0.8 * size, content).toBeGreaterThanOrEqual(0);
          expect(cy - w / 2, content).toBeGreaterThanOrEqual(0);
          expect(cy + w / 2, content).toBeLessThanOrEqual(height);
          continue;
        }
        const x0 = m[4].includes('text-anchor="end"') ? x - w : m[4].includes('text-anchor="middle"') ? x - w / 2 : x;
        expect(x0, `${content} at ${width}x${height}`).toBeGreaterThanOrEqual(0);
        expect(x0 + w, `${content} at ${width}x${height}`).toBeLessThanOrEqual(width);
        expect(y, content).toBeGreaterThan(0);
        expect(y, content).toBeLessThanOrEqual(height);
      }
    }
  });
});

describe('chartSvg validation', () => {
  const cases: Array<[string, (o: ChartOptions) => unknown, RegExp]> = [
    ['no series', (o) => ({ ...o, series: [] }), /series must be a non-empty array of \{ name, points \}, got an array of length 0/],
    ['series not an array', (o) => ({ ...o, series: undefined }), /series must be a non-empty array/],
    ['a series without points', (o) => ({ ...o, series: [{ name: 'a', points: [] }] }), /series\[0\]\.points must be a non-empty array of \{ x, y \}/],
    ['NaN y', (o) => ({ ...o, series: [o.series[0], { name: 'b', points: [{ x: 1, y: 2 }, { x: 2, y: NaN }] }] }), /series\[1\]\.points\[1\]\.y must be finite, got NaN/],
    ['Infinity x', (o) => ({ ...o, series: [{ name: 'a', points: [{ x: Infinity, y: 1 }] }] }), /series\[0\]\.points\[0\]\.x must be finite, got Infinity/],
    ['string x', (o) => ({ ...o, series: [{ name: 'a', points: [{ x: '1', y: 1 }] }] }), /points\[0\]\.x must be a number, got "1"/],
    ['a point that is null', (o) => ({ ...o, series: [{ name: 'a', points: [null] }] }), /points\[0\] must be an object \{ x, y \}, got null/],
    ['a nameless series', (o) => ({ ...o, series: [{ points: [{ x: 1, y: 1 }] }] }), /series\[0\]\.name must be a string, got undefined/],
    ['zero width', (o) => ({ ...o, width: 0 }), /width \(pixels\) must be in 320\.\.8192, got 0/],
    ['negative height', (o) => ({ ...o, height: -5 }), /height \(pixels\) must be in 240\.\.8192, got -5/],
    ['fractional width', (o) => ({ ...o, width: 640.5 }), /width \(pixels\) must be an integer/],
    ['NaN height', (o) => ({ ...o, height: NaN }), /height \(pixels\) must be an integer, got NaN/],
    ['a missing title', (o) => ({ ...o, title: undefined }), /title must be a string, got undefined/],
    ['a NaN reference line', (o) => ({ ...o, referenceLines: [{ y: NaN, label: 'r' }] }), /referenceLines\[0\]\.y must be finite, got NaN/],
    ['an unknown legend placement', (o) => ({ ...o, legend: 'top' }), /legend must be 'auto', 'right' or 'bottom', got "top"/],
    ['a non-function format', (o) => ({ ...o, formatY: '%.1f' }), /formatY must be a function/],
    ['not an object', () => null, /expected an options object, got null/],
    [
      'too many series for the height',
      (o) => ({ ...o, height: 240, series: Array.from({ length: 40 }, (_, i) => ({ name: `series number ${i}`, points: [{ x: i, y: i }] })) }),
      /leaves no room for the plot .* expected a height of at least \d+/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what} with ERR_INVALID_ARGUMENT`, () => {
      const e = errorOf(() => chartSvg(make(sample()) as ChartOptions));
      expect(e?.name).toBe('TaylorSeerError');
      expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e?.message).toMatch(message);
    });
  }

  it('draws any valid data or says why not (random charts)', () => {
    const finite = fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.string({ maxLength: 30 }),
            points: fc.array(fc.record({ x: finite, y: finite, label: fc.option(fc.string({ maxLength: 8 }), { nil: undefined }) }), {
              minLength: 1,
              maxLength: 12,
            }),
            dashed: fc.boolean(),
          }),
          { minLength: 1, maxLength: 14 },
        ),
        fc.integer({ min: 320, max: 1600 }),
        fc.integer({ min: 240, max: 1200 }),
        fc.constantFrom('auto', 'right', 'bottom') as fc.Arbitrary<'auto' | 'right' | 'bottom'>,
        (series, width, height, legend) => {
          let svg: string;
          try {
            svg = chartSvg({ title: 'fuzz', xLabel: 'x', yLabel: 'y', series, width, height, legend });
          } catch (e) {
            expect((e as { code?: string }).code).toBe('ERR_INVALID_ARGUMENT');
            expect((e as Error).message).toMatch(/expected a (height|width) of at least \d+/);
            return;
          }
          expect(svg).not.toMatch(/="[^"]*(NaN|Infinity|undefined)/); // in no attribute (labels may say anything)
          const f = frameOf(svg);
          expect(f.right - f.left).toBeGreaterThanOrEqual(40);
          expect(f.bottom - f.top).toBeGreaterThanOrEqual(40);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('accepts one point, one series, and all points equal', () => {
    expect(() => chartSvg({ title: '', xLabel: '', yLabel: '', series: [{ name: '', points: [{ x: 3, y: 3 }] }] })).not.toThrow();
    const svg = chartSvg({ ...sample(), series: [{ name: 'flat', points: [{ x: 1, y: 5 }, { x: 1, y: 5 }] }], referenceLines: [] });
    expect(svg).toContain('>5.0</text>');
  });
});

describe('rendering', () => {
  function decode(png: Buffer): PNG {
    return PNG.sync.read(png);
  }
  function countNear(img: PNG, hex: string, tol = 6): number {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    let count = 0;
    for (let i = 0; i < img.data.length; i += 4) {
      if (Math.abs(img.data[i] - r) <= tol && Math.abs(img.data[i + 1] - g) <= tol && Math.abs(img.data[i + 2] - b) <= tol) count++;
    }
    return count;
  }
  function inkIn(img: PNG, x0: number, y0: number, x1: number, y1: number): number {
    let count = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = (y * img.width + x) * 4;
        if (img.data[i] < 128 && img.data[i + 1] < 128 && img.data[i + 2] < 128) count++;
      }
    }
    return count;
  }

  it('renders a PNG of the requested size, opaque, not blank, with every series colour', () => {
    const img = decode(renderChartPng({ ...sample(), width: 640, height: 400 }));
    expect([img.width, img.height]).toEqual([640, 400]);
    let opaque = 0;
    let white = 0;
    for (let i = 0; i < img.data.length; i += 4) {
      if (img.data[i + 3] === 255) opaque++;
      if (img.data[i] === 255 && img.data[i + 1] === 255 && img.data[i + 2] === 255) white++;
    }
    expect(opaque).toBe(640 * 400);
    expect(white).toBeLessThan(640 * 400 * 0.97);
    expect(white).toBeGreaterThan(640 * 400 * 0.5);
    for (let i = 0; i < 3; i++) expect(countNear(img, SERIES_COLORS[i]), SERIES_COLORS[i]).toBeGreaterThan(100);
    expect(countNear(img, SERIES_COLORS[5])).toBe(0); // a colour no series uses
  });

  it('draws text with the bundled font (system fonts are never loaded)', () => {
    for (const f of fontFiles()) expect(f.split(path.sep).join('/')).toMatch(/node_modules\/dejavu-fonts-ttf\/ttf\/DejaVuSans(-Bold)?\.ttf$/);
    const withTitle = decode(renderChartPng(sample()));
    const without = decode(renderChartPng({ ...sample(), title: '' }));
    // the title band: dark glyph pixels only when there is a title
    expect(inkIn(withTitle, 200, 0, 600, 30)).toBeGreaterThan(200);
    expect(inkIn(without, 200, 0, 600, 12)).toBe(0);
    expect(measureText('WWW', 12, false)).toBeGreaterThan(measureText('iii', 12, false) * 2);
    expect(measureText('speed', 24, false)).toBeCloseTo(2 * measureText('speed', 12, false), 0);
    expect(measureText('speed', 12, true)).toBeGreaterThan(measureText('speed', 12, false));
  });

  it('estimates text widths generously (within 15% above the real width)', () => {
    for (const s of ['fixed step O=2', 'adaptive time O=3', 'PSNR (dB)', '8x', '42.5', 'Quality vs speed', 'evaluation speedup']) {
      for (const bold of [false, true]) {
        const ratio = approxTextWidth(s, 12, bold) / measureText(s, 12, bold);
        expect(ratio, s).toBeGreaterThanOrEqual(0.99);
        expect(ratio, s).toBeLessThanOrEqual(1.15);
      }
    }
  });

  it('renders the same bytes every time, and scales', () => {
    expect(renderChartPng(sample()).equals(renderChartPng(sample()))).toBe(true);
    const img = decode(renderChartPng({ ...sample(), width: 320, height: 240, legend: 'bottom', series: [sample().series[0]] }, { scale: 2 }));
    expect([img.width, img.height]).toEqual([640, 480]);
  });

  it('rejects bad SVG and bad scales with ERR_INVALID_ARGUMENT', () => {
    for (const [fn, message] of [
      [() => renderSvgToPng('<svg><g></svg>'), /expected valid SVG markup/],
      [() => renderSvgToPng(''), /svg must be a non-empty string/],
      [() => renderSvgToPng(chartSvg(sample()), { scale: 0 }), /scale must be a number from 0.25 to 8, got 0/],
    ] as const) {
      const e = errorOf(fn);
      expect(e?.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e?.message).toMatch(message);
    }
  });
});
