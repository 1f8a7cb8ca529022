"""Exports a trained MMDiT (train.py --model mmdit) as ONE ONNX graph, forward(x, t, y, guidance) -> v as
torch.onnx.export writes it, with references computed by PyTorch in float64 from the same (float16-rounded)
weights:

  reference/full_50steps_g3.5.f32     full compute, the samples of reference/noise.f32 (labels in model.json)
  reference/v_t1.f32                   one forward at t = 1
  reference/seer_*.f32                 the same samples under the reference TaylorSeer (reference_seer.py),
                                       fixed schedules at module and lite granularity (listed in model.json)
  reference/quality-noise.f32          held-out noise for quality measurements (no reference output)

  /usr/bin/python3 scripts/train-dit/export_mmdit.py --weights RUN/weights.npz --out fixtures/mmdit-shapes
  /usr/bin/python3 scripts/train-dit/export_mmdit.py --random '{"hidden": 512, "heads": 8, "axes_dim": [16, 24, 24], "image_size": 32}' --out .graphs/mmdit-wide

--random ARCH_JSON exports an untrained MMDiT (random weights, gates and output layer not zero), model.onnx only:
a timing subject.

Runs on the build machine with Debian's python3-torch (1.13) and python3-onnx.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_export import add_arguments, export_whole, graph_manifest, load_models, rectified_flow, reference_noise, sampled_references, trained_architecture, write_manifest  # noqa: E402
from mmdit import MMDiT, sample  # noqa: E402

STEPS, GUIDANCE = 50, 3.5
# (granularity, interval N, warm-up W, order O): the FLUX fork's defaults, the paper's FLUX setting, lite's
SEER_REFERENCES = [("module", 6, 3, 1), ("module", 6, 3, 2), ("lite", 5, 3, 2)]


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--weights")
    p.add_argument("--random", metavar="ARCH_JSON",
                   help="instead: an untrained MMDiT of this architecture (random weights, gates not zero), for timing only")
    add_arguments(p, name="mmdit-shapes", labels="3,7", quality_samples=8)
    args = p.parse_args()
    if args.random:
        return export_random(json.loads(args.random), args.out)
    if not args.weights:
        p.error("needs --weights RUN/weights.npz or --random ARCH_JSON")
    arch = trained_architecture(args, "mmdit", "an MMDiT training run")
    model, m64 = load_models(MMDiT, arch, args.weights)
    S, C = arch["image_size"], arch["channels"]
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    write_graph(model, out)

    noise = reference_noise(args, (C, S, S))
    labels = noise[0]
    sampler = lambda m, x, seer=None, granularity="module": sample(m, x, labels, steps=STEPS, guidance=GUIDANCE, seer=seer, granularity=granularity)
    v1 = lambda m, x: m(x, torch.ones(len(labels), dtype=x.dtype), labels, torch.full((len(labels),), GUIDANCE, dtype=x.dtype))
    reference = sampled_references(out, (model, m64), sampler, noise, ("v_t1", v1), "full_50steps_g3.5.f32", STEPS, GUIDANCE,
                                   SEER_REFERENCES, "export_mmdit.py")
    write_manifest(out, graph_manifest(
        args.name, arch["classes"], inputs={"guidance": "guidance"},
        sampler={"steps": STEPS, "guidance": GUIDANCE, "guidance_kind": "embedded"},
        architecture={"kind": "MMDiT (FLUX.1 block structure)", **arch, "tokens": {"image": (S // arch["patch"]) ** 2, "text": 6}},
        objective=rectified_flow("distilled: the scale is the `guidance` input (FLUX-dev); no unconditional pass",
                                 sampler="Euler from t=1 to t=0 on a uniform grid: x <- x + (t_next - t) * v, one forward per step"),
        reference=reference,
    ))


def export_random(arch, out):
    """out/model.onnx of an MMDiT with random weights: adaLN-Zero's zero gates and output layer drawn too, so
    that every branch reaches the output."""
    torch.manual_seed(0)
    model = MMDiT(**arch).eval()
    for m in model.zero_start_layers() + [model.guidance_in.out_layer]:
        torch.nn.init.normal_(m.weight, std=0.02)
    model.requires_grad_(False)
    os.makedirs(out, exist_ok=True)
    write_graph(model, out)


def write_graph(model, out):
    """out/model.onnx: the whole forward (x, t, y, guidance) -> v."""
    S, C = model.image_size, model.channels
    ex = (torch.randn(2, C, S, S), torch.rand(2), torch.tensor([1, 2]), torch.full((2,), GUIDANCE))
    export_whole(model, ex, ["x", "t", "y", "guidance"], os.path.join(out, "model.onnx"))


if __name__ == "__main__":
    main()
