"""The timing harness every peer shares: run `fn` `warmup` times, time `repeats` calls, and print
the median milliseconds (plus `info`) as the JSON object `cargo xtask bench` reads from the last
line of stdout.

Every peer also runs in the configurations a PyTorch user tuning for speed would try
(`--variant`): eager with contiguous NCHW tensors (`eager`), eager with the networks and their 4-D
inputs in `torch.channels_last` (`channels_last`: oneDNN's NHWC kernels on the CPU, tensor cores'
layout on GPUs), and each network through `torch.compile` (`compile`: Inductor, default mode).
`cargo xtask bench` runs all three and compares gantry with the fastest."""
import json
import statistics
import time


def report(fn, warmup, repeats, **info):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    print(json.dumps({"median_ms": statistics.median(times), **info}))


VARIANTS = ("eager", "channels_last", "compile")


def add_variant(ap):
    """The `--variant` flag (see the module's doc)."""
    ap.add_argument("--variant", choices=VARIANTS, default="eager",
                    help="eager NCHW, eager channels-last, or torch.compile of each network")


def prepare(variant, *nets):
    """Puts `nets` in the variant's form, in place (the parameters stay the same objects, so an
    optimiser made before or after steps them either way)."""
    import torch

    for net in nets:
        if variant == "channels_last":
            net.to(memory_format=torch.channels_last)
        elif variant == "compile" and not isinstance(net, torch.jit.ScriptModule):
            net.compile()  # a TorchScript network (SRGAN's frozen stem) stays as it is


def inputs(variant, *xs):
    """The 4-D tensors of `xs` in the variant's memory format (the others as they are); one tensor
    for one argument."""
    import torch

    out = [x.contiguous(memory_format=torch.channels_last) if variant == "channels_last" and x.dim() == 4 else x
           for x in xs]
    return out[0] if len(out) == 1 else out


def dcgan_init(m):
    """The DCGAN/pix2pix initialisation: conv and linear weights N(0, 0.02), biases 0, BatchNorm
    weights N(1, 0.02), biases 0 (apply with `net.apply(dcgan_init)`)."""
    import torch.nn as nn

    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
