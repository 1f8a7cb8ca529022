"""What a training run of the video model (wan_train.py) has learnt, beyond its mean loss: the loss in bands of
t, and one image of clips a person can judge.

  python3 wan_probe.py --weights RUN/weights.npz --out probe.png [--scale 4]

Prints the mean squared error of the conditional prediction at t = 0.05, 0.25, ..., 1.0 on 100 fresh clips
(labels 0-4, seed 123); writes a PNG with one clip per class a row, each as its 4 frames left to right, in
columns: the data clip; the model's one-step estimate of x0 = x_t - t v from that clip noised to t = 0.9, 0.7
and 0.5; then a sample from noise (seed 1, 50 Euler steps) at guidance 4 and at guidance 1.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wan  # noqa: E402
import wan_clips  # noqa: E402
from graph_export import load_models  # noqa: E402
from wan_train import strip  # noqa: E402

BANDS = (0.05, 0.25, 0.45, 0.65, 0.85, 1.0)
ESTIMATES_AT = (0.9, 0.7, 0.5)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True, help="a wan_train.py run's weights.npz (config.json beside it)")
    p.add_argument("--out", required=True, help="the PNG to write")
    p.add_argument("--scale", type=int, default=4, help="pixels per clip pixel in the PNG")
    args = p.parse_args()
    torch.set_num_threads(1)
    with open(os.path.join(os.path.dirname(os.path.abspath(args.weights)), "config.json")) as f:
        run = json.load(f)
    arch = run["architecture"]
    model, _ = load_models(wan.WanDiT, arch, args.weights)
    Fr, S, classes = arch["frames"], arch["image_size"], arch["classes"]
    g = torch.Generator().manual_seed(123)
    labels = torch.arange(classes).repeat(100 // classes)
    x0 = wan_clips.draw(labels, Fr, S, generator=g)
    noise = torch.randn(x0.shape, generator=g)

    def noised(t, n):
        tt = torch.full((n,), t)
        tb = tt[:, None, None, None, None]
        return tt, tb, (1 - tb) * x0[:n] + tb * noise[:n]

    with torch.no_grad():
        errors = []
        for t in BANDS:
            tt, _, xt = noised(t, len(labels))
            errors.append(f"t={t:.2f}: {((model(xt, tt, labels) - (noise - x0)) ** 2).mean().item():.4f}")
        print(f"{run['steps']} steps; loss by t (conditional):", "  ".join(errors))
        columns = [strip(x0[:classes])]
        for t in ESTIMATES_AT:
            tt, tb, xt = noised(t, classes)
            columns.append(strip(xt - tb * model(xt, tt, labels[:classes])))
        start = torch.randn(classes, arch["channels"], Fr, S, S, generator=torch.Generator().manual_seed(1))
        for guidance in (4.0, 1.0):
            columns.append(strip(wan.sample(model, start, torch.arange(classes), steps=50, guidance=guidance)))
    img = np.concatenate(columns, axis=1)
    from PIL import Image
    Image.fromarray(img).resize((img.shape[1] * args.scale, img.shape[0] * args.scale), Image.NEAREST).save(args.out)
    print("wrote", args.out, "(columns: data | x0 estimate at t = 0.9, 0.7, 0.5 | sample at guidance 4 | at guidance 1)")


if __name__ == "__main__":
    main()
