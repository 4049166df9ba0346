"""PyTorch peer of benches/stylegan2_step.rs: the StyleGAN2 networks gantry builds (config F as
StyleGAN2-ADA: mapping network with lr multiplier 0.01, skip generator with modulated/demodulated
3x3 convolutions, [1,3,3,1] FIR resampling, per-layer noise, residual discriminator with minibatch
stddev) at the sizes of the `stylegan2-mnist` (32x32) and `stylegan2-orl` (64x64) presets, written
from the papers for this benchmark, and the same training step: a D step on real + no-grad fakes,
then a G step, non-saturating logistic loss, Adam(0.0025, betas (0, 0.99), eps 1e-8), fresh noise,
the non-fused modulation path StyleGAN2-ADA trains with, w_avg tracking, and the losses read back
every step as gantry's recipe does. Lazy regularisers, style mixing and the EMA are off on both
sides (the bench measures the main step).

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side.
Prints the median milliseconds per step as a JSON object on its last line.
"""
import argparse
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness import add_variant, inputs, prepare, report

SQRT2 = math.sqrt(2.0)


def fir():
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = f[:, None] * f[None, :]
    return f / f.sum()


def blur(x, f, pad, gain=1.0, down=1):
    """Depthwise FIR filter with zero padding (pad = (left/top, right/bottom)), then stride."""
    c = x.shape[1]
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    w = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, w, stride=down, groups=c)


def upsample2d(x, f):
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return blur(up, f, (2, 1), gain=4.0)


def lrelu(x, gain=SQRT2):
    return F.leaky_relu(x, 0.2) * gain


class FC(nn.Module):
    def __init__(self, i, o, act=True, lr_mul=1.0, bias_init=0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i) / lr_mul)
        self.bias = nn.Parameter(torch.full([o], float(bias_init)))
        self.wg, self.bg, self.act = lr_mul / math.sqrt(i), lr_mul, act

    def forward(self, x):
        x = F.linear(x, self.weight * self.wg, self.bias * self.bg)
        return lrelu(x) if self.act else x


class Mapping(nn.Module):
    def __init__(self, z_dim, w_dim, num_ws, layers):
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.fcs = nn.ModuleList(FC(dims[i], dims[i + 1], lr_mul=0.01) for i in range(layers))
        self.num_ws = num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z):
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        for fc in self.fcs:
            x = fc(x)
        with torch.no_grad():
            self.w_avg.copy_(x.detach().mean(0).lerp(self.w_avg, 0.995))
        return x[:, None].repeat(1, self.num_ws, 1)


class ModConv(nn.Module):
    """Modulated conv (non-fused path): x·s → conv → ·demod; noise, bias, LReLU."""

    def __init__(self, ic, oc, w_dim, k, res, up=False, demod=True, act=True, noise=True):
        super().__init__()
        self.affine = FC(w_dim, ic, act=False, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(oc, ic, k, k))
        self.bias = nn.Parameter(torch.zeros(oc))
        self.up, self.demod, self.act, self.k = up, demod, act, k
        self.style_gain = 1.0 if demod else 1.0 / math.sqrt(ic * k * k)
        if noise:
            self.register_buffer("noise_const", torch.randn(res, res))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        else:
            self.noise_strength = None
        self.register_buffer("f", fir())

    def forward(self, x, w):
        s = self.affine(w) * self.style_gain
        wt = self.weight
        if self.demod:
            s = s * s.square().mean().rsqrt()  # the reference's pre-normalisation of styles
            wt = wt * wt.square().mean([1, 2, 3], keepdim=True).rsqrt()
            d = ((wt[None] * s[:, None, :, None, None]).square().sum([2, 3, 4]) + 1e-8).rsqrt()
        x = x * s[:, :, None, None]
        if self.up:
            x = F.conv_transpose2d(x, wt.transpose(0, 1), stride=2)
            x = blur(x, self.f, (1, 1), gain=4.0)
        else:
            x = F.conv2d(x, wt, padding=self.k // 2)
        if self.demod:
            x = x * d[:, :, None, None]
        if self.noise_strength is not None:
            n, _, h, w_ = x.shape
            x = x + torch.randn(n, 1, h, w_) * self.noise_strength
        x = x + self.bias[None, :, None, None]
        return lrelu(x) if self.act else x


class GBlock(nn.Module):
    def __init__(self, ic, oc, w_dim, res, img_c):
        super().__init__()
        self.res = res
        if res == 4:
            self.const = nn.Parameter(torch.randn(oc, 4, 4))
        else:
            self.conv0 = ModConv(ic, oc, w_dim, 3, res, up=True)
        self.conv1 = ModConv(oc, oc, w_dim, 3, res)
        self.torgb = ModConv(oc, img_c, w_dim, 1, res, demod=False, act=False, noise=False)
        self.register_buffer("f", fir())

    def forward(self, x, img, ws):
        i = 0
        if self.res == 4:
            x = self.const[None].repeat(ws.shape[0], 1, 1, 1)
        else:
            x = self.conv0(x, ws[:, 0])
            i = 1
        x = self.conv1(x, ws[:, i])
        y = self.torgb(x, ws[:, i + 1])
        img = y if img is None else upsample2d(img, self.f) + y
        return x, img


class Generator(nn.Module):
    def __init__(self, res, img_c, z_dim, w_dim, layers, base, cmax):
        super().__init__()
        ch = lambda r: min(base // r, cmax)  # noqa: E731
        resolutions = [2 ** i for i in range(2, int(math.log2(res)) + 1)]
        self.blocks = nn.ModuleList(GBlock(ch(r // 2) if r > 4 else 0, ch(r), w_dim, r, img_c) for r in resolutions)
        self.num_ws = 1 + 2 * (len(resolutions) - 1) + 1
        self.mapping = Mapping(z_dim, w_dim, self.num_ws, layers)

    def forward(self, z):
        ws = self.mapping(z)
        x = img = None
        i = 0
        for b in self.blocks:
            n = 1 if b.res == 4 else 2
            x, img = b(x, img, ws[:, i:i + n + 1])
            i += n
        return img


class Conv(nn.Module):
    def __init__(self, ic, oc, k, bias=True, act=True, down=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(oc, ic, k, k))
        self.bias = nn.Parameter(torch.zeros(oc)) if bias else None
        self.wg, self.k, self.act, self.down = 1.0 / math.sqrt(ic * k * k), k, act, down
        self.register_buffer("f", fir())

    def forward(self, x, gain=1.0):
        w = self.weight * self.wg
        if self.down and self.k == 1:
            x = F.conv2d(blur(x, self.f, (1, 1), down=2), w)
        elif self.down:
            x = F.conv2d(blur(x, self.f, (2, 2)), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.k // 2)
        if self.bias is not None:
            x = x + self.bias[None, :, None, None]
        return lrelu(x, SQRT2 * gain) if self.act else x * gain


class DBlock(nn.Module):
    def __init__(self, ic, tc, oc, img_c):
        super().__init__()
        self.fromrgb = Conv(img_c, tc, 1) if ic == 0 else None
        self.conv0 = Conv(tc, tc, 3)
        self.conv1 = Conv(tc, oc, 3, down=True)
        self.skip = Conv(tc, oc, 1, bias=False, act=False, down=True)

    def forward(self, x, img):
        if self.fromrgb is not None:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


class Discriminator(nn.Module):
    def __init__(self, res, img_c, base, cmax, group=4):
        super().__init__()
        ch = lambda r: min(base // r, cmax)  # noqa: E731
        resolutions = [2 ** i for i in range(int(math.log2(res)), 2, -1)]
        self.blocks = nn.ModuleList(DBlock(ch(r) if r < res else 0, ch(r), ch(r // 2), img_c) for r in resolutions)
        c4 = ch(4)
        self.group = group
        self.conv = Conv(c4 + 1, c4, 3)
        self.fc = FC(c4 * 16, c4)
        self.out = FC(c4, 1, act=False)

    def forward(self, img):
        x = None
        for b in self.blocks:
            x = b(x, img)
        n, c, h, w = x.shape
        g = min(self.group, n)
        y = x.reshape(g, -1, 1, c, h, w)
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt().mean([2, 3, 4]).reshape(-1, 1, 1, 1)
        x = torch.cat([x, y.repeat(g, 1, h, w)], 1)
        x = self.conv(x).flatten(1)
        return self.out(self.fc(x)).flatten()


SIZES = {
    # resolution: (channel_base, channel_max) as the stylegan2-mnist and stylegan2-orl presets.
    32: (1024, 64),
    64: (2048, 64),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--resolution", type=int, default=32, choices=sorted(SIZES))
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    add_variant(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base, cmax = SIZES[args.resolution]
    G = Generator(args.resolution, 1, 64, 64, 2, base, cmax)
    D = Discriminator(args.resolution, 1, base, cmax)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    adam = dict(lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
    prepare(args.variant, G, D)
    opt_g, opt_d = torch.optim.Adam(G.parameters(), **adam), torch.optim.Adam(D.parameters(), **adam)
    b = args.batch
    real = inputs(args.variant, torch.rand(b, 1, args.resolution, args.resolution) * 2 - 1)

    def step():
        with torch.no_grad():
            fake = G(torch.randn(b, 64))
        real_out, fake_out = D(real), D(fake)
        d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        stats = [d_loss.item(), real_out.mean().item(), fake_out.mean().item()]
        D.requires_grad_(False)
        g_loss = F.softplus(-D(G(torch.randn(b, 64)))).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        stats.append(g_loss.item())
        return stats

    report(step, args.warmup, args.steps, threads=args.threads, torch=torch.__version__,
           resolution=args.resolution, g_params=count(G), d_params=count(D), variant=args.variant)


if __name__ == "__main__":
    main()
