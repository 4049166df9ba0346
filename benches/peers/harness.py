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
