"""PyTorch peer of benches/dcgan_step.rs: the same DCGAN-32 network (32x32x3, widths 64) and the
same training step (a D step on real + no-grad fakes, then a G step with D frozen; non-saturating
loss on logits; Adam lr 2e-4, betas (0.5, 0.999); the losses and D's mean outputs read back every
step, as gantry's recipe does), in eager PyTorch on the CPU.

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side.
Prints the median milliseconds per step as a JSON object on its last line.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import dcgan_init, report


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G, D = generator(), discriminator()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = torch.rand(64, 3, 32, 32) * 2 - 1

    def step():
        z = torch.randn(64, 100)
        with torch.no_grad():
            fake = G(z)
        real_logits, fake_logits = D(real), D(fake)
        d_loss = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        stats = [d_loss.item(), real_logits.sigmoid().mean().item(), fake_logits.sigmoid().mean().item()]
        z = torch.randn(64, 100)
        fake = G(z)
        D.requires_grad_(False)
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        stats.append(g_loss.item())
        return stats

    report(step, args.warmup, args.steps, threads=args.threads, torch=torch.__version__)


if __name__ == "__main__":
    main()
