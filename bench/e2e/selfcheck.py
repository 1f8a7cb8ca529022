"""Host self-check of the end-to-end harness (no GPU; PyTorch on the CPU): the run plan against the
reference's schedule, the ctypes layout against libtaylorseer, its error path, and the whole harness on
tiny models with the CPU twins standing in for the kernels (the lockstep check against a float64 oracle
included). Exit status 0 when every check passed.

  python3 bench/e2e/selfcheck.py [--lib PATH]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from plan import fixed_full_steps, run_plan, signature  # noqa: E402
from tsffi import ForecastEntry, Lib, Table, TsError, find_library  # noqa: E402

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def main():
    lib_path = sys.argv[sys.argv.index("--lib") + 1] if "--lib" in sys.argv else find_library()
    full = fixed_full_steps(50, 6, 3)
    check(full == [0, 1, 2, 8, 14, 20, 26, 32, 38, 44], f"fixed N=6 W=3 full steps {full}")
    check(fixed_full_steps(50, 5, 3, cooldown=2)[-4:] == [42, 47, 48, 49], "cool-down steps are full")
    plan = run_plan(50, full, 2, 3)
    counts = [(p["step"], p["old_count"], p["count"]) for p in plan if p["full"]]
    check(counts[:5] == [(0, 0, 1), (1, 1, 1), (2, 1, 2), (8, 2, 3), (14, 3, 3)], f"update counts {counts[:5]}")
    check(plan[8]["row"][:2] == [6.0, 6.0] and plan[2]["row"][0] == 1.0, "divisors: the latest spacing, every order")
    check(plan[11]["row"][:3] == [1.0, 3.0, 4.5] and plan[11]["count"] == 3, "forecast 3 steps after step 8: 1, 3, 9/2")
    check(plan[5]["count"] == 2 and plan[5]["row"][2] == 0.0, "forecast after step 2 uses 2 factors")
    sigs = sorted({signature(p) for p in plan}, key=str)
    check(len(sigs) == 7, f"7 step signatures (graphs) for N=6 O=2 W=3: {sigs}")

    lib = Lib(lib_path)
    ok, why = lib.cuda_usable()
    print(f"     libtaylorseer {lib_path}: cuda usable {ok} ({why})")
    t = Table(ForecastEntry, 1)
    x = torch.ones(8)
    t[0].factors, t[0].out, t[0].n, t[0].count = x.data_ptr(), x.data_ptr(), 8, 6
    try:
        lib.forecast_cpu(t, "f32", "f32")
        check(False, "a forecast with count 6 is rejected")
    except TsError as e:
        check("count out of range" in str(e), f"a forecast with count 6 is rejected: {e}")

    import run
    # bf16 lockstep at small FLUX-like shapes: the tolerance the GPU run applies, here on the CPU twins
    for order, interval, dtype in ((2, 6, torch.bfloat16), (3, 5, torch.bfloat16), (3, 5, torch.float32)):
        p = run_plan(50, fixed_full_steps(50, interval, 3), order, 3)
        lk = run.lockstep(lib, [(1, 64, 96), (2, 16, 48)], dtype, "cpu", p, order, 3)
        check(run.lockstep_pass(lk, dtype), f"lockstep {dtype} order {order}: {lk}")
    torch.manual_seed(0)
    rc = run.main(["--device", "cpu", "--tiny", "--reps", "1", "--out", os.devnull, "--lib", lib_path])
    check(rc == 0, "tiny FLUX- and DiT-shaped runs on the CPU twins: lockstep against the float64 oracle")
    print(f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
