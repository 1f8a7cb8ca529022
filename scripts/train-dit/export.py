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

The architecture comes from the training run's config.json (beside the weights unless --config), else train.py's ARCH.

Runs on the build machine with Debian's python3-torch (1.13) and python3-onnx.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dit import DiT, sample  # noqa: E402
from pieces import state_dict_from_pieces  # noqa: E402
from train import ARCH  # noqa: E402

OPSET = 17


class Piece(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def to_f16_initializers(path):
    """Float32 constants that are exactly float16 values -> float16 initializers plus a Cast node, so the
    file is half the size and the graph computes exactly what it did, in float32."""
    m = onnx.load(path)
    g = m.graph
    casts, keep, nodes = [], [], []

    def half(tensor, name):
        a = numpy_helper.to_array(tensor)
        # only the trained weights (float16-rounded already); computed constants such as the position
        # embedding and the timestep frequencies would lose precision
        if tensor.data_type != TensorProto.FLOAT or a.size < 16 or not np.array_equal(a.astype(np.float16).astype(np.float32), a):
            return False
        h = numpy_helper.from_array(a.astype(np.float16), name + "_f16")
        keep.append(h)
        casts.append(helper.make_node("Cast", [h.name], [name], to=TensorProto.FLOAT, name="cast_" + name))
        return True

    for init in g.initializer:
        if not half(init, init.name):
            keep.append(init)
    # the exporter writes the weights of bound methods as Constant nodes
    for node in g.node:
        value = [a for a in node.attribute if a.name == "value"] if node.op_type == "Constant" else []
        if not (value and half(value[0].t, node.output[0])):
            nodes.append(node)
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.node[:]
    g.node.extend(casts + nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def export(fn, args, names_in, names_out, path):
    dyn = {n: {0: "batch"} for n in names_in + names_out}
    torch.onnx.export(Piece(fn), args, path, input_names=names_in, output_names=names_out, dynamic_axes=dyn,
                      opset_version=OPSET, do_constant_folding=True)
    to_f16_initializers(path)


class Whole(torch.nn.Module):
    """The whole denoiser as an exporter sees a user's model: forward(x, t, y) -> v, weights as parameters."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, t, y):
        return self.model(x, t, y)


def write_graph(model, out):
    """out/model.onnx: the whole forward (x, t, y) -> v, dynamic batch, float16 weights + Cast."""
    a = model.cfg
    S, C = a["image_size"], a["channels"]
    path = os.path.join(out, "model.onnx")
    args = (torch.randn(2, C, S, S), torch.rand(2), torch.tensor([1, 2]))
    with torch.no_grad():
        torch.onnx.export(Whole(model), args, path, input_names=["x", "t", "y"], output_names=["v"],
                          dynamic_axes={"x": {0: "batch"}, "t": {0: "batch"}, "y": {0: "batch"}, "v": {0: "batch"}},
                          opset_version=OPSET, do_constant_folding=True)
    to_f16_initializers(path)
    print("wrote", path, os.path.getsize(path), "bytes")


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
    info = {
        "name": manifest["name"] + "-graph",
        "format": "taylorseer-graph/1",
        "graph": "model.onnx",
        "inputs": {"sample": "x", "timestep": "t", "label": "y"},
        "classes": a["classes"],
        "null_label": a["null_class"],
        "timestep_scale": 1,
        "sampler": {"steps": ref["steps"], "guidance": ref["guidance"]},
        "reference": {
            "labels": ref["labels"],
            "steps": ref["steps"],
            "guidance": ref["guidance"],
            "noise": "reference/" + os.path.basename(ref["noise"]),
            "output": "reference/" + os.path.basename(ref["output"]),
            "computed_by": ref.get("computed_by", "PyTorch float64"),
        },
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


def main():
    torch.set_num_threads(1)
    if "--graph" in sys.argv:
        return main_graph()
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="dit-shapes")
    p.add_argument("--labels", default="3,7")
    p.add_argument("--quality-samples", type=int, default=8)
    p.add_argument("--config", help="the training run's config.json (default: beside the weights)")
    args = p.parse_args()
    out = args.out
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    w = np.load(args.weights)
    cfg_path = args.config or os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")
    arch = dict(ARCH)
    if os.path.exists(cfg_path):
        with open(cfg_path) as f:
            arch.update(json.load(f)["architecture"])
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
        export(model.embed, (x, t, y), ["x", "t", "y"], ["h", "c"], os.path.join(out, files["embed"]))
        export(model.modulation, (c,), ["c"], ["mod"], os.path.join(out, files["modulation"]))
        for i, blk in enumerate(model.blocks):
            for kind, fn in (("attn", blk.attn), ("mlp", blk.mlp)):
                name = f"{kind}_{i}.onnx"
                export(fn, (h, v, v), ["h", "shift", "scale"], ["out"], os.path.join(out, name))
                files[kind].append(name)
        export(model.final, (h, c), ["h", "c"], ["v"], os.path.join(out, files["final"]))

    # references: float64 PyTorch on the float16-rounded weights
    labels = torch.tensor([int(s) for s in args.labels.split(",")])
    gen = torch.Generator().manual_seed(2026)
    noise = torch.randn(len(labels), C, S, S, generator=gen)
    qnoise = torch.randn(args.quality_samples, C, S, S, generator=gen)
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
        "objective": {
            "kind": "rectified-flow",
            "x_t": "(1 - t) * x0 + t * noise",
            "model_predicts": "noise - x0",
            "sampler": "Euler from t=1 to t=0 on a uniform grid: x <- x + (t_next - t) * v",
            "guidance": "v = v_uncond + scale * (v_cond - v_uncond); uncond uses y = null_class",
        },
        "modulation_layout": "mod[b, block, k, :] with k = 0 shift_attn, 1 scale_attn, 2 gate_attn, 3 shift_mlp, 4 scale_mlp, 5 gate_mlp",
        "block_update": "h = h + gate_attn * attn_i(h, shift_attn, scale_attn); h = h + gate_mlp * mlp_i(h, shift_mlp, scale_mlp)",
        "files": files,
        "reference": {
            "labels": labels.tolist(),
            "steps": 50,
            "guidance": 3.0,
            "noise": "reference/noise.f32",
            "output": "reference/full_50steps_cfg3.f32",
            "v_t1_cond": "reference/v_t1_cond.f32",
            "dtype": "float32 little-endian, row-major [B, C, H, W]",
            "computed_by": "PyTorch float64 on the float16-rounded weights (scripts/train-dit/export.py)",
        },
    }
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote", out)


def main_graph():
    p = argparse.ArgumentParser()
    p.add_argument("--graph", action="store_true", required=True)
    p.add_argument("--from-pieces", help="a taylorseer-dit-onnx/1 directory with a float64 reference")
    p.add_argument("--random", metavar="ARCH_JSON",
                   help="instead: an untrained DiT of this architecture (random weights, gates not zero) for timing only")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.random:
        torch.manual_seed(0)
        model = DiT(**{**ARCH, **json.loads(args.random)}).eval()
        for m in (model.ada, model.final_ada, model.final_linear):
            torch.nn.init.normal_(m.weight, std=0.02)
        model.requires_grad_(False)
        os.makedirs(args.out, exist_ok=True)
        write_graph(model, args.out)
        return
    if not args.from_pieces:
        p.error("--graph needs --from-pieces DIR or --random ARCH_JSON")
    state, arch, manifest, pos = state_dict_from_pieces(args.from_pieces)
    model = DiT(**arch).eval()
    model.load_state_dict(state, strict=True)
    model.pos.copy_(pos)
    model.requires_grad_(False)
    export_graph(model, manifest, args.from_pieces, args.out)


if __name__ == "__main__":
    main()
