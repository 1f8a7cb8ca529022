"""Exports a trained MMDiT (train.py --model mmdit) as ONE ONNX graph, forward(x, t, y, guidance) -> v as
torch.onnx.export writes it, with references computed by PyTorch in float64 from the same (float16-rounded)
weights:

  reference/full_50steps_g3.5.f32     full compute, the samples of reference/noise.f32 (labels in model.json)
  reference/v_t1.f32                   one forward at t = 1
  reference/seer_*.f32                 the same samples under the reference TaylorSeer (reference_seer.py),
                                       fixed schedules at module and lite granularity (listed in model.json)
  reference/quality-noise.f32          held-out noise for quality measurements (no reference output)

  /usr/bin/python3 scripts/train-dit/export_mmdit.py --weights RUN/weights.npz --out fixtures/mmdit-shapes

Runs on the build machine with Debian's python3-torch (1.13) and python3-onnx.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_export import add_arguments, export_whole, load_models, reference_block, reference_noise, run_config, seer_references, write_f32, write_manifest  # noqa: E402
from mmdit import MMDiT, sample  # noqa: E402

STEPS, GUIDANCE = 50, 3.5
# (name, granularity, interval N, warm-up W, order O): the FLUX fork's defaults, the paper's FLUX setting, lite's
SEER_REFERENCES = [
    ("seer_module_n6_w3_o1", "module", 6, 3, 1),
    ("seer_module_n6_w3_o2", "module", 6, 3, 2),
    ("seer_lite_n5_w3_o2", "lite", 5, 3, 2),
]


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    add_arguments(p, name="mmdit-shapes", labels="3,7", quality_samples=8)
    args = p.parse_args()
    cfg_path, run = run_config(args)
    if run.get("model") != "mmdit":
        raise SystemExit(f"{cfg_path}: not an MMDiT training run (model {run.get('model')!r})")
    arch = run["architecture"]
    model, m64 = load_models(MMDiT, arch, args.weights)
    S, C = arch["image_size"], arch["channels"]
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    ex = (torch.randn(2, C, S, S), torch.rand(2), torch.tensor([1, 2]), torch.full((2,), GUIDANCE))
    export_whole(model, ex, ["x", "t", "y", "guidance"], os.path.join(out, "model.onnx"))

    labels, noise, qnoise = reference_noise(args, (C, S, S))
    n64 = noise.double()
    with torch.no_grad():
        full = sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE)
        full32 = sample(model, noise, labels, steps=STEPS, guidance=GUIDANCE)
        v1 = m64(n64, torch.ones(len(labels), dtype=torch.float64), labels, torch.full((len(labels),), GUIDANCE, dtype=torch.float64))
        seers = seer_references(lambda seer, granularity: sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE, seer=seer, granularity=granularity),
                                full, out, STEPS, SEER_REFERENCES)
    rel32 = ((full32.double() - full).norm() / full.norm()).item()
    print(f"full compute: float32 PyTorch vs float64 relL2 {rel32:.3e}")
    write_f32(noise, os.path.join(out, "reference", "noise.f32"))
    write_f32(qnoise, os.path.join(out, "reference", "quality-noise.f32"))
    write_f32(full, os.path.join(out, "reference", "full_50steps_g3.5.f32"))
    write_f32(v1, os.path.join(out, "reference", "v_t1.f32"))

    write_manifest(out, {
        "name": args.name,
        "format": "taylorseer-graph/1",
        "graph": "model.onnx",
        "inputs": {"sample": "x", "timestep": "t", "label": "y", "guidance": "guidance"},
        "classes": arch["classes"],
        "null_label": arch["classes"],
        "timestep_scale": 1,
        "sampler": {"steps": STEPS, "guidance": GUIDANCE, "guidance_kind": "embedded"},
        "architecture": {"kind": "MMDiT (FLUX.1 block structure)", **arch, "tokens": {"image": (S // arch["patch"]) ** 2, "text": 6}},
        "objective": {
            "kind": "rectified-flow",
            "x_t": "(1 - t) * x0 + t * noise",
            "model_predicts": "noise - x0",
            "sampler": "Euler from t=1 to t=0 on a uniform grid: x <- x + (t_next - t) * v, one forward per step",
            "guidance": "distilled: the scale is the `guidance` input (FLUX-dev); no unconditional pass",
        },
        "reference": reference_block(labels, STEPS, GUIDANCE, {
            "noise": "reference/noise.f32",
            "output": "reference/full_50steps_g3.5.f32",
            "v_t1": "reference/v_t1.f32",
            "seer": seers,
            "quality_noise": "reference/quality-noise.f32",
        }, "export_mmdit.py"),
    })


if __name__ == "__main__":
    main()
