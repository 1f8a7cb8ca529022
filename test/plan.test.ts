import { describe, expect, it } from 'vitest';
import { formatGB, parseMemorySize, plan, PSNR_RESOLUTION_DB } from '../lib/plan';
import { cachedTensors, seedSystem, seedSystems, tokensOf } from '../lib/seed-systems';
import { main } from '../lib/cli/main';
import { codeOf } from './helpers/code-of';

function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write;
  const e = process.stderr.write;
  process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  return fn().then(
    (code) => ((process.stdout.write = o), (process.stderr.write = e), { code, out: out.join(''), err: err.join('') }),
    (x) => {
      process.stdout.write = o;
      process.stderr.write = e;
      throw x;
    },
  );
}

describe('seed systems', () => {
  it('FLUX.1-dev at 1024x1024: 4096 image + 512 text tokens, 114 module outputs', () => {
    const flux = seedSystem('flux-dev');
    expect(tokensOf(flux, { width: 1024, height: 1024, frames: 1 })).toEqual({ image: 4096, text: 512 });
    const groups = cachedTensors(flux, 'module', { width: 1024, height: 1024, frames: 1 });
    expect(groups.reduce((a, g) => a + g.count, 0)).toBe(114);
    expect(groups.map((g) => [g.count, g.tokens, g.dim])).toEqual([
      [38, 4096, 3072],
      [38, 512, 3072],
      [38, 4608, 3072],
    ]);
  });

  it('video token counts follow the VAE strides: HunyuanVideo 480x640x65 = 20,400, Wan2.1 832x480x81 = 32,760, 1280x720x81 = 75,600', () => {
    expect(tokensOf(seedSystem('hunyuan-video'), { width: 640, height: 480, frames: 65 }).image).toBe(20_400);
    expect(tokensOf(seedSystem('wan2.1-1.3b'), { width: 832, height: 480, frames: 81 }).image).toBe(32_760);
    expect(tokensOf(seedSystem('wan2.1-14b'), { width: 1280, height: 720, frames: 81 }).image).toBe(75_600);
  });

  it('every system names its source and has a self-consistent default size', () => {
    for (const s of seedSystems()) {
      expect(s.source.length).toBeGreaterThan(40);
      expect(tokensOf(s, s.defaultSize).image).toBeGreaterThan(0);
    }
  });

  it('rejects sizes that are not whole tokens, frames off the temporal stride, and frames on image models', () => {
    expect(codeOf(() => tokensOf(seedSystem('flux-dev'), { width: 1000, height: 1024, frames: 1 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => tokensOf(seedSystem('wan2.1-14b'), { width: 1280, height: 720, frames: 80 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => tokensOf(seedSystem('flux-dev'), { width: 1024, height: 1024, frames: 5 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => seedSystem('sd3'))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('plan', () => {
  it('FLUX.1-dev 1024x1024 O=2 bf16 module: 3 x 114 tensors = 6.455 GB (2.152 GB per factor)', () => {
    const p = plan({ system: 'flux-dev', size: { width: 1024, height: 1024 }, orders: [2], storages: ['bf16'], granularities: ['module'] });
    expect(p.rows).toHaveLength(1);
    const r = p.rows[0];
    expect(r.tensors).toBe(114);
    expect(r.bytesPerFactor).toBe(2 * 3072 * (38 * 4096 + 38 * 512 + 38 * 4608));
    expect(r.bytes).toBe(6_455_033_856);
    expect(formatGB(r.bytes)).toBe('6.455 GB');
  });

  it('matches the memory table of the seed systems: Wan2.1-14B 720p O=1 bf16 ~372 GB, Wan2.1-1.3B 480p ~36 GB, DiT-XL/2 O=4 f32 ~0.66 GB', () => {
    const row = (system: string, order: number, storage: 'bf16' | 'f32') => plan({ system, orders: [order], storages: [storage], granularities: ['module'] }).rows[0];
    const wan = row('wan2.1-14b', 1, 'bf16');
    expect(wan.tensors).toBe(3 * 40);
    expect(wan.bytesPerFactor).toBe(2 * 3 * 40 * 75_600 * 5120 * 2);
    expect(wan.bytes / 1e9).toBeCloseTo(371.6, 0);
    const small = row('wan2.1-1.3b', 1, 'bf16');
    expect(small.bytesPerFactor).toBe(2 * 3 * 30 * 32_760 * 1536 * 2);
    expect(small.bytes / 1e9).toBeCloseTo(36.2, 1);
    const dit = row('dit-xl-2', 4, 'f32');
    expect(dit.bytesPerFactor).toBe(2 * 2 * 28 * 256 * 1152 * 4);
    expect(dit.bytes / 1e9).toBeCloseTo(0.66, 2);
    // a preset for one system names it
    expect(row('dit-xl', 4, 'f32').bytes).toBe(dit.bytes);
  });

  it("'i8' takes 2 bytes per element for d_0 and 68 bytes per 64 for each difference: FLUX.1-dev O=2 module 4.438 GB, 69% of bf16", () => {
    const [bf16, i8] = plan({ system: 'flux-dev', orders: [2], storages: ['bf16', 'i8'], granularities: ['module'] }).rows;
    const elements = 38 * 3072 * (4096 + 512 + 4608);
    expect(i8.bytes).toBe(elements * 2 + 2 * (elements / 64) * 68);
    expect(i8.bytesPerFactor).toBe(i8.bytes / 3);
    expect(formatGB(i8.bytes)).toBe('4.438 GB');
    expect(i8.bytes / bf16.bytes).toBeCloseTo((2 + (2 * 68) / 64) / 6, 6);
  });

  it('bytes scale with batch and order; lite is far smaller than module', () => {
    const one = plan({ system: 'flux-dev', orders: [1], storages: ['f32'] });
    const two = plan({ system: 'flux-dev', orders: [1], storages: ['f32'], batch: 2 });
    for (let i = 0; i < one.rows.length; i++) expect(two.rows[i].bytes).toBe(2 * one.rows[i].bytes);
    const byG = Object.fromEntries(one.rows.map((r) => [r.granularity, r.bytes]));
    expect(byG.lite * 1000).toBeLessThan(byG.module);
    expect(byG.block).toBeLessThan(byG.module);
  });

  it('marks what fits the budget and recommends the fitting row with the best measured quality', () => {
    const p = plan({ system: 'flux-dev', budget: 24e9 });
    for (const r of p.rows) expect(r.fits).toBe(r.bytes <= 24e9);
    const rec = p.recommended!;
    expect(rec.fits).toBe(true);
    const q = (x: number) => Math.round(x / PSNR_RESOLUTION_DB);
    for (const r of p.rows) if (r.fits && r.madeModelPsnr !== undefined) expect(q(r.madeModelPsnr)).toBeLessThanOrEqual(q(rec.madeModelPsnr!));
    // A budget below every configuration leaves nothing to recommend.
    expect(plan({ system: 'flux-dev', budget: 1000 }).recommended).toBeUndefined();
  });

  it('a tighter budget keeps the best granularity and order and gives up precision first: FLUX 24 GB f32, 5 GB bf16, 3.5 GB i8', () => {
    const pick = (budget: number) => {
      const r = plan({ system: 'flux-dev', budget }).recommended!;
      return [r.granularity, r.order, r.storage];
    };
    expect(pick(24e9)).toEqual(['block', 2, 'f32']);
    expect(pick(5e9)).toEqual(['block', 2, 'bf16']);
    expect(pick(3.5e9)).toEqual(['block', 2, 'i8']);
  });

  it('rejects bad options with ERR_INVALID_ARGUMENT', () => {
    expect(codeOf(() => plan({ system: 'flux-dev', batch: 0 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => plan({ system: 'flux-dev', orders: [7] }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => plan({ system: 'flux-dev', budget: -1 }))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => plan(null as never))).toBe('ERR_INVALID_ARGUMENT');
  });

  it('memory sizes: GB is 10^9, GiB 2^30', () => {
    expect(parseMemorySize('24GB')).toBe(24e9);
    expect(parseMemorySize('24GiB')).toBe(24 * 2 ** 30);
    expect(parseMemorySize('800mb')).toBe(800e6);
    expect(parseMemorySize('4096')).toBe(4096);
    expect(codeOf(() => parseMemorySize('lots'))).toBe('ERR_INVALID_ARGUMENT');
    expect(codeOf(() => parseMemorySize('0GB'))).toBe('ERR_INVALID_ARGUMENT');
  });
});

describe('taylorseer plan', () => {
  it('prints the table with the 6.455 GB row and a recommendation that says where its ordering comes from', async () => {
    const r = await capture(() => main(['plan', '--preset', 'flux-dev', '--resolution', '1024', '--budget', '24GB']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/module\s+2\s+bf16\s+114\s+2\.152 GB\s+6\.455 GB\s+yes/);
    expect(r.out).toContain('recommended: --granularity');
    expect(r.out).toContain('made-small DiTs');
  });

  it('--json gives the rows and the recommendation', async () => {
    const r = await capture(() => main(['plan', '--preset', 'wan2.1-14b', '--resolution', '1280x720', '--frames', '81', '--order', '1', '--storage', 'bf16', '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.preset).toBe('wan2.1-14b');
    expect(j.tokens.image).toBe(75_600);
    expect(j.rows.map((x: { granularity: string }) => x.granularity)).toEqual(['module', 'block', 'lite']);
  });

  it('takes a preset id for the model it is for, and asks which Wan2.1 for the wan2.1 preset', async () => {
    const r = await capture(() => main(['plan', '--preset', 'dit-xl', '--order', '4', '--storage', 'f32', '--granularity', 'module', '--json']));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ preset: 'dit-xl-2', name: 'DiT-XL/2', tokens: { image: 256, text: 0 } });
    const w = await capture(() => main(['plan', '--preset', 'wan2.1']));
    expect(w.code).toBe(2);
    expect(w.err).toMatch(/preset wan2\.1 is for wan2\.1-1\.3b and wan2\.1-14b: name one of them/);
  });

  it('bad values exit 2 with a one-line message', async () => {
    for (const args of [[], ['--preset', 'sd3'], ['--preset', 'flux-dev', '--resolution', '1000'], ['--preset', 'flux-dev', '--budget', 'lots'], ['--preset', 'wan2.1-1.3b', '--frames', '80']]) {
      const r = await capture(() => main(['plan', ...args]));
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
  });
});
