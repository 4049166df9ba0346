//! One DCGAN-32 training step (a D step and a G step, batch 64, 32×32×3, widths 64) on the CPU,
//! through the same `GanFamily` the trainer uses. `benches/peers/dcgan_step.py` measures the same
//! network and step in eager PyTorch; `cargo xtask bench` runs both with the same thread count
//! (`GANTRY_BENCH_THREADS`) and prints the ratio. The same step with DiffAugment
//! (`color,translation,cutout`) and with ADA's `bgc` pipe at p = 0.5 on every image D sees is
//! measured beside it; its peer runs the authors' augmentation code (`GANTRY_AUGMENT_CODE`).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::core::optim::AdamConfig;
use gantry::dcgan::DcganConfig;
use gantry::train::config::AugmentConfig;
use gantry::train::family::BuildContext;
use gantry::train::recipes::adversarial::{LossChoice, Penalties};
use gantry::train::recipes::gan::{DcganRun, GanFamily, GanTrain};
use tch::Device;

fn dcgan_step(c: &mut Criterion) {
    common::set_bench_threads();
    let run = DcganRun {
        loss: LossChoice::NonSaturating,
        reg: Penalties::default(),
        model: DcganConfig::cifar10(),
        train: GanTrain::plain(AdamConfig::dcgan(), AdamConfig::dcgan()),
    };
    let mut group = c.benchmark_group("dcgan32_train_step");
    // Plain, then with each augmentation of what D sees (reals and fakes, in D's and G's step).
    let diffaug =
        AugmentConfig { diffaug: "color,translation,cutout".parse().unwrap(), ..Default::default() };
    let ada = AugmentConfig { p: Some(0.5), ..Default::default() };
    for (id, augment) in
        [("batch64", None), ("batch64_diffaug", Some(diffaug)), ("batch64_ada_p0.5", Some(ada))]
    {
        tch::manual_seed(0);
        let mut family = GanFamily::new(&run, &BuildContext::inference(Device::Cpu)).unwrap();
        if let Some(a) = &augment {
            family.augment_with(a);
        }
        common::train_step(
            &mut group,
            id,
            &mut family,
            [64, 3, 32],
            None,
            0,
            gantry::train::config::Recipe::memory_format(&run),
        );
    }
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
