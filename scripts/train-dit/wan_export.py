"""Exports a trained video model (wan_train.py) as ONE ONNX graph, forward(x, t, y) -> v with x [B, C, F, H, W],
as torch.onnx.export writes it (graph_export.py, as the other exporters), with references computed by PyTorch in float64 from the same
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
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_export import add_arguments, export_whole, load_models, reference_block, reference_noise, run_config, seer_references, write_f32, write_manifest  # noqa: E402
from wan import TEXT_TOKENS, WanDiT, sample  # noqa: E402
from wan_train import ARCH  # noqa: E402

STEPS, GUIDANCE = 50, 4.0
# (name, granularity, interval N, warm-up W, order O): the Wan fork's defaults, and N=3 O=2 for a second point
SEER_REFERENCES = [("seer_separate_n5_w1_o1", "module", 5, 1, 1), ("seer_separate_n3_w1_o2", "module", 3, 1, 2)]


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--weights")
    p.add_argument("--random", action="store_true", help="untrained weights (float16-rounded), for development only")
    add_arguments(p, name="wan-clips", labels="1,3", quality_samples=10)
    args = p.parse_args()
    if args.random == (args.weights is not None):
        p.error("give --weights or --random")
    if args.weights:
        cfg_path, run = run_config(args)
        if run.get("model") != "wan":
            raise SystemExit(f"{cfg_path}: not a wan_train.py run (model {run.get('model')!r})")
        arch, weights = run["architecture"], args.weights
    else:
        arch = dict(ARCH)
        torch.manual_seed(0)
        m = WanDiT(**arch)
        for prm in m.parameters():  # an untrained model's zero head would make every output 0
            prm.data.normal_(0, 0.1)
        weights = {k: v.half().float() for k, v in m.state_dict().items()}
    model, m64 = load_models(WanDiT, arch, weights)
    C, Fr, S = arch["channels"], arch["frames"], arch["image_size"]
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    export_whole(model, (torch.randn(2, C, Fr, S, S), torch.rand(2), torch.tensor([1, 2])), ["x", "t", "y"], os.path.join(out, "model.onnx"))

    labels, noise, qnoise = reference_noise(args, (C, Fr, S, S))
    n64 = noise.double()
    with torch.no_grad():
        full = sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE)
        full32 = sample(model, noise, labels, steps=STEPS, guidance=GUIDANCE)
        v1 = m64(n64, torch.ones(len(labels), dtype=torch.float64), labels)
        seers = seer_references(lambda pair, granularity: sample(m64, n64, labels, steps=STEPS, guidance=GUIDANCE, seers=pair),
                                full, out, STEPS, SEER_REFERENCES, cfg="separate")
    rel32 = ((full32.double() - full).norm() / full.norm()).item()
    print(f"full compute: float32 PyTorch vs float64 relL2 {rel32:.3e}")
    write_f32(noise, os.path.join(out, "reference", "noise.f32"))
    write_f32(qnoise, os.path.join(out, "reference", "quality-noise.f32"))
    write_f32(full, os.path.join(out, "reference", "full_50steps_g4.f32"))
    write_f32(v1, os.path.join(out, "reference", "v_t1.f32"))

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
        "reference": reference_block(labels, STEPS, GUIDANCE, {
            "noise": "reference/noise.f32",
            "output": "reference/full_50steps_g4.f32",
            "v_t1": "reference/v_t1.f32",
            "seer": seers,
            "quality_noise": "reference/quality-noise.f32",
        }, "wan_export.py", layout="float32 little-endian, row-major [B, C, F, H, W]"),
    }
    if args.random:
        manifest["untrained"] = "random weights, for development only"
    write_manifest(out, manifest)


if __name__ == "__main__":
    main()
