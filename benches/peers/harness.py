"""The timing harness every peer shares: run `fn` `warmup` times, time `repeats` calls, and print
the median milliseconds (plus `info`) as the JSON object `cargo xtask bench` reads from the last
line of stdout."""
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
