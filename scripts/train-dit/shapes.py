"""Procedural training data for the second fixture model: ten classes of anti-aliased shapes on a tinted,
shaded background, drawn on the fly from signed distance fields (no data set to download). Position,
size, rotation, colours and the background gradient are random; the class is the shape.

Classes: 0 disc, 1 square, 2 triangle, 3 ring, 4 plus, 5 diamond, 6 cross (x), 7 half-disc, 8 two dots,
9 flat ellipse. Images are [B, 3, S, S] in [-1, 1].
"""
import math

import torch

# the colours of the simple data (RGB in [0, 1]): a light shape on a dark background
FIXED_BACKGROUND = (0.16, 0.18, 0.30)
FIXED_SHAPE = (1.0, 0.82, 0.30)

NAMES = ["disc", "square", "triangle", "ring", "plus", "diamond", "cross", "half-disc", "two-dots", "ellipse"]


def _sdf(k, px, py, r):
    """Signed distance (negative inside) of class k at points (px, py), for shape radius r [B, 1, 1]."""
    ax, ay = px.abs(), py.abs()
    if k == 0:
        return torch.sqrt(px * px + py * py) - r
    if k == 1:
        return torch.maximum(ax, ay) - 0.8 * r
    if k == 2:  # equilateral triangle, apex up
        return torch.maximum(ax * math.cos(math.pi / 6) + py * 0.5, -py) - 0.5 * r
    if k == 3:
        return (torch.sqrt(px * px + py * py) - 0.72 * r).abs() - 0.24 * r
    if k == 4:
        arm = lambda u, v: torch.maximum(u - 0.28 * r, v - r)
        return torch.minimum(arm(ax, ay), arm(ay, ax))
    if k == 5:
        return (ax + ay) * math.sqrt(0.5) - 0.72 * r
    if k == 6:
        u, v = (px + py) * math.sqrt(0.5), (px - py) * math.sqrt(0.5)
        arm = lambda a, b: torch.maximum(a.abs() - 0.26 * r, b.abs() - r)
        return torch.minimum(arm(u, v), arm(v, u))
    if k == 7:
        return torch.maximum(torch.sqrt(px * px + py * py) - r, -py)
    if k == 8:
        d1 = torch.sqrt((px - 0.55 * r) ** 2 + py * py) - 0.42 * r
        d2 = torch.sqrt((px + 0.55 * r) ** 2 + py * py) - 0.42 * r
        return torch.minimum(d1, d2)
    if k == 9:  # not an exact distance, but its zero set and sign are right; scaled to about pixel units
        return (torch.sqrt((px / r) ** 2 + (py / (0.42 * r)) ** 2) - 1.0) * 0.42 * r
    raise ValueError(k)


def draw(labels, size=32, generator=None, simple=False):
    """labels: int64 [B] in 0..9 (any device). Returns float32 [B, 3, size, size] in [-1, 1].
    simple: larger shapes near the centre, no tilt, and one light shape colour on one dark flat background
    (FIXED_BACKGROUND, FIXED_SHAPE): only the class, position and size vary, a task small enough for a model
    trained on one CPU core for about two hours."""
    dev = labels.device
    B = labels.shape[0]
    g = generator

    def rand(*shape):
        return torch.rand(*shape, generator=g, device=dev)

    coords = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) / size  # pixel centres in (0, 1)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    spread, r0, r1, tilt = (0.12, 0.3, 0.08, 0.0) if simple else (0.36, 0.16, 0.14, math.radians(50))
    cx = (0.5 - spread / 2 + spread * rand(B))[:, None, None]
    cy = (0.5 - spread / 2 + spread * rand(B))[:, None, None]
    r = (r0 + r1 * rand(B))[:, None, None]
    th = ((rand(B) - 0.5) * tilt)[:, None, None]  # small tilt: square and diamond stay apart
    dx, dy = xx[None] - cx, yy[None] - cy
    px = dx * torch.cos(th) + dy * torch.sin(th)
    py = -dx * torch.sin(th) + dy * torch.cos(th)
    py = -py  # image rows grow downwards; "up" for the triangle and the half-disc
    # every class's field for every sample, then a gather: no data-dependent indexing, so no host sync
    d = torch.stack([_sdf(k, px, py, r) for k in range(10)])
    d = d.gather(0, labels[None, :, None, None].expand(1, B, size, size))[0]
    alpha = torch.sigmoid(-d * size / 0.6)  # about one pixel of anti-aliasing
    # background: a colour and a linear gradient in a random direction; foreground: a colour far from it
    bg = 0.15 + 0.7 * rand(B, 3)
    ang = rand(B) * 2 * math.pi
    grad = (torch.cos(ang)[:, None, None] * (xx[None] - 0.5) + torch.sin(ang)[:, None, None] * (yy[None] - 0.5))
    shade = (0.0 if simple else 0.35) * (rand(B)[:, None, None]) * grad
    fg = torch.where(bg > 0.5, bg - 0.45 - 0.4 * rand(B, 3), bg + 0.45 + 0.4 * rand(B, 3)).clamp(0, 1)
    if simple:  # the random draws above still happen, so a generator's stream does not depend on `simple`
        bg = torch.tensor(FIXED_BACKGROUND, device=dev).expand(B, 3)
        fg = torch.tensor(FIXED_SHAPE, device=dev).expand(B, 3)
    back = (bg[:, :, None, None] + shade[:, None]).clamp(0, 1)
    img = back * (1 - alpha[:, None]) + fg[:, :, None, None] * alpha[:, None]
    return img * 2 - 1
