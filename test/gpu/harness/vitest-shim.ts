/**
 * A minimal stand-in for the part of vitest's API the GPU tests use (describe / it with skipIf, expect
 * with a few matchers), so the tests can run on the GPU machine as one esbuild bundle under a bare
 * `node`, without carrying vitest and its dependencies (scripts/gpu-pack.sh bundles test/gpu/*.test.ts
 * with `vitest` aliased to this file). Test bodies are registered at import; run() executes them in
 * order, prints one line per test and a summary, and returns the results.
 */
type Fn = () => unknown;
interface Test {
  name: string;
  fn: Fn;
  skip: boolean;
  timeout: number;
}
interface Suite {
  name: string;
  skip: boolean;
  tests: Test[];
  children: Suite[];
  before: Fn[];
  after: Fn[];
}

const root: Suite = { name: '', skip: false, tests: [], children: [], before: [], after: [] };
let current = root;

function addSuite(name: string, fn: Fn, skip: boolean) {
  const s: Suite = { name, skip: skip || current.skip, tests: [], children: [], before: [], after: [] };
  current.children.push(s);
  const prev = current;
  current = s;
  try {
    fn(); // collected even when skipped, as vitest does
  } finally {
    current = prev;
  }
}
function addTest(name: string, fn: Fn, skip: boolean, timeout?: number) {
  current.tests.push({ name, fn, skip: skip || current.skip, timeout: timeout ?? 60_000 });
}

type DescribeFn = (name: string, fn: Fn) => void;
type ItFn = (name: string, fn: Fn, timeout?: number) => void;

export const describe = Object.assign((name: string, fn: Fn) => addSuite(name, fn, false), {
  skip: (name: string, fn: Fn) => addSuite(name, fn, true),
  skipIf: (cond: unknown): DescribeFn => (name, fn) => addSuite(name, fn, !!cond),
  runIf: (cond: unknown): DescribeFn => (name, fn) => addSuite(name, fn, !cond),
});
export const it = Object.assign((name: string, fn: Fn, timeout?: number) => addTest(name, fn, false, timeout), {
  skip: (name: string, fn: Fn) => addTest(name, fn, true),
  skipIf: (cond: unknown): ItFn => (name, fn, timeout) => addTest(name, fn, !!cond, timeout),
  runIf: (cond: unknown): ItFn => (name, fn, timeout) => addTest(name, fn, !cond, timeout),
});
export const test = it;
export function beforeAll(fn: Fn) {
  current.before.push(fn);
}
export function afterAll(fn: Fn) {
  current.after.push(fn);
}

function show(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || !a || !b) return false;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function matchers(actual: unknown, negate: boolean) {
  const check = (ok: boolean, what: string) => {
    if (ok === negate) throw new Error(`expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  return {
    toBe: (x: unknown) => check(Object.is(actual, x), `to be ${show(x)}`),
    toEqual: (x: unknown) => check(deepEqual(actual, x), `to equal ${show(x)}`),
    toBeTruthy: () => check(!!actual, 'to be truthy'),
    toBeFalsy: () => check(!actual, 'to be falsy'),
    toBeGreaterThan: (x: number | bigint) => check((actual as number) > x, `to be > ${show(x)}`),
    toBeGreaterThanOrEqual: (x: number | bigint) => check((actual as number) >= x, `to be >= ${show(x)}`),
    toBeLessThan: (x: number | bigint) => check((actual as number) < x, `to be < ${show(x)}`),
    toBeLessThanOrEqual: (x: number | bigint) => check((actual as number) <= x, `to be <= ${show(x)}`),
    toBeInstanceOf: (c: new (...a: never[]) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
  };
}
export function expect(actual: unknown) {
  return Object.assign(matchers(actual, false), { not: matchers(actual, true) });
}

export interface Result {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  error?: string;
}

async function withTimeout(fn: Fn, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function runSuite(s: Suite, path: string[], out: Result[]) {
  const here = s.name ? [...path, s.name] : path;
  const active = !s.skip && (s.tests.some((t) => !t.skip) || s.children.length > 0);
  if (active) for (const f of s.before) await f();
  for (const t of s.tests) {
    const name = [...here, t.name].join(' > ');
    if (t.skip) {
      out.push({ name, status: 'skip', ms: 0 });
      console.log(`  - ${name} (skipped)`);
      continue;
    }
    const t0 = performance.now();
    try {
      await withTimeout(t.fn, t.timeout);
      const ms = performance.now() - t0;
      out.push({ name, status: 'pass', ms });
      console.log(`  \u2713 ${name} (${ms.toFixed(0)} ms)`);
    } catch (e) {
      const ms = performance.now() - t0;
      const err = e instanceof Error ? `${e.message}\n${(e.stack ?? '').split('\n').slice(1, 4).join('\n')}` : String(e);
      out.push({ name, status: 'fail', ms, error: err });
      console.log(`  \u2717 ${name} (${ms.toFixed(0)} ms)\n      ${err.replace(/\n/g, '\n      ')}`);
    }
  }
  for (const c of s.children) await runSuite(c, here, out);
  if (active) for (const f of s.after) await f();
}

export async function run(): Promise<Result[]> {
  const out: Result[] = [];
  await runSuite(root, [], out);
  const n = (st: Result['status']) => out.filter((r) => r.status === st).length;
  console.log(`\n${n('pass')} passed, ${n('fail')} failed, ${n('skip')} skipped`);
  return out;
}
