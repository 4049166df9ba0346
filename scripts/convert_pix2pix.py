"""Convert a pix2pix generator trained with the authors' code (junyanz/pytorch-CycleGAN-and-pix2pix,
`checkpoints/<name>/latest_net_G.pth`) into a gantry checkpoint that `gantry translate` loads:

    python scripts/convert_pix2pix.py latest_net_G.pth facades_G.safetensors --size 256
    gantry translate --ckpt facades_G.safetensors --input facades/test --paired --out grid.png

Needs only torch (any 2.x). The U-Net's shape (input/output channels, ngf, depth, norm) is read
from the weights; `--size` is the image side it was trained at (the authors' `--crop_size`,
256), `--direction BtoA` if it was trained so, `--no-dropout` if it was trained with
`--no_dropout`, and `--eval` for the authors' `test.py --eval` (running statistics, no dropout;
the default is the paper's test-time behaviour). gantry keeps the authors' parameter names
(`model.model.0.weight`, …), so the state dict is written as it is, under `g.`, with the
metadata that rebuilds the network: the `pix2pix-facades` preset with `--set` overrides.
"""
import argparse
import json
import os
import re
import struct

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.int64: "I64"}


def save_safetensors(tensors, metadata, path):
    """The safetensors format by hand (8-byte header length, JSON header, raw little-endian data),
    so that no package beside torch is needed; written atomically."""
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    tmp = f"{path}.{os.getpid()}.tmp"  # written whole, then renamed: never a half-written file
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pth", help="the authors' latest_net_G.pth (a UnetGenerator's state dict)")
    p.add_argument("out", help="the gantry checkpoint to write (.safetensors)")
    p.add_argument("--size", type=int, default=256, help="the image side it was trained at (--crop_size)")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB")
    p.add_argument("--no-dropout", action="store_true", help="it was trained with --no_dropout")
    p.add_argument("--eval", action="store_true", help="translate as test.py --eval does")
    a = p.parse_args()

    sd = torch.load(a.pth, map_location="cpu", weights_only=True)
    sd = {re.sub(r"^module\.", "", k): v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    if "model.model.0.weight" not in sd:
        raise SystemExit(f"{a.pth}: not a UnetGenerator state dict (no model.model.0.weight)")
    ngf, input_nc = sd["model.model.0.weight"].shape[:2]
    output_nc = sd["model.model.3.weight"].shape[1]
    # Block k's parameters sit under k + 2 "model." levels (model.model.0 is the outermost's): the
    # deepest block is the innermost, and there is one downsampling per block.
    num_downs = max(k.count("model.") for k in sd) - 1
    norm = "batch" if any(k.endswith("running_mean") for k in sd) else "instance"
    if a.size % (1 << num_downs):
        raise SystemExit(f"--size {a.size} is not a multiple of 2^{num_downs} (the U-Net has {num_downs} downsamplings)")
    sets = [
        f"model.size={a.size}",
        f"model.input_channels={input_nc}",
        f"model.output_channels={output_nc}",
        f"model.ngf={ngf}",
        f"model.num_downs={num_downs}",
        f"model.norm={norm}",
        f"model.dropout={'false' if a.no_dropout else 'true'}",
        f"model.a_to_b={'true' if a.direction == 'AtoB' else 'false'}",
        f"model.test_mode={'eval' if a.eval else 'paper'}",
    ]
    metadata = {"gantry.preset": "pix2pix-facades", "gantry.set": "\n".join(sets), "gantry.source": a.pth}
    save_safetensors({f"g.{k}": v for k, v in sd.items()}, metadata, a.out)
    print(f"wrote {a.out}: U-Net {input_nc} -> {output_nc}, ngf {ngf}, {num_downs} downsamplings, {norm} norm "
          f"({len(sd)} tensors); {' '.join(sets)}")


if __name__ == "__main__":
    main()
