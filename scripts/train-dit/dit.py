"""A class-conditional DiT with adaLN-Zero, written so that each piece of the `taylorseer-dit-onnx/1`
manifest (embed, modulation, attn_i, mlp_i, final) is one method with the manifest's inputs and outputs.

Used by train.py (PyTorch 2.x on the GPU machine) and export.py (Debian's PyTorch 1.13 on the build
machine), so it uses only what both versions have: no scaled_dot_product_attention, no torch.compile.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

MOD_CHUNKS = 6  # shift_attn, scale_attn, gate_attn, shift_mlp, scale_mlp, gate_mlp


def sincos_2d(hidden, grid):
    """Fixed 2-D sine-cosine position embedding [grid*grid, hidden] (as in DiT/MAE)."""
    assert hidden % 4 == 0
    q = hidden // 4
    omega = 1.0 / (10000 ** (torch.arange(q, dtype=torch.float64) / q))
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64), indexing="ij")
    out = []
    for pos in (ys.reshape(-1), xs.reshape(-1)):
        a = pos[:, None] * omega[None, :]
        out += [torch.sin(a), torch.cos(a)]
    return torch.cat(out, dim=1).float()


def timestep_features(t, dim=256, dtype=torch.float32, scale=1000.0):
    """Sinusoidal features of t * scale: t in [0, 1] scaled by 1000 (flow models), or, with scale 1, the
    integer training timestep 0..999 of a DDPM-trained model as the original DiT takes it."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=dtype, device=t.device) / half)
    a = (t.to(dtype) * scale if scale != 1 else t.to(dtype))[:, None] * freqs[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=1)


def norm(h):
    """LayerNorm without affine parameters, eps 1e-6, written out: PyTorch 1.13 exports F.layer_norm
    without a weight as an invalid LayerNormalization node at opset 17."""
    mu = h.mean(dim=-1, keepdim=True)
    d = h - mu
    return d / torch.sqrt((d * d).mean(dim=-1, keepdim=True) + 1e-6)


def modulate(x, shift, scale):
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


def xavier_linears(module):
    """Every Linear below `module`: Xavier-uniform weights, zero bias (the DiT initialisation)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


class _Branch(nn.Module):
    """A block's method as a submodule named for it, without parameters of its own: an exported graph's
    node names then read blocks.{i}.attn/... and blocks.{i}.mlp/..., as the original DiT's do (module maps
    such as presets find the branches by these names)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, h, shift, scale):
        return self.fn(h, shift, scale)


class Block(nn.Module):
    def __init__(self, hidden, heads, mlp_ratio, affine_norm=False):
        super().__init__()
        self.heads, self.hidden = heads, hidden
        # the bundled dit-digits model normalises with learned LayerNorm weights (norm1, norm2)
        self.norm1 = nn.LayerNorm(hidden, eps=1e-6) if affine_norm else None
        self.norm2 = nn.LayerNorm(hidden, eps=1e-6) if affine_norm else None
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.fc1 = nn.Linear(hidden, int(hidden * mlp_ratio))
        self.fc2 = nn.Linear(int(hidden * mlp_ratio), hidden)
        # registered by hand: `attn` and `mlp` stay the methods (the pieces export calls them)
        self._modules["attn"] = _Branch(self.attn)
        self._modules["mlp"] = _Branch(self.mlp)

    def forward(self, which, h, shift, scale):
        """Branch `which` ('attn' or 'mlp') through its named submodule."""
        return self._modules[which](h, shift, scale)

    def attn(self, h, shift, scale):
        D, H = self.hidden, self.heads
        x = modulate(self.norm1(h) if self.norm1 is not None else norm(h), shift, scale)
        qkv = self.qkv(x).reshape(h.shape[0], -1, 3, H, D // H).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        w = torch.softmax((q @ k.transpose(-2, -1)) * (D // H) ** -0.5, dim=-1)
        return self.proj((w @ v).transpose(1, 2).reshape(h.shape[0], -1, D))

    def mlp(self, h, shift, scale):
        x = modulate(self.norm2(h) if self.norm2 is not None else norm(h), shift, scale)
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiT(nn.Module):
    def __init__(self, image_size=32, channels=3, patch=4, hidden=192, depth=8, heads=6, mlp_ratio=4.0, classes=10,
                 affine_norm=False, timestep_scale=1000.0):
        super().__init__()
        self.cfg = dict(image_size=image_size, channels=channels, patch=patch, hidden=hidden, depth=depth,
                        heads=heads, mlp_ratio=mlp_ratio, classes=classes)
        if affine_norm:
            self.cfg["affine_norm"] = True
        if timestep_scale != 1000.0:  # eps-prediction models take the integer timestep (scale 1)
            self.cfg["timestep_scale"] = timestep_scale
        self.timestep_scale = timestep_scale
        self.image_size, self.channels, self.patch, self.hidden, self.depth = image_size, channels, patch, hidden, depth
        self.grid = image_size // patch
        self.classes = classes
        self.patchify = nn.Conv2d(channels, hidden, kernel_size=patch, stride=patch)
        self.register_buffer("pos", sincos_2d(hidden, self.grid)[None], persistent=False)
        self.t_mlp = nn.Sequential(nn.Linear(256, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.y_embed = nn.Embedding(classes + 1, hidden)  # label `classes` = unconditional
        self.ada = nn.Linear(hidden, depth * MOD_CHUNKS * hidden)  # every block's adaLN in one layer
        self.blocks = nn.ModuleList([Block(hidden, heads, mlp_ratio, affine_norm) for _ in range(depth)])
        self.final_norm = nn.LayerNorm(hidden, eps=1e-6) if affine_norm else None
        self.final_ada = nn.Linear(hidden, 2 * hidden)
        self.final_linear = nn.Linear(hidden, patch * patch * channels)
        self.reset_parameters()

    def reset_parameters(self):
        xavier_linears(self)
        w = self.patchify.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patchify.bias)
        nn.init.normal_(self.y_embed.weight, std=0.02)
        nn.init.normal_(self.t_mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_mlp[2].weight, std=0.02)
        # adaLN-Zero: every block starts as the identity, the output layer at zero
        for m in (self.ada, self.final_ada, self.final_linear):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    # --- the manifest's pieces -------------------------------------------------------------------
    def embed(self, x, t, y):
        h = self.patchify(x).flatten(2).transpose(1, 2) + self.pos
        c = self.t_mlp(timestep_features(t, dtype=self.t_mlp[0].weight.dtype, scale=self.timestep_scale)) + self.y_embed(y)
        return h, c

    def modulation(self, c):
        return self.ada(F.silu(c)).reshape(-1, self.depth, MOD_CHUNKS, self.hidden)

    def final(self, h, c):
        shift, scale = self.final_ada(F.silu(c)).chunk(2, dim=1)
        x = self.final_linear(modulate(self.final_norm(h) if self.final_norm is not None else norm(h), shift, scale))
        p, g, C = self.patch, self.grid, self.channels
        x = x.reshape(-1, g, g, p, p, C).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(-1, C, g * p, g * p)

    # --- the whole network -----------------------------------------------------------------------
    def forward(self, x, t, y, branch=None):
        """branch(key, compute): where a cache (reference_seer.TaylorSeer.branch) may forecast a module's
        output (before its gate) instead of computing it; keys are `blocks.{i}.attn` and `blocks.{i}.mlp`."""
        h, c = self.embed(x, t, y)
        mod = self.modulation(c)
        for i, b in enumerate(self.blocks):
            m = mod[:, i]
            a = b("attn", h, m[:, 0], m[:, 1]) if branch is None else branch(f"blocks.{i}.attn", lambda: b("attn", h, m[:, 0], m[:, 1]))
            h = h + m[:, 2, None, :] * a
            f = b("mlp", h, m[:, 3], m[:, 4]) if branch is None else branch(f"blocks.{i}.mlp", lambda: b("mlp", h, m[:, 3], m[:, 4]))
            h = h + m[:, 5, None, :] * f
        return self.final(h, c)


@torch.no_grad()
def sample(model, noise, labels, steps=50, guidance=3.0):
    """The manifest's sampler: Euler from t=1 to t=0 on a uniform grid, classifier-free guidance with the
    cond and uncond halves batched. Returns the final x [B, C, H, W]."""
    x = noise.clone()
    B = x.shape[0]
    y = torch.cat([labels, torch.full_like(labels, model.classes)])
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        v = model(torch.cat([x, x]), torch.full((2 * B,), t, device=x.device, dtype=x.dtype), y)
        v = v[B:] + guidance * (v[:B] - v[B:])
        x = x + (t_next - t) * v
    return x


# --- eps-prediction (DDPM training, DDIM/DDPM sampling), as the DiT paper trains and samples -----------

def betas(kind="linear", train_steps=1000, start=1e-4, end=0.02):
    """The training noise schedule beta_1..beta_T in float64: 'linear' (DDPM, DiT: 1e-4..0.02 over 1000
    steps) or 'cosine' (Nichol & Dhariwal: alpha_bar(u) = cos((u + 0.008) / 1.008 * pi / 2)^2, beta <= 0.999)."""
    if kind == "linear":
        return torch.linspace(start, end, train_steps, dtype=torch.float64)
    if kind == "cosine":
        ab = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2
        return torch.tensor([min(1 - ab((i + 1) / train_steps) / ab(i / train_steps), 0.999) for i in range(train_steps)],
                            dtype=torch.float64)
    raise ValueError(f"beta schedule must be linear or cosine, found {kind!r}")


def alphas_cumprod(kind="linear", train_steps=1000):
    return torch.cumprod(1 - betas(kind, train_steps), dim=0)


def ddim_timesteps(steps, train_steps=1000):
    """The training timesteps a `steps`-step sampler visits, largest first: 0, k, 2k, .. (k = train_steps //
    steps), as guided-diffusion's space_timesteps('ddim50') picks them for DiT."""
    k = train_steps // steps
    return list(range(0, k * steps, k))[::-1]


@torch.no_grad()
def sample_eps(model, noise, labels, steps=50, guidance=4.0, method="ddim", beta_schedule="linear", seer=None,
               generator=None):
    """DiT's sampler for an eps-prediction model: DDIM (eta = 0) or DDPM (ancestral, fixed small variance)
    over the respaced timesteps, classifier-free guidance eps = eps_u + g (eps_c - eps_u) with cond and uncond
    batched (one shared cache: the seer sees the batch of 2B). The model gets the integer timestep as a float.
    DDPM draws its per-step noise from `generator`. Returns the final x [B, C, H, W] (x0 of the last step)."""
    ab_all = alphas_cumprod(beta_schedule).to(noise.dtype)
    ts = ddim_timesteps(steps, len(ab_all))
    x = noise.clone()
    B = x.shape[0]
    y = torch.cat([labels, torch.full_like(labels, model.classes)])
    for i, tau in enumerate(ts):
        ab = ab_all[tau]
        ab_prev = ab_all[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, dtype=noise.dtype)
        tt = torch.full((2 * B,), float(tau), dtype=x.dtype)
        if seer is not None:
            seer.begin(i)
        e = model(torch.cat([x, x]), tt, y, branch=seer.branch if seer is not None else None)
        eps = e[B:] + guidance * (e[:B] - e[B:])
        x0 = (x - torch.sqrt(1 - ab) * eps) / torch.sqrt(ab)
        if method == "ddim":
            x = torch.sqrt(ab_prev) * x0 + torch.sqrt(1 - ab_prev) * eps
        elif method == "ddpm":
            beta = 1 - ab / ab_prev
            mean = (beta * torch.sqrt(ab_prev) * x0 + (1 - ab_prev) * torch.sqrt(1 - beta) * x) / (1 - ab)
            var = beta * (1 - ab_prev) / (1 - ab)
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype) if i + 1 < len(ts) else torch.zeros_like(x)
            x = mean + torch.sqrt(var) * z
        else:
            raise ValueError(f"method must be ddim or ddpm, found {method!r}")
    return x
