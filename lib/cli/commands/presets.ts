/**
 * `taylorseer presets`: the reference forks' settings this library ships as presets, with their sources.
 */
import { listPresets, type Preset } from '../../presets';
import type { Command } from '../command';

function modules(p: Preset): string {
  if (p.granularity === 'lite') return 'the network output only';
  const names = (block: 'double' | 'single') => p.modules.filter((m) => m.block === block).map((m) => m.name);
  const single = names('single');
  return `double: ${names('double').join(', ')}; single: ${single.length === 1 && single[0] === 'single' ? 'the fused attention+MLP output' : single.join(', ')}`;
}

export const presetsCommand: Command = {
  name: 'presets',
  summary: "the reference forks' settings for FLUX, HunyuanVideo and HiDream (--preset NAME), with their sources",
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
      lines.push(`${p.id} (${p.model})`);
      lines.push(`  schedule: fixed, interval ${s.interval}, warm-up ${s.warmup}, cool-down ${s.cooldown}; order ${p.maxOrder}; granularity ${p.granularity}`);
      lines.push(`  caches: ${modules(p)}`);
      lines.push(`  guidance: ${p.cfg === 'embedded' ? 'distilled into an input (one forward per step, one cache)' : p.cfg === 'batched' ? 'CFG batched, one shared cache' : 'CFG as two forwards, separate caches'}`);
      lines.push(`  source: ${p.source}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
