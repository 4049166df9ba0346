//! What the benches share.

/// Sets libtorch's CPU threads to `GANTRY_BENCH_THREADS` (as `cargo xtask bench` passes the peers
/// the same count), or to the machine's parallelism.
pub fn set_bench_threads() {
    let threads: i32 = std::env::var("GANTRY_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    tch::set_num_threads(threads);
}

/// Benches one training step — a D step (index `k`) then a G step — of `recipe` as `id` in
/// `group`, on a fixed batch of `n` uniform images `[n, c, s, s]` in [-1, 1].
#[allow(dead_code)] // not every bench trains
pub fn train_step(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    recipe: &mut dyn gantry::runner::recipe::Recipe,
    [n, c, s]: [i64; 3],
    k: u64,
) {
    let real = gantry::runner::recipe::Real::unlabelled(
        tch::Tensor::rand([n, c, s, s], (tch::Kind::Float, tch::Device::Cpu)) * 2.0 - 1.0,
    );
    group.bench_function(id, |b| {
        b.iter(|| {
            let d = recipe.d_step(&real, k);
            let g = recipe.g_step(&real);
            (d, g)
        })
    });
}
