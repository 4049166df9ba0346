//! One CycleGAN training step at 64×64 RGB, batch 1 (the paper's) — G and F forward and backward on
//! LSGAN + 10·cycle + 5·identity, then D_A and D_B through their image pools — on the CPU, through
//! the same `CycleFamily` the trainer uses: two ResNet generators of 6 blocks (ngf 64) and two
//! 70×70 PatchGANs (ndf 64), instance norm. `benches/peers/cyclegan_step.py` measures the same
//! networks (same parameter counts) and step in eager PyTorch; `cargo xtask bench` runs both with
//! the same thread count (`GANTRY_BENCH_THREADS`) and prints the ratio.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::train::family::BuildContext;
use gantry::train::recipes::cyclegan::{CycleFamily, CycleRun};
use gantry::translate::CycleGanConfig;
use tch::Device;

fn cyclegan_step(c: &mut Criterion) {
    common::set_bench_threads();
    let mut cfg = gantry::train::presets::find("cyclegan-horse2zebra").unwrap().config();
    let run = cfg.family.get_mut::<CycleRun>().unwrap();
    run.model = CycleGanConfig { size: 64, n_blocks: 6, ..CycleGanConfig::paper256() };
    let run = run.clone();
    let mut group = c.benchmark_group("cyclegan_train_step");
    tch::manual_seed(0);
    let cx = BuildContext { device: Device::Cpu, batches_per_epoch: Some(1000) };
    let mut family = CycleFamily::new(&run, &cx).unwrap();
    common::train_step(
        &mut group,
        "64x64_batch1",
        &mut family,
        [1, 3, 64],
        Some(3),
        0,
        gantry::train::config::Recipe::memory_format(&run),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(10));
    targets = cyclegan_step
}
criterion_main!(benches);
