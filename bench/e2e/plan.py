"""The run plan of a schedule known in advance, in the reference's 'step' variable: for every step, full
(update: new factor count, divisor) or forecast (factor count, coefficients). The same rules as
lib/schedule/fixed.ts (which steps are full) and lib/expansion.ts (warm-up growth, divisors, coefficients);
every cache entry shares one history here, so one row of values serves every entry of a step.
"""
import math

from tsffi import MAX_FACTORS


def fixed_full_steps(steps, interval, warmup, cooldown=0):
    """Full steps of the reference's fixed schedule: 0..W-1, then every N-th step from W-1, and the last C."""
    full = []
    for s in range(steps):
        if s < warmup or s >= steps - cooldown or (s - (warmup - 1)) % interval == 0:
            full.append(s)
    return full


def run_plan(steps, full_steps, max_order, warmup):
    """List of per-step dicts: {step, full, count (factors valid after the step's update / used by its
    forecast), old_count (full steps), row (MAX_FACTORS floats: divisors or coefficients)}."""
    full_set = set(full_steps)
    if 0 not in full_set:
        raise ValueError("step 0 must be full")
    plan, history, count = [], [], 0
    for s in range(steps):
        if s in full_set:
            grows = s > warmup - 2
            new_count = min(count + 1, max_order + 1) if grows else 1
            d = float(s - history[-1]) if history else 0.0
            row = [d if i < new_count - 1 else 0.0 for i in range(MAX_FACTORS)]
            plan.append(dict(step=s, full=True, old_count=count, count=new_count, row=row))
            history = history + [s] if grows else [s]
            count = new_count
        else:
            u = float(s - history[-1])
            row = [u ** i / math.factorial(i) if i < count else 0.0 for i in range(MAX_FACTORS)]
            plan.append(dict(step=s, full=False, old_count=count, count=count, row=row))
    return plan


def signature(p):
    """Steps with the same signature launch the same tables (only the row of values differs): one CUDA graph each."""
    return ("full", p["old_count"], p["count"]) if p["full"] else ("forecast", p["count"])


if __name__ == "__main__":
    # python3 plan.py STEPS INTERVAL WARMUP ORDER: the fixed schedule's plan as JSON (checked against
    # lib/run-plan.ts by test/run-plan.test.ts).
    import json
    import sys

    steps, interval, warmup, order = (int(a) for a in sys.argv[1:5])
    print(json.dumps(run_plan(steps, fixed_full_steps(steps, interval, warmup), order, warmup)))
