"""A made-small MMDiT with HiDream-I1's block structure, for running the `hidream` preset's module map on a graph.

What is HiDream's, kept: the module names the preset matches (double_stream_blocks.{i}.block.{adaLN_modulation,
attn1.{to_q, to_k, to_v, to_out, to_q_t, to_k_t, to_v_t, to_out_t}, ff_i, ff_t}, single_stream_blocks.{i}.block.
{adaLN_modulation, attn1.{to_q, to_k, to_v, to_out}, ff_i}); double-stream blocks whose image and text tokens
attend jointly through one attention with separate projections and outputs (to_out for the image, to_out_t for
the text); single-stream blocks that run attention and then the feed-forward in turn, each gated (not FLUX's
parallel pair); image feed-forwards that are mixtures of experts (a softmax router picking the top 2 of 4
SwiGLU experts per token, plus a shared expert), the text ones a plain SwiGLU; classifier-free guidance as one
batched forward with one shared cache.

What is made small or left out: dims, depth, the text encoders (mmdit.py's token table and prompts; HiDream's
per-block Llama features are not modelled), the patchify. The experts are evaluated densely and weighted by
the router's top-2 mask (the same output as routing tokens to them; an ONNX graph without data-dependent
shapes). Random weights: the model draws nothing; it is a structure for checking a cache against a
reference, not for quality.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from dit import norm, timestep_features
from mmdit import TEXT_TOKENS, VOCAB, MLPEmbedder, attention, prompt_ids, rope_tables, _run


def modulate(x, shift, scale):
    return (1 + scale) * norm(x) + shift


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.w1, self.w3, self.w2 = nn.Linear(dim, hidden), nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class MoEFeedForward(nn.Module):
    """A shared expert plus the router's top-k experts, each weighted by its softmax probability."""

    def __init__(self, dim, hidden, experts=4, top_k=2):
        super().__init__()
        self.top_k = top_k
        self.gate = nn.Linear(dim, experts)
        self.experts = nn.ModuleList([FeedForward(dim, hidden) for _ in range(experts)])
        self.shared_experts = FeedForward(dim, hidden)

    def forward(self, x):
        probs = torch.softmax(self.gate(x), dim=-1)
        top, index = probs.topk(self.top_k, dim=-1)
        weights = torch.zeros_like(probs).scatter(-1, index, top)
        out = self.shared_experts(x)
        for e, expert in enumerate(self.experts):
            out = out + weights[..., e:e + 1] * expert(x)
        return out


class Attention(nn.Module):
    """attn1: q, k, v and the output projection for the image tokens, and with `text` the same for the text tokens."""

    def __init__(self, dim, heads, text):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(dim, dim) for _ in range(4))
        if text:
            self.to_q_t, self.to_k_t, self.to_v_t, self.to_out_t = (nn.Linear(dim, dim) for _ in range(4))

    def split(self, x):
        B, L, D = x.shape
        return x.reshape(B, L, self.heads, D // self.heads).transpose(1, 2)

    def forward(self, img, txt, cos, sin):
        """Attention over [image, text] tokens (text None in a single-stream block): the image tokens' output
        through to_out, and the text tokens' through to_out_t."""
        N = img.shape[1]
        q, k, v = self.split(self.to_q(img)), self.split(self.to_k(img)), self.split(self.to_v(img))
        if txt is None:
            return self.to_out(attention(q, k, v, cos, sin))
        q = torch.cat([q, self.split(self.to_q_t(txt))], 2)
        k = torch.cat([k, self.split(self.to_k_t(txt))], 2)
        v = torch.cat([v, self.split(self.to_v_t(txt))], 2)
        o = attention(q, k, v, cos, sin)
        return self.to_out(o[:, :N]), self.to_out_t(o[:, N:])


class DoubleBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, experts):
        super().__init__()
        hid = int(dim * mlp_ratio)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 12 * dim))
        self.attn1 = Attention(dim, heads, text=True)
        self.ff_i = MoEFeedForward(dim, hid, experts)
        self.ff_t = FeedForward(dim, hid)

    def forward(self, img, txt, vec, cos, sin, branch, name):
        (i_sh1, i_sc1, i_g1, i_sh2, i_sc2, i_g2, t_sh1, t_sc1, t_g1, t_sh2, t_sc2, t_g2) = self.adaLN_modulation(vec)[:, None, :].chunk(12, dim=-1)
        joint = []

        def attn():  # one joint attention gives both streams' outputs
            if not joint:
                joint.append(self.attn1(modulate(img, i_sh1, i_sc1), modulate(txt, t_sh1, t_sc1), cos, sin))
            return joint[0]

        img_attn = branch(f"{name}.img_attn", lambda: attn()[0])
        txt_attn = branch(f"{name}.txt_attn", lambda: attn()[1])
        img = img + i_g1 * img_attn
        txt = txt + t_g1 * txt_attn
        img_mlp = branch(f"{name}.img_mlp", lambda: self.ff_i(modulate(img, i_sh2, i_sc2)))
        txt_mlp = branch(f"{name}.txt_mlp", lambda: self.ff_t(modulate(txt, t_sh2, t_sc2)))
        return img + i_g2 * img_mlp, txt + t_g2 * txt_mlp


class SingleBlock(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, experts):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.attn1 = Attention(dim, heads, text=False)
        self.ff_i = MoEFeedForward(dim, int(dim * mlp_ratio), experts)

    def forward(self, h, vec, cos, sin, branch, name):
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(vec)[:, None, :].chunk(6, dim=-1)
        a = branch(f"{name}.img_attn", lambda: self.attn1(modulate(h, sh1, sc1), None, cos, sin))
        h = h + g1 * a
        m = branch(f"{name}.img_mlp", lambda: self.ff_i(modulate(h, sh2, sc2)))
        return h + g2 * m


class Wrapped(nn.Module):
    """HiDream's blocks sit one level down, as `<blocks>.{i}.block` (the names the preset matches); called
    through here so that the exporter names their nodes by that whole path."""

    def __init__(self, block):
        super().__init__()
        self.block = block

    def forward(self, *args):
        return self.block(*args)


class HiDream(nn.Module):
    def __init__(self, image_size=16, channels=3, patch=2, hidden=32, heads=2, depth_double=2, depth_single=2,
                 mlp_ratio=2.0, experts=4, classes=10, text_dim=16, axes_dim=(4, 6, 6)):
        super().__init__()
        assert sum(axes_dim) == hidden // heads
        self.cfg = dict(image_size=image_size, channels=channels, patch=patch, hidden=hidden, heads=heads,
                        depth_double=depth_double, depth_single=depth_single, mlp_ratio=mlp_ratio, experts=experts,
                        classes=classes, text_dim=text_dim, axes_dim=list(axes_dim))
        self.image_size, self.channels, self.patch, self.classes = image_size, channels, patch, classes
        self.grid = image_size // patch
        self.x_embedder = nn.Linear(channels * patch * patch, hidden)
        self.t_embedder = MLPEmbedder(256, hidden)
        self.p_embedder = MLPEmbedder(text_dim, hidden)
        self.caption_projection = nn.Linear(text_dim, hidden)
        self.text_table = nn.Embedding(len(VOCAB), text_dim)
        self.double_stream_blocks = nn.ModuleList([Wrapped(DoubleBlock(hidden, heads, mlp_ratio, experts)) for _ in range(depth_double)])
        self.single_stream_blocks = nn.ModuleList([Wrapped(SingleBlock(hidden, heads, mlp_ratio, experts)) for _ in range(depth_single)])
        self.final_adaLN = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.final_linear = nn.Linear(hidden, patch * patch * channels)
        self.register_buffer("prompts", prompt_ids(classes), persistent=False)
        g = self.grid
        rows, cols = torch.meshgrid(torch.arange(g), torch.arange(g), indexing="ij")
        img_ids = torch.stack([torch.zeros(g * g, dtype=torch.int64), rows.reshape(-1), cols.reshape(-1)], dim=1)
        ids = torch.cat([img_ids, torch.zeros(TEXT_TOKENS, 3, dtype=torch.int64)])  # image first, as HiDream
        cos, sin = rope_tables(ids, axes_dim)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x, t, y, branch=_run):
        B = x.shape[0]
        p, g, C = self.patch, self.grid, self.channels
        img = self.x_embedder(x.reshape(B, C, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * p * p))
        emb = self.text_table(self.prompts[y])
        txt = self.caption_projection(emb)
        dt = self.t_embedder.in_layer.weight.dtype
        vec = self.t_embedder(timestep_features(t, dtype=dt)) + self.p_embedder(emb.mean(dim=1))
        cos, sin = self.rope_cos, self.rope_sin
        for i, w in enumerate(self.double_stream_blocks):
            img, txt = w(img, txt, vec, cos, sin, branch, f"double_stream_blocks.{i}")
        N = img.shape[1]
        h = torch.cat([img, txt], 1)
        for i, w in enumerate(self.single_stream_blocks):
            h = w(h, vec, cos, sin, branch, f"single_stream_blocks.{i}")
        shift, scale = self.final_adaLN(vec).chunk(2, dim=1)
        out = self.final_linear(modulate(h[:, :N], shift[:, None], scale[:, None]))
        out = out.reshape(B, g, g, C, p, p).permute(0, 3, 1, 4, 2, 5)
        return out.reshape(B, C, g * p, g * p)


@torch.no_grad()
def sample(model, noise, labels, steps=50, guidance=5.0, seer=None, granularity="module"):
    """HiDream-style sampling: classifier-free guidance as ONE forward of [cond, uncond] (one shared cache),
    Euler from t=1 to t=0 on a uniform grid. seer: a reference_seer.TaylorSeer caching every gated branch."""
    if granularity != "module":
        raise ValueError(f"granularity must be module, found {granularity!r}")
    x = noise.clone()
    B = x.shape[0]
    y2 = torch.cat([labels, torch.full_like(labels, model.classes)])
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((2 * B,), t, dtype=x.dtype)
        x2 = torch.cat([x, x])
        if seer is None:
            v = model(x2, tt, y2)
        else:
            seer.begin(i)
            v = model(x2, tt, y2, branch=seer.branch)
        vc, vu = v[:B], v[B:]
        x = x + (t_next - t) * (vu + guidance * (vc - vu))
    return x
