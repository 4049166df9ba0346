//! One DCGAN-32 training step (a D step and a G step, batch 64, 32×32×3, widths 64) on the CPU,
//! through the same `GanFamily` the trainer uses. `benches/peers/dcgan_step.py` measures the same
//! network and step in eager PyTorch; `cargo xtask bench` runs both with the same thread count
//! (`GANTRY_BENCH_THREADS`) and prints the ratio.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::core::optim::AdamConfig;
use gantry::dcgan::DcganConfig;
use gantry::train::family::BuildContext;
use gantry::train::recipes::adversarial::{LossChoice, Penalties};
use gantry::train::recipes::gan::{DcganRun, GanFamily, GanTrain};
use tch::Device;

fn dcgan_step(c: &mut Criterion) {
    common::set_bench_threads();
    tch::manual_seed(0);
    let run = DcganRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model: DcganConfig::cifar10(),
        train: GanTrain::plain(AdamConfig::dcgan(), AdamConfig::dcgan()),
    };
    let mut family = GanFamily::new(&run, &BuildContext::inference(Device::Cpu)).unwrap();
    let mut group = c.benchmark_group("dcgan32_train_step");
    common::train_step(&mut group, "batch64", &mut family, [64, 3, 32], None, 0);
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
