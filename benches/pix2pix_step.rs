//! One pix2pix training step at 64×64 — G's forward, D's step on (A, G(A)) and (A, B), G's step on
//! the adversarial term + 100·L1 — on the CPU at batch 1 (the paper's) and batch 16, through the
//! same `Pix2pixFamily` the trainer uses: a U-Net of 6 downsamplings (ngf 64, BatchNorm, one
//! dropout block), grey → RGB, and the 70×70 PatchGAN (ndf 64). `benches/peers/pix2pix_step.py
//! --batch B` measures the same networks (same parameter counts) and step in eager PyTorch;
//! `cargo xtask bench` runs both with the same thread count (`GANTRY_BENCH_THREADS`) and prints
//! the ratios.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::train::family::BuildContext;
use gantry::train::recipes::pix2pix::{Pix2pixFamily, Pix2pixRun};
use gantry::translate::Pix2pixConfig;
use tch::Device;

fn pix2pix_step(c: &mut Criterion) {
    common::set_bench_threads();
    let mut cfg = gantry::train::presets::find("pix2pix-facades").unwrap().config();
    let run = cfg.family.get_mut::<Pix2pixRun>().unwrap();
    run.model = Pix2pixConfig::at(64, 1, 3);
    let run = run.clone();
    let mut group = c.benchmark_group("pix2pix_train_step");
    for batch in [1i64, 16] {
        tch::manual_seed(0);
        // An epoch of 1,000 batches: the learning rate stays constant.
        let cx = BuildContext { device: Device::Cpu, batches_per_epoch: Some(1000) };
        let mut family = Pix2pixFamily::new(&run, &cx).unwrap();
        common::train_step(
            &mut group,
            &format!("64x64_batch{batch}"),
            &mut family,
            [batch, 3, 64],
            Some(1),
            0,
            gantry::train::config::Recipe::memory_format(&run),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Defaults for a 0.3–5 s step; `cargo bench -- --measurement-time S --sample-size N` overrides.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(10));
    targets = pix2pix_step
}
criterion_main!(benches);
