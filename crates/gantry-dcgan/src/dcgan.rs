//! DCGAN — Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
//! Generative Adversarial Networks", ICLR 2016.
//!
//! Generator (the paper's Fig. 1, with `g_width` = 128 at 64×64: 4×4×1024 → … → 64×64×3):
//!
//! ```text
//! z [N, z_dim] ─ project (linear, no bias) & reshape → [N, 2^(k−1)·w, 4, 4] ─ BN ─ ReLU
//!   ─ k−1 × { ConvT 4×4 stride 2 (fractionally strided), halves channels, doubles size ─ BN ─ ReLU }
//!   ─ ConvT 4×4 stride 2 → [N, channels, S, S] ─ tanh            (k = log2(S / 4) stages)
//! ```
//!
//! Discriminator (mirror image, no pooling, no BN on the first layer):
//!
//! ```text
//! x [N, channels, S, S] ─ Conv 4×4 stride 2 → [N, w, S/2, S/2] ─ LeakyReLU(0.2)
//!   ─ k−1 × { Conv 4×4 stride 2, doubles channels, halves size ─ BN ─ LeakyReLU(0.2) }
//!   ─ Conv 4×4 valid → [N, 1, 1, 1] → logit [N]
//! ```
//!
//! Weights are initialised from N(0, 0.02), BatchNorm scales from N(1, 0.02) (the paper's §4).
//!
//! Discriminator options (all off in the paper's network, see `gantry-nn` for each layer):
//! - `d_norm`: `batch` (the paper), `spectral` (every D layer spectrally normalised and no
//!   BatchNorm: Miyato et al. 2018's SN-DCGAN), or `none` (no normalisation: for critics with a
//!   gradient penalty, which BatchNorm breaks by mixing samples, Gulrajani et al. 2017 §4);
//! - `mbstd_group` > 0: a minibatch-standard-deviation map appended before the logit convolution
//!   (Karras et al. 2018);
//! - `minibatch_kernels` > 0: the 4×4 features flattened, minibatch discrimination appended
//!   (Salimans et al. 2016), and a linear logit in place of the 4×4 convolution.

use gantry_nn::{spectral_norm, MinibatchDiscrimination, MinibatchStdDev};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};

pub use gantry_nn::leaky_relu;

use crate::ConfigError;

/// DCGAN hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcganConfig {
    /// Output resolution S (a power of two, ≥ 8): 32 for MNIST padded / CIFAR-10, 64 for the paper.
    pub image_size: i64,
    /// Image channels: 1 (grey) or 3 (RGB).
    pub channels: i64,
    /// Latent dimension (the paper: 100).
    pub z_dim: i64,
    /// Channels of G's last hidden layer; doubled at each stage towards 4×4 (the paper: 128).
    pub g_width: i64,
    /// Channels of D's first layer; doubled at each stage towards 4×4 (the paper: 128).
    pub d_width: i64,
    /// Normalisation in D: `batch`, `spectral` or `none`.
    #[serde(default)]
    pub d_norm: DNorm,
    /// Group size of D's minibatch standard deviation (0 = off).
    #[serde(default)]
    pub mbstd_group: i64,
    /// Kernels B of D's minibatch discrimination (0 = off).
    #[serde(default)]
    pub minibatch_kernels: i64,
    /// Dimension C of each minibatch-discrimination kernel.
    #[serde(default = "default_kernel_dim")]
    pub minibatch_kernel_dim: i64,
    /// Biases on the three convolutions no BatchNorm follows (G's output, D's input and its logit):
    /// `true` (gantry's default), or `false` for PyTorch's `examples/dcgan` network, which has no
    /// bias anywhere (the `dcgan-64` preset).
    #[serde(default = "default_bias")]
    pub bias: bool,
}

fn default_bias() -> bool {
    true
}

fn default_kernel_dim() -> i64 {
    5
}

/// How D's hidden layers are normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DNorm {
    /// BatchNorm after each hidden convolution (the paper).
    #[default]
    Batch,
    /// Spectral normalisation of every layer, no BatchNorm.
    Spectral,
    /// Neither.
    None,
}

impl Default for DcganConfig {
    /// The paper's 64×64 RGB network.
    fn default() -> Self {
        Self {
            image_size: 64,
            channels: 3,
            z_dim: 100,
            g_width: 128,
            d_width: 128,
            d_norm: DNorm::Batch,
            mbstd_group: 0,
            minibatch_kernels: 0,
            minibatch_kernel_dim: 5,
            bias: true,
        }
    }
}

impl DcganConfig {
    /// MNIST padded to 32×32×1, narrow enough to train on a laptop CPU in minutes.
    pub fn mnist() -> Self {
        Self { image_size: 32, channels: 1, g_width: 32, d_width: 32, ..Self::default() }
    }

    /// CIFAR-10, 32×32×3.
    pub fn cifar10() -> Self {
        Self { image_size: 32, channels: 3, g_width: 64, d_width: 64, ..Self::default() }
    }

    /// The number of stride-2 stages between 4×4 and the output (`log2(S / 4)`).
    pub fn stages(&self) -> i64 {
        (self.image_size / 4).trailing_zeros() as i64
    }

    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let s = self.image_size;
        if !(8..=1024).contains(&s) || (s & (s - 1)) != 0 {
            return Err(ConfigError {
                field: "model.image_size",
                expected: "a power of two from 8 to 1024".into(),
                found: s.to_string(),
            });
        }
        for (field, v) in [("model.channels", self.channels), ("model.z_dim", self.z_dim)] {
            if v < 1 {
                return Err(ConfigError { field, expected: "≥ 1".into(), found: v.to_string() });
            }
        }
        for (field, v) in
            [("model.mbstd_group", self.mbstd_group), ("model.minibatch_kernels", self.minibatch_kernels)]
        {
            if v < 0 {
                return Err(ConfigError { field, expected: "≥ 0 (0 = off)".into(), found: v.to_string() });
            }
        }
        if self.minibatch_kernel_dim < 1 {
            return Err(ConfigError {
                field: "model.minibatch_kernel_dim",
                expected: "≥ 1".into(),
                found: self.minibatch_kernel_dim.to_string(),
            });
        }
        let widest = |w: i64| w.checked_mul(1 << (self.stages() - 1));
        for (field, w) in [("model.g_width", self.g_width), ("model.d_width", self.d_width)] {
            if w < 1 || widest(w).is_none_or(|c| c > 1 << 16) {
                return Err(ConfigError {
                    field,
                    expected: "≥ 1, and ≤ 65536 at the widest layer".into(),
                    found: w.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// DCGAN's weight initialisation, N(0, 0.02).
pub fn conv_init() -> nn::Init {
    nn::Init::Randn { mean: 0.0, stdev: 0.02 }
}

/// BatchNorm with DCGAN's N(1, 0.02) scales.
pub fn batch_norm(p: nn::Path, c: i64) -> gantry_nn::BatchNorm {
    gantry_nn::batch_norm2d(
        p,
        c,
        nn::BatchNormConfig { ws_init: nn::Init::Randn { mean: 1.0, stdev: 0.02 }, ..Default::default() },
    )
}

/// The DCGAN generator: z `[N, z_dim]` → images `[N, channels, S, S]` in (−1, 1).
/// Call [`DcganConfig::validate`] first.
pub fn generator(p: nn::Path, cfg: &DcganConfig) -> nn::SequentialT {
    let k = cfg.stages();
    let c0 = cfg.g_width << (k - 1);
    let project = nn::linear(
        &p / "project",
        cfg.z_dim,
        c0 * 16,
        nn::LinearConfig { ws_init: conv_init(), bs_init: None, bias: false },
    );
    let mut seq = nn::seq_t()
        .add(project)
        .add_fn(move |z| z.view([-1, c0, 4, 4])) // [N, c0, 4, 4]
        .add(batch_norm(&p / "project_bn", c0))
        .add_fn(|x| x.relu());
    let mut c = c0;
    for i in 1..k {
        let cfg_t = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            bias: false,
            ws_init: conv_init(),
            ..Default::default()
        };
        seq = seq
            .add(nn::conv_transpose2d(&p / format!("up{i}"), c, c / 2, 4, cfg_t)) // doubles H, W
            .add(batch_norm(&p / format!("up{i}_bn"), c / 2))
            .add_fn(|x| x.relu());
        c /= 2;
    }
    let out_cfg = nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        bias: cfg.bias,
        ws_init: conv_init(),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    seq.add(nn::conv_transpose2d(&p / "to_image", c, cfg.channels, 4, out_cfg)) // [N, channels, S, S]
        .add_fn(|x| x.tanh())
}

/// The DCGAN discriminator: images `[N, channels, S, S]` → logits `[N]`, with the options of
/// the module docs. Call [`DcganConfig::validate`] first.
pub fn discriminator(p: nn::Path, cfg: &DcganConfig) -> nn::SequentialT {
    let sn = cfg.d_norm == DNorm::Spectral;
    let (mut seq, mut c) = discriminator_body(&p, cfg, cfg.channels);
    if cfg.mbstd_group > 0 {
        seq = seq.add(MinibatchStdDev { group_size: cfg.mbstd_group, num_channels: 1 }); // [N, c + 1, 4, 4]
        c += 1;
    }
    if cfg.minibatch_kernels > 0 {
        let f = c * 16;
        let b = cfg.minibatch_kernels;
        seq = seq
            .add_fn(|x| x.flatten(1, -1)) // [N, 16c]
            .add(MinibatchDiscrimination::new(&p / "minibatch", f, b, cfg.minibatch_kernel_dim)); // [N, 16c + B]
        let lin = nn::LinearConfig { ws_init: conv_init(), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        seq = seq.add(spectral_norm::linear(&p / "logit", f + b, 1, lin, sn));
        return seq.add_fn(|x| x.flatten(0, -1)); // [N]
    }
    let head = nn::ConvConfig {
        ws_init: conv_init(),
        bs_init: nn::Init::Const(0.0),
        bias: cfg.bias || sn,
        ..Default::default()
    };
    seq.add(spectral_norm::conv2d(&p / "logit", c, 1, 4, head, sn)) // [N, 1, 1, 1]
        .add_fn(|x| x.flatten(0, -1)) // [N]
}

/// D's convolutional body, for heads built elsewhere (conditional and InfoGAN discriminators):
/// `[N, in_channels, S, S] → [N, c, 4, 4]`, returning the module and c. Layers are named as in
/// [`discriminator`] and normalised by `cfg.d_norm`.
pub fn discriminator_body(p: &nn::Path, cfg: &DcganConfig, in_channels: i64) -> (nn::SequentialT, i64) {
    let k = cfg.stages();
    let sn = cfg.d_norm == DNorm::Spectral;
    let conv = |bias: bool| nn::ConvConfig {
        stride: 2,
        padding: 1,
        bias,
        ws_init: conv_init(),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    // A convolution, spectrally normalised if asked (then with a bias, since no BN follows).
    let layer = |p: nn::Path, i: i64, o: i64, k: i64, c: nn::ConvConfig| {
        spectral_norm::conv2d(p, i, o, k, nn::ConvConfig { bias: c.bias || sn, ..c }, sn)
    };
    let mut seq = nn::seq_t()
        .add(layer(p / "from_image", in_channels, cfg.d_width, 4, conv(cfg.bias))) // [N, w, S/2, S/2]
        .add_fn(|x| leaky_relu(x, 0.2));
    let mut c = cfg.d_width;
    for i in 1..k {
        seq = seq.add(layer(p / format!("down{i}"), c, c * 2, 4, conv(false))); // halves H, W
        if cfg.d_norm == DNorm::Batch {
            seq = seq.add(batch_norm(p / format!("down{i}_bn"), c * 2));
        }
        seq = seq.add_fn(|x| leaky_relu(x, 0.2));
        c *= 2;
    }
    (seq, c)
}

/// Both networks as boxed modules, for code that handles several architectures alike.
pub fn build(g: nn::Path, d: nn::Path, cfg: &DcganConfig) -> (Box<dyn ModuleT>, Box<dyn ModuleT>) {
    (Box::new(generator(g, cfg)), Box::new(discriminator(d, cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn shapes_at_32_and_64() {
        for (cfg, s) in
            [(DcganConfig::mnist(), 32), (DcganConfig { g_width: 8, d_width: 8, ..Default::default() }, 64)]
        {
            cfg.validate().unwrap();
            let vs = nn::VarStore::new(Device::Cpu);
            let (g, d) = build(vs.root() / "g", vs.root() / "d", &cfg);
            let z = Tensor::randn([5, cfg.z_dim], tch::kind::FLOAT_CPU);
            let x = g.forward_t(&z, true);
            assert_eq!(x.size(), vec![5, cfg.channels, s, s]);
            assert!(x.abs().max().double_value(&[]) < 1.0);
            assert_eq!(d.forward_t(&x, true).size(), vec![5]);
        }
    }

    #[test]
    fn layers_follow_the_paper() {
        let cfg = DcganConfig::default(); // 64x64, widths 128: 4x4x1024 -> 8x8x512 -> ... -> 64x64x3
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = build(vs.root() / "g", vs.root() / "d", &cfg);
        let v = vs.variables();
        assert_eq!(v["g.project.weight"].size(), vec![1024 * 16, 100]);
        assert_eq!(v["g.up1.weight"].size(), vec![1024, 512, 4, 4]);
        assert_eq!(v["g.up3.weight"].size(), vec![256, 128, 4, 4]);
        assert_eq!(v["g.to_image.weight"].size(), vec![128, 3, 4, 4]);
        assert_eq!(v["d.from_image.weight"].size(), vec![128, 3, 4, 4]);
        assert_eq!(v["d.down3.weight"].size(), vec![1024, 512, 4, 4]);
        assert_eq!(v["d.logit.weight"].size(), vec![1, 1024, 4, 4]);
        assert!(!v.contains_key("d.from_image_bn.weight"), "no BN on D's first layer");
        // N(0, 0.02) weights, N(1, 0.02) BN scales.
        let w = &v["g.up1.weight"];
        assert!((w.std(true).double_value(&[]) - 0.02).abs() < 5e-4);
        assert!(w.mean(Kind::Float).double_value(&[]).abs() < 5e-4);
        let gamma = &v["d.down1_bn.weight"];
        assert!((gamma.mean(Kind::Float).double_value(&[]) - 1.0).abs() < 0.01);
    }

    #[test]
    fn discriminator_options() {
        let base = DcganConfig { g_width: 8, d_width: 8, ..DcganConfig::mnist() };
        let x = Tensor::randn([6, 1, 32, 32], tch::kind::FLOAT_CPU);
        for (cfg, present, absent) in [
            (DcganConfig { d_norm: DNorm::Spectral, ..base.clone() }, "d.down1.sn_u", "d.down1_bn.weight"),
            (DcganConfig { d_norm: DNorm::None, ..base.clone() }, "d.down1.weight", "d.down1_bn.weight"),
            (DcganConfig { mbstd_group: 4, ..base.clone() }, "d.down1_bn.weight", "d.minibatch.t"),
            (DcganConfig { minibatch_kernels: 16, ..base.clone() }, "d.minibatch.t", "d.logit.sn_u"),
            (
                DcganConfig { minibatch_kernels: 8, d_norm: DNorm::Spectral, mbstd_group: 2, ..base.clone() },
                "d.logit.sn_u",
                "d.down2_bn.weight",
            ),
        ] {
            cfg.validate().unwrap();
            let vs = nn::VarStore::new(Device::Cpu);
            let d = discriminator(vs.root() / "d", &cfg);
            assert_eq!(d.forward_t(&x, true).size(), vec![6], "{cfg:?}");
            let v = vs.variables();
            assert!(v.contains_key(present) && !v.contains_key(absent), "{cfg:?}: {:?}", v.keys());
        }
        // The logit convolution sees the extra stddev channel: [1, 4·8 + 1, 4, 4].
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = discriminator(vs.root() / "d", &DcganConfig { mbstd_group: 4, ..base.clone() });
        assert_eq!(vs.variables()["d.logit.weight"].size(), vec![1, 33, 4, 4]);
        let e = DcganConfig { mbstd_group: -1, ..base }.validate().unwrap_err().to_string();
        assert!(e.contains("model.mbstd_group"), "{e}");
    }

    #[test]
    fn invalid_sizes_name_the_field() {
        let e = DcganConfig { image_size: 48, ..DcganConfig::mnist() }.validate().unwrap_err().to_string();
        assert!(e.contains("model.image_size") && e.contains("48"), "{e}");
        let e = DcganConfig { g_width: 0, ..DcganConfig::mnist() }.validate().unwrap_err().to_string();
        assert!(e.contains("model.g_width"), "{e}");
    }
}
