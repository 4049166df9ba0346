//! StyleGAN's AdaIN layers (`style_op = adain`): the defining property of adaptive instance
//! normalisation, and the layer and generator built on it.

use gantry_stylegan::layers::{adain, NoiseMode, StyleOp, SynthesisLayer};
use gantry_stylegan::networks::{Generator, StyleGan2Config, SynthesisOptions};
use gantry_stylegan::Truncation;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Per-channel spatial mean and population standard deviation of `[N, C, H, W]`.
fn moments(x: &Tensor) -> (Tensor, Tensor) {
    let hw = [2i64, 3];
    let mean = x.mean_dim(hw.as_slice(), false, Kind::Float);
    let var = (x - mean.unsqueeze(-1).unsqueeze(-1)).square().mean_dim(hw.as_slice(), false, Kind::Float);
    (mean, var.sqrt())
}

fn max_abs(t: &Tensor) -> f64 {
    t.abs().max().double_value(&[])
}

#[test]
fn adain_gives_each_channel_the_styles_mean_and_scale() {
    tch::manual_seed(0);
    // Inputs with arbitrary per-channel offsets and scales: AdaIN discards them.
    let x = Tensor::randn([3, 5, 8, 8], tch::kind::FLOAT_CPU) * 7.0 + 3.0;
    let styles = Tensor::randn([3, 10], tch::kind::FLOAT_CPU);
    let y = adain(&x, &styles);
    let (mean, std) = moments(&y);
    let (ys, yb) = (styles.narrow(1, 0, 5), styles.narrow(1, 5, 5));
    assert!(max_abs(&(mean - &yb)) < 1e-5, "channel means = y_b");
    assert!(max_abs(&(std - (ys + 1.0).abs())) < 1e-4, "channel stds = |1 + y_s|");
    // Invariant to a per-channel affine change of its input (what makes styles, not the
    // incoming statistics, set each layer's channel statistics).
    let a = Tensor::rand([1, 5, 1, 1], tch::kind::FLOAT_CPU) + 0.5;
    let b = Tensor::randn([1, 5, 1, 1], tch::kind::FLOAT_CPU);
    assert!(max_abs(&(adain(&(&x * &a + &b), &styles) - &y)) < 1e-4);
}

#[test]
fn an_adain_layer_ends_in_adain_of_its_affine_styles() {
    tch::manual_seed(1);
    let vs = VarStore::new(Device::Cpu);
    let layer = SynthesisLayer::new(vs.root() / "l", 4, 6, 8, 16, 2, None, StyleOp::Adain);
    // StyleGAN's shapes: styles (y_s, y_b) per output channel, noise strength per channel.
    assert_eq!(layer.affine.weight.size(), vec![12, 8]);
    assert_eq!(layer.noise_strength.size(), vec![6]);
    tch::no_grad(|| {
        layer.noise_strength.shallow_clone().copy_(&Tensor::from_slice(&[0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6]));
    });
    let x = Tensor::randn([2, 4, 8, 8], tch::kind::FLOAT_CPU);
    let w = Tensor::randn([2, 8], tch::kind::FLOAT_CPU);
    let y = layer.forward(&x, &w, NoiseMode::Random, false, 1.0);
    assert_eq!(y.size(), vec![2, 6, 16, 16]);
    let styles = layer.affine.forward(&w);
    let (mean, std) = moments(&y);
    assert!(max_abs(&(mean - styles.narrow(1, 6, 6))) < 1e-5);
    assert!(max_abs(&(std - (styles.narrow(1, 0, 6) + 1.0).abs())) < 1e-4);
    // The fused flag only concerns modulated convolutions: AdaIN gives the same either way.
    let (a, b) = (
        layer.forward(&x, &w, NoiseMode::Const, false, 1.0),
        layer.forward(&x, &w, NoiseMode::Const, true, 1.0),
    );
    assert!(a.equal(&b));
}

#[test]
fn an_adain_generator_keeps_the_w_layout_and_responds_to_styles() {
    tch::manual_seed(2);
    let base = StyleGan2Config {
        resolution: 16,
        channels: 1,
        channel_base: 256,
        channel_max: 8,
        ..StyleGan2Config::small32()
    };
    let cfg = StyleGan2Config { style_op: StyleOp::Adain, ..base.clone() };
    cfg.validate().unwrap();
    let (va, vm) = (VarStore::new(Device::Cpu), VarStore::new(Device::Cpu));
    let (ga, gm) = (Generator::new(va.root(), &cfg), Generator::new(vm.root(), &base));
    assert_eq!(ga.synthesis.num_ws, gm.synthesis.num_ws);
    let z = Tensor::randn([4, cfg.z_dim], tch::kind::FLOAT_CPU);
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: false };
    let x = ga.forward(&z, None, Truncation::default(), o);
    assert_eq!(x.size(), vec![4, 1, 16, 16]);
    // Different latents draw different images; the same latent the same image.
    assert!(max_abs(&(x.get(0) - x.get(1))) > 1e-3);
    let alone = ga.forward(&z.narrow(0, 0, 1), None, Truncation::default(), o);
    // Relative: an untrained skip generator's outputs reach ±25, and batched convolutions may
    // sum in another order.
    let d = max_abs(&(x.get(0) - alone.get(0)));
    assert!(d < 1e-5 * max_abs(&x), "an image does not depend on its batch: {d}");
}
