"""The training loop train.py and wan_train.py share: AdamW, linear warm-up then a cosine decay to a tenth of
the learning rate over a wall-clock budget, gradient clipping, an EMA of the weights (written every minute as
float16, the precision the ONNX export stores, so a run cut short still leaves a model), and the log.
"""
import json
import math
import os
import time

import numpy as np
import torch


def add_arguments(p, seconds, batch, lr, ema, warmup):
    """The options every training script takes, with that script's defaults."""
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=seconds)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--ema", type=float, default=ema)
    p.add_argument("--warmup", type=int, default=warmup, help="steps of linear learning-rate warm-up")
    p.add_argument("--init", help="weights.npz of an earlier run to start from (its EMA weights)")
    p.add_argument("--arch", default="{}", help="JSON object overriding entries of the default architecture")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch.set_num_threads on a CPU")


def architecture(p, args, default):
    """default updated by --arch; unknown keys are an argument error."""
    arch = {**default, **json.loads(args.arch)}
    unknown = set(arch) - set(default)
    if unknown:
        p.error(f"--arch: unknown keys {sorted(unknown)} (expected some of {sorted(default)})")
    return arch


def models(Model, arch, args, dev):
    """The trained model (from --init if given) and its EMA copy, seeded with --seed."""
    torch.manual_seed(args.seed)
    model = Model(**arch).to(dev)
    ema = Model(**arch).to(dev)
    if args.init:
        w = np.load(args.init)
        model.load_state_dict({k: torch.from_numpy(w[k].astype(np.float32)) for k in w.files})
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    return model, ema


def logger(out):
    log = open(os.path.join(out, "train.log"), "w")

    def say(s):
        print(s, flush=True)
        log.write(s + "\n")
        log.flush()

    return say


def save(ema, out, config):
    sd = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in ema.state_dict().items()}
    tmp = os.path.join(out, "weights.tmp.npz")
    np.savez(tmp, **sd)
    os.replace(tmp, os.path.join(out, "weights.npz"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)


def train(args, model, ema, loss_fn, config, say, log_every):
    """Steps until --seconds have passed. loss_fn(step, frac) -> the batch's loss (frac: the share of the
    budget spent); config(step, losses) -> config.json's content. Logs the mean loss of every log_every steps."""
    ema_params, model_params = list(ema.parameters()), list(model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0, betas=(0.9, 0.99))
    t0 = last_save = time.time()
    step, losses, window = 0, [], []
    while time.time() - t0 < args.seconds:
        frac = (time.time() - t0) / args.seconds
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_fn(step, frac)
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
        if step % log_every == 0:
            losses.append(sum(window) / len(window))
            window = []
            say(f"step {step} t {time.time() - t0:.0f}s loss(mean of {log_every}) {losses[-1]:.4f} lr {lr:.2e}")
        if time.time() - last_save > 60:
            save(ema, args.out, config(step, losses))
            last_save = time.time()
    say(f"done: {step} steps in {time.time() - t0:.0f}s ({(time.time() - t0) / max(step, 1) * 1000:.0f} ms/step)")
    save(ema, args.out, config(step, losses))
    ema.eval()
    return step, losses
