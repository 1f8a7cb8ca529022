"""Exports a HiDream-structured MMDiT (hidream.py) with random weights as ONE ONNX graph, forward(x, t, y) -> v as
torch.onnx.export writes it, with references computed by PyTorch in float64 from the same (float16-rounded)
weights: full compute with classifier-free guidance as one batched forward, one forward at t = 1, and the
reference TaylorSeer (reference_seer.py) at the `hidream` preset's setting (module map, N=4 W=1 O=2, one cache
for the batched cond and uncond passes) and at one more.

  /usr/bin/python3 scripts/train-dit/export_hidream.py --out fixtures/hidream-structure

Random weights: the samples are not pictures; the references check a cache on HiDream's block layout (MoE
feed-forwards, sequential single-stream blocks, to_out / to_out_t), not quality.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_export import add_arguments, export_whole, graph_manifest, load_models, rectified_flow, reference_noise, sampled_references, write_manifest  # noqa: E402
from hidream import HiDream, sample  # noqa: E402

STEPS, GUIDANCE = 50, 5.0
# (granularity, interval N, warm-up W, order O): the HiDream fork's defaults, and a first-order setting
SEER_REFERENCES = [("module", 4, 1, 2), ("module", 3, 2, 1)]


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    add_arguments(p, name="hidream-structure", labels="3,7", quality_samples=2)
    args = p.parse_args()
    torch.manual_seed(0)
    drawn = HiDream().eval()
    # float16-rounded weights (as every fixture stores them), small enough that 50 guided steps stay tame
    state = {k: (0.5 * v).half().float() if v.dim() > 1 else v.half().float() for k, v in drawn.state_dict().items()}
    arch = drawn.cfg
    model, m64 = load_models(HiDream, arch, state)
    S, C = arch["image_size"], arch["channels"]
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    ex = (torch.randn(2, C, S, S), torch.rand(2), torch.tensor([1, 2]))
    export_whole(model, ex, ["x", "t", "y"], os.path.join(out, "model.onnx"))

    noise = reference_noise(args, (C, S, S))
    labels = noise[0]
    sampler = lambda m, x, seer=None, granularity="module": sample(m, x, labels, steps=STEPS, guidance=GUIDANCE, seer=seer, granularity=granularity)
    v1 = lambda m, x: m(x, torch.ones(len(labels), dtype=x.dtype), labels)
    reference = sampled_references(out, (model, m64), sampler, noise, ("v_t1", v1), "full_50steps_g5.f32", STEPS, GUIDANCE,
                                   SEER_REFERENCES, "export_hidream.py")
    write_manifest(out, graph_manifest(
        args.name, arch["classes"],
        sampler={"steps": STEPS, "guidance": GUIDANCE},
        architecture={"kind": "MMDiT (HiDream-I1 block structure), random weights", **arch,
                      "tokens": {"image": (S // arch["patch"]) ** 2, "text": 6}},
        objective=rectified_flow("v = v_uncond + scale * (v_cond - v_uncond), cond and uncond in one batched forward; uncond uses y = null_label"),
        reference=reference,
    ))


if __name__ == "__main__":
    main()
