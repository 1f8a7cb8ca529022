"""Trains the second fixture model (dit-shapes): a DiT with adaLN-Zero on procedural shapes (shapes.py),
rectified flow, for a wall-clock budget. Runs on the GPU machine (PyTorch 2.x) or, small, on a CPU.
`--model mmdit` trains the FLUX-structured MMDiT (mmdit.py) instead, optionally guidance-distilled.
`--objective eps` trains the DiT as the DiT paper does instead: DDPM noise prediction over 1000 integer
timesteps (linear betas 1e-4..0.02, or `--beta-schedule cosine`); the model takes the integer timestep.

  python3 train.py --out DIR [--seconds 200] [--batch 512] [--arch '{"depth": 4, "hidden": 192}'] [--seed N]
                    [--init weights.npz] [--smoke] [--model mmdit] [--distill 0.75] [--simple] [--threads 1]
                    [--objective flow|eps] [--beta-schedule linear|cosine]

--distill F (mmdit): for the last (1 - F) of the time, guidance distillation as FLUX-dev's: a frozen copy of
the EMA weights at that moment is the teacher, run with classifier-free guidance at a random scale g in
[1, 5]; the student gets g as its `guidance` input and learns the guided velocity in one forward.

Writes DIR/weights.npz (the EMA weights as float16, the precision the ONNX export stores), DIR/config.json,
DIR/train.log (the mean loss of every 500 steps) and DIR/preview.png (two samples of each class, 50 steps,
guidance 3). The weights are written every minute too, so a run cut short still leaves a model. The loop is
train_loop.py's, as wan_train.py's.
"""
import argparse
import contextlib
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dit  # noqa: E402
import mmdit  # noqa: E402
import shapes  # noqa: E402
import train_loop  # noqa: E402

# dit-shapes; --arch overrides any of these (a third model for validation should differ from both fixtures)
ARCH = dict(image_size=32, channels=3, patch=4, hidden=128, depth=8, heads=4, mlp_ratio=4.0, classes=10)
# the FLUX-structured model: its constructor's defaults
MMDIT_ARCH = dict(image_size=16, channels=3, patch=2, hidden=64, heads=4, depth_double=2, depth_single=3, mlp_ratio=4.0,
                  classes=10, text_dim=32, axes_dim=[4, 6, 6])
MODELS = {"dit": (dit.DiT, dit.sample, ARCH), "mmdit": (mmdit.MMDiT, mmdit.sample, MMDIT_ARCH)}
GUIDANCE_RANGE = (1.0, 5.0)


def preview(model, sample, out, dev):
    try:
        from PIL import Image
    except ImportError:
        return
    g = torch.Generator(device=dev).manual_seed(1)
    labels = torch.arange(10, device=dev).repeat(2)
    S = model.image_size
    noise = torch.randn(20, 3, S, S, generator=g, device=dev)
    x = sample(model, noise, labels, steps=50, guidance=3.0).clamp(-1, 1)
    img = ((x + 1) * 127.5).round().byte().cpu().reshape(2, 10, 3, S, S).permute(0, 3, 1, 4, 2).reshape(2 * S, 10 * S, 3)
    Image.fromarray(img.numpy()).resize((30 * S, 6 * S), Image.NEAREST).save(os.path.join(out, "preview.png"))


def main():
    p = argparse.ArgumentParser()
    train_loop.add_arguments(p, seconds=200, batch=512, lr=3e-4, ema=0.999, warmup=300)
    p.add_argument("--smoke", action="store_true", help="tiny CPU run that exercises every path")
    p.add_argument("--model", choices=sorted(MODELS), default="dit")
    p.add_argument("--distill", type=float, help="mmdit: start guidance distillation at this fraction of the time")
    p.add_argument("--simple", action="store_true", help="shapes.draw(simple=True): the easier data")
    p.add_argument("--objective", choices=["flow", "eps"], default="flow",
                   help="flow: rectified flow, velocity prediction; eps: DDPM noise prediction (DiT's)")
    p.add_argument("--beta-schedule", choices=["linear", "cosine"], default="linear", help="--objective eps: the beta table")
    args = p.parse_args()
    Model, sample, default_arch = MODELS[args.model]
    if args.distill is not None and args.model != "mmdit":
        p.error("--distill needs a model with a guidance input (--model mmdit)")
    if args.objective == "eps" and args.model != "dit":
        p.error("--objective eps trains the DiT (--model dit)")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    arch = train_loop.architecture(p, args, default_arch)
    ab_table = None
    if args.objective == "eps":
        arch["timestep_scale"] = 1.0  # the integer timestep goes in as it is
        ab_table = dit.alphas_cumprod(args.beta_schedule).float().to(dev)
        sample = lambda m, noise, labels, steps, guidance: dit.sample_eps(m, noise, labels, steps, guidance,
                                                                          beta_schedule=args.beta_schedule)
    if dev == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    model, ema = train_loop.models(Model, arch, args, dev)
    say = train_loop.logger(args.out)
    say(f"device {dev} torch {torch.__version__} params {sum(p.numel() for p in model.parameters())} arch {arch}")
    teacher = None

    def loss_fn(step, frac):
        nonlocal teacher
        labels = torch.randint(0, 10, (args.batch,), device=dev)
        with torch.no_grad():
            x0 = shapes.draw(labels, arch["image_size"], simple=args.simple)
            noise = torch.randn_like(x0)
            y = torch.where(torch.rand(args.batch, device=dev) < 0.1, torch.full_like(labels, 10), labels)
            if ab_table is None:
                t = torch.rand(args.batch, device=dev)
                xt = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * noise
                target = noise - x0
            else:
                tau = torch.randint(0, len(ab_table), (args.batch,), device=dev)
                ab = ab_table[tau][:, None, None, None]
                xt = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
                t = tau.float()
                target = noise
        if args.distill is not None and frac >= args.distill and teacher is None:
            teacher = copy.deepcopy(ema).eval()
            say(f"step {step}: guidance distillation from the EMA weights, g in {GUIDANCE_RANGE}")
        amp = torch.autocast(device_type="cuda", dtype=torch.bfloat16) if dev == "cuda" else contextlib.nullcontext()
        with amp:
            if teacher is None:
                v = model(xt, t, y)
            else:
                lo, hi = GUIDANCE_RANGE
                g = lo + (hi - lo) * torch.rand(args.batch, device=dev)
                with torch.no_grad():
                    vc, vu = teacher(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([labels, torch.full_like(labels, 10)])).float().chunk(2)
                    target = vu + g[:, None, None, None] * (vc - vu)
                v = model(xt, t, labels, g)
        return F.mse_loss(v.float(), target)

    def config(step, losses):
        return {"model": args.model, "architecture": arch, "simple_data": args.simple, "distill": args.distill, "objective": args.objective,
                "beta_schedule": args.beta_schedule if args.objective == "eps" else None, "init": args.init, "seed": args.seed, "steps": step,
                "batch": args.batch, "lr": args.lr, "warmup": args.warmup, "seconds": args.seconds, "ema": args.ema, "torch": torch.__version__,
                "final_loss": losses[-1] if losses else None}

    train_loop.train(args, model, ema, loss_fn, config, say, log_every=5 if args.smoke else 500)
    t1 = time.time()
    preview(ema, sample, args.out, dev)
    say(f"preview {time.time() - t1:.1f}s")


if __name__ == "__main__":
    main()
