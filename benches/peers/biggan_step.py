"""PyTorch peer of benches/biggan_step.rs: BigGAN-PyTorch's own networks (`BigGAN.py`, `layers.py`
of ajbrock/BigGAN-PyTorch, imported from `--biggan-code DIR`; gantry does not ship them) and one
iteration of their `train_fns.GAN_training_function` (transcribed statement by statement: their
train_fns imports their data utilities, which need h5py and torchvision): `num_D_steps` D steps on
fresh z, y with fakes and reals in one D forward (`G_D`, `split_D` off) and hinge loss, D and G
grads toggled, then a G step, then their `utils.ema` update; the losses read back as their loop
does. `--config cifar`: their launch_cifar_ema.sh (ch 64, batch 50, 4 D steps, no attention,
N(0, 0.02) init); `--config cpu`: gantry's biggan-cifar10-cpu (ch 16, batch 32, 2 D steps, shared
128, hierarchical z with dim_z 120, attention at 16 in G, ortho init).

Run by `cargo xtask bench` with the setup venv's Python and the same thread count as the Rust side
(`$GANTRY_BIGGAN_CODE` names their checkout). Prints the median milliseconds per step as a JSON
object on its last line.
"""
import argparse
import sys

import torch

from harness import add_variant, inputs, prepare, report

CONFIGS = {
    "cifar": dict(
        batch=50, d_steps=4,
        g=dict(G_ch=64, dim_z=128, G_attn="0", G_shared=False, hier=False, SN_eps=1e-8, G_init="N02"),
        d=dict(D_ch=64, D_attn="0", SN_eps=1e-8, D_init="N02"),
    ),
    "cpu": dict(
        batch=32, d_steps=2,
        g=dict(G_ch=16, dim_z=120, G_attn="16", G_shared=True, shared_dim=128, hier=True, SN_eps=1e-6, G_init="ortho"),
        d=dict(D_ch=16, D_attn="0", SN_eps=1e-6, D_init="ortho"),
    ),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", choices=CONFIGS, default="cifar")
    p.add_argument("--biggan-code", required=True, help="a checkout of ajbrock/BigGAN-PyTorch")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, required=True)
    add_variant(p)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, a.biggan_code)
    import BigGAN  # noqa: E402  (their code)

    c = CONFIGS[a.config]
    common = dict(resolution=32, n_classes=10, BN_eps=1e-5)
    torch.manual_seed(0)
    G = BigGAN.Generator(**common, **c["g"], G_lr=2e-4, G_B1=0.0, G_B2=0.999)
    D = BigGAN.Discriminator(resolution=32, n_classes=10, **c["d"], D_lr=2e-4, D_B1=0.0, D_B2=0.999)
    G_ema = BigGAN.Generator(**common, **c["g"], no_optim=True)
    prepare(a.variant, G, D, G_ema)
    GD = BigGAN.G_D(G, D)
    bs, n_d = c["batch"], c["d_steps"]
    src, tgt = G.state_dict(), G_ema.state_dict()
    with torch.no_grad():
        for k in src:
            tgt[k].copy_(src[k])
    x = inputs(a.variant, torch.rand(bs * n_d, 3, 32, 32) * 2 - 1)
    y = torch.arange(bs * n_d) % 10
    state = {"itr": 0}

    def toggle(net, on):
        for q in net.parameters():
            q.requires_grad = on

    def step():
        state["itr"] += 1
        G.train(), D.train()
        G.optim.zero_grad()
        D.optim.zero_grad()
        xs, ys = torch.split(x, bs), torch.split(y, bs)
        toggle(D, True), toggle(G, False)
        for i in range(n_d):
            D.optim.zero_grad()
            z_, y_ = torch.randn(bs, G.dim_z), torch.randint(0, 10, (bs,))
            D_fake, D_real = GD(z_, y_, xs[i], ys[i], train_G=False, split_D=False)
            loss_real = torch.mean(torch.relu(1.0 - D_real))
            loss_fake = torch.mean(torch.relu(1.0 + D_fake))
            (loss_real + loss_fake).backward()
            D.optim.step()
        toggle(D, False), toggle(G, True)
        G.optim.zero_grad()
        z_, y_ = torch.randn(bs, G.dim_z), torch.randint(0, 10, (bs,))
        D_fake = GD(z_, y_, train_G=True, split_D=False)
        G_loss = -torch.mean(D_fake)
        G_loss.backward()
        G.optim.step()
        decay = 0.0 if state["itr"] < 1000 else 0.9999  # their utils.ema
        with torch.no_grad():
            for k in src:
                tgt[k].copy_(tgt[k] * decay + src[k] * (1 - decay))
        return float(G_loss.item()), float(loss_real.item()), float(loss_fake.item())

    report(step, warmup=1 if a.variant != "compile" else 3, repeats=a.repeats, config=a.config, batch=bs,
           d_steps=n_d, variant=a.variant)


if __name__ == "__main__":
    main()
