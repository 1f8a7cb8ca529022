"""The three ways a model's cached modules run in the benchmark, behind one interface:

  h = cache.put(k, F, h, gate)   full step: F was computed; returns h + gate * F and records F
  h = cache.get(k, h, gate)      forecast step: returns h + gate * forecast_k (F is not computed)

- NoCache: every step full.
- EagerCache: the reference's cache as the reference writes it (upstream taylor_utils: one PyTorch op per
  term, each rounded to the activation dtype; the update runs inside the module call).
- OursCache: libtaylorseer. Full steps: the same h + gate * F, and ONE update launch over every entry at the
  end of the step. Forecast steps: one fused gated forecast launch per module, in place on h
  (h += gate * sum_i c_i d_i, f32 inside, one rounding). Divisors and coefficients are read by the kernels
  from a device row (indirect launches), so a step's launches are the same for every step of its signature
  and can be captured in a CUDA graph once.
"""
import math

import torch

from tsffi import ForecastEntry, Table, UpdateEntry, dtype_name


class NoCache:
    name = "full"

    def __init__(self):
        self.full = True

    def begin_step(self, p):
        self.full = True

    def put(self, k, F, h, gate):
        return h + gate * F

    def end_step(self):
        pass


def update_ref(old, F, dist, max_order, grows):
    """Upstream derivative_approximation: new d_0 = F, new d_{i+1} = (new d_i - old d_i) / dist while an old
    d_i exists and the step is past the warm-up."""
    new = [F]
    for i in range(max_order):
        if grows and i < len(old):
            new.append((new[i] - old[i]) / dist)
        else:
            break
    return new


def predict_ref(fac, x):
    """Upstream taylor_formula: sum_i (1 / i!) * d_i * x^i, one op at a time."""
    o = 0
    for i in range(len(fac)):
        o = o + (1 / math.factorial(i)) * fac[i] * (x ** i)
    return o


class EagerCache:
    name = "reference (eager)"

    def __init__(self, max_order, warmup):
        self.max_order, self.warmup = max_order, warmup
        self.factors = {}
        self.activated = [0]
        self.full = True

    def begin_step(self, p):
        self.step, self.full = p["step"], p["full"]
        if self.full:
            if self.step == 0:
                self.factors, self.activated = {}, [0]
            self.activated.append(self.step)

    def put(self, k, F, h, gate):
        dist = self.activated[-1] - self.activated[-2]
        self.factors[k] = update_ref(self.factors.get(k, []), F, dist, self.max_order, self.step > self.warmup - 2)
        return h + gate * F

    def get(self, k, h, gate):
        return h + gate * predict_ref(self.factors[k], self.step - self.activated[-1])

    def end_step(self):
        pass


class OursCache:
    """Entries are declared up front (shapes known): factors preallocated, tables built once."""

    name = "ours"

    def __init__(self, lib, shapes, dtype, device, plan, max_order, storage=None):
        self.lib, self.plan = lib, plan
        self.act = dtype_name(dtype)
        self.storage = storage or self.act
        sdt = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[self.storage]
        self.cuda = torch.device(device).type == "cuda"
        self.K = len(shapes)
        cap = max_order + 1
        self.factors = [torch.empty((cap,) + tuple(s), dtype=sdt, device=device) for s in shapes]
        for f in self.factors:
            f.normal_()  # never zeros (unused slots are never read: counts say which are valid)
        self.upd = Table(UpdateEntry, self.K)
        self.fc = Table(ForecastEntry, self.K)
        for k, s in enumerate(shapes):
            n = math.prod(s)
            self.upd[k].factors = self.factors[k].data_ptr()
            self.upd[k].n = n
            self.fc[k].factors = self.factors[k].data_ptr()
            self.fc[k].n = n
            self.fc[k].tokens = s[-2]
            self.fc[k].dim = s[-1]
        # Every step's row of divisors / coefficients, on the device once (the plan is known in advance).
        self.rows = torch.tensor([p["row"] for p in plan], dtype=torch.float32, device=device)
        self.row_static = torch.zeros(self.rows.shape[1], dtype=torch.float32, device=device)  # graph mode
        self.use_static_row = False
        self.fresh = [None] * self.K
        self.full = True

    def row_ptr(self, step):
        if self.use_static_row:
            return self.row_static.data_ptr()
        return self.rows.data_ptr() + step * self.rows.shape[1] * 4

    def stage_row(self, step):
        """Graph mode: the row the captured launches read, written on the stream before a replay."""
        self.row_static.copy_(self.rows[step], non_blocking=True)

    def begin_step(self, p):
        self.p, self.step, self.full = p, p["step"], p["full"]
        if self.full:
            for k in range(self.K):
                e = self.upd[k]
                e.old_count, e.new_count = p["old_count"], p["count"]
                if not self.cuda:
                    for i in range(4):
                        e.divisors[i] = p["row"][i] if p["row"][i] else 1.0
        else:
            for k in range(self.K):
                e = self.fc[k]
                e.count = p["count"]
                if not self.cuda:
                    for i in range(5):
                        e.coeffs[i] = p["row"][i]

    def put(self, k, F, h, gate):
        F = F.contiguous()
        self.fresh[k] = F  # alive until the update is queued (stream-ordered reuse after that)
        self.upd[k].fresh = F.data_ptr()
        return h + gate * F

    def get(self, k, h, gate):
        g = gate if gate.is_contiguous() else gate.contiguous()
        e = self.fc[k]
        e.out = e.residual = h.data_ptr()
        e.gate = g.data_ptr()
        if self.cuda:
            self.lib.forecast_indirect(self.fc, self.storage, self.act, self.row_ptr(self.step), 0,
                                       torch.cuda.current_stream().cuda_stream, first=k, count=1)
        else:
            self.lib.forecast_cpu(self.fc, self.storage, self.act, first=k, count=1)
        return h

    def end_step(self):
        if not self.full:
            return
        if self.cuda:
            self.lib.update_indirect(self.upd, self.storage, self.act, self.row_ptr(self.step), 0,
                                     torch.cuda.current_stream().cuda_stream)
        else:
            self.lib.update_cpu(self.upd, self.storage, self.act)
        self.fresh = [None] * self.K
