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

/// Benches one training step — every phase of `family` once (phase runs numbered `k`) — as `id` in
/// `group`, on a fixed batch: `n` uniform images `[n, c, s, s]` in [-1, 1] as the reals and, for
/// translation, `ci` input channels beside them.
#[allow(dead_code)] // not every bench trains
pub fn train_step(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    family: &mut dyn gantry::train::family::Family,
    [n, c, s]: [i64; 3],
    inputs: Option<i64>,
    k: u64,
) {
    let uniform = |c: i64| tch::Tensor::rand([n, c, s, s], (tch::Kind::Float, tch::Device::Cpu)) * 2.0 - 1.0;
    let batch =
        gantry::train::family::Batch { images: uniform(c), labels: None, inputs: inputs.map(uniform) };
    let phases = family.phases().len();
    group.bench_function(id, |b| {
        b.iter(|| {
            (0..phases).map(|p| family.run_phase(p, &batch, k).expect("a phase runs")).collect::<Vec<_>>()
        })
    });
}
