/**
 * Charts: data -> SVG (chart.ts, pure) -> PNG (render.ts, resvg with a bundled font).
 */
export {
  chartSvg,
  niceTicks,
  formatTick,
  escapeXml,
  approxTextWidth,
  seriesStyle,
  SERIES_COLORS,
  MARKERS,
  MIN_WIDTH,
  MIN_HEIGHT,
  MAX_SIZE,
} from './chart';
export type { ChartOptions, ChartEnvironment, Series, Point, ReferenceLine, LegendPlacement, MeasureText, Marker, NiceScale } from './chart';
export { renderChartPng, renderSvgToPng, measureText, fontFiles } from './render';
export type { RenderOptions } from './render';
export { titledImagesPng, titledImagesSvg, titledImagesSize, TITLED_LAYOUT } from './titled-images';
export type { TitledRow } from './titled-images';
