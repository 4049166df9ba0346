"""Peer of benches/metrics.rs `frechet/2048d`: the Fréchet distance as pytorch-fid computes it
(scipy.linalg.sqrtm of Σ1·Σ2, float64), on the same 2048-d statistics (4096 formula features)."""
import argparse
import os

from harness import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np
    from scipy import linalg

    def features(n, d, a, b, c):
        i = np.arange(n, dtype=np.float64)[:, None]
        j = np.arange(d, dtype=np.float64)[None, :]
        return np.sin(a * i + b * j + c * i * j) + 0.1 * np.cos(2.1 * i - 0.7 * j)

    x1, x2 = features(4096, 2048, 0.37, 1.3, 0.001), features(4096, 2048, 0.41, 1.1, 0.0007)
    m1, s1, m2, s2 = x1.mean(0), np.cov(x1, rowvar=False), x2.mean(0), np.cov(x2, rowvar=False)

    def fid():
        covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
        covmean = covmean.real
        diff = m1 - m2
        return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)

    report(fid, 1, args.repeats, threads=args.threads)


if __name__ == "__main__":
    main()
