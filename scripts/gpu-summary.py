#!/usr/bin/env python3
"""Summary of a scripts/gpu-check.sh run: reads the stage outputs in OUT, writes OUT/summary.json and
prints a short comparison table (our kernels vs the eager-style baseline vs PyTorch on the same card)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpu_logs import RunLogs  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("OUT", ".")
logs = RunLogs(out)
read, load = logs.read, logs.load

S = {"stages": logs.stages(), "kernel_test": logs.kernel_test()}
nt = load("node_tests.json")
if nt is not None:
    S["node_tests"] = {k: sum(1 for r in nt if r["status"] == k) for k in ("pass", "fail", "skip")}
    S["node_tests"]["failed"] = [r["name"] + ": " + (r.get("error") or "").split("\n")[0] for r in nt if r["status"] == "fail"]
S["sanitizer_errors"] = logs.memcheck_errors("sanitizer.log")
S["racecheck_hazards"], S["racecheck_errors"] = logs.racecheck()
bench = load("bench.json")
anch = load("anchors.json")
info = load("cudainfo.json")

rows = bench["rows"] if bench else []


def row(name, order, group="flux", storage="bf16"):
    for r in rows:
        if r["group"] == group and r["name"] == name and r["order"] == order and r.get("storage", "bf16") == storage:
            return r
    return None


devs = (info or {}).get("devices") or [{}]
S["device"] = bench["device"] if bench else devs[0].get("name")
S["cuda_info"] = info
S["copy_GBps"] = bench["copy_GBps"] if bench else None
S["torch_copy_GBps"] = anch.get("copy_GBps") if anch else None
flux = {}
for o in (1, 2):
    tf = (anch or {}).get("flux_step", {}).get(f"order{o}", {})
    d = {}
    for key, name in (("forecast", "forecast_all"), ("update", "update_all")):
        r = row(name, o)
        e = row(f"eager_{name}", o)
        pt = row(f"{name.split('_')[0]}_per_tensor_launch", o)
        d[key] = {
            "ms": r and r["ms"], "pct_copy": r and r["pct_copy"], "floor_ms": r and r["floor_ms"],
            "eager_style_ms": e and e["ms"], "per_tensor_launch_ms": pt and pt["ms"],
            "torch_eager_ms": tf.get(f"{'predict' if key == 'forecast' else 'update'}_eager_ms"),
            "torch_foreach_ms": tf.get("predict_foreach_ms") if key == "forecast" else None,
            "torch_compiled_ms": tf.get(f"{'predict' if key == 'forecast' else 'update'}_compiled_ms"),
            "torch_floor_ms": tf.get(f"{'predict' if key == 'forecast' else 'update'}_floor_ms"),
        }
    g, t2 = row("gated_forecast_fused", o), row("gated_two_step", o)
    d["gated"] = {"fused_ms": g and g["ms"], "two_step_ms": t2 and t2["ms"], "speedup": t2 and t2.get("fused_speedup")}
    # 'i8' factors of the same step (d_0 bf16, 8-bit differences): time and minimal bytes against bf16's
    d["i8"] = {}
    for key, name in (("forecast", "forecast_all"), ("update", "update_all")):
        q, b = row(name, o, storage="i8"), row(name, o)
        d["i8"][key] = {"ms": q and q["ms"], "vs_bf16": q and q.get("vs_bf16"),
                        "bytes_vs_bf16": q and b and q["bytes"] / b["bytes"]}
    rep = row("forecast_all_repeat", o)
    d["forecast_repeat_ms"] = rep and rep["ms"]
    un = row("update_all_norms", o)
    d["update_norms"] = {"ms": un and un["ms"],
                         "cost_pct": un and d["update"]["ms"] and 100.0 * (un["ms"] / d["update"]["ms"] - 1.0)}
    flux[f"order{o}"] = d
S["flux_step"] = flux
single = []
for r in rows:
    if r["group"] != "single" or "eager" in r["name"]:
        continue
    shape, op = r["name"].rsplit("_", 1)
    t = next((a for a in (anch or {}).get("single_tensor", []) if a["shape"] == shape and a["order"] == r["order"]), {})
    single.append({"shape": shape, "op": op, "order": r["order"], "ms": r["ms"], "pct_copy": r["pct_copy"],
                   "torch_eager_ms": t.get("predict_ms" if op == "forecast" else "update_ms")})
S["single"] = single
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(S, f, indent=1)


def ms(x):
    return f"{x:8.3f}" if isinstance(x, (int, float)) else f"{'-':>8}"


print()
print(f"==== taylorseer GPU check: {S['device']} ====")
st = " ".join(f"{k}={v}" for k, v in S["stages"].items())
print(f"stages: {st}")
kt = S["kernel_test"]
print(f"kernel_test: {kt['checks']} checks, {kt['failures']} failures" if kt else "kernel_test: no result")
n = S.get("node_tests")
print(f"node tests: {n['pass']} passed, {n['fail']} failed, {n['skip']} skipped" if n else "node tests: no result")
for fline in (n or {}).get("failed", [])[:5]:
    print(f"   FAIL {fline[:160]}")
print(f"compute-sanitizer memcheck: {S['sanitizer_errors']} errors" if S["sanitizer_errors"] is not None else "compute-sanitizer: no result")
print(f"compute-sanitizer racecheck: {S['racecheck_hazards']} hazards, {S['racecheck_errors']} errors" if S["racecheck_errors"] is not None else "racecheck: no result")
print(f"copy GB/s (read+write): ours {S['copy_GBps']}, torch {S['torch_copy_GBps']}")
print("FLUX.1-dev 1024^2 step, 114 tensors, bf16 (ms)")
print(f"  {'op':<12}{'fused':>8}{'%copy':>7}{'floor':>8}{'eager-st':>9}{'1/tensor':>9}{'torch-eag':>10}{'foreach':>8}{'compile':>8}")
for o in (1, 2):
    for key in ("forecast", "update"):
        d = flux[f"order{o}"][key]
        pc = f"{d['pct_copy']:6.1f}%" if d["pct_copy"] is not None else "      -"
        print(f"  {key + ' o' + str(o):<12}{ms(d['ms'])}{pc}{ms(d['floor_ms'])}{ms(d['eager_style_ms'])} {ms(d['per_tensor_launch_ms'])}"
              f"{ms(d['torch_eager_ms'])}  {ms(d['torch_foreach_ms'])}{ms(d['torch_compiled_ms'])}")
    g = flux[f"order{o}"]["gated"]
    sp = f"{g['speedup']:.2f}x" if g["speedup"] else "-"
    print(f"  gated o{o}: fused {ms(g['fused_ms'])} vs forecast + gated add {ms(g['two_step_ms'])} -> {sp}")
    un = flux[f"order{o}"]["update_norms"]
    cost = f"{un['cost_pct']:+.1f}%" if un["cost_pct"] is not None else "-"
    print(f"  update o{o} with norms (stats): {ms(un['ms'])} -> cost {cost} (target < 5%)")
    q8 = flux[f"order{o}"]["i8"]
    if q8["forecast"]["ms"] is not None:
        print(f"  i8 o{o}: " + ", ".join(
            f"{key} {ms(q8[key]['ms'])} = {q8[key]['vs_bf16']:.3f}x bf16's time (bytes {q8[key]['bytes_vs_bf16']:.3f}x)"
            for key in ("forecast", "update") if q8[key]["ms"] is not None))
tune = [r for r in rows if r["group"] == "tune"]
if tune:
    full_f, full_u = row("forecast_all", 2), row("update_all", 2)
    print("grid sweep o2 (blocks/SM: ms): forecast " + ", ".join(
        f"{r['name'].split('_')[3]}: {r['ms']:.3f}" for r in tune if r["name"].startswith("forecast")) +
        (f", full: {full_f['ms']:.3f}" if full_f else "") + " | update " + ", ".join(
        f"{r['name'].split('_')[3]}: {r['ms']:.3f}" for r in tune if r["name"].startswith("update")) +
        (f", full: {full_u['ms']:.3f}" if full_u else ""))
S["tune"] = tune
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(S, f, indent=1)
if single:
    print("single tensors (ms): " + "; ".join(
        f"{s['shape']} {s['op']} o{s['order']} {s['ms']:.4f} ({s['pct_copy']:.0f}%) torch {s['torch_eager_ms']}" for s in single
        if s["order"] == 2))
ov = load("cpu_overhead.json")
if ov:
    S["cpu_overhead"] = {k: ov.get(k) for k in ("wallMsFull", "wallMs", "wallSpeedup", "evalSpeedup", "overheadRatio", "psnr")}
    S["cpu_overhead"]["nproc"] = (read("cpu_overhead_nproc.txt") or "").strip()
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(S, f, indent=1)
    r = ov["wallSpeedup"] / ov["evalSpeedup"]
    print(f"eval on the device CPU ({S['cpu_overhead']['nproc']} cores), N=5 O=2 W=3: full {ov['wallMsFull']:.0f} ms, "
          f"accelerated {ov['wallMs']:.0f} ms, wall {ov['wallSpeedup']:.2f}x / eval {ov['evalSpeedup']:.2f}x "
          f"= overhead ratio {r:.3f} ({'OK' if r >= 0.85 else 'MISS'} >= 0.85)")
for o in (1, 2):
    d = flux[f"order{o}"]
    f, u = d["forecast"], d["update"]
    checks = []
    if f["pct_copy"] is not None:
        checks.append(("forecast >= 90% copy", f["pct_copy"] >= 90))
    if u["pct_copy"] is not None:
        checks.append(("update >= 90% copy", u["pct_copy"] >= 90))
    if f["ms"] and f["eager_style_ms"]:
        checks.append((f"forecast >= 5x eager-style ({f['eager_style_ms'] / f['ms']:.1f}x)", f["eager_style_ms"] / f["ms"] >= 5))
    if d["gated"]["speedup"]:
        checks.append(("gated >= 1.3x two-step", d["gated"]["speedup"] >= 1.3))
    qf = d["i8"]["forecast"]
    if qf["vs_bf16"] is not None:
        checks.append((f"i8 forecast <= 0.6x bf16 ({qf['vs_bf16']:.3f}x; bytes allow {qf['bytes_vs_bf16']:.3f}x)", qf["vs_bf16"] <= 0.6))
    print(f"targets o{o}: " + ", ".join(f"{'OK' if ok else 'MISS'} {t}" for t, ok in checks))
