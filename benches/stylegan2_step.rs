//! One StyleGAN2 training step (a D step and a G step, batch 32, non-saturating loss, lazy
//! regularisers, style mixing and EMA off) on the CPU at 32×32 (the `stylegan2-mnist` network)
//! and 64×64 (`stylegan2-orl`), through the `StyleFamily` the trainer uses.
//! `benches/peers/stylegan2_step.py --resolution R` measures the same networks (same parameter
//! counts) and step in eager PyTorch; `cargo xtask bench` runs both with the same thread count
//! (`GANTRY_BENCH_THREADS`) and prints the ratios.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::core::optim::AdamConfig;
use gantry::stylegan::StyleGan2Config;
use gantry::train::family::BuildContext;
use gantry::train::recipes::adversarial::{LossChoice, Penalties, TrainConfig};
use gantry::train::recipes::stylegan2::{StyleFamily, StyleReg, StyleRun};
use tch::Device;

fn stylegan2_step(c: &mut Criterion) {
    common::set_bench_threads();
    let adam = AdamConfig { lr: 0.0025, beta1: 0.0, beta2: 0.99, eps: 1e-8, weight_decay: 0.0 };
    let train = TrainConfig::plain(adam, adam);
    let reg = StyleReg {
        base: Penalties { r1: 0.0, ..Penalties::default() },
        pl_weight: 0.0,
        style_mixing: 0.0,
        ..StyleReg::default()
    };
    let mut group = c.benchmark_group("stylegan2_train_step");
    for (res, base) in [(32, 1024), (64, 2048)] {
        tch::manual_seed(0);
        let cfg = StyleGan2Config {
            resolution: res,
            channels: 1,
            channel_base: base,
            ..StyleGan2Config::small32()
        };
        let run =
            StyleRun { loss: LossChoice::NonSaturating, reg: reg.clone(), model: cfg, train: train.clone() };
        let mut family = StyleFamily::new(&run, &BuildContext::inference(Device::Cpu)).unwrap();
        common::train_step(
            &mut group,
            &format!("{res}x{res}_batch32"),
            &mut family,
            [32, 1, res],
            None,
            1,
            gantry::train::config::Recipe::memory_format(&run),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // Defaults for a 0.3–1 s step; `cargo bench -- --measurement-time S --sample-size N` overrides.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(10));
    targets = stylegan2_step
}
criterion_main!(benches);
