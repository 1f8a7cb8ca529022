"""Exports weights.npz (train.py) as a `taylorseer-dit-onnx/1` model directory: one ONNX graph per piece,
float16 initializers cast to float32 at load (as the bundled fixture stores them), model.json, and a
full-compute reference computed by PyTorch in float64 from the same (float16-rounded) weights.

  /usr/bin/python3 scripts/train-dit/export.py --weights weights.npz --out fixtures/dit-shapes [--config config.json]

Whole-graph mode: the model's forward (x, t, y) -> v as ONE graph, as torch.onnx.export writes it for any
model (no cut into pieces), with a small model.json (null label, sampler settings, the reference). The
weights come from weights.npz or, with --from-pieces, from an existing piece directory (pieces.py); the
rebuilt model must reproduce that directory's float64 reference before anything is written.

  /usr/bin/python3 scripts/train-dit/export.py --graph --from-pieces fixtures/dit-shapes-small --out fixtures/dit-shapes-small-graph
  /usr/bin/python3 scripts/train-dit/export.py --graph --random '{"hidden": 512, "depth": 4, "heads": 8, "patch": 2}' --out .graphs/wide

DiT-XL/2 at 256x256 (latent 32x32x4), float32: 2.7 GB of weights, which torch writes as external data files:

  /usr/bin/python3 scripts/train-dit/export.py --graph --f32 --random '{"image_size": 32, "channels": 4, "patch": 2, "hidden": 1152, "depth": 28, "heads": 16, "classes": 1000}' --out .graphs/dit-xl

An eps-prediction run (train.py --objective eps) exports as one graph straight from its weights: the graph takes
the integer timestep 0..999 as a float (model.json: "prediction", "scheduler", timestep_scale 1000), the
references are DDIM (eta 0) with batched CFG, full compute and the reference TaylorSeer (reference_seer.py):

  /usr/bin/python3 scripts/train-dit/export.py --graph --weights RUN/weights.npz --out fixtures/dit-ddim --name dit-ddim

The architecture comes from the training run's config.json (beside the weights unless --config), else train.py's ARCH.

Runs on the build machine with Debian's python3-torch (1.13) and python3-onnx.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit import DiT, ddim_timesteps, sample, sample_eps  # noqa: E402
from graph_export import add_arguments, export_onnx, export_whole, graph_manifest, load_models, rectified_flow, reference_block, reference_noise, run_config, sampled_references, write_manifest  # noqa: E402
from pieces import state_dict_from_pieces  # noqa: E402
from train import ARCH  # noqa: E402

# an eps-prediction DiT (--objective eps) is sampled as the DiT paper does: DDIM, 50 steps, guidance 4 (DiT's
# sample.py default), and the reference TaylorSeer runs at the DiT fork's defaults and the paper's operating
# points, batched CFG with one shared cache: (granularity, N, W, O)
EPS_STEPS, EPS_GUIDANCE = 50, 4.0
EPS_SEER_REFERENCES = [("module", 4, 2, 4), ("module", 3, 2, 3), ("module", 5, 2, 3)]

def write_graph(model, out, f16=True):
    """out/model.onnx: the whole forward (x, t, y) -> v, dynamic batch, float16 weights + Cast (or float32)."""
    a = model.cfg
    S, C = a["image_size"], a["channels"]
    export_whole(model, (torch.randn(2, C, S, S), torch.rand(2), torch.tensor([1, 2])), ["x", "t", "y"], os.path.join(out, "model.onnx"), f16=f16)


def export_graph(model, manifest, source, out):
    """Writes out/model.onnx (the whole forward), out/model.json and out/reference/ (copied from source)."""
    import shutil

    ref = manifest["reference"]
    a = manifest["architecture"]
    labels = torch.tensor(ref["labels"])
    S, C = a["image_size"], a["channels"]
    noise = torch.from_numpy(np.fromfile(os.path.join(source, ref["noise"]), dtype="<f4").reshape(len(labels), C, S, S).copy())
    expected = torch.from_numpy(np.fromfile(os.path.join(source, ref["output"]), dtype="<f4").reshape(noise.shape).copy()).double()
    m64 = DiT(**model.cfg).eval()
    m64.load_state_dict(model.state_dict())
    m64.pos.copy_(model.pos)
    with torch.no_grad():
        got = sample(m64.double(), noise.double(), labels, steps=ref["steps"], guidance=ref["guidance"])
    rel = ((got - expected).norm() / expected.norm()).item()
    print(f"rebuilt model vs the directory's float64 reference: relL2 {rel:.3e}")
    if rel > 1e-6:
        raise SystemExit(f"the rebuilt model does not reproduce {source}'s reference (relL2 {rel:.3e}); nothing written")
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    write_graph(model, out)
    for key in ("noise", "output"):
        shutil.copy(os.path.join(source, ref[key]), os.path.join(out, "reference", os.path.basename(ref[key])))
    write_manifest(out, graph_manifest(
        manifest["name"] + "-graph", a["classes"], null_label=a["null_class"],
        sampler={"steps": ref["steps"], "guidance": ref["guidance"]},
        reference={
            "labels": ref["labels"],
            "steps": ref["steps"],
            "guidance": ref["guidance"],
            "noise": "reference/" + os.path.basename(ref["noise"]),
            "output": "reference/" + os.path.basename(ref["output"]),
            "computed_by": ref.get("computed_by", "PyTorch float64"),
        },
    ))


def main():
    torch.set_num_threads(1)
    if "--graph" in sys.argv:
        return main_graph()
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    add_arguments(p, name="dit-shapes", labels="3,7", quality_samples=8)
    args = p.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    w = np.load(args.weights)
    cfg_path = args.config or os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")
    arch = dict(ARCH)
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            run = json.load(f)
        if run.get("objective") == "eps":
            p.error("an eps-prediction run exports as one graph: --graph --weights")
        arch.update(run["architecture"])
    model = DiT(**arch).eval()
    missing = model.load_state_dict({k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files}, strict=True)
    model.requires_grad_(False)  # the pieces are bound methods: their weights go in as constants
    print("loaded", args.weights, missing)
    a = model.cfg
    S, C, D, depth = a["image_size"], a["channels"], a["hidden"], a["depth"]
    L = (S // a["patch"]) ** 2
    B = 2
    x, t, y = torch.randn(B, C, S, S), torch.rand(B), torch.tensor([1, 2])
    h, c, v = torch.randn(B, L, D), torch.randn(B, D), torch.randn(B, D)
    files = {"embed": "embed.onnx", "modulation": "modulation.onnx", "attn": [], "mlp": [], "final": "final.onnx"}
    with torch.no_grad():
        export_onnx(model.embed, (x, t, y), ["x", "t", "y"], os.path.join(out, files["embed"]), ["h", "c"])
        export_onnx(model.modulation, (c,), ["c"], os.path.join(out, files["modulation"]), ["mod"])
        for i, blk in enumerate(model.blocks):
            for kind, fn in (("attn", blk.attn), ("mlp", blk.mlp)):
                name = f"{kind}_{i}.onnx"
                export_onnx(fn, (h, v, v), ["h", "shift", "scale"], os.path.join(out, name), ["out"])
                files[kind].append(name)
        export_onnx(model.final, (h, c), ["h", "c"], os.path.join(out, files["final"]), ["v"])

    # references: float64 PyTorch on the float16-rounded weights
    labels, noise, qnoise = reference_noise(args, (C, S, S))
    m64 = DiT(**arch).eval()
    m64.load_state_dict(model.state_dict())
    m64 = m64.double()
    with torch.no_grad():
        ref64 = sample(m64, noise.double(), labels, steps=50, guidance=3.0)
        ref32 = sample(model, noise, labels, steps=50, guidance=3.0)
        v1 = m64(noise.double(), torch.ones(len(labels), dtype=torch.float64), labels)
    rel = (ref32.double() - ref64).norm() / ref64.norm()
    print(f"reference: float32 PyTorch vs float64 relL2 {rel.item():.3e}")
    noise.numpy().astype("<f4").tofile(os.path.join(out, "reference", "noise.f32"))
    qnoise.numpy().astype("<f4").tofile(os.path.join(out, "reference", "quality-noise.f32"))
    ref64.numpy().astype("<f4").tofile(os.path.join(out, "reference", "full_50steps_cfg3.f32"))
    v1.numpy().astype("<f4").tofile(os.path.join(out, "reference", "v_t1_cond.f32"))

    manifest = {
        "name": args.name,
        "format": "taylorseer-dit-onnx/1",
        "architecture": {"kind": "DiT adaLN-Zero", "image_size": S, "channels": C, "patch": a["patch"], "tokens": L,
                         "hidden": D, "depth": depth, "heads": a["heads"], "classes": a["classes"],
                         "null_class": a["classes"]},
        "objective": rectified_flow("v = v_uncond + scale * (v_cond - v_uncond); uncond uses y = null_class"),
        "modulation_layout": "mod[b, block, k, :] with k = 0 shift_attn, 1 scale_attn, 2 gate_attn, 3 shift_mlp, 4 scale_mlp, 5 gate_mlp",
        "block_update": "h = h + gate_attn * attn_i(h, shift_attn, scale_attn); h = h + gate_mlp * mlp_i(h, shift_mlp, scale_mlp)",
        "files": files,
        "reference": reference_block(labels, 50, 3.0, {
            "noise": "reference/noise.f32",
            "output": "reference/full_50steps_cfg3.f32",
            "v_t1_cond": "reference/v_t1_cond.f32",
        }, "export.py"),
    }
    write_manifest(out, manifest)


def export_eps_graph(args, run):
    """out/model.onnx, out/model.json and out/reference/ of an eps-prediction training run."""
    arch = {**ARCH, **run["architecture"]}
    betas = run.get("beta_schedule") or "linear"
    model, m64 = load_models(DiT, arch, args.weights)
    S, C, out = arch["image_size"], arch["channels"], args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    export_whole(model, (torch.randn(2, C, S, S), torch.randint(0, 1000, (2,)).float(), torch.tensor([1, 2])), ["x", "t", "y"],
                 os.path.join(out, "model.onnx"))
    noise = reference_noise(args, (C, S, S))
    labels, tau0 = noise[0], ddim_timesteps(EPS_STEPS)[0]
    sampler = lambda m, x, seer=None, granularity="module": sample_eps(m, x, labels, EPS_STEPS, EPS_GUIDANCE, beta_schedule=betas, seer=seer)
    eps0 = lambda m, x: m(x, torch.full((len(labels),), float(tau0), dtype=x.dtype), labels)
    reference = sampled_references(out, (model, m64), sampler, noise, (f"eps_t{tau0}_cond", eps0), "full_ddim50_cfg4.f32", EPS_STEPS, EPS_GUIDANCE,
                                   EPS_SEER_REFERENCES, "export.py")
    write_manifest(out, graph_manifest(
        args.name, arch["classes"], timestep_scale=1000, prediction="epsilon",
        scheduler={"kind": "ddim", "beta_schedule": betas, "beta_start": 1e-4, "beta_end": 0.02, "train_timesteps": 1000},
        sampler={"steps": EPS_STEPS, "guidance": EPS_GUIDANCE},
        architecture={"kind": "DiT adaLN-Zero", **arch, "tokens": (S // arch["patch"]) ** 2},
        objective={
            "kind": "DDPM noise prediction (the DiT paper's, without the learned variance)",
            "x_t": "sqrt(alpha_bar[t]) * x0 + sqrt(1 - alpha_bar[t]) * noise, t an integer in 0..999",
            "model_predicts": "noise; its timestep input is t as a float (sampler time t / 1000 times timestep_scale 1000)",
            "sampler": "DDIM, eta 0, on t = 980, 960, .., 0: x <- sqrt(a') x0 + sqrt(1 - a') eps, x0 = (x - sqrt(1 - a) eps) / sqrt(a)",
            "guidance": "eps = eps_uncond + scale * (eps_cond - eps_uncond), cond and uncond batched; uncond uses y = null_label",
        },
        reference=reference,
    ))


def main_graph():
    p = argparse.ArgumentParser()
    p.add_argument("--graph", action="store_true", required=True)
    p.add_argument("--weights", help="weights.npz of an eps-prediction training run (train.py --objective eps)")
    add_arguments(p, name="dit-ddim", labels="3,7", quality_samples=8)
    p.add_argument("--from-pieces", help="a taylorseer-dit-onnx/1 directory with a float64 reference")
    p.add_argument("--random", metavar="ARCH_JSON",
                   help="instead: an untrained DiT of this architecture (random weights, gates not zero) for timing only")
    p.add_argument("--f32", action="store_true",
                   help="with --random: float32 weights as torch.onnx.export writes them (past 2 GiB: external data files)")
    args = p.parse_args()
    if args.random:
        torch.manual_seed(0)
        model = DiT(**{**ARCH, **json.loads(args.random)}).eval()
        for m in (model.ada, model.final_ada, model.final_linear):
            torch.nn.init.normal_(m.weight, std=0.02)
        model.requires_grad_(False)
        os.makedirs(args.out, exist_ok=True)
        write_graph(model, args.out, f16=not args.f32)
        return
    if args.weights:
        cfg_path, run = run_config(args)
        if run.get("objective") != "eps":
            p.error(f"--graph --weights exports an eps-prediction run; {cfg_path} is objective {run.get('objective')!r} (export its pieces, then --from-pieces)")
        return export_eps_graph(args, run)
    if not args.from_pieces:
        p.error("--graph needs --weights RUN/weights.npz, --from-pieces DIR or --random ARCH_JSON")
    state, arch, manifest, pos = state_dict_from_pieces(args.from_pieces)
    model = DiT(**arch).eval()
    model.load_state_dict(state, strict=True)
    model.pos.copy_(pos)
    model.requires_grad_(False)
    export_graph(model, manifest, args.from_pieces, args.out)


if __name__ == "__main__":
    main()
