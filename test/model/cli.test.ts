/**
 * The pipeline commands: `eval` prints one consistent JSON object and rejects bad arguments with one-line
 * errors; `demo` writes PNGs that decode.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../lib/cli/command';
import { commands } from '../../lib/cli/commands';
import { demoCommand } from '../../lib/cli/commands/demo';
import { evalCommand } from '../../lib/cli/commands/eval';
import { defaultModelDir } from '../../lib/cli/commands/pipeline-shared';
import { main } from '../../lib/cli/main';
import { readF32, TaylorSeerError } from './imports';
import { MODEL_DIR } from './helpers';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'taylorseer-cli-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command the way the dispatcher does (strict parseArgs), capturing stdout. */
async function run(command: Command, args: string[]): Promise<{ code: number; stdout: string }> {
  const { values, positionals } = parseArgs({ args, options: command.options, strict: true, allowPositionals: false });
  const chunks: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    const code = await command.run(values, positionals);
    return { code, stdout: chunks.join('') };
  } finally {
    process.stdout.write = write;
  }
}

async function rejection(command: Command, args: string[]): Promise<TaylorSeerError> {
  try {
    await run(command, args);
  } catch (e) {
    expect(e).toBeInstanceOf(TaylorSeerError);
    return e as TaylorSeerError;
  }
  throw new Error(`expected ${command.name} ${args.join(' ')} to fail`);
}

const evalArgs = [
  '--model', MODEL_DIR, '--steps', '10', '--guidance', '3', '--labels', '3,7',
  '--noise', path.join(MODEL_DIR, 'reference/noise.f32'),
  '--schedule', 'fixed', '--interval', '3', '--order', '2', '--warmup', '3', '--threads', '1',
];

describe('eval', () => {
  it('the bundled model resolves from lib/cli/commands (and from dist/cli/commands: same depth)', () => {
    expect(defaultModelDir()).toBe(MODEL_DIR);
  });

  it('prints one JSON object whose fields agree with each other; --out writes the accelerated sample', async () => {
    const out = path.join(tmp, 'accel.f32');
    const { code, stdout } = await run(evalCommand, [...evalArgs, '--out', out, '--json']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const r = JSON.parse(stdout);
    for (const k of ['fullSteps', 'moduleEvals', 'moduleEvalsFull', 'evalSpeedup', 'wallMs', 'wallMsFull', 'wallSpeedup', 'psnr', 'ssim', 'relL2', 'cacheBytes']) {
      expect(typeof r[k], k).toBe('number');
    }
    expect(r.fullStepList).toEqual([0, 1, 2, 5, 8]);
    expect(r.fullSteps).toBe(5);
    expect(r.forecastSteps).toBe(5);
    expect(r.moduleEvalsFull).toBe(10 * 12);
    expect(r.moduleEvals).toBe(5 * 12);
    expect(r.evalSpeedup).toBeCloseTo(r.moduleEvalsFull / r.moduleEvals, 12);
    expect(r.wallSpeedup).toBeCloseTo(r.wallMsFull / r.wallMs, 12);
    expect(r.overheadRatio).toBeCloseTo(r.wallSpeedup / r.evalSpeedup, 12);
    expect(r.psnr).toBeGreaterThan(25);
    expect(r.ssim).toBeGreaterThan(0.9);
    expect(r.ssim).toBeLessThanOrEqual(1);
    expect(r.relL2).toBeGreaterThan(0);
    expect(r.relL2).toBeLessThan(0.2);
    expect(r.cacheBytes).toBe(12 * 3 * 4 * 256 * 256 * 4);
    expect(r.computes).toBe(r.moduleEvals);
    expect(r.out).toBe(out);
    expect(readF32(out)).toHaveLength(2 * 3 * 32 * 32);
  });

  it('--seed, separate CFG, lite granularity and bf16 storage', async () => {
    const args = evalArgs.filter((_, i, a) => a[i] !== '--noise' && a[i - 1] !== '--noise');
    const { stdout } = await run(evalCommand, [...args, '--seed', '7', '--cfg', 'separate', '--granularity', 'lite', '--storage', 'bf16']);
    const r = JSON.parse(stdout); // pretty-printed without --json: still one object
    expect(r.cfg).toBe('separate');
    expect(r.granularity).toBe('lite');
    expect(r.moduleEvalsFull).toBe(2 * 10 * 12);
    expect(r.cacheEntries).toBe(2);
    expect(r.cacheBytes).toBe(2 * 3 * 2 * 3 * 32 * 32 * 2);
    expect(r.psnr).toBeGreaterThan(25);
  });

  it.each([
    [['--steps', 'ten'], /--steps ten: expected a number/],
    [['--labels', '3,x'], /--labels x/],
    [['--labels', '3,12'], /--labels/],
    [['--order', '7'], /--order 7/],
    [['--variable', 'sigma'], /--variable sigma: expected one of step, time, newton/],
    [['--granularity', 'layer'], /--granularity layer/],
    [['--cfg', 'both'], /--cfg both/],
    [['--storage', 'f8'], /--storage f8/],
    [['--schedule', 'adaptive'], /--schedule adaptive/],
    [['--schedule', 'mask'], /--interval does not apply to --schedule mask/],
    [['--schedule', 'adaptive', '--budget', '10'], /--interval does not apply to --schedule adaptive/],
    [['--seed', '3'], /--noise and --seed exclude each other/],
    [['--shift', '0'], /--shift 0/],
    [['--labels', '1,2,3'], /--noise .*: holds 6144 float32 values, expected 9216/],
  ])('rejects %j with a one-line ERR_INVALID_ARGUMENT', async (extra, message) => {
    const e = await rejection(evalCommand, [...evalArgs, ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it('unknown options fail in strict parsing', () => {
    expect(() => parseArgs({ args: ['--frobnicate'], options: evalCommand.options, strict: true })).toThrow(/Unknown option/);
  });

  it('a missing model directory is ERR_MODEL', async () => {
    const e = await rejection(evalCommand, ['--model', path.join(tmp, 'nothing-here'), '--steps', '4']);
    expect(e.code).toBe('ERR_MODEL');
  });

  it.runIf(commands.some((c) => c.name === 'eval'))('through the dispatcher: bad arguments exit non-zero with one line on stderr', async () => {
    const errs: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (errs.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      expect(await main(['eval', '--steps', 'x'])).not.toBe(0);
      expect(await main(['eval', '--bogus'])).not.toBe(0);
    } finally {
      process.stderr.write = write;
    }
    expect(errs).toHaveLength(2);
    for (const line of errs) expect(line.trim().split('\n')).toHaveLength(1);
  });
});

describe('demo', () => {
  it('writes readable PNGs: full compute and every setting side by side, plus a summary', async () => {
    const out = path.join(tmp, 'demo');
    const { code, stdout } = await run(demoCommand, ['--out', out, '--steps', '6', '--threads', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/full compute/);
    expect(stdout).toMatch(/PSNR/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.labels).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(summary.rows.length).toBeGreaterThanOrEqual(3);
    const cell = 32 * 3 + 2; // scale 3 plus padding
    for (const row of summary.rows) {
      const png = PNG.sync.read(fs.readFileSync(row.png));
      expect(png.width).toBe(2 + 10 * cell);
      expect(png.height).toBe(2 + (row.id === 'full' ? 1 : 2) * cell);
      // not a blank image: the samples vary
      const values = new Set<number>();
      for (let i = 0; i < png.data.length; i += 4 * 97) values.add(png.data[i]);
      expect(values.size).toBeGreaterThan(10);
      if (row.id !== 'full') {
        expect(row.psnr).toBeGreaterThan(20);
        expect(row.evalSpeedup).toBeGreaterThan(1);
      }
    }
    const comparison = PNG.sync.read(fs.readFileSync(summary.comparison));
    expect(comparison.width).toBe(2 + 10 * cell);
    expect(comparison.height).toBe(2 + summary.rows.length * cell + (summary.rows.length - 1) * 4);
  });
});

describe('eval --schedule adaptive', () => {
  it('spends exactly the budget and reports it', async () => {
    const args = ['--model', MODEL_DIR, '--steps', '12', '--guidance', '3', '--labels', '3', '--seed', '1', '--threads', '1',
      '--schedule', 'adaptive', '--budget', '6', '--warmup', '1', '--order', '2', '--variable', 'time', '--shift', '3', '--json'];
    const { code, stdout } = await run(evalCommand, args);
    expect(code).toBe(0);
    const r = JSON.parse(stdout);
    expect(r.fullSteps).toBe(6);
    expect(r.schedule).toMatchObject({ kind: 'adaptive', budget: 6, warmup: 1 });
    expect(r.evalSpeedup).toBeCloseTo(2, 5);
    expect(r.psnr).toBeGreaterThan(20);
  });

  it.each([
    [[], /--schedule mask needs --full/],
    [['--full', '1,2'], /contains step 0/],
  ])('rejects a mask schedule %j with a one-line error', async (extra, message) => {
    const e = await rejection(evalCommand, ['--model', MODEL_DIR, '--schedule', 'mask', ...extra]);
    expect(e.message).toMatch(message);
  });

  it('rejects --budget together with --tolerance', async () => {
    const e = await rejection(evalCommand, ['--model', MODEL_DIR, '--schedule', 'adaptive', '--budget', '6', '--tolerance', '0.1']);
    expect(e.message).toMatch(/exactly one of --budget/);
  });
});

describe('sweep', () => {
  it('runs fixed and adaptive schedules at equal full steps, prints the summary, writes sweep.json and a PNG plot', async () => {
    const { sweepCommand } = await import('../../lib/cli/commands/sweep');
    const out = path.join(tmp, 'sweep');
    const { code, stdout } = await run(sweepCommand, ['--model', MODEL_DIR, '--steps', '8', '--labels', '3', '--shifts', '2', '--budgets', '4',
      '--orders', '1', '--variables', 'step', '--adaptive-warmups', '1', '--adaptive-cooldowns', '0', '--out', out, '--quiet',
      '--holdout-labels', '7', '--holdout-seed', '3']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/best fixed/);
    expect(stdout).toMatch(/held out/);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8'));
    expect(json.rows.length).toBeGreaterThan(1);
    for (const r of json.rows) expect(r.fullSteps).toBe(4);
    expect(json.rows.some((r: { schedule: { kind: string } }) => r.schedule.kind === 'adaptive')).toBe(true);
    expect(json.summary[0]).toMatchObject({ shift: 2, budget: 4 });
    // the chosen configurations, run again on the held-out sample
    expect(json.holdout).toEqual({ labels: [7] });
    const h = json.summary[0].holdout;
    expect(Number.isFinite(h.fixedPsnr) && Number.isFinite(h.adaptivePsnr)).toBe(true);
    expect(h.gain).toBeCloseTo(h.adaptivePsnr - h.fixedPsnr, 12);
    expect(h.fixedPsnr).not.toBe(json.summary[0].bestFixed.psnr);
    const png = PNG.sync.read(fs.readFileSync(path.join(out, 'plot-shift-2.png')));
    expect([png.width, png.height]).toEqual([1000, 600]);
  });
});

describe('sweep arguments', () => {
  it.each([
    [['--holdout-seed', '3'], /--holdout-noise and --holdout-seed need --holdout-labels/],
    [['--holdout-labels', '7', '--holdout-seed', '3', '--holdout-noise', 'x.f32'], /--holdout-noise and --holdout-seed exclude each other/],
    [['--holdout-labels', '7,x'], /--holdout-labels x/],
  ])('rejects %j with a one-line ERR_INVALID_ARGUMENT', async (extra, message) => {
    const { sweepCommand } = await import('../../lib/cli/commands/sweep');
    const e = await rejection(sweepCommand, ['--model', MODEL_DIR, '--steps', '8', '--budgets', '4', '--out', path.join(tmp, 'sweep-bad'), ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });
});

describe('calibrate', () => {
  it('prints the schedule it found and eval flags that reproduce its PSNR', async () => {
    const { calibrateCommand } = await import('../../lib/cli/commands/calibrate');
    const common = ['--model', MODEL_DIR, '--steps', '6', '--labels', '3', '--seed', '2'];
    const { code, stdout } = await run(calibrateCommand, [...common, '--budget', '3', '--warmup', '1', '--sweeps', '1', '--quiet', '--json']);
    expect(code).toBe(0);
    const c = JSON.parse(stdout);
    expect(c).toMatchObject({ steps: 6, budget: 3, order: 2, variable: 'newton', schedule: { kind: 'mask', steps: 6 } });
    expect(c.schedule.full).toHaveLength(3);
    expect(c.psnr).toBeGreaterThanOrEqual(c.start.psnr);
    expect(c.gainDb).toBeCloseTo(c.psnr - c.start.psnr, 12);
    const e = await run(evalCommand, [...common, '--guidance', '3', ...c.evalFlags.split(' '), '--json']);
    const r = JSON.parse(e.stdout);
    expect(r.fullStepList).toEqual(c.schedule.full);
    expect(r.psnr).toBeCloseTo(c.psnr, 9);
  });

  it.each([
    [[], /needs --budget/],
    [['--budget', '7'], /--budget 7/],
    [['--budget', '3', '--start', '1,2,3'], /step 0/],
    [['--budget', '3', '--labels', '3', '--noise', path.join(MODEL_DIR, 'reference/noise.f32')], /--noise .*: holds 6144 float32 values, expected 3072/],
  ])('rejects %j with a one-line ERR_INVALID_ARGUMENT', async (extra, message) => {
    const { calibrateCommand } = await import('../../lib/cli/commands/calibrate');
    const e = await rejection(calibrateCommand, ['--model', MODEL_DIR, '--steps', '6', ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });
});
