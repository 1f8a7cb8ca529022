"""What the exporters share (export.py, export_mmdit.py, wan_export.py): float16 initializers, the whole forward as ONE
graph, the models rebuilt from float16-rounded weights in float32 and float64, the references (full compute,
one forward, the reference TaylorSeer runs) and the parts of model.json they have in common.

Runs with Debian's python3-torch (1.13) and python3-onnx.
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from reference_seer import TaylorSeer

OPSET = 17
F32_LAYOUT = "float32 little-endian, row-major [B, C, H, W]"


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


class Call(torch.nn.Module):
    """What the exporter traces: a whole model as a user exports it (registered, so its node names start
    /model/ and its weights are parameters) or one bound method of it (the pieces; weights become constants)."""

    def __init__(self, fn):
        super().__init__()
        self.model = fn

    def forward(self, *inputs):
        return self.model(*inputs)


def export_onnx(fn, example, names, path, outputs=("v",), f16=True):
    """path: fn as one graph (inputs `names`, outputs `outputs`), dynamic batch, float16 weights + Cast
    (f16=False: float32 weights as torch.onnx.export writes them, beside the graph in external data files
    when they pass protobuf's 2 GiB)."""
    outputs = list(outputs)
    with torch.no_grad():
        torch.onnx.export(Call(fn), example, path, input_names=names, output_names=outputs,
                          dynamic_axes={n: {0: "batch"} for n in names + outputs}, opset_version=OPSET,
                          do_constant_folding=True)
    if f16:
        to_f16_initializers(path)


def export_whole(model, example, names, path, f16=True):
    """path: the model's whole forward as one graph (inputs `names`, output v)."""
    export_onnx(model, example, names, path, f16=f16)
    print("wrote", path, os.path.getsize(path), "bytes", "" if f16 else f"and {len(os.listdir(os.path.dirname(path))) - 1} side files")


def add_arguments(p, name, labels, quality_samples):
    """The options every exporter takes, with that exporter's defaults."""
    p.add_argument("--out", required=True)
    p.add_argument("--name", default=name)
    p.add_argument("--labels", default=labels, help="comma-separated class labels of the reference samples")
    p.add_argument("--quality-samples", type=int, default=quality_samples)
    p.add_argument("--config", help="the training run's config.json (default: beside the weights)")


def run_config(args):
    """(path, content) of the training run's config.json: --config, else beside --weights."""
    path = args.config or os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")
    with open(path) as f:
        return path, json.load(f)


def reference_noise(args, shape):
    """The reference labels (--labels), their noise and the held-out quality noise, each of shape [n, *shape]."""
    labels = torch.tensor([int(s) for s in args.labels.split(",")])
    gen = torch.Generator().manual_seed(2026)
    noise = torch.randn(len(labels), *shape, generator=gen)
    return labels, noise, torch.randn(args.quality_samples, *shape, generator=gen)


def load_models(Model, arch, weights):
    """The model from weights.npz (float16) or a state dict in float32 (frozen, eval) and the same weights in float64."""
    if isinstance(weights, dict):
        state = weights
    else:
        w = np.load(weights)
        state = {k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files}
    model = Model(**arch).eval()
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    m64 = Model(**arch).eval()
    m64.load_state_dict(model.state_dict())
    return model, m64.double()


def write_f32(a, path):
    a.detach().cpu().numpy().astype("<f4").tofile(path)


def seer_references(run, full, out, steps, specs, cfg=None):
    """Each (granularity, N, W, O) of specs: run(seer, granularity) under the reference TaylorSeer with that
    fixed schedule, written to out/reference/seer_<granularity, or cfg>_n<N>_w<W>_o<O>.f32; returns
    model.json's "seer" entries. cfg "separate": run gets a (cond, uncond) pair of caches instead, the cond
    pass taking the decisions."""
    entries = []
    for granularity, N, W, O in specs:
        name = f"seer_{cfg or granularity}_n{N}_w{W}_o{O}"
        seers = [TaylorSeer(steps, N, W, O) for _ in range(2 if cfg == "separate" else 1)]
        x = run(tuple(seers) if cfg == "separate" else seers[0], granularity)
        rel = ((x - full).norm() / full.norm()).item()
        full_steps = seers[0].full_steps()
        print(f"{name}: {len(full_steps)} full steps, {sum(s.calls['forecast'] for s in seers)} forecasts, relL2 to full {rel:.3e}")
        write_f32(x, os.path.join(out, "reference", name + ".f32"))
        entries.append({"output": f"reference/{name}.f32", "granularity": granularity, **({"cfg": cfg} if cfg else {}),
                        "schedule": {"kind": "fixed", "steps": steps, "interval": N, "warmup": W, "cooldown": 0},
                        "maxOrder": O, "variable": "step", "fullSteps": full_steps, "relL2ToFull": rel})
    return entries


def trained_architecture(args, model, what):
    """The architecture in the config.json of a training run of `model` (train.py's --model), else SystemExit."""
    path, run = run_config(args)
    if run.get("model") != model:
        raise SystemExit(f"{path}: not {what} (model {run.get('model')!r})")
    return run["architecture"]


def sampled_references(out, models, sampler, drawn, probe, output, steps, guidance, specs, script, cfg=None, layout=F32_LAYOUT):
    """out/reference/ of a one-graph export and model.json's "reference" block: the noise of the reference
    labels and the held-out quality noise (drawn: reference_noise's triple), full compute in float64 as
    `output` (float32 beside it, only printed), one forward (probe: (name, fn(m64, noise64))) and the
    reference TaylorSeer runs of specs (seer_references). models: (float32, float64);
    sampler(model, noise, seer=None, granularity="module") samples the labels in `steps` steps at `guidance`."""
    model, m64 = models
    labels, noise, qnoise = drawn
    n64 = noise.double()
    with torch.no_grad():
        full = sampler(m64, n64)
        full32 = sampler(model, noise)
        probed = probe[1](m64, n64)
        seers = seer_references(lambda seer, granularity: sampler(m64, n64, seer, granularity), full, out, steps, specs, cfg)
    print(f"full compute: float32 PyTorch vs float64 relL2 {((full32.double() - full).norm() / full.norm()).item():.3e}")
    files = {"noise": ("noise.f32", noise), "output": (output, full), probe[0]: (probe[0] + ".f32", probed),
             "quality_noise": ("quality-noise.f32", qnoise)}
    for name, a in files.values():
        write_f32(a, os.path.join(out, "reference", name))
    paths = {key: "reference/" + name for key, (name, _) in files.items()}
    quality = paths.pop("quality_noise")
    return reference_block(labels, steps, guidance, {**paths, "seer": seers, "quality_noise": quality}, script, layout)


def rectified_flow(guidance, sampler="Euler from t=1 to t=0 on a uniform grid: x <- x + (t_next - t) * v"):
    """model.json's "objective" of a rectified-flow model (train.py's default objective)."""
    return {"kind": "rectified-flow", "x_t": "(1 - t) * x0 + t * noise", "model_predicts": "noise - x0", "sampler": sampler, "guidance": guidance}


def graph_manifest(name, classes, timestep_scale=1, null_label=None, inputs=None, **fields):
    """model.json of a taylorseer-graph/1 directory (the whole forward in model.onnx, inputs x, t, y and
    `inputs`), the exporter's fields after the common ones; the null label defaults to `classes`."""
    return {"name": name, "format": "taylorseer-graph/1", "graph": "model.onnx",
            "inputs": {"sample": "x", "timestep": "t", "label": "y", **(inputs or {})}, "classes": classes,
            "null_label": classes if null_label is None else null_label, "timestep_scale": timestep_scale, **fields}


def reference_block(labels, steps, guidance, files, script, layout=F32_LAYOUT):
    """model.json's "reference": the labels and sampler settings, the files (key -> path), and how they were made."""
    return {"labels": labels.tolist(), "steps": steps, "guidance": guidance, **files, "dtype": layout,
            "computed_by": f"PyTorch float64 on the float16-rounded weights (scripts/train-dit/{script})"}


def write_manifest(out, manifest):
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote", out)
