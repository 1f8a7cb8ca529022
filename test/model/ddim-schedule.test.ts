/**
 * DDIM and DDPM for noise-prediction models: the beta tables, the timesteps a sampler visits and the update
 * of one step, against their closed forms; the sampler on a model that predicts the true noise of a known
 * clean image (so every intermediate sample is known in closed form); and the typed errors of the options.
 */
import { describe, expect, it } from 'vitest';
import { alphaBars, betaTable, ddimCoefficients, ddpmCoefficients, diffusionPlan, diffusionTimesteps, resolveScheduler, sample, DIT_SCHEDULER } from '../../lib/pipeline';
import type { DenoiserModel, DiffusionScheduler, Scheduler } from '../../lib/pipeline';
import { TaylorSeerError } from '../../lib/errors';

const fail = (message: string): never => {
  throw new TaylorSeerError('ERR_INVALID_ARGUMENT', message);
};

describe('beta tables', () => {
  it("linear: DiT's 1e-4..0.02 over 1000 steps, evenly spaced, with alpha_bar the running product of 1 - beta", () => {
    const b = betaTable(DIT_SCHEDULER);
    expect(b).toHaveLength(1000);
    expect(b[0]).toBe(1e-4);
    expect(b[999]).toBeCloseTo(0.02, 15);
    expect(b[500]).toBeCloseTo(1e-4 + (0.0199 * 500) / 999, 15);
    // two steps: alpha_bar = [1 - b0, (1 - b0)(1 - b1)]
    expect(Array.from(alphaBars({ betaSchedule: 'linear', betaStart: 0.1, betaEnd: 0.3, trainSteps: 2 }))).toEqual([0.9, 0.9 * 0.7]);
    // numpy: np.cumprod(1 - np.linspace(1e-4, 0.02, 1000)) at 0, 500, 980, 999
    const ab = alphaBars(DIT_SCHEDULER);
    for (const [t, v] of [[0, 0.9999], [500, 0.07779665836502389], [980, 5.9037513708533784e-5], [999, 4.035829765375676e-5]]) {
      expect(Math.abs(ab[t] - v) / v).toBeLessThan(1e-12);
    }
  });

  it('cosine: alpha_bar telescopes to f((t + 1) / T) / f(0), f(u) = cos((u + 0.008) / 1.008 * pi / 2)^2, where beta is not clipped at 0.999', () => {
    const T = 1000;
    const s = { betaSchedule: 'cosine' as const, betaStart: 1e-4, betaEnd: 0.02, trainSteps: T };
    const f = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    const b = betaTable(s);
    const ab = alphaBars(s);
    for (const t of [0, 1, 100, 500, 900, 990]) expect(Math.abs(ab[t] - f((t + 1) / T) / f(0)) / ab[t]).toBeLessThan(1e-9);
    expect(b[T - 1]).toBe(0.999);
    expect(Math.max(...b)).toBe(0.999);
  });
});

describe('the timesteps a sampler visits', () => {
  it("DDIM 50 over 1000: 980, 960, .., 20, 0 (guided-diffusion's 'ddim50' respacing); 1000 steps visit every timestep", () => {
    const ts = diffusionTimesteps(50, 1000);
    expect(ts).toHaveLength(50);
    expect(ts[0]).toBe(980);
    expect(ts[49]).toBe(0);
    expect(ts.every((t, i) => i === 0 || ts[i - 1] - t === 20)).toBe(true);
    expect(diffusionTimesteps(1000, 1000)).toEqual(Array.from({ length: 1000 }, (_, i) => 999 - i));
    expect(diffusionTimesteps(3, 10)).toEqual([6, 3, 0]);
  });

  it('refuses more steps than training timesteps, with a typed error', () => {
    expect(() => diffusionTimesteps(1001, 1000)).toThrow(/steps must be an integer in 1\.\.1000/);
    expect(() => diffusionTimesteps(0, 1000)).toThrow(TaylorSeerError);
  });
});

describe('one step', () => {
  const a = 0.3;
  const aNext = 0.55;
  const x0 = [0.7, -1.2, 0.05];
  const e = [1.1, 0.4, -2];
  const xt = x0.map((v, i) => Math.sqrt(a) * v + Math.sqrt(1 - a) * e[i]);

  it('DDIM (eta 0) with the true noise lands exactly on the next marginal mean path: sqrt(a\') x0 + sqrt(1 - a\') eps', () => {
    const c = ddimCoefficients(a, aNext);
    expect(c.sigma).toBe(0);
    xt.forEach((x, i) => expect(c.cx * x + c.ce * e[i]).toBeCloseTo(Math.sqrt(aNext) * x0[i] + Math.sqrt(1 - aNext) * e[i], 14));
  });

  it('the last step (a\' = 1) returns the predicted clean image (x - sqrt(1 - a) eps) / sqrt(a), for DDIM and DDPM', () => {
    for (const c of [ddimCoefficients(a, 1), ddpmCoefficients(a, 1)]) {
      expect(c.sigma).toBe(0);
      xt.forEach((x, i) => expect(c.cx * x + c.ce * e[i]).toBeCloseTo(x0[i], 14));
    }
  });

  it("DDPM: the posterior q(x' | x, x0), mean beta sqrt(a') / (1 - a) x0 + sqrt(1 - beta)(1 - a') / (1 - a) x, variance beta (1 - a') / (1 - a)", () => {
    const c = ddpmCoefficients(a, aNext);
    const beta = 1 - a / aNext;
    xt.forEach((x, i) => {
      const mean = ((beta * Math.sqrt(aNext)) / (1 - a)) * x0[i] + ((Math.sqrt(1 - beta) * (1 - aNext)) / (1 - a)) * x;
      expect(c.cx * x + c.ce * e[i]).toBeCloseTo(mean, 14);
    });
    expect(c.sigma ** 2).toBeCloseTo((beta * (1 - aNext)) / (1 - a), 15);
    // marginalised over x ~ N(sqrt(a) x0, 1 - a), x' ~ N(sqrt(a') x0, 1 - a'): the variances add up
    const onX = (Math.sqrt(1 - beta) * (1 - aNext)) / (1 - a);
    expect(onX ** 2 * (1 - a) + c.sigma ** 2).toBeCloseTo(1 - aNext, 14);
  });

  it('a plan holds tau / T as the time the model and the hook see, and one update per step', () => {
    const p = diffusionPlan(DIT_SCHEDULER, 50);
    expect(p.times[0]).toBe(0.98);
    expect(p.times[49]).toBe(0);
    const ab = alphaBars(DIT_SCHEDULER);
    expect(p.coefficients[0]).toEqual(ddimCoefficients(ab[980], ab[960]));
    expect(p.coefficients[49]).toEqual(ddimCoefficients(ab[0], 1));
  });
});

describe('scheduler options', () => {
  it("fills what is not given from the model's scheduler, else DiT's", () => {
    const cosine: DiffusionScheduler = { ...DIT_SCHEDULER, betaSchedule: 'cosine' };
    expect(resolveScheduler({ kind: 'ddpm' }, cosine, fail)).toEqual({ ...cosine, kind: 'ddpm' });
    expect(resolveScheduler({ kind: 'ddim' }, { kind: 'flow' }, fail)).toEqual(DIT_SCHEDULER);
    expect(resolveScheduler({ kind: 'flow' }, cosine, fail)).toEqual({ kind: 'flow' });
  });

  it.each([
    [null, /must be an object with a kind/],
    [{ kind: 'euler' }, /kind must be flow, ddim or ddpm, found "euler"/],
    [{ kind: 'ddim', prediction: 'v' }, /prediction must be "epsilon" for ddim/],
    [{ kind: 'ddim', betaSchedule: 'quadratic' }, /betaSchedule must be linear or cosine/],
    [{ kind: 'ddim', betaStart: 0.03 }, /betaStart 0.03 is above betaEnd 0.02/],
    [{ kind: 'ddim', betaEnd: 1 }, /betaEnd must be a number in \(0, 1\)/],
    [{ kind: 'ddim', trainSteps: 1.5 }, /trainSteps must be an integer in 2\.\./],
    [{ kind: 'ddim', steps: 50 }, /scheduler.steps is not a scheduler field/],
    [{ kind: 'flow', betaSchedule: 'linear' }, /flow scheduler takes no other fields/],
  ])('refuses %j with a message that says what was expected', (spec, message) => {
    expect(() => resolveScheduler(spec, undefined, fail)).toThrow(message);
  });
});

/**
 * A model that knows the clean image x0 (the same for every sample) and the time: it predicts the noise
 * that makes x the forward process's sample of x0, eps = (x - sqrt(a) x0) / sqrt(1 - a). It records every x.
 */
function oracle(x0: Float32Array, scheduler: Scheduler = DIT_SCHEDULER) {
  const ab = alphaBars(DIT_SCHEDULER);
  const seen: { t: number; x: Float32Array }[] = [];
  const model: DenoiserModel = {
    manifest: { dir: '.', name: 'oracle' },
    arch: { channels: 1, imageSize: Math.sqrt(x0.length), classes: 2, nullClass: 2 },
    counters: { moduleEvals: 0 },
    imageElements: x0.length,
    cacheShape: { modules: 0, elements: 0 },
    granularities: ['module'],
    scheduler,
    async forward(x, t, _y, batch) {
      seen.push({ t, x: Float32Array.from(x) });
      const a = ab[Math.round(t * 1000)];
      const out = new Float32Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = (x[i] - Math.sqrt(a) * x0[i % x0.length]) / Math.sqrt(1 - a);
      expect(x.length).toBe(batch * x0.length);
      return out;
    },
    resetCounters() {},
    async dispose() {},
  };
  return { model, seen, ab };
}

describe('the sampler on a noise-prediction model', () => {
  const N = 128 * 128;
  const x0 = Float32Array.from({ length: N }, (_, i) => Math.sin(i * 0.37) * 0.8);

  it('DDIM follows x_i = sqrt(a_i) x0 + sqrt(1 - a_i) noise at every step and ends on x0; the model sees tau / 1000', async () => {
    const { model, seen, ab } = oracle(x0);
    const r = await sample(model, { labels: [0], steps: 50, guidance: 1, seed: 3 });
    expect(r.scheduler).toEqual(DIT_SCHEDULER);
    expect(seen.map((s) => s.t)).toEqual(diffusionTimesteps(50, 1000).map((tau) => tau / 1000));
    expect(r.timesteps).toEqual(seen.map((s) => s.t));
    const noise = seen[0].x.map((v, i) => (v - Math.sqrt(ab[980]) * x0[i]) / Math.sqrt(1 - ab[980]));
    for (const { t, x } of seen) {
      const a = ab[Math.round(t * 1000)];
      let err = 0;
      for (let i = 0; i < N; i++) err = Math.max(err, Math.abs(x[i] - (Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * noise[i])));
      expect(err).toBeLessThan(2e-5);
    }
    let end = 0;
    for (let i = 0; i < N; i++) end = Math.max(end, Math.abs(r.images[i] - x0[i]));
    expect(end).toBeLessThan(1e-5);
  });

  it("DDPM's samples have the forward process's marginals, N(sqrt(a_i) x0, 1 - a_i), and its noise follows the seed", async () => {
    const { model, seen } = oracle(x0, { ...DIT_SCHEDULER, kind: 'ddpm' });
    const ab = alphaBars(DIT_SCHEDULER);
    const r = await sample(model, { labels: [0], steps: 50, guidance: 1, seed: 3 });
    expect(r.scheduler.kind).toBe('ddpm');
    for (const { t, x } of seen.slice(1)) {
      const a = ab[Math.round(t * 1000)];
      let m = 0;
      let v = 0;
      for (let i = 0; i < N; i++) {
        const z = (x[i] - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a);
        m += z;
        v += z * z;
      }
      m /= N;
      // 16,384 standard normals: mean and variance within 5 standard errors (0.039 and 0.055)
      expect(Math.abs(m)).toBeLessThan(0.039);
      expect(Math.abs(v / N - m * m - 1)).toBeLessThan(0.055);
    }
    // a DDIM path from the same start differs from DDPM's; the same seed gives the same DDPM path
    const again = oracle(x0, { ...DIT_SCHEDULER, kind: 'ddpm' });
    await sample(again.model, { labels: [0], steps: 50, guidance: 1, seed: 3 });
    expect(again.seen[25].x).toEqual(seen[25].x);
    const ddim = oracle(x0);
    await sample(ddim.model, { labels: [0], steps: 50, guidance: 1, seed: 3 });
    expect(ddim.seen[0].x).toEqual(seen[0].x);
    expect(ddim.seen[25].x).not.toEqual(seen[25].x);
  });

  it("the scheduler option overrides the model's, and a flow-only shift is refused on DDIM", async () => {
    const { model, seen } = oracle(x0);
    const r = await sample(model, { labels: [0], steps: 10, guidance: 1, scheduler: { kind: 'ddpm' } });
    expect(r.scheduler.kind).toBe('ddpm');
    expect(seen.map((s) => s.t)).toEqual([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0]);
    await expect(sample(model, { labels: [0], steps: 10, shift: 3 })).rejects.toThrow(/shift 3 applies to the flow scheduler only/);
    await expect(sample(model, { labels: [0], steps: 10, scheduler: { kind: 'ddim', betaSchedule: 'sqrt' as 'linear' } })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(sample(model, { labels: [0], steps: 1001 })).rejects.toThrow(/steps must be an integer in 1\.\.1000/);
  });
});
