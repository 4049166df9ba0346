//! One BigGAN-CIFAR training step — `train.d_steps` D steps, each on a fresh real batch with
//! fresh latents and classes, then a G step and the EMA, as BigGAN-PyTorch's
//! `GAN_training_function` — through the family the trainer uses, on the CPU: their CIFAR
//! networks (`launch_cifar_ema.sh`: ch 64, batch 50, 4 D steps, no attention) and the ImageNet
//! settings at CPU width (`biggan-cifar10-cpu`: ch 16, batch 32, 2 D steps, shared embedding,
//! hierarchical z, attention). `benches/peers/biggan_step.py` runs the same networks and step
//! with their own `BigGAN.py`/`layers.py` (from `$GANTRY_BIGGAN_CODE`); `cargo xtask bench` runs
//! both with the same thread count and prints the ratios.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use gantry::biggan::family::{BigGanFamily, BigGanRun};
use gantry::train::family::{Batch, Family};
use tch::{Device, Kind, Tensor};

fn biggan_step(c: &mut Criterion) {
    common::set_bench_threads();
    let mut group = c.benchmark_group("biggan_train_step");
    // Seconds per iteration at ch 64: the same iteration count in every sample (criterion's
    // linear sampling would take 55 iterations for 10 samples).
    group.sampling_mode(criterion::SamplingMode::Flat);
    for (preset, id) in
        [("biggan-cifar10", "cifar_ch64_batch50_4d"), ("biggan-cifar10-cpu", "cpu_ch16_batch32_2d")]
    {
        tch::manual_seed(0);
        gantry::biggan::family::register(gantry::train::registry::Registry::builtin()).unwrap().install();
        let cfg = gantry::train::presets::find(preset).unwrap().config();
        let run = cfg.family.get::<BigGanRun>().unwrap().clone();
        let mut family = BigGanFamily::new(&run, Device::Cpu).unwrap();
        let n = cfg.batch_size as i64;
        let (format, _amp) = common::perf(&mut family, gantry::train::config::Recipe::memory_format(&run));
        let batch = Batch {
            images: Tensor::rand([n, 3, 32, 32], (Kind::Float, Device::Cpu)) * 2.0 - 1.0,
            labels: Some(Tensor::arange(n, (Kind::Int64, Device::Cpu)).remainder(10)),
            inputs: None,
        }
        .in_format(format);
        let phases: Vec<u32> = family.phases().iter().map(|p| p.repeat).collect();
        group.bench_function(id, |b| {
            b.iter(|| {
                for (p, &repeat) in phases.iter().enumerate() {
                    for _ in 0..repeat {
                        gantry::core::amp::autocast(|| family.run_phase(p, &batch, 0)).expect("a phase runs");
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // A step of several seconds: few samples.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(20));
    targets = biggan_step
}
criterion_main!(benches);
