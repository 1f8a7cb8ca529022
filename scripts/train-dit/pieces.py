"""Reads a DiT's weights back from a `taylorseer-dit-onnx/1` directory (its per-piece ONNX graphs), so a
made model can be exported again in another form without its training checkpoint.

Each piece is walked in graph order and every layer with constant parameters is collected (Conv, Gemm,
MatMul + bias Add, Gather of an embedding table); the layers are then assigned, in the order dit.py's
methods use them, to the module's parameters. Shapes are checked on assignment (load_state_dict strict),
and export.py checks the rebuilt model against the directory's float64 reference before it writes anything.
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def _constants(graph):
    """name -> float32/int array of every initializer and Constant output, float16 initializers through
    their Cast (export.py stores trained weights as float16 + Cast)."""
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            attr = [a for a in node.attribute if a.name == "value"]
            if attr:
                values[node.output[0]] = numpy_helper.to_array(attr[0].t)
        elif node.op_type == "Cast" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]].astype(np.float32)
    return values


def _layers(path):
    """The parameterised layers of one piece, in graph order: (kind, weight in PyTorch layout, bias)."""
    graph = onnx.load(path).graph
    const = _constants(graph)
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out = []
    for node in graph.node:
        ins = list(node.input)
        if node.op_type == "Conv" and ins[1] in const:
            out.append(("conv", const[ins[1]], const[ins[2]] if len(ins) > 2 else None))
        elif node.op_type == "Gemm" and ins[1] in const:
            trans_b = [a.i for a in node.attribute if a.name == "transB"]
            w = const[ins[1]]
            out.append(("linear", w if trans_b and trans_b[0] == 1 else w.T, const[ins[2]] if len(ins) > 2 else None))
        elif node.op_type == "MatMul" and ins[1] in const:
            bias = None
            for c in consumers.get(node.output[0], []):
                other = [i for i in c.input if i != node.output[0]]
                if c.op_type == "Add" and other and other[0] in const:
                    bias = const[other[0]]
            out.append(("linear", const[ins[1]].T, bias))
        elif node.op_type == "LayerNormalization" and len(ins) > 2 and ins[1] in const:
            out.append(("layernorm", const[ins[1]], const[ins[2]]))
        elif node.op_type == "Gather" and ins[0] in const and const[ins[0]].ndim == 2:
            out.append(("embedding", const[ins[0]], None))
    return out


def _assign(state, prefix, layer, kind):
    got, w, b = layer
    if got != kind:
        raise ValueError(f"{prefix}: expected a {kind} layer, found {got}")
    state[prefix + ".weight"] = torch.from_numpy(np.array(w, dtype=np.float32))
    if b is not None:
        state[prefix + ".bias"] = torch.from_numpy(np.array(b, dtype=np.float32))


def state_dict_from_pieces(directory):
    """The state dict of dit.py's DiT whose pieces are in `directory`, the architecture from its model.json
    (hidden, depth, ...; affine_norm when the pieces normalise with learned LayerNorm weights), the manifest,
    and the embed piece's position-embedding constant (copied as it is, not recomputed)."""
    with open(os.path.join(directory, "model.json")) as f:
        manifest = json.load(f)
    a = manifest["architecture"]
    files = manifest["files"]
    depth = a["depth"]
    affine = any(l[0] == "layernorm" for l in _layers(os.path.join(directory, files["attn"][0])))
    state = {}
    # one ada Linear for all blocks, or one per block (stacked: the same mod[b, block, k, :] layout)
    modulation = _layers(os.path.join(directory, files["modulation"]))
    if len(modulation) == depth and depth > 1:
        modulation = [("linear", np.concatenate([l[1] for l in modulation]), np.concatenate([l[2] for l in modulation]))]
    if len(modulation) != 1:
        raise ValueError(f"{files['modulation']}: expected 1 or {depth} ada layers, found {len(modulation)}")
    _assign(state, "ada", modulation[0], "linear")
    final = [("final_ada", "linear")] + ([("final_norm", "layernorm")] if affine else []) + [("final_linear", "linear")]
    plan = [
        (files["embed"], [("patchify", "conv"), ("t_mlp.0", "linear"), ("t_mlp.2", "linear"), ("y_embed", "embedding")]),
        (files["final"], final),
    ]
    for i in range(depth):
        norm1 = [(f"blocks.{i}.norm1", "layernorm")] if affine else []
        norm2 = [(f"blocks.{i}.norm2", "layernorm")] if affine else []
        plan.append((files["attn"][i], norm1 + [(f"blocks.{i}.qkv", "linear"), (f"blocks.{i}.proj", "linear")]))
        plan.append((files["mlp"][i], norm2 + [(f"blocks.{i}.fc1", "linear"), (f"blocks.{i}.fc2", "linear")]))
    for file, names in plan:
        layers = _layers(os.path.join(directory, file))
        if len(layers) != len(names):
            raise ValueError(f"{file}: expected {len(names)} parameterised layers for dit.py's DiT, found {len(layers)} "
                             "(a model of another architecture?)")
        for (prefix, kind), layer in zip(names, layers):
            _assign(state, prefix, layer, kind)
    arch = dict(image_size=a["image_size"], channels=a["channels"], patch=a["patch"], hidden=a["hidden"],
                depth=depth, heads=a["heads"], classes=a["classes"],
                mlp_ratio=state["blocks.0.fc1.weight"].shape[0] / a["hidden"], affine_norm=affine)
    const = _constants(onnx.load(os.path.join(directory, files["embed"])).graph)
    L = (a["image_size"] // a["patch"]) ** 2
    pos = [v for v in const.values() if v.shape == (1, L, a["hidden"])]
    if len(pos) != 1:
        raise ValueError(f"{files['embed']}: expected one position-embedding constant [1, {L}, {a['hidden']}], found {len(pos)}")
    return state, arch, manifest, torch.from_numpy(np.array(pos[0], dtype=np.float32))
