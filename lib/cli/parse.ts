/** Value parsers for command-line options: each throws ERR_INVALID_ARGUMENT naming the option. */
import { TaylorSeerError } from '../errors';

function bad(option: string, value: string, expected: string): never {
  throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--${option} ${value}: expected ${expected}`);
}

/** A decimal number as people write one: 3, -0.5, 1e-3 (Number() alone also reads 0x10, 0b1 and " "). */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i;

export function isDecimal(value: string): boolean {
  return DECIMAL.test(value);
}

export function parseNumber(option: string, value: string, min = -Infinity, max = Infinity): number {
  const v = Number(value);
  if (!isDecimal(value) || !Number.isFinite(v) || v < min || v > max) bad(option, value, `a number in [${min}, ${max}]`);
  return v;
}

export function parseInteger(option: string, value: string, min = -Infinity, max = Infinity): number {
  const v = parseNumber(option, value, min, max);
  if (!Number.isInteger(v)) bad(option, value, `an integer in [${min}, ${max}]`);
  return v;
}

export function parseChoice<T extends string>(option: string, value: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) bad(option, value, `one of ${choices.join(', ')}`);
  return value as T;
}

export function parseList<T>(option: string, value: string, item: (s: string) => T): T[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) bad(option, value, 'a comma-separated list without empty items');
  return parts.map(item);
}

const units: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1 << 20, MB: 1 << 20, G: 1 << 30, GB: 1 << 30 };

/** "64K", "4MB", "1G", "4096" -> bytes */
export function parseBytes(option: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?B?)$/i.exec(value.trim());
  const unit = m ? units[m[2].toUpperCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0) bad(option, value, 'a size such as 64K, 4M or 1G');
  return Math.round(Number(m[1]) * unit);
}

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${+(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${+(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${+(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Left-aligned first column, right-aligned others. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
