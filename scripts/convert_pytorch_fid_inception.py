"""Convert pytorch-fid's full FID Inception weights (with the 1008-class head) for gantry.

    pip install torch==2.11.0 torchvision==0.26.0 pytorch-fid==0.3.0
    python scripts/convert_pytorch_fid_inception.py pt_inception-2015-12-05-6726825d.pth \
        fid-inception-with-logits.torchscript.pt

The result is TorchScript taking images [N, 3, 299, 299] in [-1, 1] (gantry's preprocessing)
and returning (pool3 features [N, 2048], logits [N, 1008]); `gantry eval ... --inception FILE`
then computes FID/KID/PRDC from the features and the Inception Score from the logits.

The network is pytorch-fid's own `fid_inception_v3()` (its FIDInception* blocks); the weights
file is given to it through torch.hub's cache, so nothing is downloaded. `--random` builds the
same network with random weights instead (to test the conversion without the real file).
"""
import argparse
import os
import shutil
import tempfile

import torch
import torch.nn.functional as F


class WithLogits(torch.nn.Module):
    """pytorch-fid's Inception up to pool3, plus its fc head."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = n.Conv2d_1a_3x3(x)
        x = n.Conv2d_2a_3x3(x)
        x = n.Conv2d_2b_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = n.Conv2d_3b_1x1(x)
        x = n.Conv2d_4a_3x3(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d,
                      n.Mixed_6e, n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        features = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return features, n.fc(features)


def build(pth, random):
    from pytorch_fid import inception

    if random:
        # fid_inception_v3() without its weight download: same blocks, random initialisation.
        net = inception._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = inception.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = inception.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = inception.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = inception.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = inception.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = inception.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = inception.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = inception.FIDInceptionE_1(1280)
        net.Mixed_7c = inception.FIDInceptionE_2(2048)
        return net
    home = tempfile.mkdtemp()
    os.makedirs(os.path.join(home, "hub", "checkpoints"))
    shutil.copy(pth, os.path.join(home, "hub", "checkpoints", os.path.basename(inception.FID_WEIGHTS_URL)))
    os.environ["TORCH_HOME"] = home
    return inception.fid_inception_v3()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pth", nargs="?", help="pt_inception-2015-12-05-6726825d.pth")
    ap.add_argument("out")
    ap.add_argument("--random", action="store_true", help="random weights (tests only)")
    ap.add_argument("--reference-out", help="also save outputs on a fixed input (tests)")
    args = ap.parse_args()
    net = WithLogits(build(args.pth, args.random)).eval()
    example = torch.linspace(-1, 1, 2 * 3 * 299 * 299).reshape(2, 3, 299, 299)
    with torch.no_grad():
        scripted = torch.jit.trace(net, example)
        feats, logits = scripted(example)
    scripted.save(args.out)
    if args.reference_out:
        import json
        with open(args.reference_out, "w") as f:
            json.dump({"input": "linspace(-1, 1) over [2, 3, 299, 299]", "features": feats[:, :8].tolist(), "logits": logits[:, :8].tolist()}, f)
    print(f"wrote {args.out}: features {tuple(feats.shape)}, logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
