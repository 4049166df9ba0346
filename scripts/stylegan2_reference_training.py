"""Diagnostic: train StyleGAN2-ADA's own networks with its own StyleGAN2Loss and phase schedule
(Gmain, Greg every 4, Dmain, Dreg every 16, Adam lr and β rescaled by interval/(interval + 1))
at the `stylegan2-mnist` preset's sizes, on the first 5,000 MNIST test digits padded to 32×32, on
the CPU; prints the per-pixel standard deviation of 64 fixed latents' images every 100 steps (the
collapse measure of gantry's README). Compare with `gantry train --preset stylegan2-mnist`.

    python scripts/stylegan2_reference_training.py LR R1_GAMMA STEPS

Needs a checkout of https://github.com/NVlabs/stylegan2-ada-pytorch at /tmp/sg2ada (or edit the
path; its code is not part of gantry) and MNIST in gantry's cache (`cargo xtask datasets fetch mnist`).
"""
import gzip, os, sys, time

import numpy as np
import torch
sys.path.insert(0, os.environ.get('STYLEGAN2_ADA', '/tmp/sg2ada'))
from training import networks
from training.loss import StyleGAN2Loss
torch.manual_seed(0); torch.set_num_threads(2)
lr = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0025
gamma = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 500
d = np.frombuffer(gzip.open(os.path.expanduser('~/.cache/gantry/datasets/mnist/t10k-images-idx3-ubyte.gz')).read()[16:], dtype=np.uint8).reshape(-1, 28, 28)[:5000]
x = torch.tensor(np.pad(d, ((0,0),(2,2),(2,2))), dtype=torch.float32).unsqueeze(1) / 127.5 - 1
G = networks.Generator(z_dim=64, c_dim=0, w_dim=64, img_resolution=32, img_channels=1, mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=1024, channel_max=64))
D = networks.Discriminator(c_dim=0, img_resolution=32, img_channels=1, channel_base=1024, channel_max=64, epilogue_kwargs=dict(mbstd_group_size=4))
loss = StyleGAN2Loss('cpu', G.mapping, G.synthesis, D, r1_gamma=gamma)
def opt(m, every):
    r = every / (every + 1)
    return torch.optim.Adam(m.parameters(), lr=lr * r, betas=(0.0, 0.99 ** r), eps=1e-8)
oG, oD = opt(G, 4), opt(D, 16)
B = 32
zfix = torch.randn(64, 64)
t0 = time.time()
for it in range(steps):
    real = x[torch.randint(0, 5000, (B,))]
    c = torch.zeros(B, 0)
    for name, mod, o, every in [('G', G, oG, 4), ('D', D, oD, 16)]:
        for phase, gain in [('main', 1), ('reg', every)]:
            if phase == 'reg' and it % every != 0: continue
            o.zero_grad(set_to_none=True); mod.requires_grad_(True)
            loss.accumulate_gradients(phase=name + phase, real_img=real, real_c=c, gen_z=torch.randn(B, 64), gen_c=c, sync=True, gain=gain)
            mod.requires_grad_(False)
            o.step()
    if (it + 1) % 100 == 0:
        with torch.no_grad():
            G.eval(); img = G(zfix, None, noise_mode='const'); G.train()
            real_logits = D(real, None).mean().item(); fake_logits = D(G(torch.randn(B, 64), None), None).mean().item()
        print(f'step {it+1}: image std across z {img.std(0).mean():.4f}  D(real) {real_logits:.2f} D(fake) {fake_logits:.2f}  {(time.time()-t0)/(it+1):.3f} s/step', flush=True)
