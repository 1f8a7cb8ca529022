#!/usr/bin/env python3
"""Summary of a scripts/gpu-e2e.sh run: reads the stage outputs in OUT, writes OUT/e2e-summary.json and prints
the table LAST (the device call returns the end of the output)."""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "scripts"))
from gpu_logs import RunLogs  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
logs = RunLogs(out)
load = logs.load
S = {"stages": logs.stages(), "kernel_test": logs.kernel_test(), "memcheck_errors": logs.memcheck_errors("memcheck.log"),
     "racecheck_errors": logs.racecheck()[1]}
S["e2e"] = load("e2e.json")
bench = load("bench.json")
S["kernel_bench"] = None
if bench and "rows" in bench:
    pick = {f"{r['name']} o{r['order']}": {k: r.get(k) for k in ("ms", "pct_copy", "floor_ms")}
            for r in bench["rows"] if r.get("group") == "flux" and r["name"] in ("forecast_all", "update_all", "gated_forecast_fused")}
    S["kernel_bench"] = {"device": bench.get("device"), "copy_GBps": bench.get("copy_GBps"), "flux": pick}
with open(os.path.join(out, "e2e-summary.json"), "w") as f:
    json.dump(S, f, indent=1)

print()
print("stages: " + " ".join(f"{k}={v}" for k, v in S["stages"].items()))
# Stages left out (TS_GPU_E2E_STAGES: scripts/gpu-all.sh runs them in its check part) print nothing here.
ran = S["stages"]
kt = S["kernel_test"]
if "kernel_test" in ran:
    print(f"kernel_test: {kt['checks']} checks, {kt['failures']} failures" if kt else "kernel_test: no result")
if "memcheck" in ran or "racecheck" in ran:
    print(f"compute-sanitizer: memcheck {S['memcheck_errors']} errors, racecheck {S['racecheck_errors']} errors")
kb = S["kernel_bench"]
if kb:
    print(f"kernel bench ({kb['device']}, copy {kb['copy_GBps']} GB/s): " + "; ".join(
        f"{k} {v['ms']:.3f} ms ({v['pct_copy']:.1f}% of copy)" for k, v in kb["flux"].items() if v["ms"] is not None))
e = S["e2e"]
if e:
    sys.path.insert(0, here)
    from run import table  # noqa: E402

    for r in e["results"]:
        print(f"{r['model']}: full steps {r['full_steps']}, FLOPs ratio {r['flops_ratio']:.3f}, latency (s) {r['latency_s']}, "
              f"speedup {r['speedup']}, graphs = direct: {r.get('graph_equals_direct')}, lockstep {r['lockstep']}")
    print(table(e["results"], e["device"]))
else:
    print("e2e: no result (see e2e.log)")
