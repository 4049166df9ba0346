//! One DCGAN-32 training step (a D step and a G step, batch 64, 32×32×3, widths 64) on the CPU,
//! through the same `GanRecipe` the trainer uses. `benches/peers/dcgan_step.py` measures the same
//! network and step in eager PyTorch; `cargo xtask bench` runs both with the same thread count
//! (`GANTRY_BENCH_THREADS`) and prints the ratio.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::core::optim::AdamConfig;
use gantry::dcgan::DcganConfig;
use gantry::runner::config::{LossChoice, ModelConfig, RegConfig, TrainConfig};
use gantry::runner::recipe::{GanRecipe, Real, Recipe};
use tch::{Device, Kind, Tensor};

fn dcgan_step(c: &mut Criterion) {
    common::set_bench_threads();
    tch::manual_seed(0);
    let model = ModelConfig::Dcgan(DcganConfig::cifar10());
    let train = TrainConfig::plain(AdamConfig::dcgan(), AdamConfig::dcgan());
    let mut recipe =
        GanRecipe::new(&model, LossChoice::NonSaturating, &RegConfig::default(), &train, Device::Cpu)
            .unwrap();
    let real = Real::unlabelled(Tensor::rand([64, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0);
    let mut group = c.benchmark_group("dcgan32_train_step");
    group.bench_function("batch64", |b| {
        b.iter(|| {
            let d = recipe.d_step(&real, 0);
            let g = recipe.g_step(&real);
            (d, g)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Defaults for a ~150 ms step; `cargo bench -- --measurement-time S --sample-size N` overrides.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(8));
    targets = dcgan_step
}
criterion_main!(benches);
