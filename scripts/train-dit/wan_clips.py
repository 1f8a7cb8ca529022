"""Procedural training clips for the made-small video model (wan.py): one shape moving in a straight line
over a flat background, drawn on the fly from shapes.py's signed distance fields (no data set to
download). The class is the shape; start position, direction, speed and size are random; the colours are
fixed (shapes.py's simple data's: a light shape on a dark background), which leaves a model trained on one
CPU core only where the shape is and where it goes to find from noise.

Clips are [B, 3, frames, S, S] in [-1, 1]: channels first, then frames, as Wan's latents.
"""
import math

import torch

from shapes import FIXED_BACKGROUND, FIXED_SHAPE, NAMES as SHAPE_NAMES, _sdf

# shapes that stay apart at a radius of 3-4 pixels
CLASS_SHAPES = [0, 1, 2, 3, 4]
NAMES = [SHAPE_NAMES[k] for k in CLASS_SHAPES]


def draw(labels, frames=4, size=16, generator=None):
    """labels: int64 [B] in 0..len(NAMES)-1. Returns float32 [B, 3, frames, size, size] in [-1, 1]: the
    shape's centre moves by `velocity` (0.06-0.1 of the frame, about 1-1.6 pixels at 16) each frame, the
    path centred on a random point near the middle, so the shape stays inside the frame."""
    dev = labels.device
    B = labels.shape[0]

    def rand(*shape):
        return torch.rand(*shape, generator=generator, device=dev)

    coords = (torch.arange(size, device=dev, dtype=torch.float32) + 0.5) / size
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    ang = rand(B) * 2 * math.pi
    speed = 0.06 + 0.04 * rand(B)
    vx, vy = speed * torch.cos(ang), speed * torch.sin(ang)
    mid = (torch.arange(frames, device=dev, dtype=torch.float32) - (frames - 1) / 2)  # frame offsets from the path's middle
    cx0, cy0 = 0.4 + 0.2 * rand(B), 0.4 + 0.2 * rand(B)
    cx = (cx0[:, None] + vx[:, None] * mid[None])[:, :, None, None]  # [B, F, 1, 1]
    cy = (cy0[:, None] + vy[:, None] * mid[None])[:, :, None, None]
    r = (0.2 + 0.05 * rand(B))[:, None, None, None]
    px, py = xx - cx, -(yy - cy)  # [B, F, S, S]; "up" for the triangle
    d = torch.stack([_sdf(k, px, py, r) for k in CLASS_SHAPES])  # every class, then a gather: no host sync
    d = d.gather(0, labels[None, :, None, None, None].expand(1, B, frames, size, size))[0]
    alpha = torch.sigmoid(-d * size / 0.6)[:, None]  # [B, 1, F, S, S]
    bg = torch.tensor(FIXED_BACKGROUND, device=dev).expand(B, 3)
    fg = torch.tensor(FIXED_SHAPE, device=dev).expand(B, 3)
    clip = bg[:, :, None, None, None] * (1 - alpha) + fg[:, :, None, None, None] * alpha
    return clip * 2 - 1
