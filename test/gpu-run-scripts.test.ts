/**
 * The scripts a GPU machine runs from a pack (scripts/gpu-all.sh, gpu-e2e.sh and their summaries): a device
 * session gets one short try, so what they refuse and what their summaries print is checked here, on
 * stage outputs written by the test (no GPU, no PyTorch).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..');
const python = spawnSync('python3', ['-c', 'import json'], { encoding: 'utf8' }).status === 0;
const bash = spawnSync('bash', ['-c', 'true']).status === 0;

let out: string;
beforeEach(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-gpu-run-'));
});
afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

/** A FLUX-step row of the CUDA benchmark's JSON (cuda/bench.cu), the fields the summaries read. */
function fluxRow(name: string, order: number, storage: string, ms: number, bytes: number, extra: object = {}) {
  return { group: 'flux', name, order, tensors: 114, storage, act: 'bf16', elements: 1, bytes, ms, ms_min: ms, ms_max: ms,
    GBps: bytes / ms / 1e6, pct_copy: 90, floor_ms: ms * 0.9, ...extra };
}

function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = root) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
}

describe.skipIf(!python)('the GPU check summary (scripts/gpu-summary.py)', () => {
  it("prints the 'i8' FLUX step against bf16's and judges the forecast against 0.6x bf16's time", () => {
    const rows = [
      fluxRow('forecast_all', 2, 'bf16', 2.0, 6e9),
      fluxRow('update_all', 2, 'bf16', 3.0, 8e9),
      fluxRow('forecast_all', 2, 'i8', 1.4, 4.14e9, { vs_bf16: 0.7 }),
      fluxRow('update_all', 2, 'i8', 2.1, 5.5e9, { vs_bf16: 0.7 }),
    ];
    fs.writeFileSync(path.join(out, 'bench.json'), JSON.stringify({ device: 'test card', sms: 1, copy_GBps: 1, reps: 1, warmup: 0, rows }));
    fs.writeFileSync(path.join(out, 'stages.txt'), 'bench rc=0 2s\n');
    const r = run('python3', ['scripts/gpu-summary.py', out]);
    expect(r.status, r.stderr).toBe(0);
    // the bf16 row is the one in the table, not the 'i8' row of the same name
    expect(r.stdout).toMatch(/forecast o2 +2\.000/);
    expect(r.stdout).toContain("i8 o2: forecast    1.400 = 0.700x bf16's time (bytes 0.690x)");
    expect(r.stdout).toContain('MISS i8 forecast <= 0.6x bf16 (0.700x; bytes allow 0.690x)');
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.flux_step.order2.i8.update).toEqual({ ms: 2.1, vs_bf16: 0.7, bytes_vs_bf16: 5.5e9 / 8e9 });
  });

  it('prints no i8 line for a benchmark without i8 rows (an older build)', () => {
    const rows = [fluxRow('forecast_all', 2, 'bf16', 2.0, 6e9), fluxRow('update_all', 2, 'bf16', 3.0, 8e9)];
    fs.writeFileSync(path.join(out, 'bench.json'), JSON.stringify({ device: 'test card', sms: 1, copy_GBps: 1, reps: 1, warmup: 0, rows }));
    const r = run('python3', ['scripts/gpu-summary.py', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('i8');
  });
});

describe.skipIf(!python)('the end-to-end summary (bench/e2e/summary.py)', () => {
  it('leaves out the stages a run did not include, and says when the measurement gave no result', () => {
    fs.writeFileSync(path.join(out, 'stages.txt'), 'e2e rc=1 3s\n');
    const r = run('python3', ['bench/e2e/summary.py', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('stages: e2e=1');
    expect(r.stdout).not.toContain('kernel_test');
    expect(r.stdout).not.toContain('compute-sanitizer');
    expect(r.stdout).toContain('e2e: no result (see e2e.log)');
  });

  it('reports the kernel test and the sanitizers when they ran', () => {
    fs.writeFileSync(path.join(out, 'stages.txt'), 'kernel_test rc=0 30s\nmemcheck rc=0 5s\nracecheck rc=0 7s\n');
    fs.writeFileSync(path.join(out, 'kernel_test.log'), '... 7419 checks, 0 failures\n');
    fs.writeFileSync(path.join(out, 'memcheck.log'), '========= ERROR SUMMARY: 0 errors\n');
    fs.writeFileSync(path.join(out, 'racecheck.log'), '========= RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)\n');
    const r = run('python3', ['bench/e2e/summary.py', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('kernel_test: 7419 checks, 0 failures');
    expect(r.stdout).toContain('compute-sanitizer: memcheck 0 errors, racecheck 0 errors');
  });
});

describe.skipIf(!bash)('the device scripts refuse what would waste a device call', () => {
  it('gpu-all.sh names the missing pack file and the command that prepares it', () => {
    // run from a folder without .gpu/, as on a device machine given the tree without the pack
    const r = run('bash', [path.join(root, 'scripts', 'gpu-all.sh')], { OUT: path.join(out, 'results') }, out);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('gpu-all: .gpu/node.xz missing: prepare with scripts/gpu-pack.sh all');
    expect(fs.existsSync(path.join(out, 'results'))).toBe(false);
  });

  it('gpu-e2e.sh refuses an unknown stage name before it starts anything', () => {
    const r = run('bash', ['scripts/gpu-e2e.sh'], { OUT: out, TS_GPU_E2E_STAGES: 'e2e benchmark' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown stage 'benchmark'");
    expect(fs.existsSync(path.join(out, 'stages.txt'))).toBe(false);
  });

  it('gpu-pack.sh refuses an unknown mode', () => {
    const r = run('bash', ['scripts/gpu-pack.sh', 'everything']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: scripts/gpu-pack.sh [check|e2e|all]');
  });
});
