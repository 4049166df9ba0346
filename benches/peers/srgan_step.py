"""PyTorch peer of benches/srgan_step.rs: SRGAN (Ledig et al. 2017) x4 to 64x64 RGB, batch 16,
written from the paper: SRResNet (Conv9 64 + PReLU, 16 residual blocks Conv3-BN-PReLU-Conv3-BN,
Conv3-BN + long skip, two [Conv3 256, PixelShuffle x2, PReLU], Conv9, Tanh) and the paper's D (8
Conv3 layers 64 -> 512, stride 2 when the width doubles, LeakyReLU 0.2, BN but on the first,
Dense 1024, LeakyReLU, Dense 1). A step: LR = antialiased bicubic downsampling of the batch; D on
softplus(-D(HR)) + softplus(D(SR)); then G on mean(((stem(SR) - stem(HR)) / 12.75)^2) + 1e-3 x
softplus(-D(SR)), stem = the FID Inception TorchScript's own conv, conv_1, conv_2 submodules
(Conv2d_2b_3x3). Adam(1e-4, 0.9, 0.999). Losses read back every step, as gantry's family does.

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side.
Needs fid-inception-2015-12-05.torchscript.pt in $GANTRY_WEIGHTS, $GANTRY_SHARED/weights or
../shared/weights. Prints the median milliseconds per step as JSON on its last line.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import add_variant, inputs, prepare, report

FILE = "fid-inception-2015-12-05.torchscript.pt"


def inception_path():
    here = os.path.dirname(os.path.abspath(__file__))
    roots = [os.environ.get("GANTRY_WEIGHTS"),
             os.environ.get("GANTRY_SHARED") and os.path.join(os.environ["GANTRY_SHARED"], "weights"),
             os.path.join(here, "..", "..", "..", "shared", "weights"),
             os.path.expanduser("~/.cache/gantry/weights")]
    for r in roots:
        if r and os.path.isfile(os.path.join(r, FILE)):
            return os.path.join(r, FILE)
    raise SystemExit(f"{FILE} not found (set GANTRY_SHARED)")


class Block(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f), nn.PReLU(),
                                  nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f))

    def forward(self, x):
        return x + self.body(x)


class SRResNet(nn.Module):
    def __init__(self, c=3, f=64, blocks=16, scale=4):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(c, f, 9, 1, 4), nn.PReLU())
        self.blocks = nn.Sequential(*[Block(f) for _ in range(blocks)])
        self.trunk = nn.Sequential(nn.Conv2d(f, f, 3, 1, 1), nn.BatchNorm2d(f))
        ups = []
        for _ in range(scale.bit_length() - 1):
            ups += [nn.Conv2d(f, 4 * f, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU()]
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(f, c, 9, 1, 4)

    def forward(self, x):
        skip = self.head(x)
        return torch.tanh(self.tail(self.up(self.trunk(self.blocks(skip)) + skip)))


def discriminator(c=3, f=64, size=64):
    plan = [(f, 1), (f, 2), (2 * f, 1), (2 * f, 2), (4 * f, 1), (4 * f, 2), (8 * f, 1), (8 * f, 2)]
    layers, cin = [], c
    for i, (w, s) in enumerate(plan):
        layers.append(nn.Conv2d(cin, w, 3, s, 1))
        if i > 0:
            layers.append(nn.BatchNorm2d(w))
        layers.append(nn.LeakyReLU(0.2))
        cin = w
    side = size // 16
    layers += [nn.Flatten(), nn.Linear(8 * f * side * side, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15)
    add_variant(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G, D = SRResNet(), discriminator()
    stem = torch.jit.load(inception_path()).net.layers
    for p in stem.parameters():
        p.requires_grad_(False)

    def features(x):
        return stem.conv_2(stem.conv_1(stem.conv(x)))

    prepare(args.variant, G, D, stem)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.9, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.9, 0.999))
    hr = inputs(args.variant, torch.rand(args.batch, 3, 64, 64) * 2 - 1)

    def step():
        with torch.no_grad():
            lr = F.interpolate(hr, size=(16, 16), mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
        sr = G(lr)
        fake, real = D(sr.detach()).view(-1), D(hr).view(-1)
        d_loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        out = [d_loss.item(), real.mean().item(), fake.mean().item()]
        mse = ((sr - hr) ** 2).mean()
        with torch.no_grad():
            target = features(hr)
        content = (((features(sr) - target) / 12.75) ** 2).mean()
        adv = F.softplus(-D(sr).view(-1)).mean()
        loss = content + 1e-3 * adv
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        return out + [loss.item(), adv.item(), content.item(), mse.item()]

    report(step, args.warmup, args.steps, batch=args.batch, g_params=sum(p.numel() for p in G.parameters()),
           variant=args.variant)


if __name__ == "__main__":
    main()
