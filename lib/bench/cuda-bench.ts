/**
 * CUDA benchmark of the fused kernels (`taylorseer bench --device cuda`). The timing itself is native
 * (cuda/bench.cu through the addon's cuda.bench): CUDA events around each repetition, median of many after
 * a warm-up, on a stream of its own, with a device-to-device copy measured by the same binary in the same
 * run as the bandwidth reference. Measured sets:
 *  - FLUX.1-dev 1024^2 step: 114 cached tensors (19 double blocks x ([1,4096,3072] x2 + [1,512,3072] x2) +
 *    38 single blocks x [1,4608,3072]), bf16 storage and activations, orders 1 and 2: forecast-all and
 *    update-all in ONE launch each, the same per tensor (114 launches), the eager-style baseline (one
 *    kernel per op of the reference's formulas), and the fused gated forecast (h + gate * F_hat) against
 *    forecast + a separate gated add.
 *  - single tensors of the PyTorch anchors (DiT-XL f32, FLUX joint and HunyuanVideo-480p bf16), orders 1-3.
 * "bytes" is the minimal traffic (each input read once, each output written once); pct_copy compares the
 * achieved rate with the copy's.
 */
import { native, type NativeAddon } from '../native';

export interface CudaBenchRow {
  /** tune: the same FLUX measurement with the persistent grid capped (blocks per SM) */
  group: 'copy' | 'flux' | 'single' | 'tune';
  name: string;
  order: number;
  tensors: number;
  storage: string;
  act: string;
  elements: number;
  /** minimal bytes moved */
  bytes: number;
  /** median over the repetitions, milliseconds */
  ms: number;
  ms_min: number;
  ms_max: number;
  GBps: number;
  /** GBps over the copy's GBps, in percent */
  pct_copy: number;
  /** bytes at the copy's rate */
  floor_ms: number;
  /** baseline rows: baseline time over the fused time */
  fused_speedup?: number;
}

export interface CudaBenchResult {
  device: string;
  sms: number;
  copy_GBps: number;
  reps: number;
  warmup: number;
  rows: CudaBenchRow[];
}

export interface CudaBenchOptions {
  /** timed repetitions per measurement (default 20; single tensors use at least 50) */
  reps?: number;
  warmup?: number;
  /** FLUX step set (default true) */
  flux?: boolean;
  /** single-tensor set (default true) */
  single?: boolean;
  /** progress lines on stderr */
  log?: boolean;
}

type CudaWithBench = NativeAddon['cuda'] & { bench(options?: CudaBenchOptions): Promise<string> };

/** Runs the benchmark on the current CUDA device (throws ERR_DEVICE when none is usable). */
export async function runCudaBench(options: CudaBenchOptions = {}, addon: NativeAddon = native()): Promise<CudaBenchResult> {
  const text = await (addon.cuda as CudaWithBench).bench(options);
  return JSON.parse(text) as CudaBenchResult;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** A plain-text table of the result (one line per row, the targets' ratios at the end). */
export function formatCudaBench(r: CudaBenchResult): string {
  const lines = [
    `CUDA bench on ${r.device} (${r.sms} SMs): copy ${r.copy_GBps.toFixed(0)} GB/s (read + write), median of ${r.reps} reps`,
    `${pad('group', 7)} ${pad('name', 30)} ${pad('ord', 3)} ${pad('ms', 9, true)} ${pad('GB/s', 7, true)} ${pad('%copy', 6, true)} ${pad('floor', 8, true)}  note`,
  ];
  for (const row of r.rows) {
    const note = row.fused_speedup !== undefined ? `fused ${row.fused_speedup.toFixed(2)}x faster` : '';
    lines.push(
      `${pad(row.group, 7)} ${pad(row.name, 30)} ${pad(String(row.order), 3)} ${pad(row.ms.toFixed(3), 9, true)} ` +
        `${pad(row.GBps.toFixed(0), 7, true)} ${pad(row.pct_copy.toFixed(1), 6, true)} ${pad(row.floor_ms.toFixed(3), 8, true)}  ${note}`,
    );
  }
  return lines.join('\n');
}

/** Headline checks against the kernels' targets of docs/cuda-kernels.md (H200 figures; H100 scales with its bandwidth). */
export function cudaBenchTargets(r: CudaBenchResult): Array<{ target: string; value: string; ok: boolean }> {
  const get = (name: string, order: number) => r.rows.find((x) => x.group === 'flux' && x.name === name && x.order === order);
  const out: Array<{ target: string; value: string; ok: boolean }> = [];
  for (const order of [1, 2]) {
    const fc = get('forecast_all', order);
    const up = get('update_all', order);
    const efc = get('eager_forecast_all', order);
    const g = get('gated_two_step', order);
    if (fc) out.push({ target: `forecast-all o${order} >= 90% of copy`, value: `${fc.pct_copy.toFixed(1)}% (${fc.ms.toFixed(3)} ms)`, ok: fc.pct_copy >= 90 });
    if (up) out.push({ target: `update-all o${order} >= 90% of copy`, value: `${up.pct_copy.toFixed(1)}% (${up.ms.toFixed(3)} ms)`, ok: up.pct_copy >= 90 });
    if (efc?.fused_speedup !== undefined)
      out.push({ target: `forecast-all o${order} >= 5x eager-style`, value: `${efc.fused_speedup.toFixed(2)}x`, ok: efc.fused_speedup >= 5 });
    if (g?.fused_speedup !== undefined)
      out.push({ target: `fused gated o${order} >= 1.3x two-step`, value: `${g.fused_speedup.toFixed(2)}x`, ok: g.fused_speedup >= 1.3 });
  }
  return out;
}

/**
 * `taylorseer bench --device cuda [--orders 1,2] [--budget MS] [--json]`: runs the benchmark and prints
 * either one JSON object per row on stdout (with the device and copy rate on every row) or the table and
 * the target checks. `orders` filters the rows (the copy row is always kept); `budgetMs` sets the
 * repetitions (one per 10 ms of budget, 5..100; every measurement is a median over them).
 */
export async function runCudaBenchCommand(opts: { orders: number[]; json: boolean; budgetMs: number }): Promise<number> {
  const reps = Math.min(100, Math.max(5, Math.round(opts.budgetMs / 10)));
  const r = await runCudaBench({ reps, log: !opts.json });
  const keep = new Set(opts.orders);
  r.rows = r.rows.filter((row) => row.group === 'copy' || keep.has(row.order));
  if (opts.json) {
    for (const row of r.rows)
      process.stdout.write(`${JSON.stringify({ device: r.device, sms: r.sms, copy_GBps: r.copy_GBps, reps: r.reps, ...row })}\n`);
  } else {
    process.stdout.write(`${formatCudaBench(r)}\n`);
    for (const t of cudaBenchTargets(r)) process.stdout.write(`${t.ok ? 'OK  ' : 'MISS'} ${t.target}: ${t.value}\n`);
  }
  return 0;
}
