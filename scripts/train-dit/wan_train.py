"""Trains the made-small video model (wan.py) on moving shapes (wan_clips.py) with rectified flow, for a
wall-clock budget, on a CPU or a GPU (four and a half hours on one CPU thread draw a moving disc, square,
triangle and ring from noise, not yet the plus: fixtures/wan-clips/README.md).

  python3 wan_train.py --out DIR [--seconds 3000] [--batch 32] [--arch '{"depth": 4}'] [--seed N] [--threads 1]
                        [--init RUN/weights.npz]   (continue from an earlier run's EMA weights) [--warmup 200]
                        [--t-sampling uniform|logit-normal]

x_t = (1 - t) x0 + t noise, the model predicts noise - x0 (as the image fixtures; by default through the
preconditioned output of wan.py, sigma_data 0.4); labels are dropped to the
empty prompt 10% of the time for classifier-free guidance. Writes DIR/weights.npz (the EMA weights as
float16, the precision the ONNX export stores), DIR/config.json, DIR/train.log (every minute, so a run cut
short still leaves a model) and, at the end, DIR/preview.png (one clip per class as a frame strip, 50 steps,
guidance 4). The loop is train_loop.py's, as train.py's.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_loop  # noqa: E402
import wan  # noqa: E402
import wan_clips  # noqa: E402

ARCH = dict(frames=4, image_size=16, channels=3, patch=[2, 2, 2], hidden=64, heads=4, depth=4, ffn_ratio=3.0,
            classes=len(wan_clips.NAMES), text_dim=32, sigma_data=0.4, rope_theta=8.0)


def strip(clips):
    """[B, C, F, S, S] in [-1, 1] -> uint8 [B * S, F * S, C]: one clip per row, its frames left to right."""
    B, C, Fr, S, _ = clips.shape
    x = ((clips.clamp(-1, 1) + 1) * 127.5).round().byte().cpu()
    return x.permute(0, 3, 2, 4, 1).reshape(B * S, Fr * S, C).numpy()


def preview(model, out):
    try:
        from PIL import Image
    except ImportError:
        return
    g = torch.Generator().manual_seed(1)
    labels = torch.arange(model.classes)
    noise = torch.randn(len(labels), model.channels, model.frames, model.image_size, model.image_size, generator=g)
    img = strip(wan.sample(model, noise, labels, steps=50, guidance=4.0))
    Image.fromarray(img).resize((img.shape[1] * 6, img.shape[0] * 6), Image.NEAREST).save(os.path.join(out, "preview.png"))


def main():
    p = argparse.ArgumentParser()
    train_loop.add_arguments(p, seconds=3000, batch=32, lr=1e-3, ema=0.998, warmup=200)
    p.add_argument("--t-sampling", choices=("uniform", "logit-normal"), default="uniform",
                   help="how training draws t: uniform on [0, 1], or sigmoid of a standard normal (SD3's logit-normal, "
                        "which spends the steps on the middle of t, where the class decides the shape)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    arch = train_loop.architecture(p, args, ARCH)
    model, ema = train_loop.models(wan.WanDiT, arch, args, dev)
    say = train_loop.logger(args.out)
    say(f"device {dev} torch {torch.__version__} params {sum(p.numel() for p in model.parameters())} arch {arch}")
    C, Fr, S = arch["channels"], arch["frames"], arch["image_size"]

    def loss_fn(step, frac):
        labels = torch.randint(0, arch["classes"], (args.batch,), device=dev)
        with torch.no_grad():
            x0 = wan_clips.draw(labels, Fr, S)
            noise = torch.randn_like(x0)
            if args.t_sampling == "uniform":
                t = torch.rand(args.batch, device=dev)
            else:
                t = torch.sigmoid(torch.randn(args.batch, device=dev))
            tb = t[:, None, None, None, None]
            xt = (1 - tb) * x0 + tb * noise
            y = torch.where(torch.rand(args.batch, device=dev) < 0.1, torch.full_like(labels, arch["classes"]), labels)
        return F.mse_loss(model(xt, t, y), noise - x0)

    def config(step, losses):
        return {"model": "wan", "architecture": arch, "init": args.init, "seed": args.seed, "steps": step, "batch": args.batch,
                "lr": args.lr, "t_sampling": args.t_sampling, "warmup": args.warmup, "seconds": args.seconds, "ema": args.ema, "torch": torch.__version__,
                "final_loss": losses[-1] if losses else None}

    train_loop.train(args, model, ema, loss_fn, config, say, log_every=100)
    preview(ema, args.out)


if __name__ == "__main__":
    main()
