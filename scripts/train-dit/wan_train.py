"""Trains the made-small video model (wan.py) on moving shapes (wan_clips.py) with rectified flow, for a
wall-clock budget, on a CPU (one thread is enough to get motion) or a GPU.

  python3 wan_train.py --out DIR [--seconds 3000] [--batch 32] [--arch '{"depth": 4}'] [--seed N] [--threads 1]
                        [--init RUN/weights.npz]   (continue from an earlier run's EMA weights)

x_t = (1 - t) x0 + t noise, the model predicts noise - x0 (as the image fixtures); labels are dropped to the
empty prompt 10% of the time for classifier-free guidance. Writes DIR/weights.npz (the EMA weights as
float16, the precision the ONNX export stores), DIR/config.json, DIR/train.log (every minute, so a run cut
short still leaves a model) and, at the end, DIR/preview.png (one clip per class as a frame strip, 50 steps,
guidance 4).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wan  # noqa: E402
import wan_clips  # noqa: E402

ARCH = dict(frames=4, image_size=16, channels=3, patch=[1, 4, 4], hidden=64, heads=4, depth=4, ffn_ratio=3.0,
            classes=len(wan_clips.NAMES), text_dim=32)


def save(ema, args, arch, step, losses):
    sd = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in ema.state_dict().items()}
    tmp = os.path.join(args.out, "weights.tmp.npz")
    np.savez(tmp, **sd)
    os.replace(tmp, os.path.join(args.out, "weights.npz"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump({"model": "wan", "architecture": arch, "init": args.init, "seed": args.seed, "steps": step, "batch": args.batch, "lr": args.lr,
                   "seconds": args.seconds, "ema": args.ema, "torch": torch.__version__,
                   "final_loss": losses[-1] if losses else None}, f, indent=1)


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
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=3000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.998)
    p.add_argument("--arch", default="{}", help="JSON object overriding entries of ARCH")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch.set_num_threads on a CPU")
    p.add_argument("--init", help="weights.npz of an earlier run to start from")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    arch = {**ARCH, **json.loads(args.arch)}
    unknown = set(arch) - set(ARCH)
    if unknown:
        p.error(f"--arch: unknown keys {sorted(unknown)} (expected some of {sorted(ARCH)})")
    torch.manual_seed(args.seed)
    model = wan.WanDiT(**arch).to(dev)
    ema = wan.WanDiT(**arch).to(dev)
    if args.init:
        w = np.load(args.init)
        model.load_state_dict({k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files})
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    log = open(os.path.join(args.out, "train.log"), "w")

    def say(s):
        print(s, flush=True)
        log.write(s + "\n")
        log.flush()

    say(f"device {dev} torch {torch.__version__} params {sum(p.numel() for p in model.parameters())} arch {arch}")
    t0 = last_save = time.time()
    step, losses, window = 0, [], []
    C, Fr, S = arch["channels"], arch["frames"], arch["image_size"]
    while time.time() - t0 < args.seconds:
        frac = (time.time() - t0) / args.seconds
        lr = args.lr * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        labels = torch.randint(0, arch["classes"], (args.batch,), device=dev)
        with torch.no_grad():
            x0 = wan_clips.draw(labels, Fr, S)
            noise = torch.randn_like(x0)
            t = torch.rand(args.batch, device=dev)
            tb = t[:, None, None, None, None]
            xt = (1 - tb) * x0 + tb * noise
            y = torch.where(torch.rand(args.batch, device=dev) < 0.1, torch.full_like(labels, arch["classes"]), labels)
        loss = F.mse_loss(model(xt, t, y), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = args.ema if args.init else min(args.ema, (1 + step) / (10 + step))
            torch._foreach_mul_(ema_params, d)
            torch._foreach_add_(ema_params, model_params, alpha=1 - d)
        step += 1
        window.append(loss.item())
        if step % 100 == 0:
            losses.append(sum(window) / len(window))
            window = []
            say(f"step {step} t {time.time() - t0:.0f}s loss(mean of 100) {losses[-1]:.4f} lr {lr:.2e}")
        if time.time() - last_save > 60:
            save(ema, args, arch, step, losses)
            last_save = time.time()
    say(f"done: {step} steps in {time.time() - t0:.0f}s ({(time.time() - t0) / max(step, 1) * 1000:.0f} ms/step)")
    save(ema, args, arch, step, losses)
    ema.eval()
    preview(ema, args.out)


if __name__ == "__main__":
    main()
