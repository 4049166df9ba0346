"""PyTorch peer of benches/pix2pix_step.rs: pix2pix's networks at 64x64 (a U-Net with 6
downsamplings, ngf 64, BatchNorm, dropout in its inner ngf*8 block, grey -> RGB; the 70x70
PatchGAN, ndf 64, on the 4-channel (A, B) pair) and the authors' training step, written from the
paper's description (not the authors' code): G(A) once; D on (A, G(A).detach()) then on (A, B),
loss 0.5·(BCE-with-logits fake + real), Adam; then G with D frozen on BCE(D(A, G(A)), real) +
100·L1, Adam(2e-4, 0.5, 0.999). The losses and D's mean outputs are read back every step, as
gantry's family does.

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side:
`--batch 1` and `--batch 16`. Prints the median milliseconds per step as JSON on its last line.
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import add_variant, dcgan_init, inputs, prepare, report


class Block(nn.Module):
    """One U-Net level: [LeakyReLU] Conv4 s2 [BN] | inner | ReLU ConvT4 s2 [BN] [Dropout] | skip."""

    def __init__(self, outer, inner, inp=None, sub=None, outermost=False, innermost=False, dropout=False):
        super().__init__()
        inp = inp or outer
        self.outermost = outermost
        down = [nn.Conv2d(inp, inner, 4, 2, 1, bias=False)]
        if not outermost:
            down = [nn.LeakyReLU(0.2)] + down + ([] if innermost else [nn.BatchNorm2d(inner)])
        up_in = inner if innermost else inner * 2
        up = [nn.ReLU(), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=outermost)]
        up += [nn.Tanh()] if outermost else [nn.BatchNorm2d(outer)]
        if dropout:
            up += [nn.Dropout(0.5)]
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        x = F.leaky_relu(x, 0.2)
        return torch.cat([x, self.model[1:](x)], 1)


def unet(input_nc=1, output_nc=3, num_downs=6, ngf=64):
    b = Block(ngf * 8, ngf * 8, innermost=True)
    for _ in range(num_downs - 5):
        b = Block(ngf * 8, ngf * 8, sub=b, dropout=True)
    b = Block(ngf * 4, ngf * 8, sub=b)
    b = Block(ngf * 2, ngf * 4, sub=b)
    b = Block(ngf, ngf * 2, sub=b)
    return Block(output_nc, ngf, inp=input_nc, sub=b, outermost=True)


def patchgan(input_nc=4, ndf=64, n_layers=3):
    layers = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** n, 8)
        stride = 2 if n < n_layers else 1
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1, bias=False), nn.BatchNorm2d(ndf * mult),
                   nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    add_variant(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G, D = unet(), patchgan()
    G.apply(dcgan_init)
    D.apply(dcgan_init)
    prepare(args.variant, G, D)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    a = torch.rand(args.batch, 1, 64, 64) * 2 - 1
    b = torch.rand(args.batch, 3, 64, 64) * 2 - 1
    a, b = inputs(args.variant, a, b)

    def step():
        fake = G(a)
        fake_out = D(torch.cat([a, fake.detach()], 1))
        real_out = D(torch.cat([a, b], 1))
        d_loss = (F.softplus(fake_out).mean() + F.softplus(-real_out).mean()) * 0.5
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        stats = [d_loss.item(), real_out.mean().item(), fake_out.mean().item()]
        D.requires_grad_(False)
        gan = F.softplus(-D(torch.cat([a, fake], 1))).mean()
        l1 = (fake - b).abs().mean()
        g_loss = gan + 100.0 * l1
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        stats += [g_loss.item(), gan.item(), l1.item()]
        return stats

    params = (sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters()))
    report(step, args.warmup, args.steps, batch=args.batch, g_params=params[0], d_params=params[1],
           variant=args.variant)


if __name__ == "__main__":
    main()
