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
from graph_export import add_arguments, export_whole, graph_manifest, load_models, rectified_flow, reference_noise, sampled_references, trained_architecture, write_manifest  # noqa: E402
from wan import TEXT_TOKENS, WanDiT, sample  # noqa: E402
from wan_train import ARCH  # noqa: E402

STEPS, GUIDANCE = 50, 4.0
# (granularity, interval N, warm-up W, order O): the Wan fork's defaults, and N=3 O=2 for a second point
SEER_REFERENCES = [("module", 5, 1, 1), ("module", 3, 1, 2)]


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
        arch, weights = trained_architecture(args, "wan", "a wan_train.py run"), args.weights
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

    noise = reference_noise(args, (C, Fr, S, S))
    labels = noise[0]
    # the seers: a (cond, uncond) pair of caches
    sampler = lambda m, x, seers=None, granularity="module": sample(m, x, labels, steps=STEPS, guidance=GUIDANCE, seers=seers)
    v1 = lambda m, x: m(x, torch.ones(len(labels), dtype=x.dtype), labels)
    reference = sampled_references(out, (model, m64), sampler, noise, ("v_t1", v1), "full_50steps_g4.f32", STEPS, GUIDANCE,
                                   SEER_REFERENCES, "wan_export.py", cfg="separate", layout="float32 little-endian, row-major [B, C, F, H, W]")
    f, h, w = (Fr // arch["patch"][0], S // arch["patch"][1], S // arch["patch"][2])
    manifest = graph_manifest(
        args.name, arch["classes"],
        sampler={"steps": STEPS, "guidance": GUIDANCE, "cfg": "separate"},
        architecture={"kind": "video DiT (Wan2.1 block structure)", **arch, "tokens": {"video": f * h * w, "text": TEXT_TOKENS}},
        objective=rectified_flow("classifier-free, two forwards per step (cond, then uncond = the null label): v = v_u + g (v_c - v_u)"),
        reference=reference,
    )
    if arch.get("sigma_data"):
        manifest["architecture"]["precondition"] = "v = c_skip(t) x + c_out(t) F(c_in(t) x) around the blocks (wan.py WanDiT.precondition)"
    if args.random:
        manifest["untrained"] = "random weights, for development only"
    write_manifest(out, manifest)


if __name__ == "__main__":
    main()
