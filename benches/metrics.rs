//! Metric kernels against their Python references (`benches/peers/frechet.py`, `prdc.py`):
//! the Fréchet distance between 2048-d Gaussians, and precision/recall (k = 3) on 10k × 10k
//! features of dimension 512. Inputs are the deterministic formula both sides compute.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::metrics::{frechet_distance, precision_recall, FeatureStats, PrdcConfig};
use tch::{Device, Kind, Tensor};

/// sin(a·i + b·j + c·i·j) + 0.1·cos(2.1·i − 0.7·j), as the peers compute it.
fn features(n: i64, d: i64, a: f64, b: f64, c: f64) -> Tensor {
    let i = Tensor::arange(n, (Kind::Double, Device::Cpu)).unsqueeze(1);
    let j = Tensor::arange(d, (Kind::Double, Device::Cpu)).unsqueeze(0);
    (&i * a + &j * b + (&i * &j) * c).sin() + (&i * 2.1 - &j * 0.7).cos() * 0.1
}

fn frechet(c: &mut Criterion) {
    common::set_bench_threads();
    let stats = |a, b, cc| {
        let mut s = FeatureStats::new();
        s.update(&features(4096, 2048, a, b, cc)).unwrap();
        (s.mean().unwrap(), s.cov().unwrap())
    };
    let ((m1, s1), (m2, s2)) = (stats(0.37, 1.3, 0.001), stats(0.41, 1.1, 0.0007));
    let mut g = c.benchmark_group("frechet");
    g.bench_function("2048d", |b| b.iter(|| frechet_distance(&m1, &s1, &m2, &s2).unwrap()));
    g.finish();
}

fn precision_recall_bench(c: &mut Criterion) {
    common::set_bench_threads();
    let real = features(10_000, 512, 0.13, 0.5, 0.0004).to_kind(Kind::Float);
    let fake = (features(10_000, 512, 0.17, 0.6, 0.0003) * 0.8).to_kind(Kind::Float);
    // Precision and recall only (k = 3), as the peer computes.
    let cfg = PrdcConfig::default();
    let mut g = c.benchmark_group("precision_recall");
    g.bench_function("10k_x_10k_512d", |b| b.iter(|| precision_recall(&real, &fake, &cfg).unwrap()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(10));
    targets = frechet, precision_recall_bench
}
criterion_main!(benches);
