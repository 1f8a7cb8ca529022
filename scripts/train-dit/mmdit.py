"""A made-small MMDiT with FLUX.1's block structure, for exercising a cache hook on the FLUX family.

What is FLUX's, kept: the module tree and names (img_in, time_in, guidance_in, vector_in, txt_in,
double_blocks.{i}.{img_mod, img_attn, img_mlp, txt_mod, txt_attn, txt_mlp}, single_blocks.{i}.{modulation,
linear1, linear2}, final_layer), double-stream blocks (separate image/text modulation, QKV, QK-RMSNorm, MLP;
joint attention over the concatenated [text, image] tokens), single-stream blocks (one modulation; attention
and MLP in parallel from one input projection linear1; one output projection linear2; one gate), RoPE over
3-axis position ids (text ids all zero, image ids (0, row, col)), and the conditioning vector
vec = time_in(t) + guidance_in(guidance) + vector_in(pooled text). Every gated residual is written
`h = h + gate * branch` with the branch computed first, so the branch is the tensor a cache keeps.

What is made small: the text encoder is a learned table of token embeddings, and a prompt is a fixed row
of token ids per class (PROMPTS below); the pooled vector is the mean of the prompt's token embeddings.
The ONNX graph's inputs are therefore x [B, C, H, W], t [B], y [B] (int64 class, CLASSES = the empty
prompt) and guidance [B] (the distilled guidance scale, FLUX-dev's `guidance` input).

Runs on PyTorch 1.13 (export) and 2.x (training): no scaled_dot_product_attention, no torch.compile.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from dit import norm, timestep_features, xavier_linears  # shared with the DiT: t features (t * 1000), weightless LayerNorm, init
import shapes

# the prompt vocabulary: <pad>, <s>, "a", "shape", then one word per class
VOCAB = ["<pad>", "<s>", "a", "shape"] + shapes.NAMES
TEXT_TOKENS = 6


def prompt_ids(classes):
    """[classes + 1, TEXT_TOKENS] token ids: row k = "<s> a NAME_k shape <pad> <pad>", the last row the
    empty prompt "<s> <pad> ..." (the unconditional input of classifier-free guidance)."""
    rows = [[1, 2, 4 + k, 3] + [0] * (TEXT_TOKENS - 4) for k in range(classes)]
    rows.append([1] + [0] * (TEXT_TOKENS - 1))
    return torch.tensor(rows, dtype=torch.int64)


def rope_tables(ids, axes_dim, theta=10000):
    """cos and sin [L, head_dim / 2] of FLUX's EmbedND over position ids [L, n_axes]."""
    cos, sin = [], []
    for i, d in enumerate(axes_dim):
        omega = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        a = ids[:, i, None].double() * omega[None, :]
        cos.append(torch.cos(a))
        sin.append(torch.sin(a))
    return torch.cat(cos, dim=1).float(), torch.cat(sin, dim=1).float()


def apply_rope(x, cos, sin):
    """x [B, H, L, Dh] with pairs (x[2j], x[2j+1]) rotated by the angle of pair j (FLUX's apply_rope)."""
    xr = x.reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xr[..., 0], xr[..., 1]
    return torch.stack([cos * x0 - sin * x1, sin * x0 + cos * x1], dim=-1).reshape(x.shape)


def attention(q, k, v, cos, sin):
    """Joint attention with RoPE; q, k, v [B, H, L, Dh] -> [B, L, H * Dh]."""
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    w = torch.softmax((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5, dim=-1)
    o = w @ v
    return o.transpose(1, 2).reshape(o.shape[0], o.shape[2], -1)


class MLPEmbedder(nn.Module):
    def __init__(self, in_dim, hidden):
        super().__init__()
        self.in_layer = nn.Linear(in_dim, hidden)
        self.out_layer = nn.Linear(hidden, hidden)

    def forward(self, x):
        return self.out_layer(F.silu(self.in_layer(x)))


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + 1e-6) * self.scale


class QKNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query_norm = RMSNorm(dim)
        self.key_norm = RMSNorm(dim)

    def forward(self, q, k):
        return self.query_norm(q), self.key_norm(k)


class SelfAttention(nn.Module):
    """Holds qkv, norm and proj as FLUX's does. The attention itself is joint over both streams, so the
    block calls this module twice: for the normalised q, k, v heads of its stream, and for the output
    projection. Both go through the module call so that an exported graph names them under it
    (`double_blocks.0/img_attn/proj`): PyTorch 1.13 names nodes by the module calls, not attributes."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.norm = QKNorm(dim // heads)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, part):
        if part == "proj":
            return self.proj(x)
        B, L, D = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.norm(qkv[0], qkv[1])
        return q, k, qkv[2]


class Modulation(nn.Module):
    """shift, scale, gate (x2 for a double block) from vec, each [B, 1, D]."""

    def __init__(self, dim, double):
        super().__init__()
        self.multiplier = 6 if double else 3
        self.lin = nn.Linear(dim, self.multiplier * dim)

    def forward(self, vec):
        return self.lin(F.silu(vec))[:, None, :].chunk(self.multiplier, dim=-1)


def modulate(x, shift, scale):
    return (1 + scale) * norm(x) + shift


def _run(key, compute):
    """The default `branch`: compute it. A cache (reference_seer.TaylorSeer.branch) may forecast it instead."""
    return compute()


class DoubleStreamBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        hid = int(dim * mlp_ratio)
        self.img_mod = Modulation(dim, double=True)
        self.img_attn = SelfAttention(dim, heads)
        self.img_mlp = nn.Sequential(nn.Linear(dim, hid), nn.GELU(approximate="tanh"), nn.Linear(hid, dim))
        self.txt_mod = Modulation(dim, double=True)
        self.txt_attn = SelfAttention(dim, heads)
        self.txt_mlp = nn.Sequential(nn.Linear(dim, hid), nn.GELU(approximate="tanh"), nn.Linear(hid, dim))

    def forward(self, img, txt, vec, cos, sin, branch=_run, name="double_blocks"):
        i_sh1, i_sc1, i_g1, i_sh2, i_sc2, i_g2 = self.img_mod(vec)
        t_sh1, t_sc1, t_g1, t_sh2, t_sc2, t_g2 = self.txt_mod(vec)
        T = txt.shape[1]
        joint = []

        def attn():  # one joint attention feeds both streams' projections
            if not joint:
                iq, ik, iv = self.img_attn(modulate(img, i_sh1, i_sc1), "qkv")
                tq, tk, tv = self.txt_attn(modulate(txt, t_sh1, t_sc1), "qkv")
                joint.append(attention(torch.cat([tq, iq], 2), torch.cat([tk, ik], 2), torch.cat([tv, iv], 2), cos, sin))
            return joint[0]

        # the branches a cache keeps, before their gates
        img_attn = branch(f"{name}.img_attn", lambda: self.img_attn(attn()[:, T:], "proj"))
        txt_attn = branch(f"{name}.txt_attn", lambda: self.txt_attn(attn()[:, :T], "proj"))
        img = img + i_g1 * img_attn
        txt = txt + t_g1 * txt_attn
        img_mlp = branch(f"{name}.img_mlp", lambda: self.img_mlp(modulate(img, i_sh2, i_sc2)))
        txt_mlp = branch(f"{name}.txt_mlp", lambda: self.txt_mlp(modulate(txt, t_sh2, t_sc2)))
        img = img + i_g2 * img_mlp
        txt = txt + t_g2 * txt_mlp
        return img, txt


class SingleStreamBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.dim, self.heads, self.mlp_hidden = dim, heads, int(dim * mlp_ratio)
        self.modulation = Modulation(dim, double=False)
        self.linear1 = nn.Linear(dim, 3 * dim + self.mlp_hidden)
        self.norm = QKNorm(dim // heads)
        self.linear2 = nn.Linear(dim + self.mlp_hidden, dim)

    def forward(self, x, vec, cos, sin, branch=_run, name="single_blocks"):
        shift, scale, gate = self.modulation(vec)

        def fused():
            B, L, D = x.shape
            qkv, mlp = torch.split(self.linear1(modulate(x, shift, scale)), [3 * D, self.mlp_hidden], dim=-1)
            qkv = qkv.reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
            q, k = self.norm(qkv[0], qkv[1])
            return self.linear2(torch.cat([attention(q, k, qkv[2], cos, sin), F.gelu(mlp, approximate="tanh")], 2))

        return x + gate * branch(f"{name}.linear2", fused)


class LastLayer(nn.Module):
    def __init__(self, dim, out):
        super().__init__()
        self.linear = nn.Linear(dim, out)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, vec):
        shift, scale = self.adaLN_modulation(vec).chunk(2, dim=1)
        return self.linear(modulate(x, shift[:, None], scale[:, None]))


class MMDiT(nn.Module):
    def __init__(self, image_size=16, channels=3, patch=2, hidden=64, heads=4, depth_double=2, depth_single=3,
                 mlp_ratio=4.0, classes=10, text_dim=32, axes_dim=(4, 6, 6)):
        super().__init__()
        assert sum(axes_dim) == hidden // heads
        self.cfg = dict(image_size=image_size, channels=channels, patch=patch, hidden=hidden, heads=heads,
                        depth_double=depth_double, depth_single=depth_single, mlp_ratio=mlp_ratio, classes=classes,
                        text_dim=text_dim, axes_dim=list(axes_dim))
        self.image_size, self.channels, self.patch, self.classes = image_size, channels, patch, classes
        self.grid = image_size // patch
        self.img_in = nn.Linear(channels * patch * patch, hidden)
        self.time_in = MLPEmbedder(256, hidden)
        self.guidance_in = MLPEmbedder(256, hidden)
        self.vector_in = MLPEmbedder(text_dim, hidden)
        self.txt_in = nn.Linear(text_dim, hidden)
        self.text_table = nn.Embedding(len(VOCAB), text_dim)  # stands in for the frozen text encoders
        self.double_blocks = nn.ModuleList([DoubleStreamBlock(hidden, heads, mlp_ratio) for _ in range(depth_double)])
        self.single_blocks = nn.ModuleList([SingleStreamBlock(hidden, heads, mlp_ratio) for _ in range(depth_single)])
        self.final_layer = LastLayer(hidden, patch * patch * channels)
        self.register_buffer("prompts", prompt_ids(classes), persistent=False)
        g = self.grid
        rows, cols = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
        img_ids = torch.stack([torch.zeros(g * g, dtype=torch.int64), rows.reshape(-1), cols.reshape(-1)], dim=1)
        ids = torch.cat([torch.zeros(TEXT_TOKENS, 3, dtype=torch.int64), img_ids])  # text first, as FLUX
        cos, sin = rope_tables(ids, axes_dim)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        xavier_linears(self)
        nn.init.normal_(self.text_table.weight, std=1.0)
        for e in (self.time_in, self.guidance_in):
            nn.init.normal_(e.in_layer.weight, std=0.02)
            nn.init.normal_(e.out_layer.weight, std=0.02)
        # the guidance embedding starts at zero: a model trained without it is unchanged until distillation
        nn.init.zeros_(self.guidance_in.out_layer.weight)
        for m in self.zero_start_layers():
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def zero_start_layers(self):
        """The layers adaLN-Zero starts at zero: every block's modulation (each gated branch starts closed) and
        the output layer's."""
        mods = [b.img_mod.lin for b in self.double_blocks] + [b.txt_mod.lin for b in self.double_blocks]
        mods += [b.modulation.lin for b in self.single_blocks]
        return mods + [self.final_layer.adaLN_modulation[1], self.final_layer.linear]

    def forward(self, x, t, y, guidance=None, branch=_run):
        B = x.shape[0]
        p, g, C = self.patch, self.grid, self.channels
        if guidance is None:
            guidance = torch.ones_like(t)
        # patchify as FLUX packs latents: (c, ph, pw) per token, row-major over the grid
        img = self.img_in(x.reshape(B, C, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * p * p))
        emb = self.text_table(self.prompts[y])  # [B, T, text_dim]
        txt = self.txt_in(emb)
        dt = self.time_in.in_layer.weight.dtype
        vec = self.time_in(timestep_features(t, dtype=dt)) + self.guidance_in(timestep_features(guidance, dtype=dt))
        vec = vec + self.vector_in(emb.mean(dim=1))
        cos, sin = self.rope_cos, self.rope_sin
        for i, blk in enumerate(self.double_blocks):
            img, txt = blk(img, txt, vec, cos, sin, branch, f"double_blocks.{i}")
        T = txt.shape[1]
        h = torch.cat([txt, img], 1)
        for i, blk in enumerate(self.single_blocks):
            h = blk(h, vec, cos, sin, branch, f"single_blocks.{i}")
        out = self.final_layer(h[:, T:], vec)
        out = out.reshape(B, g, g, C, p, p).permute(0, 3, 1, 4, 2, 5)
        return out.reshape(B, C, g * p, g * p)


@torch.no_grad()
def sample(model, noise, labels, steps=50, guidance=3.5, seer=None, granularity="module"):
    """FLUX-dev style sampling: one conditional forward per step with the distilled guidance scale as an
    input (no classifier-free guidance pass), Euler from t=1 to t=0 on a uniform grid.
    seer: a reference_seer.TaylorSeer; granularity 'module' caches every gated branch (the reference),
    'lite' the network's output only."""
    x = noise.clone()
    B = x.shape[0]
    g = torch.full((B,), float(guidance), device=x.device, dtype=x.dtype)
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((B,), t, device=x.device, dtype=x.dtype)
        if seer is None:
            v = model(x, tt, labels, g)
        elif granularity == "module":
            seer.begin(i)
            v = model(x, tt, labels, g, branch=seer.branch)
        elif granularity == "lite":
            seer.begin(i)
            v = seer.branch("output", lambda: model(x, tt, labels, g))
        else:
            raise ValueError(f"granularity must be module or lite, found {granularity!r}")
        x = x + (t_next - t) * v
    return x
