"""Convert a BigGAN generator saved by ajbrock/BigGAN-PyTorch (`weights/<experiment>/G_ema.pth`
or `G.pth`, their `utils.save_weights`; also their released I128 checkpoint's) into a gantry
checkpoint that `gantry sample` and `gantry eval` load:

    python scripts/convert_biggan.py G_ema.pth biggan128.safetensors --sn-eps 1e-6
    gantry sample --ckpt biggan128.safetensors --class 207 --truncation 0.5 --out dogs.png

Needs only torch (any 2.x). gantry keeps their parameter names (`linear.weight`,
`blocks.0.0.bn1.gain.weight`, …), so the state dict is written as it is, under `g.`, with the
metadata that rebuilds the network: the `biggan-128` preset with `--set` overrides read from the
weights — the resolution (from the number of blocks), the width, the classes, the shared
embedding and hierarchical z (from the BatchNorms' input size), attention (which blocks have
one). What the weights cannot say is given here: `--sn-eps` (their `SN_eps`: 1e-6 in the
ImageNet scripts, 1e-8 in the CIFAR one, 1e-4 for TFHub ports), `--bn-eps` (`BN_eps`, 1e-5),
`--sample-bn eval|batch|standing` (how samples use BatchNorm; their CIFAR script evaluated in
training mode, `batch`).
"""
import argparse
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_pix2pix import save_safetensors  # noqa: E402  (the safetensors writer by hand)

BLOCKS_TO_RESOLUTION = {3: 32, 4: 64, 5: 128, 6: 256, 7: 512}
# G_arch's first block input per resolution, in units of ch.
FIRST_IN = {32: 4, 64: 16, 128: 16, 256: 16, 512: 16}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pth", help="their G_ema.pth or G.pth (a Generator's state dict)")
    p.add_argument("out", help="the gantry checkpoint to write (.safetensors)")
    p.add_argument("--sn-eps", type=float, default=1e-6, help="their SN_eps (default 1e-6, the ImageNet scripts')")
    p.add_argument("--bn-eps", type=float, default=1e-5, help="their BN_eps (default 1e-5)")
    p.add_argument("--sample-bn", choices=["eval", "batch", "standing"], default="eval")
    a = p.parse_args()

    sd = torch.load(a.pth, map_location="cpu", weights_only=True)
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    sd = {re.sub(r"^module\.", "", k): v for k, v in sd.items()}
    if "linear.weight" not in sd or "output_layer.2.weight" not in sd:
        raise SystemExit(f"{a.pth}: not a BigGAN-PyTorch Generator state dict (no linear.weight / output_layer.2.weight)")
    blocks = sorted({int(m.group(1)) for k in sd for m in [re.match(r"blocks\.(\d+)\.0\.", k)] if m})
    n = len(blocks)
    if n not in BLOCKS_TO_RESOLUTION:
        raise SystemExit(f"{a.pth}: {n} generator blocks; BigGAN has 3 (32x32) to 7 (512x512)")
    res = BLOCKS_TO_RESOLUTION[n]
    first_in = sd["blocks.0.0.conv1.weight"].shape[1]
    ch = first_in // FIRST_IN[res]
    shared = "shared.weight" in sd
    gain = sd["blocks.0.0.bn1.gain.weight"]
    if shared:
        classes, shared_dim = sd["shared.weight"].shape
        chunk = gain.shape[1] - shared_dim
        hier = chunk > 0
        dim_z = chunk * (n + 1) if hier else sd["linear.weight"].shape[1]
    else:
        classes = gain.shape[0]  # per-class gains: nn.Embedding(n_classes, C)
        shared_dim, hier, dim_z = 0, False, sd["linear.weight"].shape[1]
    attention = [8 << i for i in blocks if f"blocks.{i}.1.gamma" in sd]
    sets = [
        f"model.size={res}",
        f"model.classes={classes}",
        f"model.g_ch={ch}",
        f"model.d_ch={ch}",
        f"model.dim_z={dim_z}",
        f"model.g_attention=\"{'_'.join(map(str, attention)) or '0'}\"",
        "model.d_attention=\"0\"",
        f"model.shared={'true' if shared else 'false'}",
        f"model.shared_dim={shared_dim}",
        f"model.hier={'true' if hier else 'false'}",
        f"model.bn_eps={a.bn_eps!r}",
        f"model.sn_eps={a.sn_eps!r}",
        f"model.sample_bn=\"{a.sample_bn}\"",
        # The converted file holds one generator, sampled from directly.
        "train.ema_decay=0.0",
    ]
    metadata = {"gantry.preset": "biggan-128", "gantry.set": "\n".join(sets), "gantry.source": a.pth}
    save_safetensors({f"g.{k}": v for k, v in sd.items()}, metadata, a.out)
    print(f"wrote {a.out}: BigGAN {res}x{res}, ch {ch}, {classes} classes, dim_z {dim_z}"
          f"{', shared ' + str(shared_dim) if shared else ''}{', hierarchical z' if hier else ''}"
          f", attention at {attention or 'none'} ({len(sd)} tensors)")


if __name__ == "__main__":
    main()
