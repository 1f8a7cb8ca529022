"""A made-small video DiT with Wan2.1's block structure, for exercising a cache hook on the video family.

What is Wan's, kept: the module tree and names (patch_embedding, text_embedding, time_embedding,
time_projection, blocks.{i}.{self_attn, cross_attn, ffn, norm3, modulation}, head), one stream of video
tokens from 3D patches (a Conv3d over frames x height x width), per block
  x = x + self_attn(norm1(x) * (1 + scale1) + shift1) * gate1        (gated, 3D RoPE, QK-RMSNorm)
  x = x + cross_attn(norm3(x), context)                             (NO gate: a plain residual add)
  x = x + ffn(norm2(x) * (1 + scale2) + shift2) * gate2              (gated)
and modulation from the timestep only: e0 = time_projection(time_embedding(t)) [B, 6, D], shared by every
block, plus each block's learned table `modulation` [1, 6, D]. RoPE splits the head dimension d over the
three axes as Wan does: d - 4 (d // 6) for frames, 2 (d // 6) each for rows and columns.
Every branch is computed before its gate, so the branch is the tensor a cache keeps.

What is made small: the text encoder is a learned table of token embeddings and a prompt is a fixed row of
token ids per class (PROMPTS below), so the graph's inputs are x [B, C, F, H, W], t [B] and y [B] (int64
class; CLASSES = the empty prompt, the unconditional input of classifier-free guidance). Guidance is
classifier-free with two forwards per step, as Wan samples.

What is added (Wan has none): with sigma_data > 0, the denoiser is preconditioned outside the blocks, as EDM
does for its networks: v = c_skip(t) x_t + c_out(t) F(c_in(t) x_t) (WanDiT.precondition). A small network
given the raw target noise - x0 must carry the input noise through every block to its output at t near 1;
with the skip it only learns what the best linear guess misses. The blocks, and so what a cache sees, are
Wan's.

Runs on PyTorch 1.13 (export) and 2.x (training): no scaled_dot_product_attention, no torch.compile.
"""
import torch
import torch.nn as nn

from dit import norm, timestep_features, xavier_linears  # t features (t * 1000), weightless LayerNorm, init
from mmdit import RMSNorm, apply_rope, rope_tables
import wan_clips

# the prompt vocabulary: <pad>, <s>, "a", "moving", then one word per class
VOCAB = ["<pad>", "<s>", "a", "moving"] + wan_clips.NAMES
TEXT_TOKENS = 5


def prompt_ids(classes):
    """[classes + 1, TEXT_TOKENS]: row k = "<s> a NAME_k moving <pad>", the last row the empty prompt."""
    rows = [[1, 2, 4 + k, 3] + [0] * (TEXT_TOKENS - 4) for k in range(classes)]
    rows.append([1] + [0] * (TEXT_TOKENS - 1))
    return torch.tensor(rows, dtype=torch.int64)


def rope_axes(head_dim):
    """Wan's split of the head dimension over (frame, row, column)."""
    return (head_dim - 4 * (head_dim // 6), 2 * (head_dim // 6), 2 * (head_dim // 6))


def _run(key, compute):
    """The default `branch`: compute it. A cache (reference_seer.TaylorSeer.branch) may forecast it instead."""
    return compute()


class SelfAttention(nn.Module):
    """Wan's WanSelfAttention: q, k, v, o linears, RMSNorm over the whole width on q and k, RoPE on q and k."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = RMSNorm(dim), RMSNorm(dim)

    def forward(self, x, cos, sin):
        B, L, D = x.shape
        split = lambda a: a.reshape(B, L, self.heads, D // self.heads).transpose(1, 2)
        q = apply_rope(split(self.norm_q(self.q(x))), cos, sin)
        k = apply_rope(split(self.norm_k(self.k(x))), cos, sin)
        w = torch.softmax((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5, dim=-1)
        return self.o((w @ split(self.v(x))).transpose(1, 2).reshape(B, L, D))


class CrossAttention(nn.Module):
    """Wan's WanT2VCrossAttention: queries from the video tokens, keys and values from the text, no RoPE."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = RMSNorm(dim), RMSNorm(dim)

    def forward(self, x, context):
        B, L, D = x.shape
        T, H = context.shape[1], self.heads
        q = self.norm_q(self.q(x)).reshape(B, L, H, D // H).transpose(1, 2)
        k = self.norm_k(self.k(context)).reshape(B, T, H, D // H).transpose(1, 2)
        v = self.v(context).reshape(B, T, H, D // H).transpose(1, 2)
        w = torch.softmax((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5, dim=-1)
        return self.o((w @ v).transpose(1, 2).reshape(B, L, D))


class AffineNorm(nn.Module):
    """LayerNorm with weight and bias (Wan's norm3), written out as dit.norm is."""

    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        return norm(x) * self.weight + self.bias


class Block(nn.Module):
    def __init__(self, dim, heads, ffn_dim):
        super().__init__()
        self.self_attn = SelfAttention(dim, heads)
        self.norm3 = AffineNorm(dim)
        self.cross_attn = CrossAttention(dim, heads)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim))
        self.modulation = nn.Parameter(torch.randn(1, 6, dim) / dim ** 0.5)

    def forward(self, x, e0, context, cos, sin, branch=_run, name="blocks"):
        sh1, sc1, g1, sh2, sc2, g2 = (self.modulation + e0).chunk(6, dim=1)  # each [B, 1, D]
        y = branch(f"{name}.self_attn", lambda: self.self_attn(norm(x) * (1 + sc1) + sh1, cos, sin))
        x = x + y * g1
        x = x + branch(f"{name}.cross_attn", lambda: self.cross_attn(self.norm3(x), context))
        y = branch(f"{name}.ffn", lambda: self.ffn(norm(x) * (1 + sc2) + sh2))
        return x + y * g2


class Head(nn.Module):
    def __init__(self, dim, out):
        super().__init__()
        self.head = nn.Linear(dim, out)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim ** 0.5)

    def forward(self, x, e):
        shift, scale = (self.modulation + e[:, None]).chunk(2, dim=1)
        return self.head(norm(x) * (1 + scale) + shift)


class WanDiT(nn.Module):
    def __init__(self, frames=4, image_size=16, channels=3, patch=(1, 2, 2), hidden=64, heads=4, depth=4,
                 ffn_ratio=3.0, classes=len(wan_clips.NAMES), text_dim=32, sigma_data=0.0, rope_theta=10000.0):
        super().__init__()
        patch = tuple(patch)
        self.sigma_data = sigma_data
        head_dim = hidden // heads
        self.cfg = dict(frames=frames, image_size=image_size, channels=channels, patch=list(patch), hidden=hidden,
                        heads=heads, depth=depth, ffn_ratio=ffn_ratio, classes=classes, text_dim=text_dim,
                        sigma_data=sigma_data, rope_theta=rope_theta)
        self.frames, self.image_size, self.channels, self.patch, self.classes = frames, image_size, channels, patch, classes
        self.grid = (frames // patch[0], image_size // patch[1], image_size // patch[2])
        self.patch_embedding = nn.Conv3d(channels, hidden, kernel_size=patch, stride=patch)
        self.text_table = nn.Embedding(len(VOCAB), text_dim)  # stands in for the frozen text encoder
        self.text_embedding = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, hidden))
        self.time_embedding = nn.Sequential(nn.Linear(256, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))
        self.blocks = nn.ModuleList([Block(hidden, heads, int(hidden * ffn_ratio)) for _ in range(depth)])
        self.head = Head(hidden, channels * patch[0] * patch[1] * patch[2])
        self.register_buffer("prompts", prompt_ids(classes), persistent=False)
        f, h, w = self.grid
        ids = torch.stack(torch.meshgrid(torch.arange(f), torch.arange(h), torch.arange(w), indexing="ij"), dim=-1).reshape(-1, 3)
        # Wan's theta (10000) spreads its frequencies over grids of ~100 positions; with 4 dimensions an axis, a
        # small grid gets angles of 1 and 0.01 radians a position, and positions 6 apart look alike
        cos, sin = rope_tables(ids, rope_axes(head_dim), theta=rope_theta)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        # Wan's init_weights: Xavier linears and patch embedding, normal(0.02) embeddings, the head at zero
        xavier_linears(self)
        nn.init.xavier_uniform_(self.patch_embedding.weight.flatten(1))
        nn.init.zeros_(self.patch_embedding.bias)
        nn.init.normal_(self.text_table.weight, std=1.0)
        for m in list(self.text_embedding) + list(self.time_embedding):
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(self.head.head.weight)
        nn.init.zeros_(self.head.head.bias)

    def precondition(self, t):
        """(c_in, c_skip, c_out) [B, 1, 1, 1, 1] for v = c_skip x_t + c_out F(c_in x_t): with data of standard
        deviation s (per value) and unit noise, x_t = (1 - t) x0 + t noise has variance A = (1 - t)^2 s^2 + t^2;
        c_skip x_t is the best linear guess of v = noise - x0 from x_t, and c_out the standard deviation of what it
        misses, so F's target has unit variance at every t, and at t = 1 the noise passes through the skip."""
        s2 = self.sigma_data ** 2
        t = t[:, None, None, None, None]
        a = (1 - t) ** 2 * s2 + t ** 2
        return a.rsqrt(), (t - (1 - t) * s2) / a, self.sigma_data * a.rsqrt()

    def forward(self, x, t, y, branch=_run):
        B, C = x.shape[0], self.channels
        (pf, ph, pw), (f, h, w) = self.patch, self.grid
        x_t = x
        if self.sigma_data:
            c_in, c_skip, c_out = self.precondition(t.to(x.dtype))
            x = x * c_in
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2)  # [B, f*h*w, D], (frame, row, col) order
        context = self.text_embedding(self.text_table(self.prompts[y]))  # [B, T, D]
        dt = self.time_embedding[0].weight.dtype
        e = self.time_embedding(timestep_features(t, dtype=dt))
        e0 = self.time_projection(e).reshape(B, 6, -1)
        for i, blk in enumerate(self.blocks):
            tokens = blk(tokens, e0, context, self.rope_cos, self.rope_sin, branch, f"blocks.{i}")
        out = self.head(tokens, e)  # [B, L, C * pf * ph * pw], (c, pf, ph, pw) per token as Wan unpatchifies
        out = out.reshape(B, f, h, w, C, pf, ph, pw).permute(0, 4, 1, 5, 2, 6, 3, 7)
        out = out.reshape(B, C, f * pf, h * ph, w * pw)
        return c_skip * x_t + c_out * out if self.sigma_data else out


@torch.no_grad()
def sample(model, noise, labels, steps=50, guidance=4.0, seers=None):
    """Wan-style sampling with classifier-free guidance as two separate forwards per step (cond, then
    uncond), Euler from t=1 to t=0 on a uniform grid: v = v_u + g (v_c - v_u).
    seers: None, or (cond, uncond) reference_seer.TaylorSeer caches at module granularity; the cond pass
    begins the step (its schedule takes the decision), the uncond pass follows it with its own cache."""
    x = noise.clone()
    B = x.shape[0]
    null = torch.full_like(labels, model.classes)
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((B,), t, device=x.device, dtype=x.dtype)
        if seers is None:
            vc, vu = model(x, tt, labels), model(x, tt, null)
        else:
            cond, uncond = seers
            cond.begin(i)
            vc = model(x, tt, labels, branch=cond.branch)
            uncond.follow(cond)
            vu = model(x, tt, null, branch=uncond.branch)
        x = x + (t_next - t) * (vu + guidance * (vc - vu))
    return x
