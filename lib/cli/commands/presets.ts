/**
 * `taylorseer presets`: the reference forks' settings this library ships as presets, with their sources.
 */
import { listPresets, type Preset, type PresetBlock } from '../../presets';
import type { Command } from '../command';

/** What the preset caches, per kind of block; plain (ungated) branches say so. */
function modules(p: Preset): string {
  if (p.granularity === 'lite') return 'the network output only';
  const names = (block: PresetBlock) => p.modules.filter((m) => m.block === block).map((m) => (m.kind === 'plain' ? `${m.name} (added without a gate)` : m.name));
  const single = names('single');
  const parts = [
    ['double', names('double')],
    ['single', single.length === 1 && single[0] === 'single' ? ['the fused attention+MLP output'] : single],
    ['per block', names('block')],
  ] as const;
  return parts.filter(([, n]) => n.length > 0).map(([what, n]) => `${what}: ${n.join(', ')}`).join('; ');
}

const GUIDANCE: Record<Preset['cfg'], string> = {
  embedded: 'distilled into an input (one forward per step, one cache)',
  batched: 'CFG batched, one shared cache',
  separate: 'CFG as two forwards, separate cond / uncond caches, the decision taken on the cond pass',
};

export const presetsCommand: Command = {
  name: 'presets',
  summary: "the reference forks' settings per model family (--preset NAME), with their sources",
  details:
    'FLUX.1-dev, HunyuanVideo, HiDream-I1, Wan2.1 and DiT-XL/2. Each preset reads its schedule, order and guidance mode from the table of ' +
    'published systems (lib/seed-systems.ts) that `taylorseer plan --preset` sizes, and names those systems.',
  options: { json: { type: 'boolean', description: 'print the presets as JSON (patterns as regular-expression sources)' } },
  examples: ['taylorseer presets', 'taylorseer presets --json'],
  async run(values) {
    const all = listPresets();
    if (values.json) {
      const plain = all.map((p) => ({ ...p, modules: p.modules.map((m) => ({ ...m, patterns: m.patterns.map((re) => re.source) })) }));
      process.stdout.write(`${JSON.stringify(plain, null, 2)}\n`);
      return 0;
    }
    const lines: string[] = [];
    for (const p of all) {
      const s = p.schedule;
      lines.push(`${p.id} (${p.model}; plan --preset ${p.systems.join(' | ')})`);
      lines.push(`  schedule: fixed, interval ${s.interval}, warm-up ${s.warmup}, cool-down ${s.cooldown}; order ${p.maxOrder}; granularity ${p.granularity}`);
      lines.push(`  caches: ${modules(p)}`);
      lines.push(`  guidance: ${GUIDANCE[p.cfg]}`);
      lines.push(`  source: ${p.source}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
