/**
 * `taylorseer plan`: the factor memory of a real model (lib/seed-systems.ts) at every order x storage x
 * granularity, what fits a budget, and the most accurate configuration that fits (lib/plan.ts).
 */
import type { StorageDtype } from '../../native';
import { formatGB, parseMemorySize, plan, PLAN_STORAGES, type Plan } from '../../plan';
import { CACHE_GRANULARITIES, SEED_SYSTEM_IDS, type CacheGranularity } from '../../seed-systems';
import { listPresets, seedSystemFor } from '../../presets';
import { MAX_ORDER } from '../../expansion';
import { TaylorSeerError } from '../../errors';
import type { Command } from '../command';
import { formatTable, parseChoice, parseInteger } from '../parse';
import { str } from './pipeline-shared';

/** "1024" (square) or "1280x720" (width x height) */
function parseResolution(value: string): { width: number; height: number } {
  const m = /^(\d+)(?:x(\d+))?$/i.exec(value.trim());
  if (!m) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--resolution ${value}: expected a size such as 1024 or 1280x720 (width x height)`);
  const width = Number(m[1]);
  return { width, height: m[2] === undefined ? width : Number(m[2]) };
}

function textReport(p: Plan): string {
  const { system: s, size, tokens } = p;
  const lines = [
    `${s.name} ${size.width}x${size.height}${s.temporalStride > 0 ? `, ${size.frames} frames` : ''}, batch ${p.batch}, CFG streams ${s.cfgStreams} (${s.cfg}): ` +
      `${tokens.image} image tokens${tokens.text ? ` + ${tokens.text} text tokens` : ''}, hidden ${s.hidden}`,
    `factor memory = (order + 1) x cached tensors x bytes per element ('i8': d_0 in bf16, each difference 68 bytes per 64 elements)${p.budget === undefined ? '' : `; budget ${formatGB(p.budget)}`}`,
    '',
    formatTable(
      ['granularity', 'order', 'storage', 'tensors', 'per factor', 'factors', 'fits', 'made-model PSNR'],
      p.rows.map((r) => [
        r.granularity,
        String(r.order),
        r.storage,
        String(r.tensors),
        formatGB(r.bytesPerFactor),
        formatGB(r.bytes),
        r.fits ? 'yes' : 'no',
        r.madeModelPsnr === undefined ? 'not measured' : `${r.madeModelPsnr.toFixed(2)} dB`,
      ]),
    ),
    '',
  ];
  const r = p.recommended;
  lines.push(
    r
      ? `recommended: --granularity ${r.granularity} --order ${r.order} --storage ${r.storage} (${formatGB(r.bytes)} of factors)`
      : 'recommended: nothing listed fits the budget with a measured quality; lower the resolution, frames or batch, or shard the tokens',
  );
  lines.push(`ordered by quality measured on the made-small DiTs, not on ${s.name}: ${p.qualitySource}`);
  lines.push("device 'cuda' adds one staging copy of each entry in the activation dtype (bf16: " + CACHE_GRANULARITIES.filter((g) => p.tensors[g].length > 0 && p.rows.some((x) => x.granularity === g)).map((g) => `${g} ${formatGB(2 * p.stagingElements[g])}`).join(', ') + ')');
  return lines.join('\n');
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'factor memory of a real model per order x storage x granularity, and the best fit for a budget',
  details:
    'Bytes are exact at the real model\'s shapes (lib/seed-systems.ts, each number with its public source). The recommendation is ' +
    'the fitting configuration with the best PSNR against full compute measured on the made-small DiTs (docs/memory.md), not on the model itself.',
  options: {
    preset: {
      type: 'string',
      value: SEED_SYSTEM_IDS.join('|'),
      description: `the model (required); a preset for one model names it too (${listPresets().filter((p) => p.systems.length === 1).map((p) => p.id).join(', ')})`,
    },
    resolution: { type: 'string', value: '1024 | WxH', defaultText: "the model's default", description: 'width x height in pixels (one number: square)' },
    frames: { type: 'string', value: 'F', defaultText: "the model's default", description: 'video frames (4k + 1; video models only)' },
    batch: { type: 'string', value: 'B', default: '1', description: 'samples per forward' },
    order: { type: 'string', value: 'O', defaultText: 'every order 0..4', description: 'only this Taylor order' },
    storage: { type: 'string', value: PLAN_STORAGES.join('|'), defaultText: 'every storage', description: 'only this factor storage' },
    granularity: { type: 'string', value: CACHE_GRANULARITIES.join('|'), defaultText: 'all three', description: 'only this granularity' },
    budget: { type: 'string', value: 'SIZE', description: 'memory for the factors, e.g. 24GB (10^9 bytes) or 24GiB (2^30)' },
    json: { type: 'boolean', description: 'print the plan as JSON' },
  },
  examples: [
    'taylorseer plan --preset flux-dev --resolution 1024 --budget 24GB',
    'taylorseer plan --preset wan2.1-14b --resolution 1280x720 --frames 81 --order 1 --storage i8 --json',
    'taylorseer plan --preset dit-xl --batch 8 --budget 4GB',
  ],
  async run(v) {
    const preset = str(v, 'preset');
    if (preset === undefined) throw new TaylorSeerError('ERR_INVALID_ARGUMENT', `--preset is required (one of ${SEED_SYSTEM_IDS.join(', ')})`);
    const system = seedSystemFor(preset);
    const resolution = str(v, 'resolution');
    const frames = str(v, 'frames');
    const size = {
      ...(resolution === undefined ? {} : parseResolution(resolution)),
      ...(frames === undefined ? {} : { frames: parseInteger('frames', frames, 1, 100_000) }),
    };
    const order = str(v, 'order');
    const storage = str(v, 'storage');
    const granularity = str(v, 'granularity');
    const budget = str(v, 'budget');
    const p = plan({
      system,
      size,
      batch: parseInteger('batch', str(v, 'batch')!, 1, 65_536),
      ...(order === undefined ? {} : { orders: [parseInteger('order', order, 0, MAX_ORDER)] }),
      ...(storage === undefined ? {} : { storages: [parseChoice('storage', storage, PLAN_STORAGES) as StorageDtype] }),
      ...(granularity === undefined ? {} : { granularities: [parseChoice('granularity', granularity, CACHE_GRANULARITIES) as CacheGranularity] }),
      ...(budget === undefined ? {} : { budget: parseMemorySize(budget, '--budget') }),
    });
    if (v.json) {
      const { system: s, ...rest } = p;
      process.stdout.write(`${JSON.stringify({ preset: s.id, name: s.name, source: s.source, ...rest }, null, 2)}\n`);
    } else {
      process.stdout.write(`${textReport(p)}\n`);
    }
    return 0;
  },
};
