"""PyTorch peer of benches/cyclegan_step.rs: CycleGAN's networks at 64x64 RGB (two ResNet
generators with 6 residual blocks, ngf 64, instance norm without affine parameters, reflection
padding; two 70x70 PatchGANs, ndf 64, instance norm) and the authors' training step, written from
the paper (not the authors' code): G(a), F(G(a)), F(b), G(F(b)); G and F on LSGAN (MSE) + 10 x
cycle L1 + 5 x identity L1, one Adam over both; then D_A and D_B on 0.5 x (MSE real + MSE fake),
the fakes through image pools of 50, one Adam over both. Losses read back every step, as gantry's
family does.

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side.
Prints the median milliseconds per step as JSON on its last line.
"""
import argparse
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import add_variant, dcgan_init, inputs, prepare, report


def norm(c):
    return nn.InstanceNorm2d(c, affine=False, track_running_stats=False)


class Residual(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim), nn.ReLU(),
                                   nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), norm(dim))

    def forward(self, x):
        return x + self.block(x)


def resnet(input_nc=3, output_nc=3, ngf=64, n_blocks=6):
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), norm(ngf), nn.ReLU()]
    for i in range(2):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm(2 * c), nn.ReLU()]
    layers += [Residual(ngf * 4) for _ in range(n_blocks)]
    for i in range(2):
        c = ngf * 4 // 2 ** i
        layers += [nn.ConvTranspose2d(c, c // 2, 3, 2, 1, output_padding=1), norm(c // 2), nn.ReLU()]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patchgan(input_nc=3, ndf=64, n_layers=3):
    layers = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
    mult = 1
    for n in range(1, n_layers + 1):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1), norm(ndf * mult), nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
    return nn.Sequential(*layers)


class Pool:
    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, x):
        out = []
        for image in x.detach().split(1):
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.random() > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    add_variant(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    G, Fg, DA, DB = resnet(), resnet(), patchgan(), patchgan()
    for net in (G, Fg, DA, DB):
        net.apply(dcgan_init)
    prepare(args.variant, G, Fg, DA, DB)
    opt_g = torch.optim.Adam(list(G.parameters()) + list(Fg.parameters()), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(DA.parameters()) + list(DB.parameters()), lr=2e-4, betas=(0.5, 0.999))
    pool_a, pool_b = Pool(), Pool()
    a = torch.rand(args.batch, 3, 64, 64) * 2 - 1
    b = torch.rand(args.batch, 3, 64, 64) * 2 - 1
    a, b = inputs(args.variant, a, b)

    def step():
        fake_b, fake_a = G(a), Fg(b)
        rec_a, rec_b = Fg(fake_b), G(fake_a)
        DA.requires_grad_(False)
        DB.requires_grad_(False)
        gan = ((DB(fake_b) - 1) ** 2).mean() + ((DA(fake_a) - 1) ** 2).mean()
        cyc = (rec_a - a).abs().mean() + (rec_b - b).abs().mean()
        idt = (G(b) - b).abs().mean() + (Fg(a) - a).abs().mean()
        g_loss = gan + 10 * cyc + 5 * idt
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        DA.requires_grad_(True)
        DB.requires_grad_(True)
        pb, pa = pool_b.query(fake_b), pool_a.query(fake_a)
        d_loss = 0.5 * (((DB(b) - 1) ** 2).mean() + (DB(pb) ** 2).mean()) \
            + 0.5 * (((DA(a) - 1) ** 2).mean() + (DA(pa) ** 2).mean())
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        return [g_loss.item(), gan.item(), cyc.item(), d_loss.item()]

    params = sum(p.numel() for net in (G, Fg) for p in net.parameters())
    report(step, args.warmup, args.steps, batch=args.batch, g_params=params, variant=args.variant)


if __name__ == "__main__":
    main()
