/*
 * The quality table behind `taylorseer plan`'s ordering and docs/memory.md: PSNR against full compute of
 * every order x storage x granularity at the reference's fixed schedule N=5, W=3 on a made-small DiT, for
 * the sample sets of quality-samples.ts (in-sample and held out). Runs from the TypeScript sources with tsx
 * (the native addon built). Prints one JSON line per row.
 *
 *   npx tsx scripts/memory-quality.ts --model fixtures/dit-digits [--orders 0,1,2,3] [--storages f32,bf16]
 *       [--granularities module,block,lite] [--sets in,held]
 */
import { parseArgs } from 'node:util';
import { compare, type Granularity } from '../lib/pipeline/index';
import type { StorageDtype } from '../lib/index';
import { list, loadQualityModel, modelName, MODEL_OPTION, sampleSet, STEPS } from './quality-samples';

const { values } = parseArgs({
  options: {
    model: MODEL_OPTION,
    orders: { type: 'string', default: '0,1,2,3' },
    storages: { type: 'string', default: 'f32,bf16,f16' },
    granularities: { type: 'string', default: 'module,block,lite' },
    sets: { type: 'string', default: 'in,held' },
    interval: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
  },
});

async function main(): Promise<void> {
  const dir = values.model;
  const model = await loadQualityModel(dir);
  const schedule = { kind: 'fixed' as const, steps: STEPS, interval: Number(values.interval), warmup: Number(values.warmup) };
  for (const name of list(values.sets)) {
    const set = await sampleSet(model, dir, name);
    for (const granularity of list(values.granularities) as Granularity[]) {
      for (const order of list(values.orders).map(Number)) {
        for (const storage of list(values.storages) as StorageDtype[]) {
          const c = await compare(model, { ...set.base, granularity, full: set.full, seer: { schedule, maxOrder: order, storage } });
          const row = {
            model: modelName(dir), set: set.name, granularity, order, storage, interval: schedule.interval, warmup: schedule.warmup,
            fullSteps: c.accelerated.fullSteps, psnr: +c.quality.psnr.toFixed(3), cacheBytes: c.accelerated.cacheBytes,
          };
          process.stdout.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  }
  await model.dispose();
}
main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
