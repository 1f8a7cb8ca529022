/**
 * The pipeline commands: `eval` prints one consistent JSON object and rejects bad arguments with one-line
 * errors; `demo` writes PNGs that decode.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../lib/cli/command';
import { commands } from '../../lib/cli/commands';
import { demoCommand } from '../../lib/cli/commands/demo';
import { evalCommand } from '../../lib/cli/commands/eval';
import { bundledModelDir } from '../../lib/pipeline/bundled';
import { parseArgsOptions } from '../../lib/cli/help';
import { main } from '../../lib/cli/main';
import { TITLED_LAYOUT } from '../../lib/plot';
import { readF32, TaylorSeerError } from './imports';
import { MODEL_DIR } from './helpers';
import { tempDirOfFile } from '../helpers/temp-dir';

const tmp = tempDirOfFile('taylorseer-cli-');

/** Runs a command the way the dispatcher does (strict parseArgs), capturing stdout. */
async function run(command: Command, args: string[]): Promise<{ code: number; stdout: string }> {
  const { values, positionals } = parseArgs({ args, options: parseArgsOptions(command.options), strict: true, allowPositionals: false });
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
  it('the bundled model resolves to fixtures/dit-digits, the devDependency taylorseer-dit-digits', () => {
    expect(bundledModelDir()).toBe(MODEL_DIR);
  });

  it('prints one JSON object whose fields agree with each other; --out writes the accelerated sample', async () => {
    const out = path.join(tmp(), 'accel.f32');
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
    // wall times by the shared method: medians of --repeat (default 3) alternated rounds
    expect(r.repeat).toBe(3);
    expect(r.timing.full.reps).toBe(3);
    expect(r.timing.accelerated.reps).toBe(3);
    expect(r.wallMs).toBe(r.timing.accelerated.medianMs);
    expect(r.overhead.rawRatio).toBeCloseTo(r.wallSpeedup / r.evalSpeedup, 12);
    // a ratio is only a result when it stands out of the noise; one above 1 never is
    expect(['measured', 'within-noise', 'disturbed']).toContain(r.overhead.verdict);
    if (r.overhead.verdict === 'measured') expect(r.overheadRatio).toBe(r.overhead.rawRatio);
    else expect(r.overheadRatio).toBeNull();
    if (r.overhead.rawRatio > 1) expect(r.overheadRatio).toBeNull();
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

  it('--seed, separate CFG, lite granularity and bf16 storage; the model folder is reported as given', async () => {
    const relative = path.relative(process.cwd(), MODEL_DIR);
    const args = evalArgs.filter((_, i, a) => a[i] !== '--noise' && a[i - 1] !== '--noise').map((a) => (a === MODEL_DIR ? relative : a));
    const { stdout } = await run(evalCommand, [...args, '--seed', '7', '--cfg', 'separate', '--granularity', 'lite', '--storage', 'bf16']);
    const r = JSON.parse(stdout); // pretty-printed without --json: still one object
    expect(r.modelDir).toBe(relative); // saved results carry no absolute path of the machine
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
    [['--scheduler', 'euler'], /--scheduler euler: expected flow, ddim or ddpm/],
    [['--labels', '1,2,3'], /--noise .*: holds 6144 float32 values, expected 9216/],
  ])('rejects %j with a one-line ERR_INVALID_ARGUMENT', async (extra, message) => {
    const e = await rejection(evalCommand, [...evalArgs, ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('\n');
  });

  it.each([
    [['--labels', '3,10'], /--labels 10: 10 is this model's null class \(the unconditional branch of guidance\), not one of its classes 0\.\.9/],
    [['--labels', Array.from({ length: 3000 }, (_, i) => i % 10).join(',')], /--labels: 3000 samples, more than the limit of 1024 per run/],
  ])('checks --labels against the model before anything is allocated: %#', async (extra, message) => {
    const e = await rejection(evalCommand, [...evalArgs, ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });

  it('a labels count that fits the limit but not the memory is refused with the estimate and what fits', async () => {
    const { checkSampleCount, runBytesEstimate } = await import('../../lib/cli/commands/pipeline-shared');
    const arch = { modules: 2 * 40, elements: 4096 * 4096 };
    expect(() => checkSampleCount(arch, 1000, 4)).toThrow(/--labels: 1000 samples need about .* GiB .*, more than the .* allowed on this machine \(3\/4 of its memory\): at most \d+ samples per run/);
    expect(runBytesEstimate(arch, 1, 0)).toBe(2 * 4096 * 4096 * 4 * (2 * 40 + 16));
  });

  it.runIf(process.platform !== 'win32')('--noise that is a FIFO or larger than expected is refused before it is read', async () => {
    const fifo = path.join(tmp(), 'noise.fifo');
    fs.rmSync(fifo, { force: true });
    execFileSync('mkfifo', [fifo]);
    const args = evalArgs.map((a, i) => (evalArgs[i - 1] === '--noise' ? fifo : a));
    const e = await rejection(evalCommand, args);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toMatch(/FIFO/);
    const big = path.join(tmp(), 'big-noise.f32');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 2 ** 32);
    const e2 = await rejection(evalCommand, evalArgs.map((a, i) => (evalArgs[i - 1] === '--noise' ? big : a)));
    expect(e2.message).toMatch(/holds 1073741824 float32 values, expected 6144/);
  });

  it('--out is checked before the model loads or anything runs', async () => {
    const file = path.join(tmp(), 'a-file');
    fs.writeFileSync(file, 'x');
    // the model directory does not exist either: the output path is what fails first
    const e = await rejection(evalCommand, ['--model', path.join(tmp(), 'no-model'), '--out', path.join(file, 'sub', 'accel.f32')]);
    expect(e.code).toBe('ERR_IO');
    expect(e.message).toContain(file);
  });

  it('unknown options fail in strict parsing', () => {
    expect(() => parseArgs({ args: ['--frobnicate'], options: parseArgsOptions(evalCommand.options), strict: true })).toThrow(/Unknown option/);
  });

  it('a missing model directory is ERR_MODEL', async () => {
    const e = await rejection(evalCommand, ['--model', path.join(tmp(), 'nothing-here'), '--steps', '4']);
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
  it('writes titled PNGs (full compute and every setting side by side) and a summary; progress lines go to a non-terminal stderr', async () => {
    const out = path.join(tmp(), 'demo');
    const errs: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (errs.push(String(chunk)), true)) as typeof process.stderr.write;
    let result;
    try {
      result = await run(demoCommand, ['--out', out, '--steps', '6', '--threads', '1']);
    } finally {
      process.stderr.write = write;
    }
    const { code, stdout } = result;
    expect(code).toBe(0);
    expect(stdout).toMatch(/full compute/);
    expect(stdout).toMatch(/PSNR/);
    // vitest's stderr is not a terminal: one line per run after a warm-up line
    expect(errs.join('')).toMatch(/demo: warm-up, then 5 timed runs/);
    expect(errs.filter((l) => /^demo: run \d\/5: /.test(l))).toHaveLength(5);

    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.labels).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(summary.rows.length).toBe(5);
    // the settings scale with --steps and their labels say the values used: at 10 steps the adaptive row
    // spends as many full steps as N=5, and its label names that budget
    const n5 = summary.rows.find((r: { id: string }) => r.id === 'module-n5-o2');
    const adaptive = summary.rows.find((r: { id: string }) => r.id === 'adaptive-o3');
    expect(adaptive.fullSteps).toBe(n5.fullSteps);
    expect(adaptive.label).toContain(`K=${adaptive.fullSteps}`);
    expect(adaptive.label).not.toMatch(/\b12\b/);

    const gridWidth = 2 + 10 * (32 * 3 + 2); // scale 3 plus padding
    const gridHeight = 2 + 32 * 3 + 2;
    const L = TITLED_LAYOUT;
    const rowsHeight = (n: number) => 2 * L.margin + L.headingHeight + n * (L.titleHeight + gridHeight) + (n - 1) * L.rowGap;
    const ink = (png: PNG, y0: number, y1: number) => {
      let dark = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * 4] < 128) dark++;
      return dark;
    };
    for (const row of summary.rows) {
      const png = PNG.sync.read(fs.readFileSync(row.png));
      const n = row.id === 'full' ? 1 : 2;
      expect(png.width).toBeGreaterThanOrEqual(gridWidth + 2 * L.margin);
      expect(png.height).toBe(rowsHeight(n));
      // the heading and each row's title are drawn (dark text on white) above the samples
      expect(ink(png, L.margin, L.margin + L.headingHeight)).toBeGreaterThan(100);
      for (let i = 0; i < n; i++) {
        const top = L.margin + L.headingHeight + i * (L.titleHeight + gridHeight + L.rowGap);
        expect(ink(png, top, top + L.titleHeight)).toBeGreaterThan(100);
      }
      // not a blank image: the samples vary
      const values = new Set<number>();
      for (let i = 0; i < png.data.length; i += 4 * 97) values.add(png.data[i]);
      expect(values.size).toBeGreaterThan(10);
      if (row.id !== 'full') {
        expect(row.psnr).toBeGreaterThan(15);
        expect(row.evalSpeedup).toBeGreaterThan(1);
        // one round: the overhead is never a bare ratio above 1
        expect(['single-run', 'disturbed']).toContain(row.overhead.verdict);
      }
    }
    const comparison = PNG.sync.read(fs.readFileSync(summary.comparison));
    expect(comparison.height).toBe(rowsHeight(summary.rows.length));
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 300_000);
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
    const out = path.join(tmp(), 'sweep');
    const { code, stdout } = await run(sweepCommand, ['--model', MODEL_DIR, '--steps', '8', '--labels', '3', '--shifts', '2', '--budgets', '4',
      '--orders', '1', '--variables', 'step', '--adaptive-warmups', '1', '--adaptive-cooldowns', '0', '--out', out, '--quiet',
      '--holdout-labels', '7', '--holdout-seed', '3', '--repeat', '2']);
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
    // --repeat: the chosen configurations timed against full compute by the shared method
    expect(json.timing).toMatchObject({ repeat: 2 });
    for (const t of [json.summary[0].timing.fixed, json.summary[0].timing.adaptive]) {
      expect(t.fullMs.reps).toBe(2);
      expect(t.wallSpeedup).toBeCloseTo(t.fullMs.medianMs / t.acceleratedMs.medianMs, 12);
      expect(['measured', 'within-noise', 'disturbed']).toContain(t.verdict);
      if (t.verdict !== 'measured') expect(t.overheadRatio).toBeNull();
    }
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
    const e = await rejection(sweepCommand, ['--model', MODEL_DIR, '--steps', '8', '--budgets', '4', '--out', path.join(tmp(), 'sweep-bad'), ...extra]);
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(message);
  });
});

describe('output and budget errors through the dispatcher', () => {
  async function stderrOf(argv: string[]): Promise<{ code: number; stderr: string }> {
    const errs: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (errs.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      return { code: await main(argv), stderr: errs.join('') };
    } finally {
      process.stderr.write = write;
    }
  }

  it.each(['sweep', 'demo'])('%s --out under a file is one ERR_IO line naming the path, before any run', async (name) => {
    const file = path.join(tmp(), `${name}-file`);
    fs.writeFileSync(file, 'x');
    const t0 = Date.now();
    const { code, stderr } = await stderrOf([name, '--model', path.join(tmp(), 'no-model'), '--out', path.join(file, 'sub')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`^taylorseer ${name}: cannot use --out .*${name}-file.*not a directory.* \\[ERR_IO\\]\n$`));
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it.runIf(fs.existsSync('/proc/self'))('sweep --out under /proc fails at once instead of spinning', async () => {
    const { code, stderr } = await stderrOf(['sweep', '--model', path.join(tmp(), 'no-model'), '--out', '/proc/taylorseer/sweep']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/\/proc\/taylorseer.* \[ERR_IO\]/);
  });

  it('calibrate --budget 1 does not blame a --warmup the user never gave', async () => {
    const { calibrateCommand } = await import('../../lib/cli/commands/calibrate');
    const { code, stdout } = await run(calibrateCommand, ['--model', MODEL_DIR, '--steps', '4', '--labels', '3', '--budget', '1', '--sweeps', '1', '--quiet', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).schedule).toMatchObject({ full: [0], warmup: 1 });
    const e = await rejection(calibrateCommand, ['--model', MODEL_DIR, '--steps', '4', '--budget', '1', '--warmup', '3']);
    expect(e.message).toMatch(/^--warmup 3: expected a number in \[0, 1\]/);
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
