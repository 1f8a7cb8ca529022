"""Two transformer shapes with random weights (latency does not depend on them), written so that every
cached module output goes through a cache object (caches.py):

- FluxLike: FLUX.1-dev's MMDiT: 19 double-stream blocks (image and text streams with their own weights,
  joint attention) and 38 single-stream blocks over the joined sequence; hidden 3072, 24 heads, MLP ratio 4,
  adaLN modulation from the conditioning vector, QK RMSNorm, SDPA attention. RoPE is left out (an
  elementwise op on q and k, a few percent of a step). Cached per block as in the reference: image and text
  attention and MLP outputs of double blocks (4), the output of a single block (1): 114 entries at full size.
- DiTLike: DiT-XL/2 at 256x256: 28 blocks, hidden 1152, 16 heads, 256 tokens, adaLN-Zero, batch 2 (the cond
  and uncond halves of classifier-free guidance in one batch). Cached: attention and MLP outputs (56).

forward() returns the model output for one step; the cache object says whether the step is full.
FLOPs are counted from the same dimensions (matrix products and attention; elementwise work left out).
"""
import math

import torch
import torch.nn.functional as Fn


def attention(q, k, v):
    """q, k, v: [B, H, L, hd]."""
    if hasattr(Fn, "scaled_dot_product_attention"):
        return Fn.scaled_dot_product_attention(q, k, v)
    w = torch.softmax((q @ k.transpose(-1, -2)).float() / math.sqrt(q.shape[-1]), dim=-1).to(q.dtype)
    return w @ v


def rms(x, w, eps=1e-6):
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


def ln(x):
    return Fn.layer_norm(x, x.shape[-1:], eps=1e-6)


def timestep_embedding(t, dim=256):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = t.float()[:, None] * 1000.0 * freqs[None]
    return torch.cat([torch.cos(a), torch.sin(a)], -1)


class Weights:
    def __init__(self, device, dtype, seed):
        self.g = torch.Generator(device=device)
        self.g.manual_seed(seed)
        self.device, self.dtype = device, dtype

    def __call__(self, n_in, n_out):
        w = torch.empty(n_out, n_in, device=self.device, dtype=self.dtype)
        return w.normal_(0.0, 1.0 / math.sqrt(n_in), generator=self.g)


class FluxLike:
    def __init__(self, device="cuda", dtype=torch.bfloat16, D=3072, heads=24, double=19, single=38, Li=4096, Lt=512,
                 in_ch=64, txt_dim=4096, seed=0):
        self.D, self.H, self.Li, self.Lt, self.dtype, self.device = D, heads, Li, Lt, dtype, device
        W = Weights(device, dtype, seed)
        self.img_in, self.txt_in = W(in_ch, D), W(txt_dim, D)
        self.t1, self.t2 = W(256, D), W(D, D)
        self.dbl = [dict(mod_i=W(D, 6 * D), mod_t=W(D, 6 * D), qkv_i=W(D, 3 * D), qkv_t=W(D, 3 * D),
                         o_i=W(D, D), o_t=W(D, D), m1_i=W(D, 4 * D), m2_i=W(4 * D, D), m1_t=W(D, 4 * D), m2_t=W(4 * D, D),
                         qn=torch.ones(D // heads, device=device, dtype=dtype), kn=torch.ones(D // heads, device=device, dtype=dtype))
                    for _ in range(double)]
        self.sgl = [dict(mod=W(D, 3 * D), l1=W(D, 7 * D), l2=W(5 * D, D),
                         qn=torch.ones(D // heads, device=device, dtype=dtype), kn=torch.ones(D // heads, device=device, dtype=dtype))
                    for _ in range(single)]
        self.f_mod, self.f_out = W(D, 2 * D), W(D, in_ch)
        self.txt = torch.randn(1, Lt, txt_dim, device=device, dtype=dtype, generator=W.g)

    def cached_shapes(self):
        D, Li, Lt = self.D, self.Li, self.Lt
        return [(1, Li, D), (1, Li, D), (1, Lt, D), (1, Lt, D)] * len(self.dbl) + [(1, Lt + Li, D)] * len(self.sgl)

    def latent_shape(self):
        return (1, self.Li, self.img_in.shape[1])

    def _qkv(self, x, w, qn, kn):
        B, L, _ = x.shape
        q, k, v = Fn.linear(x, w).view(B, L, 3, self.H, self.D // self.H).permute(2, 0, 3, 1, 4)
        return rms(q, qn), rms(k, kn), v

    def _attn(self, q, k, v):
        a = attention(q, k, v)
        B, H, L, hd = a.shape
        return a.transpose(1, 2).reshape(B, L, H * hd)

    def forward(self, x, t, cache):
        vec = Fn.linear(Fn.silu(Fn.linear(timestep_embedding(t).to(self.dtype), self.t1)), self.t2)
        sv = Fn.silu(vec)[:, None]
        img = Fn.linear(x, self.img_in)
        txt = Fn.linear(self.txt, self.txt_in)
        k = 0
        for b in self.dbl:
            mi = Fn.linear(sv, b["mod_i"]).chunk(6, -1)
            mt = Fn.linear(sv, b["mod_t"]).chunk(6, -1)
            if cache.full:
                qi, ki, vi = self._qkv((1 + mi[1]) * ln(img) + mi[0], b["qkv_i"], b["qn"], b["kn"])
                qt, kt, vt = self._qkv((1 + mt[1]) * ln(txt) + mt[0], b["qkv_t"], b["qn"], b["kn"])
                a = self._attn(torch.cat([qt, qi], 2), torch.cat([kt, ki], 2), torch.cat([vt, vi], 2))
                img = cache.put(k, Fn.linear(a[:, self.Lt:], b["o_i"]), img, mi[2])
                txt = cache.put(k + 2, Fn.linear(a[:, :self.Lt], b["o_t"]), txt, mt[2])
                hi = Fn.linear(Fn.gelu(Fn.linear((1 + mi[4]) * ln(img) + mi[3], b["m1_i"]), approximate="tanh"), b["m2_i"])
                img = cache.put(k + 1, hi, img, mi[5])
                ht = Fn.linear(Fn.gelu(Fn.linear((1 + mt[4]) * ln(txt) + mt[3], b["m1_t"]), approximate="tanh"), b["m2_t"])
                txt = cache.put(k + 3, ht, txt, mt[5])
            else:
                img = cache.get(k, img, mi[2])
                img = cache.get(k + 1, img, mi[5])
                txt = cache.get(k + 2, txt, mt[2])
                txt = cache.get(k + 3, txt, mt[5])
            k += 4
        h = torch.cat([txt, img], 1)
        for b in self.sgl:
            m = Fn.linear(sv, b["mod"]).chunk(3, -1)
            if cache.full:
                y = Fn.linear((1 + m[1]) * ln(h) + m[0], b["l1"])
                B, L, _ = y.shape
                q, kk, v = y[..., :3 * self.D].reshape(B, L, 3, self.H, self.D // self.H).permute(2, 0, 3, 1, 4)
                a = self._attn(rms(q, b["qn"]), rms(kk, b["kn"]), v)
                out = Fn.linear(torch.cat([a, Fn.gelu(y[..., 3 * self.D:], approximate="tanh")], -1), b["l2"])
                h = cache.put(k, out, h, m[2])
            else:
                h = cache.get(k, h, m[2])
            k += 1
        shift, scale = Fn.linear(sv, self.f_mod).chunk(2, -1)
        return Fn.linear((1 + scale) * ln(h[:, self.Lt:]) + shift, self.f_out)

    def flops(self):
        """(full step, forecast step): 2 * m * n * k per matrix product, 4 * L^2 * D per attention."""
        D, Li, Lt = self.D, self.Li, self.Lt
        L = Li + Lt
        lin = lambda m, i, o: 2 * m * i * o
        common = lin(1, 256, D) + lin(1, D, D) + lin(Li, self.img_in.shape[1], D) + lin(Lt, self.txt.shape[2], D) \
            + len(self.dbl) * 2 * lin(1, D, 6 * D) + len(self.sgl) * lin(1, D, 3 * D) + lin(1, D, 2 * D) + lin(Li, D, self.img_in.shape[1])
        dbl = lin(L, D, 3 * D) + 4 * L * L * D + lin(L, D, D) + lin(L, D, 4 * D) + lin(L, 4 * D, D)
        sgl = lin(L, D, 7 * D) + 4 * L * L * D + lin(L, 5 * D, D)
        full = common + len(self.dbl) * dbl + len(self.sgl) * sgl
        return full, common


class DiTLike:
    def __init__(self, device="cuda", dtype=torch.float32, D=1152, heads=16, depth=28, L=256, batch=2, patch_in=16,
                 patch_out=32, classes=1000, seed=0):
        self.D, self.H, self.L, self.B, self.dtype, self.device = D, heads, L, batch, dtype, device
        W = Weights(device, dtype, seed)
        self.x_in, self.pos = W(patch_in, D), torch.randn(1, L, D, device=device, dtype=dtype, generator=W.g) * 0.02
        self.t1, self.t2 = W(256, D), W(D, D)
        self.y_emb = torch.randn(classes + 1, D, device=device, dtype=dtype, generator=W.g) * 0.02
        self.blocks = [dict(mod=W(D, 6 * D), qkv=W(D, 3 * D), o=W(D, D), m1=W(D, 4 * D), m2=W(4 * D, D)) for _ in range(depth)]
        self.f_mod, self.f_out = W(D, 2 * D), W(D, patch_out)
        self.y = torch.tensor(([min(207, classes - 1), classes] * batch)[:batch], device=device)  # cond, uncond (null class)

    def cached_shapes(self):
        return [(self.B, self.L, self.D)] * (2 * len(self.blocks))

    def latent_shape(self):
        return (self.B, self.L, self.x_in.shape[1])

    def forward(self, x, t, cache):
        c = Fn.linear(Fn.silu(Fn.linear(timestep_embedding(t.expand(self.B)).to(self.dtype), self.t1)), self.t2) + self.y_emb[self.y]
        sc = Fn.silu(c)[:, None]
        h = Fn.linear(x, self.x_in) + self.pos
        for i, b in enumerate(self.blocks):
            m = Fn.linear(sc, b["mod"]).chunk(6, -1)
            if cache.full:
                y = (1 + m[1]) * ln(h) + m[0]
                B, L, _ = y.shape
                q, k, v = Fn.linear(y, b["qkv"]).view(B, L, 3, self.H, self.D // self.H).permute(2, 0, 3, 1, 4)
                a = attention(q, k, v).transpose(1, 2).reshape(B, L, self.D)
                h = cache.put(2 * i, Fn.linear(a, b["o"]), h, m[2])
                z = Fn.linear(Fn.gelu(Fn.linear((1 + m[4]) * ln(h) + m[3], b["m1"]), approximate="tanh"), b["m2"])
                h = cache.put(2 * i + 1, z, h, m[5])
            else:
                h = cache.get(2 * i, h, m[2])
                h = cache.get(2 * i + 1, h, m[5])
        shift, scale = Fn.linear(sc, self.f_mod).chunk(2, -1)
        out = Fn.linear((1 + scale) * ln(h) + shift, self.f_out)
        cond, uncond = out[:1], out[1:2]
        eps = uncond + 4.0 * (cond - uncond)  # classifier-free guidance
        return eps[..., : x.shape[-1]].expand(self.B, -1, -1)

    def flops(self):
        D, L, B = self.D, self.L, self.B
        lin = lambda m, i, o: 2 * m * i * o
        common = lin(B, 256, D) + lin(B, D, D) + lin(B * L, self.x_in.shape[1], D) + len(self.blocks) * lin(B, D, 6 * D) \
            + lin(B, D, 2 * D) + lin(B * L, D, self.f_out.shape[0])
        blk = lin(B * L, D, 3 * D) + 4 * B * L * L * D + lin(B * L, D, D) + lin(B * L, D, 4 * D) + lin(B * L, 4 * D, D)
        return common + len(self.blocks) * blk, common
