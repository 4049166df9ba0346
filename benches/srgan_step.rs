//! One SRGAN training step, ×4 to 64×64 RGB (16×16 inputs made by antialiased bicubic
//! downsampling), batch 16 — D on real vs super-resolved, then G on the content loss (the FID
//! Inception's Conv2d_2b features, as `srgan-cifar`) + 10⁻³ × adversarial — on the CPU, through the
//! same `SrganFamily` the trainer uses: the paper's SRResNet (16 blocks, 64 filters) and
//! discriminator. `benches/peers/srgan_step.py` measures the same networks and step in eager
//! PyTorch (its content network: the TorchScript file's own stem submodules); `cargo xtask bench`
//! runs both with the same thread count and prints the ratio. Needs the FID Inception file (as
//! `gantry eval` finds it).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::train::family::BuildContext;
use gantry::train::recipes::srgan::{SrganFamily, SrganRun};
use gantry::translate::SrganConfig;
use tch::Device;

fn srgan_step(c: &mut Criterion) {
    common::set_bench_threads();
    let mut cfg = gantry::train::presets::find("srgan-cifar").unwrap().config();
    let run = cfg.family.get_mut::<SrganRun>().unwrap();
    run.model = SrganConfig::paper(64, 3);
    let run = run.clone();
    let mut group = c.benchmark_group("srgan_train_step");
    tch::manual_seed(0);
    let cx = BuildContext { device: Device::Cpu, batches_per_epoch: Some(1000) };
    let mut family =
        SrganFamily::new(&run, &cx).expect("the FID Inception file is needed for the content loss");
    common::train_step(
        &mut group,
        "x4_64x64_batch16",
        &mut family,
        [16, 3, 64],
        None,
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
    targets = srgan_step
}
criterion_main!(benches);
