"""A reference TaylorSeer in PyTorch, written from docs/taylorseer.md line by line, for checking the library's
hook on a made-small model: the same schedule, update and forecast, in whatever dtype the model runs
(float64 for the fixtures' references).

The model calls `seer.branch(key, compute)` where the reference caches a module output (before its gate):
mmdit.MMDiT's and dit.DiT's forward take it as `branch=` (dit.sample_eps passes it with cond and uncond in one
batch: one shared entry per module, as the DiT fork caches them).
on a full step that runs compute() and updates the entry's factors, on a forecast step it returns the
Taylor forecast and compute is never called. `seer.begin(step)` starts every sampler step.

  fixed schedule: full when s < W, when N-1 steps were forecast since the last full step, or s is in the
                  last `cooldown` steps;
  update:         d_0 = F; while an old d_i exists and s > W-2: d_{i+1} = (d_i - old d_i) / D, D the
                  distance (in steps) between the last two full steps; older factors are dropped;
  forecast:       F = sum_i d_i x^i / i!, x the steps since the last full step.

Classifier-free guidance as two separate forwards (the Wan fork): one TaylorSeer per pass, so cond and
uncond keep separate caches; the cond pass's `begin(step)` takes the step's decision and the uncond
pass's `follow(cond)` takes it over, so both passes are full (or forecast) on the same steps.
"""
import math


class TaylorSeer:
    def __init__(self, steps, interval, warmup, order, cooldown=0):
        if warmup < 1 or interval < 1 or order < 0 or not 0 <= cooldown <= steps:
            raise ValueError(f"bad schedule: steps {steps}, interval {interval}, warmup {warmup}, order {order}, cooldown {cooldown}")
        self.steps, self.warmup, self.order = steps, warmup, order
        self.full, forecast = [], 0
        for s in range(steps):
            if s < warmup or forecast == interval - 1 or s >= steps - cooldown:
                self.full.append(True)
                forecast = 0
            else:
                self.full.append(False)
                forecast += 1
        self.factors = {}
        self.activated = []
        self.step = -1
        self.calls = {"computed": 0, "forecast": 0}

    def full_steps(self):
        return [s for s, f in enumerate(self.full) if f]

    def begin(self, step):
        if step == 0:
            self.factors, self.activated = {}, []
        elif step != self.step + 1:
            raise ValueError(f"step {step} after {self.step}: steps must be consecutive")
        self.step = step
        if self.full[step]:
            self.activated.append(step)

    def follow(self, leader):
        """Starts the step `leader` (the cond pass's TaylorSeer) is at, with its decision, not this schedule's."""
        step = leader.step
        if step == 0:
            self.factors, self.activated = {}, []
        elif step != self.step + 1:
            raise ValueError(f"step {step} after {self.step}: steps must be consecutive")
        self.step = step
        self.full[step] = leader.full[step]
        if self.full[step]:
            self.activated.append(step)

    def branch(self, key, compute):
        s = self.step
        if self.full[s]:
            F = compute()
            old = self.factors.get(key)
            new = [F]
            if old is not None and s > self.warmup - 2:
                D = self.activated[-1] - self.activated[-2]
                for i in range(min(self.order, len(old))):
                    new.append((new[i] - old[i]) / D)
            self.factors[key] = new
            self.calls["computed"] += 1
            return F
        if key not in self.factors:
            raise KeyError(f"no full step has computed {key!r} yet")
        x = s - self.activated[-1]
        self.calls["forecast"] += 1
        return sum(d * (x ** i / math.factorial(i)) for i, d in enumerate(self.factors[key]))
