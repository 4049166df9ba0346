"""Peer of benches/metrics.rs `precision_recall/10k_x_10k_512d`: Kynkäänniemi et al.'s precision
and recall (k = 3) in NumPy, blocked k-NN on squared L2 distances (float32), on the same features."""
import argparse
import os

from harness import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    def features(n, d, a, b, c):
        i = np.arange(n, dtype=np.float64)[:, None]
        j = np.arange(d, dtype=np.float64)[None, :]
        return np.sin(a * i + b * j + c * i * j) + 0.1 * np.cos(2.1 * i - 0.7 * j)

    real = features(10000, 512, 0.13, 0.5, 0.0004).astype(np.float32)
    fake = (features(10000, 512, 0.17, 0.6, 0.0003) * 0.8).astype(np.float32)

    def sqdist(x, y):
        return np.maximum((x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * x @ y.T, 0)

    def radii(x, k, block=1024):
        out = []
        for s in range(0, len(x), block):
            d = sqdist(x[s:s + block], x)
            out.append(np.partition(d, k, axis=1)[:, k])  # k-th neighbour, self at index 0
        return np.concatenate(out)

    def inside(probe, ref, r, block=1024):
        out = []
        for s in range(0, len(probe), block):
            out.append((sqdist(probe[s:s + block], ref) <= r[None, :]).any(1))
        return np.concatenate(out)

    def pr():
        precision = inside(fake, real, radii(real, 3)).mean()
        recall = inside(real, fake, radii(fake, 3)).mean()
        return precision, recall

    report(pr, 1, args.repeats, threads=args.threads)


if __name__ == "__main__":
    main()
