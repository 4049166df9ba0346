//! The PatchGAN discriminator of pix2pix (Isola et al. 2017, §3.2.2), as the authors'
//! `NLayerDiscriminator`: it classifies each N×N patch of an image as real or fake and is run
//! convolutionally across the image, so its output is a map of logits.
//!
//! ```text
//! C64 (Conv4 s2, no norm) · LeakyReLU(0.2)
//! for n in 1..n_layers: C(64·min(2^n, 8)) Conv4 s2 · norm · LeakyReLU(0.2)
//! C(64·min(2^n_layers, 8)) Conv4 s1 · norm · LeakyReLU(0.2)
//! C1 Conv4 s1 → one logit per patch
//! ```
//!
//! With `n_layers` = 3 each output sees a 70×70 patch of the input ([`receptive_field`]): the
//! paper's 70×70 PatchGAN, `[N, 1, 30, 30]` logits on 256×256 inputs. Variable names follow the
//! reference's state dict (`model.0.weight`, `model.3.running_mean`, …). pix2pix feeds it
//! `cat(A, B)` (channels `input_nc + output_nc`).

use gantry_nn::leaky_relu;
use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::norm::{Mode, Norm, NormLayer};

/// A PatchGAN's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchGanConfig {
    /// Input channels (pix2pix: input_nc + output_nc).
    pub input_nc: i64,
    /// Filters of the first layer (64).
    pub ndf: i64,
    /// Strided layers (3: the 70×70 PatchGAN; 0 would be the 1×1 PixelGAN of another class).
    pub n_layers: i64,
    /// Normalisation: the authors' `batch` or `instance`.
    pub norm: Norm,
}

/// The side of the input patch one output logit sees for `n_layers` (3 → 70; 1 → 16; 5 → 286):
/// the receptive field of `n_layers` Conv4 s2 then two Conv4 s1, from the output back.
pub fn receptive_field(n_layers: i64) -> i64 {
    let strides: Vec<i64> = (0..n_layers).map(|_| 2).chain([1, 1]).collect();
    strides.iter().rev().fold(1, |r, s| (r - 1) * s + 4)
}

/// pix2pix's discriminator.
#[derive(Debug)]
pub struct PatchGan {
    /// What it was built from.
    pub cfg: PatchGanConfig,
    convs: Vec<nn::Conv2D>,
    norms: Vec<Option<NormLayer>>,
}

impl PatchGan {
    /// The discriminator on `p` (variables `model.<index>.…`), convs N(0, 0.02), BatchNorm γ
    /// N(1, 0.02), built first layer first (libtorch's generator drawn in the reference's order).
    pub fn new(p: nn::Path, cfg: &PatchGanConfig) -> Self {
        let m = &p / "model";
        let bias = cfg.norm.conv_bias();
        let conv = |i: i64, cin: i64, cout: i64, stride: i64, bias: bool| {
            let c = nn::ConvConfig {
                stride,
                padding: 1,
                bias,
                ws_init: crate::conv_init(),
                bs_init: nn::Init::Const(0.0),
                ..Default::default()
            };
            nn::conv2d(&m / i, cin, cout, 4, c)
        };
        let mut convs = vec![conv(0, cfg.input_nc, cfg.ndf, 2, true)];
        let mut norms = vec![None];
        let mut idx = 2;
        let mut mult = 1;
        for n in 1..=cfg.n_layers {
            let prev = mult;
            mult = (1 << n).min(8);
            let stride = if n < cfg.n_layers { 2 } else { 1 };
            convs.push(conv(idx, cfg.ndf * prev, cfg.ndf * mult, stride, bias));
            norms.push(Some(NormLayer::new(&m / (idx + 1), cfg.norm, cfg.ndf * mult)));
            idx += 3;
        }
        convs.push(conv(idx, cfg.ndf * mult, 1, 1, true));
        norms.push(None);
        Self { cfg: *cfg, convs, norms }
    }

    /// Logits `[N, 1, H', W']` (one per patch) of `x` `[N, input_nc, H, W]`.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        let last = self.convs.len() - 1;
        let mut h = x.shallow_clone();
        for (i, (c, n)) in self.convs.iter().zip(&self.norms).enumerate() {
            h = c.forward(&h);
            if let Some(n) = n {
                h = n.forward(&h, mode);
            }
            if i < last {
                h = leaky_relu(&h, 0.2);
            }
        }
        h
    }
}

impl PatchGanConfig {
    /// Checks the shape against an input size; the error names the key.
    pub fn validate(&self, size: i64) -> Result<(), InvalidConfig> {
        if !(1..=6).contains(&self.n_layers) {
            return Err(InvalidConfig(format!(
                "model.n_layers_d: expected 1 to 6 strided layers, found {}",
                self.n_layers
            )));
        }
        if !(1..=4096).contains(&self.ndf) {
            return Err(InvalidConfig(format!("model.ndf: expected 1 to 4096 filters, found {}", self.ndf)));
        }
        // The two stride-1 convs shrink the map by 1 each: it must stay ≥ 1.
        if (size >> (self.n_layers - 1).max(0)) / 2 < 3 {
            return Err(InvalidConfig(format!(
                "model.n_layers_d: {} layers leave no patch of a {size}×{size} input (use fewer)",
                self.n_layers
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn the_papers_receptive_fields() {
        // Isola et al. 2017, Table 3: 1×1 (PixelGAN, another class), 16×16, 70×70, 286×286.
        assert_eq!(receptive_field(1), 16);
        assert_eq!(receptive_field(3), 70);
        assert_eq!(receptive_field(5), 286);
    }

    #[test]
    fn one_logit_per_patch_and_the_reference_names() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = PatchGanConfig { input_nc: 6, ndf: 8, n_layers: 3, norm: Norm::Batch };
        let d = PatchGan::new(vs.root(), &cfg);
        let y = tch::no_grad(|| {
            d.forward(&Tensor::randn([2, 6, 256, 256], (Kind::Float, Device::Cpu)), Mode::Train)
        });
        assert_eq!(y.size(), vec![2, 1, 30, 30]);
        let names = vs.variables();
        for n in [
            "model.0.weight",
            "model.0.bias",
            "model.2.weight",
            "model.3.running_mean",
            "model.8.weight",
            "model.9.weight",
            "model.11.weight",
            "model.11.bias",
        ] {
            assert!(names.contains_key(n), "{n} missing");
        }
        assert!(!names.contains_key("model.2.bias"), "no bias before BatchNorm");
        // A logit depends on a 70×70 window only: changing a pixel outside it leaves it alone.
        let x = Tensor::randn([1, 6, 128, 128], (Kind::Float, Device::Cpu));
        let x2 = x.copy();
        let _ = x2.narrow(2, 100, 1).narrow(3, 100, 1).fill_(5.0);
        let (a, b) = tch::no_grad(|| (d.forward(&x, Mode::Eval), d.forward(&x2, Mode::Eval)));
        assert_eq!(
            a.double_value(&[0, 0, 0, 0]),
            b.double_value(&[0, 0, 0, 0]),
            "logit (0, 0) sees rows < 70 only"
        );
        assert_ne!(a.double_value(&[0, 0, 12, 12]), b.double_value(&[0, 0, 12, 12]));
        assert!(cfg.validate(256).is_ok() && cfg.validate(16).is_err());
    }
}
