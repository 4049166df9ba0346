//! The exact W1 linear program (transportation simplex) on 200×200 point clouds in 2-D — the size
//! the issue asks to solve "well under a second".

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::losses::transport;

fn cloud(n: usize, seed: f64) -> Vec<Vec<f64>> {
    (0..n).map(|i| vec![(i as f64 * seed).sin() * 3.0, (i as f64 * 0.37 + seed).cos() * 2.0]).collect()
}

fn w1_200(c: &mut Criterion) {
    let (xs, ys) = (cloud(200, 1.3), cloud(200, 2.9));
    let p: Vec<f64> = (0..200).map(|i| 1.0 + (i % 5) as f64).collect();
    let q: Vec<f64> = (0..200).map(|i| 1.0 + (i % 3) as f64).collect();
    let mut group = c.benchmark_group("transport_w1");
    group.bench_function("200x200", |b| b.iter(|| transport::w1(&xs, &p, &ys, &q).unwrap().primal));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(5));
    targets = w1_200
}
criterion_main!(benches);
