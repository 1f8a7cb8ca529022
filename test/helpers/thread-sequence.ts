/**
 * A deterministic TaylorSeer workload, run both on the main thread (test/native/threads.test.ts) and inside
 * worker_threads (test/helpers/seer-worker.cjs), so the two can be compared bit for bit.
 *
 * Every config runs full and forecast steps through module(), moduleAsync() (an async compute that yields to
 * the event loop, so the configs interleave), gatedResidual() and a second context, then reset() and a few
 * more steps. The tensors are above the CPU pool's parallel threshold, so workers running this at the same
 * time compete for the shared thread pool. Results are SHA-256 digests of the exact output bytes per step.
 */
import { createHash } from 'node:crypto';
import { TaylorSeerError } from '../../lib/errors';
import { TaylorSeer } from '../../lib/taylor-seer';
import { native, type Dtype, type HostTensor } from '../../lib/native';

export interface SequenceConfig {
  name: string;
  activation: Dtype;
  storage: Dtype;
  maxOrder: number;
  variable: 'step' | 'time' | 'newton';
}

export const CONFIGS: readonly SequenceConfig[] = [
  { name: 'f32/f32 K2 step', activation: 'f32', storage: 'f32', maxOrder: 2, variable: 'step' },
  { name: 'bf16/bf16 K3 step', activation: 'bf16', storage: 'bf16', maxOrder: 3, variable: 'step' },
  { name: 'f16/f16 K1 time', activation: 'f16', storage: 'f16', maxOrder: 1, variable: 'time' },
  { name: 'f32/bf16 K4 newton', activation: 'f32', storage: 'bf16', maxOrder: 4, variable: 'newton' },
];

/** [batch, tokens, dim]: 40960 elements, above the pool's parallel threshold (32768). */
export const SHAPE = { batch: 2, tokens: 64, dim: 320 } as const;
const N = SHAPE.batch * SHAPE.tokens * SHAPE.dim;
const STEPS = 14;
const SCHEDULE = { kind: 'fixed', steps: STEPS, interval: 3, warmup: 2 } as const; // full: 0, 1, 4, 7, 10, 13

/** Shifted flow-matching grid, t from 1 towards 0 (for 'time' and 'newton'). */
function tAt(step: number): number {
  const t = 1 - step / STEPS;
  return (3 * t) / (1 + 2 * t);
}

function hashKey(key: string): number {
  let h = 2166136261;
  for (const c of key) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h >>> 0) % 997;
}

/** A smooth per-(seed, step, key) feature with some per-element noise, in the activation dtype. */
export function feature(seed: number, step: number, key: string, n: number, dtype: Dtype): HostTensor {
  const k = hashKey(key) + 31 * seed;
  const x = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const noise = (((j * 2654435761 + k * 40503) >>> 0) % 1000) / 1000 - 0.5;
    x[j] = Math.sin(0.11 * step * (1 + (j % 7)) + 0.001 * k) * (1 + 0.02 * step) + 0.01 * noise;
  }
  if (dtype === 'f32') return x;
  const bits = new Uint16Array(n);
  native().toHalf(x, dtype, bits);
  return bits;
}

function bytesOf(a: HostTensor): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const tick = () => new Promise<void>((r) => setImmediate(r));

export type Digests = Array<[label: string, sha256: string]>;

async function runConfig(seed: number, c: SequenceConfig): Promise<Digests> {
  const out: Digests = [];
  const seer = new TaylorSeer<Dtype>({ schedule: SCHEDULE, maxOrder: c.maxOrder, variable: c.variable, storage: c.storage, activation: c.activation });
  const f = (s: number, key: string, n = N) => feature(seed, s, key, n, c.activation);
  const steps = async (label: string, count: number) => {
    for (let s = 0; s < count; s++) {
      seer.beginStep(s, c.variable === 'step' ? undefined : tAt(s));
      const hash = createHash('sha256');
      hash.update(bytesOf(seer.module('attn', () => f(s, 'attn'))));
      hash.update(bytesOf(await seer.moduleAsync('mlp', async () => (await tick(), f(s, 'mlp')))));
      const h = f(s, 'h');
      await seer.gatedResidual('res', async () => (await tick(), f(s, 'res')), h, f(s, 'gate', SHAPE.batch * SHAPE.dim), SHAPE);
      hash.update(bytesOf(h));
      hash.update(bytesOf(seer.module('attn', () => f(s, 'attn-uncond'), { context: 'uncond' })));
      out.push([`${c.name} ${label} step ${s} (${seer.isFull ? 'full' : 'forecast'})`, hash.digest('hex')]);
    }
  };
  await steps('run 1', STEPS);
  await steps('run 2', 6); // beginStep(0) starts a new run on the same object
  out.push([`${c.name} stats`, JSON.stringify(seer.stats)]);
  seer.reset();
  await steps('after reset', 6);
  seer.dispose();
  return out;
}

/** Runs every config concurrently (their async computes interleave) and returns the digests in a fixed order. */
export async function runSequence(seed: number): Promise<Digests> {
  const perConfig = await Promise.all(CONFIGS.map((c) => runConfig(seed, c)));
  return perConfig.flat();
}

/**
 * Errors raised in this environment: a TS-level and a native-level rejection must both be this
 * environment's TaylorSeerError class (the addon keeps the class per environment).
 */
export function errorClasses(): Array<[where: string, isTaylorSeerError: boolean, code: string | undefined]> {
  const result: Array<[string, boolean, string | undefined]> = [];
  for (const [where, call] of [
    ['hook', () => new TaylorSeer({ schedule: SCHEDULE, maxOrder: 9 })],
    ['addon', () => native().forecast('f32', 'f32', [])],
  ] as const) {
    try {
      call();
      result.push([where, false, 'no error']);
    } catch (e) {
      result.push([where, e instanceof TaylorSeerError, (e as { code?: string }).code]);
    }
  }
  return result;
}
