import * as os from 'node:os';
import { defaultCpuBenchSizes, runCpuBench, type CpuBenchRow } from '../../bench/cpu-bench';
import { MAX_ORDER } from '../../expansion';
import { STORAGE_DTYPES } from '../../native';
import type { Command } from '../command';
import { formatBytes, formatTable, parseBytes, parseChoice, parseInteger, parseList, parseNumber } from '../parse';

function cpuTable(rows: CpuBenchRow[]): string {
  return formatTable(
    ['op', 'dtype', 'order', 'size', 'ms', 'GB/s', 'copy GB/s', 'of copy', 'naive GB/s', 'vs naive', 'norms cost'],
    rows.map((r) => [
      r.op,
      r.dtype,
      String(r.order),
      formatBytes(r.bytes),
      r.ms.toFixed(3),
      r.gbps.toFixed(1),
      r.copyGbps.toFixed(1),
      `${(100 * r.ofCopy).toFixed(0)}%`,
      r.naiveGbps === null ? '-' : r.naiveGbps.toFixed(2),
      r.vsNaive === null ? '-' : `${r.vsNaive.toFixed(1)}x`,
      r.normsCost === undefined ? '-' : `${(100 * r.normsCost).toFixed(1)}%`,
    ]),
  );
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'throughput of the fused update/forecast kernels vs copy bandwidth and the naive sequence',
  details:
    'Every figure is a median over repeated runs after an untimed warm-up; a kernel and the sequence it is compared with ' +
    'are timed in alternation (A B A B ...), so both see the same machine state.',
  options: {
    device: { type: 'string', value: 'cpu|cuda', default: 'cpu', description: 'which kernels to time (cuda: timed on the device with CUDA events)' },
    sizes: { type: 'string', value: '64K,4M,...', defaultText: '64K,1M,4M,16M,64M', description: 'bytes of one activation tensor per row' },
    orders: { type: 'string', value: '1,2,3', default: '1,2,3', description: 'Taylor orders to time (1..4)' },
    dtypes: { type: 'string', value: 'f32,f16,bf16,i8', default: 'f32', description: 'storage formats of the factors (i8: d_0 in bf16, the differences in 8-bit records)' },
    budget: { type: 'string', value: 'MS', default: '250', description: 'milliseconds spent timing each cell (1..60000)' },
    'no-naive': { type: 'boolean', description: 'skip the unfused TypeScript sequence the kernels are compared with' },
    norms: { type: 'boolean', description: 'also time the update that returns the factor norms, against the plain one' },
    json: { type: 'boolean', description: 'print one JSON object per row' },
  },
  examples: ['taylorseer bench', 'taylorseer bench --sizes 4M --orders 2 --dtypes f32,bf16 --norms', 'taylorseer bench --device cuda --json'],
  async run(values) {
    const device = parseChoice('device', String(values.device), ['cpu', 'cuda'] as const);
    const orders = parseList('orders', String(values.orders), (s) => parseInteger('orders', s, 1, MAX_ORDER));
    const dts = parseList('dtypes', String(values.dtypes), (s) => parseChoice('dtypes', s, STORAGE_DTYPES));
    const budgetMs = parseNumber('budget', String(values.budget), 1, 60_000);
    const json = Boolean(values.json);
    if (device === 'cuda') {
      const { runCudaBenchCommand } = await import('../../bench/cuda-bench');
      return runCudaBenchCommand({ orders, json, budgetMs });
    }
    const sizes = values.sizes ? parseList('sizes', String(values.sizes), (s) => parseBytes('sizes', s)) : defaultCpuBenchSizes;
    if (!json) process.stderr.write(`CPU benchmark on ${os.cpus()[0]?.model ?? 'unknown cpu'} (${os.cpus().length} threads)\n`);
    const rows = runCpuBench({
      sizes,
      orders,
      dtypes: dts,
      budgetMs,
      naive: !values['no-naive'],
      norms: Boolean(values.norms),
      onRow: json ? (r) => process.stdout.write(`${JSON.stringify(r)}\n`) : undefined,
    });
    if (!json) process.stdout.write(`${cpuTable(rows)}\n`);
    return 0;
  },
};
