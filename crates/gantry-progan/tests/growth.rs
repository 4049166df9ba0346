//! The defining properties of progressive growing: at α = 0 a grown network is exactly the
//! previous stage (G: its output upsampled; D: applied to the downsampled input), α blends
//! linearly, and the equalised layers apply He's constant.

use gantry_progan::networks::{downsample, reals_at, upsample};
use gantry_progan::{Discriminator, EqConv2d, EqLinear, Generator, Growth, ProganConfig};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

fn cfg() -> ProganConfig {
    ProganConfig {
        resolution: 32,
        channels: 3,
        z_dim: 16,
        fmap_base: 256,
        fmap_max: 32,
        ..ProganConfig::small32()
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn grown_generator_at_alpha_zero_is_the_previous_stage_upsampled() {
    tch::manual_seed(0);
    let vs = VarStore::new(Device::Cpu);
    let c = cfg();
    let g = Generator::new(vs.root(), &c);
    let z = Tensor::randn([5, c.z_dim], (Kind::Float, Device::Cpu));
    for s in 0..=c.stages() {
        let full = g.forward(&z, Growth { stage: s, alpha: 1.0 });
        assert_eq!(full.size(), vec![5, 3, 4 << s, 4 << s]);
        if s == 0 {
            continue;
        }
        let prev = g.forward(&z, Growth { stage: s - 1, alpha: 1.0 });
        let faded = g.forward(&z, Growth { stage: s, alpha: 0.0 });
        assert!(
            faded.equal(&upsample(&prev, 2)),
            "stage {s}: α = 0 differs from the upsampled stage {}",
            s - 1
        );
        assert!(max_diff(&faded, &full) > 1e-3, "stage {s}: the new block must change the output");
        // α blends linearly between the two paths.
        let mid = g.forward(&z, Growth { stage: s, alpha: 0.3 });
        let want = &faded * 0.7 + &full * 0.3;
        assert!(
            max_diff(&mid, &want) < 1e-5,
            "stage {s}: α = 0.3 is not the blend ({})",
            max_diff(&mid, &want)
        );
    }
    // forward_full brings every stage to the final resolution.
    let x = g.forward_full(&z, Growth { stage: 1, alpha: 0.5 });
    assert_eq!(x.size(), vec![5, 3, 32, 32]);
}

#[test]
fn grown_discriminator_at_alpha_zero_is_the_previous_stage_on_downsampled_input() {
    tch::manual_seed(1);
    let vs = VarStore::new(Device::Cpu);
    let c = cfg();
    let d = Discriminator::new(vs.root(), &c);
    for s in 1..=c.stages() {
        let r = 4 << s;
        let x = Tensor::randn([8, 3, r, r], (Kind::Float, Device::Cpu));
        let faded = d.forward(&x, Growth { stage: s, alpha: 0.0 });
        let prev = d.forward(&downsample(&x, 2), Growth { stage: s - 1, alpha: 1.0 });
        assert_eq!(faded.size(), vec![8]);
        assert!(faded.equal(&prev), "stage {s}: α = 0 differs from stage {} on the downsampled input", s - 1);
        let full = d.forward(&x, Growth { stage: s, alpha: 1.0 });
        assert!(max_diff(&faded, &full) > 1e-4, "stage {s}: the new block must change the score");
    }
}

#[test]
fn reals_fade_like_the_generator() {
    let x = Tensor::randn([2, 1, 32, 32], (Kind::Float, Device::Cpu));
    // Final stage, α = 1: the images themselves.
    assert!(reals_at(&x, Growth { stage: 3, alpha: 1.0 }, 32).equal(&x));
    // Stage 2 (16×16) at α = 0: the 8×8 version upsampled, as G's faded output.
    let at = reals_at(&x, Growth { stage: 2, alpha: 0.0 }, 32);
    // (avg-pooling by 2 then 2 rounds differently from pooling by 4: ≤ 1 ulp-scale)
    assert!(max_diff(&at, &upsample(&downsample(&x, 4), 2)) < 1e-6);
    // Box downsampling keeps the mean.
    let m = (reals_at(&x, Growth { stage: 0, alpha: 1.0 }, 32).mean(Kind::Float) - x.mean(Kind::Float)).abs();
    assert!(m.double_value(&[]) < 1e-6);
}

#[test]
fn equalised_layers_apply_hes_constant() {
    tch::manual_seed(2);
    let vs = VarStore::new(Device::Cpu);
    let (cin, cout, k) = (64, 256, 3);
    let conv = EqConv2d::new(vs.root() / "conv", cin, cout, k, std::f64::consts::SQRT_2);
    let he = std::f64::consts::SQRT_2 / ((cin * k * k) as f64).sqrt();
    assert_eq!(conv.scale, he);
    // Stored weights are N(0, 1); the applied ones have He's spread √2/√fan_in (147k draws:
    // the sample std is within 1% with overwhelming probability).
    let stored = conv.weight.std(true).double_value(&[]);
    let applied = conv.effective_weight().std(true).double_value(&[]);
    assert!((stored - 1.0).abs() < 0.01, "stored std {stored}");
    assert!((applied / he - 1.0).abs() < 0.01, "applied std {applied}, He {he}");
    // The layer is a plain convolution with the scaled kernel.
    let x = Tensor::randn([2, cin, 6, 6], (Kind::Float, Device::Cpu));
    let want = x.conv2d(&(&conv.weight * he), Some(&conv.bias), [1, 1], [1, 1], [1, 1], 1);
    assert!(max_diff(&conv.forward(&x), &want) < 1e-5);
    // The equalised learning rate: ∂L/∂w = c·∂L/∂ŵ, so a unit step on the stored weight moves the
    // applied one by c — the same relative step for every layer whatever its fan-in.
    let fc = EqLinear::new(vs.root() / "fc", 300, 7, 1.0);
    assert_eq!(fc.scale, 1.0 / 300f64.sqrt());
    let x = Tensor::randn([4, 300], (Kind::Float, Device::Cpu));
    let w_hat = fc.effective_weight().detach().set_requires_grad(true);
    x.linear(&w_hat, Some(&fc.bias)).square().sum(Kind::Float).backward();
    fc.forward(&x).square().sum(Kind::Float).backward();
    let ratio = max_diff(&fc.weight.grad(), &(w_hat.grad() * fc.scale));
    assert!(ratio < 1e-5, "{ratio}");
}

#[test]
fn configuration_errors_are_one_line() {
    let bad = ProganConfig { resolution: 24, ..ProganConfig::small32() };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "model.resolution: expected a power of two ≥ 8, found 24"
    );
    let bad = ProganConfig { fade_kimg: -1.0, ..ProganConfig::small32() };
    assert!(bad.validate().unwrap_err().0.starts_with("model.fade_kimg"));
    assert_eq!(ProganConfig::paper().stages(), 8);
    assert_eq!(ProganConfig::paper().channels_at(4), 512);
    assert_eq!(ProganConfig::paper().channels_at(1024), 16);
    let s = ProganConfig::small32().schedule();
    assert_eq!((s.stages, s.fade_images, s.stable_images), (3, 16_000, 16_000));
}
