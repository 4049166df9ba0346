"""PyTorch peer of benches/dcgan_step.rs: the same DCGAN-32 network (32x32x3, widths 64) and the
same training step (a D step on real + no-grad fakes, then a G step with D frozen; non-saturating
loss on logits; Adam lr 2e-4, betas (0.5, 0.999); the losses and D's mean outputs read back every
step, as gantry's recipe does), in eager PyTorch on the CPU.

`--augment diffaug|ada` passes every image D sees (reals and fakes, in D's step and in G's)
through the authors' own code: DiffAugment's `DiffAugment(x, "color,translation,cutout")`
(mit-han-lab/data-efficient-gans, `DiffAugment_pytorch.py`) or StyleGAN2-ADA's `AugmentPipe` with
their `bgc` pipe at p = 0.5 (NVlabs/stylegan2-ada-pytorch, `training/augment.py` with its
`torch_utils` and `dnnlib`). Their code is not part of gantry: `--augment-code DIR` names a folder
that holds it (`cargo xtask bench` passes `$GANTRY_AUGMENT_CODE`).

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side.
Prints the median milliseconds per step as a JSON object on its last line.
"""
import argparse
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import add_variant, dcgan_init, inputs, prepare, report


def generator(z_dim=100, w=64, c=3):
    return nn.Sequential(
        nn.Linear(z_dim, 4 * w * 16, bias=False),
        nn.Unflatten(1, (4 * w, 4, 4)),
        nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
        nn.ConvTranspose2d(w, c, 4, 2, 1), nn.Tanh(),
    )


def discriminator(w=64, c=3):
    return nn.Sequential(
        nn.Conv2d(c, w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * w, 1, 4, 1, 0), nn.Flatten(0),
    )


def augmentation(args):
    """What D sees of an image: itself, or the authors' augmentation of it."""
    if args.augment == "none":
        return lambda x: x
    if not args.augment_code:
        sys.exit("--augment needs --augment-code DIR (the authors' code)")
    sys.path.insert(0, args.augment_code)
    if args.augment == "diffaug":
        from DiffAugment_pytorch import DiffAugment

        return lambda x: DiffAugment(x, "color,translation,cutout")
    from training.augment import AugmentPipe

    bgc = dict(xflip=1, rotate90=1, xint=1, scale=1, rotate=1, aniso=1, xfrac=1,
               brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)
    pipe = AugmentPipe(**bgc).train().requires_grad_(False)
    pipe.p.copy_(torch.as_tensor(0.5))
    return pipe


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--augment", choices=["none", "diffaug", "ada"], default="none")
    ap.add_argument("--augment-code", help="folder with DiffAugment_pytorch.py and StyleGAN2-ADA's training/, torch_utils/, dnnlib/")
    add_variant(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seen = augmentation(args)
    torch.manual_seed(0)
    G, D = generator(), discriminator()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    prepare(args.variant, G, D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = inputs(args.variant, torch.rand(64, 3, 32, 32) * 2 - 1)

    def step():
        z = torch.randn(64, 100)
        with torch.no_grad():
            fake = G(z)
        real_logits, fake_logits = D(seen(real)), D(seen(fake))
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        stats = [d_loss.item(), real_logits.sigmoid().mean().item(), fake_logits.sigmoid().mean().item()]
        z = torch.randn(64, 100)
        fake = G(z)
        D.requires_grad_(False)
        g_loss = F.softplus(-D(seen(fake))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        stats.append(g_loss.item())
        return stats

    report(step, args.warmup, args.steps, threads=args.threads, torch=torch.__version__, augment=args.augment,
           variant=args.variant)


if __name__ == "__main__":
    main()
