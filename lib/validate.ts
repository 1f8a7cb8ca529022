/**
 * The argument checks every public entry point uses (the hook, cache, schedules, expansion, pipeline,
 * manifest and charts). Each throws a TaylorSeerError whose message names the argument, what it was and
 * what was expected, so a caller can fix the call from the message alone.
 */
import { TaylorSeerError, type TaylorSeerErrorCode } from './errors';

/**
 * The most denoising steps a schedule accepts. Samplers use tens to a thousand; the schedules keep per-step
 * state (a mask holds one flag per step), so an absurd count must fail here, before anything is allocated.
 */
export const MAX_STEPS = 100_000;

/** schedule.steps: an integer in 1..MAX_STEPS. */
export function requireSteps(value: unknown): number {
  return requireInt('schedule.steps', value, 1, MAX_STEPS);
}

// C0 controls, DEL and the C1 controls (U+009B starts a terminal escape sequence, like ESC [)
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * A string in double quotes with every control character escaped (JSON.stringify escapes the C0 ones, not DEL
 * and the C1 ones such as U+009B, a terminal's escape-sequence start): names from files can reach a terminal.
 */
export function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A message as one printable line: control characters, which could end the line or drive the terminal (a
 * name read from a damaged model file, an argument), written as escapes.
 */
export function printable(message: string): string {
  const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  return message.replace(new RegExp(CONTROL, 'g'), (c) => named[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Whether a string holds a control character (C0, DEL or C1). */
export function hasControlCharacter(s: string): boolean {
  return CONTROL.test(s);
}

/** The first line of another library's message, printable: it may quote names from the file it read. */
export function firstLine(message: string): string {
  return printable(message.split('\n')[0]);
}

/** A short, safe rendering of a received value for error messages. */
export function show(value: unknown): string {
  if (typeof value === 'string') return quote(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === 'function') return 'a function';
  const ctor = (value as object).constructor;
  return ctor === undefined || ctor === Object ? 'an object' : `a ${ctor.name}`;
}

/** A plain object (not null, not an array), whose fields can be read by name. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An integer in [min, max]; `code` is the error code for a value out of range (wrong types are always ERR_INVALID_ARGUMENT). */
export function requireInt(
  name: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  code: TaylorSeerErrorCode = 'ERR_INVALID_ARGUMENT',
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name} must be an integer, got ${show(value)}`);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new TaylorSeerError(code, `${name} must be ${range}, got ${value}`);
  }
  return value;
}

/** A finite number; `code` is the error code for NaN or Infinity (wrong types are always ERR_INVALID_ARGUMENT). */
export function requireFinite(name: string, value: unknown, code: TaylorSeerErrorCode = 'ERR_NON_FINITE'): number {
  if (typeof value !== 'number') {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name} must be a number, got ${show(value)}`);
  }
  if (!Number.isFinite(value)) throw new TaylorSeerError(code, `${name} must be finite, got ${value}`);
  return value;
}

export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name} must be a string, got ${show(value)}`);
  return value;
}

export function requireObject(name: string, value: unknown): Record<string, unknown> {
  if (!isRecord(value)) {
    throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `${name} must be an object, got ${show(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Rejects keys outside `allowed`: a misspelt option (e.g. `fresh_threshold`) must not be silently ignored. */
export function requireKnownKeys(name: string, value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new TaylorSeerError(
        'ERR_INVALID_ARGUMENT',
        `${name} has an unknown option ${show(key)}; expected only ${allowed.map((k) => `"${k}"`).join(', ')}`,
      );
    }
  }
}

export function requireOneOf<T extends string>(
  name: string,
  value: unknown,
  allowed: readonly T[],
  code: TaylorSeerErrorCode = 'ERR_INVALID_ARGUMENT',
): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new TaylorSeerError(code, `${name} must be one of ${allowed.map((k) => `"${k}"`).join(', ')}, got ${show(value)}`);
  }
  return value as T;
}
