/**
 * --preset NAME for eval, demo and sweep: the reference fork's settings (lib/presets.ts). A preset gives the
 * defaults of the flags it covers (schedule, order, granularity, CFG mode) and, on a single-graph model,
 * the branches to cache (its module map; a per-piece DiT caches attn and mlp, which only dit-xl's map
 * names); flags given explicitly still win, except --cache, which the module map replaces.
 */
import { getPreset, PRESET_IDS, type Preset, type PresetId } from '../presets';
import type { CfgMode } from '../pipeline/sampler';
import type { OptionSpecs } from './command';
import { str, type Values } from './commands/pipeline-shared';

export const PRESET_FLAG = {
  preset: {
    type: 'string',
    value: PRESET_IDS.join('|'),
    description: "the reference fork's settings for that model (taylorseer presets): its schedule, order, granularity and module map; flags given explicitly win",
  },
} as const satisfies OptionSpecs;

/** The preset --preset names, or undefined. Errors: ERR_INVALID_ARGUMENT naming the presets there are. */
export function presetFlag(v: Values): Preset | undefined {
  const id = str(v, 'preset');
  return id === undefined ? undefined : getPreset(id);
}

/** loadModel options for the preset: its module map ('lite' presets have none, and work on any model). */
export function presetLoadOptions(p: Preset | undefined): { preset?: PresetId } {
  return p && p.modules.length > 0 ? { preset: p.id } : {};
}

/** The preset's fixed schedule as schedule flags, under the flags given explicitly. */
export function presetScheduleFlags(p: Preset | undefined, v: Values): Values {
  if (!p) return v;
  const s = p.schedule;
  const given = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined));
  return { schedule: 'fixed', interval: String(s.interval), warmup: String(s.warmup), cooldown: String(s.cooldown), ...given };
}

/** The sampler's CFG mode for the preset: 'separate' where the fork runs cond and uncond as two forwards with separate caches. */
export function presetCfgMode(p: Preset | undefined): CfgMode {
  return p?.cfg === 'separate' ? 'separate' : 'batched';
}
