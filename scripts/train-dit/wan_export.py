"""Exports a trained video model (wan_train.py) as ONE ONNX graph, forward(x, t, y) -> v with x [B, C, F, H, W],
as torch.onnx.export writes it, with references computed by PyTorch in float64 from the same
(float16-rounded) weights:

  reference/full_50steps_g4.f32      full compute, the clips of reference/noise.f32 (labels in model.json),
                                     classifier-free guidance as two forwards per step
  reference/v_t1.f32                 one conditional forward at t = 1
  reference/seer_*.f32               the same clips under the reference TaylorSeer (reference_seer.py) at the
                                     Wan fork's defaults (module granularity, N=5 O=1 W=1), cond and uncond
                                     passes with separate caches, the decision taken on the cond pass
  reference/quality-noise.f32        held-out noise for quality measurements (no reference output)

  /usr/bin/python3 scripts/train-dit/wan_export.py --weights RUN/weights.npz --out fixtures/wan-clips
  /usr/bin/python3 scripts/train-dit/wan_export.py --random --out .graphs/wan-random   (untrained, for development)

Runs on the build machine with Debian's python3-torch (1.13) and python3-onnx.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import OPSET, Whole, to_f16_initializers  # noqa: E402
from export_mmdit import write  # noqa: E402
from reference_seer import TaylorSeer  # noqa: E402
from wan import TEXT_TOKENS, WanDiT, sample  # noqa: E402
from wan_train import ARCH  # noqa: E402

STEPS, GUIDANCE = 50, 4.0
# (name, interval N, warm-up W, order O): the Wan fork's defaults, and N=3 O=2 for a second point
SEER_REFERENCES = [("seer_separate_n5_w1_o1", 5, 1, 1), ("seer_separate_n3_w1_o2", 3, 1, 2)]


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--weights")
    p.add_argument("--random", action="store_true", help="untrained weights (float16-rounded), for development only")
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="wan-clips")
    p.add_argument("--labels", default="1,3")
    p.add_argument("--quality-samples", type=int, default=10)
    p.add_argument("--config", help="the training run's config.json (default: beside the weights)")
    args = p.parse_args()
    if args.random == (args.weights is not None):
        p.error("give --weights or --random")
    if args.weights:
        cfg_path = args.config or os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")
        with open(cfg_path) as f:
            run = json.load(f)
        if run.get("model") != "wan":
            raise SystemExit(f"{cfg_path}: not a wan_train.py run (model {run.get('model')!r})")
        arch = run["architecture"]
        w = np.load(args.weights)
        state = {k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files}
    else:
        arch = dict(ARCH)
        torch.manual_seed(0)
        m = WanDiT(**arch)
        for prm in m.parameters():  # an untrained model's zero head would make every output 0
            prm.data.normal_(0, 0.1)
        state = {k: v.half().float() for k, v in m.state_dict().items()}
    model = WanDiT(**arch).eval()
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    C, Fr, S = arch["channels"], arch["frames"], arch["image_size"]
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)

    path = os.path.join(out, "model.onnx")
    ex = (torch.randn(2, C, Fr, S, S), torch.rand(2), torch.tensor([1, 2]))
    names = ["x", "t", "y"]
    with torch.no_grad():
        torch.onnx.export(Whole(model), ex, path, input_names=names, output_names=["v"],
                          dynamic_axes={n: {0: "batch"} for n in names + ["v"]}, opset_version=OPSET,
                          do_constant_folding=True)
    to_f16_initializers(path)
    print("wrote", path, os.path.getsize(path), "bytes")

    labels = torch.tensor([int(s) for s in args.labels.split(",")])
    gen = torch.Generator().manual_seed(2026)
    noise = torch.randn(len(labels), C, Fr, S, S, generator=gen)
    qnoise = torch.randn(args.quality_samples, C, Fr, S, S, generator=gen)
    m64 = WanDiT(**arch).eval()
    m64.load_state_dict(model.state_dict())
    m64 = m64.double()
    n64 = noise.double()
    seers = []
    with torch.no_grad():
        full = sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE)
        full32 = sample(model, noise, labels, steps=STEPS, guidance=GUIDANCE)
        v1 = m64(n64, torch.ones(len(labels), dtype=torch.float64), labels)
        for name, N, W, O in SEER_REFERENCES:
            cond, uncond = TaylorSeer(STEPS, N, W, O), TaylorSeer(STEPS, N, W, O)
            x = sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE, seers=(cond, uncond))
            rel = ((x - full).norm() / full.norm()).item()
            print(f"{name}: {len(cond.full_steps())} full steps, {cond.calls['forecast'] + uncond.calls['forecast']} forecasts, relL2 to full {rel:.3e}")
            write(x, os.path.join(out, "reference", name + ".f32"))
            seers.append({"output": f"reference/{name}.f32", "granularity": "module", "cfg": "separate",
                          "schedule": {"kind": "fixed", "steps": STEPS, "interval": N, "warmup": W, "cooldown": 0},
                          "maxOrder": O, "variable": "step", "fullSteps": cond.full_steps(), "relL2ToFull": rel})
    rel32 = ((full32.double() - full).norm() / full.norm()).item()
    print(f"full compute: float32 PyTorch vs float64 relL2 {rel32:.3e}")
    write(noise, os.path.join(out, "reference", "noise.f32"))
    write(qnoise, os.path.join(out, "reference", "quality-noise.f32"))
    write(full, os.path.join(out, "reference", "full_50steps_g4.f32"))
    write(v1, os.path.join(out, "reference", "v_t1.f32"))

    f, h, w = (Fr // arch["patch"][0], S // arch["patch"][1], S // arch["patch"][2])
    manifest = {
        "name": args.name,
        "format": "taylorseer-graph/1",
        "graph": "model.onnx",
        "inputs": {"sample": "x", "timestep": "t", "label": "y"},
        "classes": arch["classes"],
        "null_label": arch["classes"],
        "timestep_scale": 1,
        "sampler": {"steps": STEPS, "guidance": GUIDANCE, "cfg": "separate"},
        "architecture": {"kind": "video DiT (Wan2.1 block structure)", **arch, "tokens": {"video": f * h * w, "text": TEXT_TOKENS}},
        "objective": {
            "kind": "rectified-flow",
            "x_t": "(1 - t) * x0 + t * noise",
            "model_predicts": "noise - x0",
            "sampler": "Euler from t=1 to t=0 on a uniform grid: x <- x + (t_next - t) * v",
            "guidance": "classifier-free, two forwards per step (cond, then uncond = the null label): v = v_u + g (v_c - v_u)",
        },
        "reference": {
            "labels": labels.tolist(),
            "steps": STEPS,
            "guidance": GUIDANCE,
            "noise": "reference/noise.f32",
            "output": "reference/full_50steps_g4.f32",
            "v_t1": "reference/v_t1.f32",
            "seer": seers,
            "quality_noise": "reference/quality-noise.f32",
            "dtype": "float32 little-endian, row-major [B, C, F, H, W]",
            "computed_by": "PyTorch float64 on the float16-rounded weights (scripts/train-dit/wan_export.py)",
        },
    }
    if args.random:
        manifest["untrained"] = "random weights, for development only"
    with open(os.path.join(out, "model.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
