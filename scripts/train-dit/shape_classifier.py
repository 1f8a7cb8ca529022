"""A small classifier of the procedural shapes (shapes.py, simple=True) and the distribution metrics on its
features: a Frechet distance between sets of samples (FID's formula on this classifier's 64 features instead of
Inception's) and the class accuracy of generated samples (does the classifier see the class that was asked for).

  python3 shape_classifier.py train --out classifier.npz [--steps 1500] [--size 16]
  python3 shape_classifier.py score --classifier classifier.npz --labels 0,1,... --set full=full.f32 --set seer=seer.f32 ...
         [--reference full] [--real-seed 7]

`score` prints one JSON object: per set the accuracy and the Frechet distance to (a) real data (shapes.draw at
the same labels, seed --real-seed), (b) the --reference set; and the distance between two independent real
sets of the same size: what this sample count cannot resolve. One thread (CPU builds share the machine).
Training runs a fixed number of steps from a fixed seed on one thread, so the same machine retrains the same
weights and a study's distances do not move between regenerations (a time budget made them move by about 1).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

FEATURES = 64


class Classifier(nn.Module):
    def __init__(self, size=16):
        super().__init__()
        self.c1 = nn.Conv2d(3, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.c3 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
        self.fc = nn.Linear(64 * (size // 4) ** 2, FEATURES)
        self.out = nn.Linear(FEATURES, 10)

    def features(self, x):
        h = F.gelu(self.c3(F.gelu(self.c2(F.gelu(self.c1(x))))))
        return F.gelu(self.fc(h.flatten(1)))

    def forward(self, x):
        return self.out(self.features(x))


def train(args):
    torch.manual_seed(0)
    model = Classifier(args.size)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    t0 = time.time()
    for step in range(1, args.steps + 1):
        labels = torch.randint(0, 10, (128,))
        x = shapes.draw(labels, args.size, simple=True)
        x = x + 0.05 * torch.randn_like(x)  # generated samples are a little noisy; do not key on exact pixels
        loss = F.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0:
            print(f"step {step} t {time.time() - t0:.0f}s loss {loss.item():.4f}", flush=True)
    model.eval()
    g = torch.Generator().manual_seed(123)
    labels = torch.arange(10).repeat(100)
    with torch.no_grad():
        acc = (model(shapes.draw(labels, args.size, generator=g, simple=True)).argmax(1) == labels).float().mean().item()
    print(f"done: {args.steps} steps in {time.time() - t0:.0f}s, held-out accuracy on 1000 drawn shapes {acc:.4f}")
    np.savez(args.out, **{k: v.numpy() for k, v in model.state_dict().items()}, size=np.array(args.size), accuracy=np.array(acc),
             steps=np.array(args.steps))


def frechet(a, b):
    """||mu_a - mu_b||^2 + tr(Ca + Cb - 2 (Ca Cb)^(1/2)), float64; the square root from the eigenvalues of
    Ca^(1/2) Cb Ca^(1/2) (symmetric, so no complex parts)."""
    mu = a.mean(0) - b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    sa = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = np.linalg.eigvalsh(sa @ cb @ sa)
    return float(mu @ mu + np.trace(ca) + np.trace(cb) - 2 * np.sqrt(np.clip(m, 0, None)).sum())


def score(args):
    w = np.load(args.classifier)
    size = int(w["size"])
    model = Classifier(size)
    model.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files if k not in ("size", "accuracy", "steps")})
    model.eval()
    labels = torch.tensor([int(s) for s in args.labels.split(",")])
    n = len(labels)

    def feats(x):
        with torch.no_grad():
            return model.features(x).double().numpy(), model(x).argmax(1)

    sets = {}
    for spec in args.set:
        name, path = spec.split("=", 1)
        x = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(n, 3, size, size).copy())
        sets[name] = feats(x.clamp(-1, 1))
    real_a = feats(shapes.draw(labels, size, generator=torch.Generator().manual_seed(args.real_seed), simple=True))
    real_b = feats(shapes.draw(labels, size, generator=torch.Generator().manual_seed(args.real_seed + 1), simple=True))
    out = {"samples": n, "features": FEATURES, "classifier_accuracy_on_drawn_shapes": float(w["accuracy"]),
           "real_vs_real": frechet(real_a[0], real_b[0]), "real_accuracy": float((real_a[1] == labels).float().mean()), "sets": {}}
    ref = sets.get(args.reference)
    for name, (f, pred) in sets.items():
        out["sets"][name] = {"accuracy": float((pred == labels).float().mean()), "fd_to_real": frechet(f, real_a[0]),
                             **({"fd_to_" + args.reference: frechet(f, ref[0])} if ref is not None and name != args.reference else {})}
    print(json.dumps(out, indent=1))


def positive_int(v):
    n = int(v)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of steps >= 1, got {v}")
    return n


def main():
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=positive_int, default=1500, help="optimiser steps of 128 drawn shapes (a fixed count: reproducible weights)")
    t.add_argument("--size", type=int, default=16)
    s = sub.add_parser("score")
    s.add_argument("--classifier", required=True)
    s.add_argument("--labels", required=True)
    s.add_argument("--set", action="append", required=True, help="NAME=FILE.f32, [labels, 3, S, S] in [-1, 1]")
    s.add_argument("--reference", default="full", help="the set the others are also compared to")
    s.add_argument("--real-seed", type=int, default=7)
    args = p.parse_args()
    train(args) if args.cmd == "train" else score(args)


if __name__ == "__main__":
    main()
