/**
 * GPU-machine entry of the CUDA benchmark through the addon (bundled by scripts/gpu-pack.sh):
 *   node cuda-bench.cjs OUT.json [--reps N]
 * Loads the addon from $TAYLORSEER_ADDON, runs lib/bench/cuda-bench.ts, writes the JSON, prints the table.
 */
import * as fs from 'node:fs';

import { cudaBenchTargets, formatCudaBench, runCudaBench } from '../../../lib/bench/cuda-bench';
import { TaylorSeerError } from '../../../lib/errors';
import type { NativeAddon } from '../../../lib/native';

async function main() {
  const out = process.argv[2];
  const ri = process.argv.indexOf('--reps');
  const reps = ri > 0 ? Number(process.argv[ri + 1]) : undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = require(process.env.TAYLORSEER_ADDON!) as NativeAddon;
  addon.setErrorClass(TaylorSeerError as unknown as new (code: string, message: string) => Error);
  const r = await runCudaBench({ reps, log: true }, addon);
  if (out) fs.writeFileSync(out, JSON.stringify(r, null, 1));
  console.log(formatCudaBench(r));
  for (const t of cudaBenchTargets(r)) console.log(`${t.ok ? 'OK  ' : 'MISS'} ${t.target}: ${t.value}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
