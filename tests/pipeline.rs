//! The crates composed through the facade: embedded digits → batcher → DCGAN → loss → Adam.

use gantry::core::optim::{Adam, AdamConfig};
use gantry::data::{load, Batcher, LastBatch, LoadOptions};
use gantry::dcgan::{dcgan, DcganConfig};
use gantry::losses::AdversarialLoss;
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

#[test]
fn a_discriminator_learns_to_tell_digits_from_an_untrained_generator() {
    tch::manual_seed(0);
    let cfg = DcganConfig { g_width: 8, d_width: 8, ..DcganConfig::mnist() };
    let ds =
        load("mnist-5k", &LoadOptions { size: Some(32), channels: Some(1), ..Default::default() }).unwrap();
    let mut batcher = Batcher::new(ds.len(), 32, LastBatch::Drop, 0, false).unwrap();
    let (vs_g, vs_d) = (VarStore::new(Device::Cpu), VarStore::new(Device::Cpu));
    let g = dcgan::generator(vs_g.root(), &cfg);
    let d = dcgan::discriminator(vs_d.root(), &cfg);
    let mut opt = Adam::new(&vs_d, AdamConfig::dcgan());
    let z = Tensor::randn([32, cfg.z_dim], (Kind::Float, Device::Cpu));
    let fake = tch::no_grad(|| g.forward_t(&z, false));
    let loss_at = |k: u64, batcher: &mut Batcher| {
        let real = batcher.batch(&ds, k, Device::Cpu).images;
        AdversarialLoss::NonSaturating.d_loss(&d.forward_t(&real, true), &d.forward_t(&fake, true))
    };
    let first = loss_at(0, &mut batcher).double_value(&[]);
    assert!((first - 2.0 * std::f64::consts::LN_2).abs() < 0.5, "an untrained D is near chance: {first}");
    for k in 0..30 {
        let loss = loss_at(k, &mut batcher);
        opt.backward_step(&loss);
    }
    let last = loss_at(30, &mut batcher).double_value(&[]);
    assert!(last < 0.25 * first, "D loss {first:.3} -> {last:.3}");
    assert_eq!(opt.steps(), 30);
}
