"""Convert torchvision's ImageNet VGG19 (`vgg19-dcbb9e9d.pth`, from
https://download.pytorch.org/models/ or a torch hub cache) into the safetensors file that SRGAN's
VGG content losses load (`train.content = "vgg54"` or `"vgg22"`, `train.content_weights = PATH`):

    python scripts/convert_vgg19.py ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth vgg19.safetensors
    gantry train --preset srgan-cifar --set train.content=vgg54 --set train.content_weights=vgg19.safetensors

Needs only torch (any 2.x). gantry's VGG19 keeps torchvision's names (`features.<index>.weight`),
so the `features.*` tensors are written as they are (the classifier is not needed). When the file
name carries torchvision's hash prefix (`-dcbb9e9d`), the file's sha256 is checked against it, as
torchvision does.
"""
import argparse
import hashlib
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convert_pix2pix import save_safetensors  # noqa: E402

# torchvision's vgg19().features: conv indices and their (out, in) channels.
CONVS = [(0, 64, 3), (2, 64, 64), (5, 128, 64), (7, 128, 128), (10, 256, 128), (12, 256, 256),
         (14, 256, 256), (16, 256, 256), (19, 512, 256), (21, 512, 512), (23, 512, 512),
         (25, 512, 512), (28, 512, 512), (30, 512, 512), (32, 512, 512), (34, 512, 512)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pth", help="torchvision's vgg19-dcbb9e9d.pth (a VGG19 state dict)")
    p.add_argument("out", help="the safetensors file to write")
    a = p.parse_args()

    m = re.search(r"-([0-9a-f]{8,})\.pth$", os.path.basename(a.pth))
    if m:
        with open(a.pth, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if not digest.startswith(m.group(1)):
            raise SystemExit(f"{a.pth}: sha256 {digest[:16]}… does not start with the name's {m.group(1)}: a corrupt or different file")

    sd = torch.load(a.pth, map_location="cpu", weights_only=True)
    out = {}
    for index, cout, cin in CONVS:
        for kind, shape in (("weight", (cout, cin, 3, 3)), ("bias", (cout,))):
            name = f"features.{index}.{kind}"
            if name not in sd:
                raise SystemExit(f"{a.pth}: not a torchvision VGG19 state dict (no {name})")
            if tuple(sd[name].shape) != shape:
                raise SystemExit(f"{a.pth}: {name} has shape {tuple(sd[name].shape)}, expected {shape} (VGG19)")
            out[name] = sd[name].float()
    tmp = a.out + ".tmp"
    save_safetensors(out, {"source": os.path.basename(a.pth), "network": "torchvision vgg19 features"}, tmp)
    os.replace(tmp, a.out)
    print(f"wrote {a.out} ({len(out)} tensors)")


if __name__ == "__main__":
    main()
