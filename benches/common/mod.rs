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
