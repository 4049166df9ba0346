//! Parity with the pix2pix/CycleGAN authors' `UnetGenerator` and `NLayerDiscriminator`
//! (BatchNorm), `ResnetGenerator` and `NLayerDiscriminator` (instance norm), on fixtures their own
//! modules produced (`fixtures/make_fixtures.py`): their state dicts load by name, and outputs
//! agree within 1e-5 in eval mode, in training mode (batch statistics, and the running statistics
//! it leaves), and with dropout under the same libtorch seed.

use gantry_core::checkpoint::Checkpoint;
use gantry_translate::{
    Mode, Norm, PatchGan, PatchGanConfig, ResnetConfig, ResnetGenerator, UnetConfig, UnetGenerator,
};
use tch::nn::VarStore;
use tch::{Device, Tensor};

/// libtorch's generator is global to the process and the tests of this file run on threads of
/// one process: building a network draws its initial weights from it, so a test building one
/// while another seeds it for dropout would change that test's masks. Each test holds this.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fixture(name: &str) -> Checkpoint {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    Checkpoint::load(&path).unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// Running statistics of `vs` against the fixture's `after.net.*`.
fn running_stats_agree(vs: &VarStore, ck: &Checkpoint) {
    let mut n = 0;
    for (name, t) in vs.variables() {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            let want = ck.get(&format!("after.net.{name}")).unwrap();
            assert!(max_diff(&t, want) < 1e-5, "{name}: {}", max_diff(&t, want));
            n += 1;
        }
    }
    assert!(n > 0);
}

#[test]
fn unet_matches_the_authors_generator() {
    let _generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let ck = fixture("unet64.safetensors");
    let vs = VarStore::new(Device::Cpu);
    let cfg =
        UnetConfig { input_nc: 1, output_nc: 3, ngf: 4, num_downs: 6, norm: Norm::Batch, dropout: true };
    let g = UnetGenerator::new(vs.root(), &cfg);
    ck.load_varstore("net", &vs).unwrap(); // every key by the authors' name, nothing left over
    let x = ck.get("input").unwrap();
    let eval = tch::no_grad(|| g.forward(x, Mode::Eval));
    let d = max_diff(&eval, ck.get("eval").unwrap());
    assert!(d < 1e-5, "eval mode: max |Δ| {d}");
    tch::manual_seed(123);
    let dropout = tch::no_grad(|| g.forward(x, Mode::Train));
    let d = max_diff(&dropout, ck.get("dropout").unwrap());
    assert!(d < 1e-5, "train mode with dropout, seed 123: max |Δ| {d}");
    // Without dropout (a U-Net built without it has the same variables): batch statistics, and
    // the running statistics one forward pass leaves.
    let vs2 = VarStore::new(Device::Cpu);
    let g2 = UnetGenerator::new(vs2.root(), &UnetConfig { dropout: false, ..cfg });
    ck.load_varstore("net", &vs2).unwrap();
    let train = tch::no_grad(|| g2.forward(x, Mode::Train));
    let d = max_diff(&train, ck.get("train").unwrap());
    assert!(d < 1e-5, "train mode: max |Δ| {d}");
    running_stats_agree(&vs2, &ck);
}

#[test]
fn patchgan_matches_the_authors_discriminator() {
    let _generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let ck = fixture("patchgan.safetensors");
    let vs = VarStore::new(Device::Cpu);
    let d = PatchGan::new(vs.root(), &PatchGanConfig { input_nc: 4, ndf: 8, n_layers: 3, norm: Norm::Batch });
    ck.load_varstore("net", &vs).unwrap();
    let x = ck.get("input").unwrap();
    for (mode, key) in [(Mode::Eval, "eval"), (Mode::Train, "train")] {
        let y = tch::no_grad(|| d.forward(x, mode));
        let diff = max_diff(&y, ck.get(key).unwrap());
        assert!(diff < 1e-5, "{key}: max |Δ| {diff}");
    }
    running_stats_agree(&vs, &ck);
}

#[test]
fn cyclegan_networks_match_the_authors_with_instance_norm() {
    let _generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let ck = fixture("resnet9.safetensors");
    let vs = VarStore::new(Device::Cpu);
    let cfg =
        ResnetConfig { input_nc: 3, output_nc: 1, ngf: 4, n_blocks: 9, norm: Norm::Instance, dropout: false };
    let g = ResnetGenerator::new(vs.root(), &cfg);
    ck.load_varstore("net", &vs).unwrap();
    let x = ck.get("input").unwrap();
    for (mode, key) in [(Mode::Eval, "eval"), (Mode::Train, "train")] {
        let y = tch::no_grad(|| g.forward(x, mode));
        let diff = max_diff(&y, ck.get(key).unwrap());
        assert!(diff < 1e-5, "ResnetGenerator {key}: max |Δ| {diff}");
    }
    let ck = fixture("patchgan_instance.safetensors");
    let vs = VarStore::new(Device::Cpu);
    let d =
        PatchGan::new(vs.root(), &PatchGanConfig { input_nc: 3, ndf: 8, n_layers: 3, norm: Norm::Instance });
    ck.load_varstore("net", &vs).unwrap();
    let x = ck.get("input").unwrap();
    for (mode, key) in [(Mode::Eval, "eval"), (Mode::Train, "train")] {
        let y = tch::no_grad(|| d.forward(x, mode));
        let diff = max_diff(&y, ck.get(key).unwrap());
        assert!(diff < 1e-5, "PatchGAN (instance norm) {key}: max |Δ| {diff}");
    }
}
