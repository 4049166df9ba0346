//! SRGAN's networks (Ledig et al. 2017, Figure 4): the SRResNet generator and the paper's
//! discriminator, with PyTorch's default initialisation. No authors' code was released; the
//! layers follow the paper's figure:
//!
//! ```text
//! SRResNet   Conv9 (64), PReLU                                         ─┐ long skip
//!            B × [Conv3 (64), BN, PReLU, Conv3 (64), BN] + x  (B = 16)  │
//!            Conv3 (64), BN                                            ─┘ +
//!            log₂(scale) × [Conv3 (256), PixelShuffle ×2, PReLU]
//!            Conv9 (channels), Tanh                 (images in [−1, 1], as gantry's)
//!
//! D          Conv3 (64), LReLU(0.2)
//!            7 × [Conv3, BN, LReLU(0.2)]: 64 s2, 128, 128 s2, 256, 256 s2, 512, 512 s2
//!            Dense (1024), LReLU(0.2), Dense (1)   → one logit per image
//! ```
//!
//! SRResNet is fully convolutional: it upscales an image of any size by `scale`. D flattens the
//! last maps of its fixed input size (`size / 16` squared, × 512).

use gantry_nn::leaky_relu;
use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// SRGAN's networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SrganConfig {
    /// The high-resolution side S (a multiple of 16 and of `scale`); inputs are S / scale.
    pub size: i64,
    /// Image channels (1 or 3).
    pub channels: i64,
    /// Upscaling factor: 2 or 4 (a power of two: one PixelShuffle ×2 stage each).
    pub scale: i64,
    /// G's residual blocks (16).
    pub n_blocks: i64,
    /// G's filters (64).
    pub ngf: i64,
    /// D's first-layer filters (64; doubled three times to 512).
    pub ndf: i64,
}

impl SrganConfig {
    /// The paper's network at ×4 on `size` HR images of `channels`.
    pub fn paper(size: i64, channels: i64) -> Self {
        Self { size, channels, scale: 4, n_blocks: 16, ngf: 64, ndf: 64 }
    }

    /// The low-resolution input side.
    pub fn lr_size(&self) -> i64 {
        self.size / self.scale
    }

    /// SRResNet's receptive field radius in input pixels: how far from an output pixel's own input
    /// pixel the inputs it depends on reach (the 9×9 head, two 3×3 per block, the trunk's 3×3,
    /// each upsampling stage's 3×3 at its own scale, the 9×9 tail at the output's), rounded up.
    /// Inference on a tile with this much context around it equals inference on the whole image.
    pub fn receptive_radius(&self) -> i64 {
        let stages = 63 - (self.scale as u64).leading_zeros() as i64;
        let ups: f64 = (0..stages).map(|i| 1.0 / f64::from(1u32 << i)).sum();
        let radius = 4.0 + 2.0 * self.n_blocks as f64 + 1.0 + ups + 4.0 / self.scale as f64;
        radius.ceil() as i64
    }

    /// Checks every size; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if !(1..=4).contains(&self.channels) {
            return Err(InvalidConfig(format!("model.channels: expected 1 to 4, found {}", self.channels)));
        }
        if !matches!(self.scale, 2 | 4 | 8) {
            return Err(InvalidConfig(format!("model.scale: expected 2, 4 or 8, found {}", self.scale)));
        }
        if self.size < 16 || self.size % 16 != 0 || self.size % self.scale != 0 {
            return Err(InvalidConfig(format!(
                "model.size: expected a multiple of 16 (D halves it four times) and of model.scale, found {}",
                self.size
            )));
        }
        for (k, v) in [("n_blocks", self.n_blocks), ("ngf", self.ngf), ("ndf", self.ndf)] {
            if v < 1 {
                return Err(InvalidConfig(format!("model.{k}: expected at least 1, found {v}")));
            }
        }
        Ok(())
    }
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(p, cin, cout, k, nn::ConvConfig { stride, padding: k / 2, ..Default::default() })
}

/// PReLU with one learned slope (PyTorch's `nn.PReLU()`, initial 0.25).
#[derive(Debug)]
struct Prelu {
    weight: Tensor,
}

impl Prelu {
    fn new(p: nn::Path) -> Self {
        Self { weight: p.var("weight", &[1], nn::Init::Const(0.25)) }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.prelu(&self.weight)
    }
}

#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    bn1: gantry_nn::BatchNorm,
    act: Prelu,
    conv2: nn::Conv2D,
    bn2: gantry_nn::BatchNorm,
}

impl Block {
    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let h = self.act.forward(&self.bn1.forward_t(&self.conv1.forward(x), train));
        x + self.bn2.forward_t(&self.conv2.forward(&h), train)
    }
}

/// The SRResNet generator (variables `head.*`, `blocks.<i>.*`, `trunk.*`, `up.<i>.*`, `tail.*`).
#[derive(Debug)]
pub struct SrResNet {
    head: (nn::Conv2D, Prelu),
    blocks: Vec<Block>,
    trunk: (nn::Conv2D, gantry_nn::BatchNorm),
    ups: Vec<(nn::Conv2D, Prelu)>,
    tail: nn::Conv2D,
}

impl SrResNet {
    /// The generator of `cfg` (Ledig et al.'s layer order and names).
    pub fn new(p: nn::Path, cfg: &SrganConfig) -> Self {
        let f = cfg.ngf;
        let bn = |q: nn::Path| gantry_nn::batch_norm2d(q, f, Default::default());
        let head = (conv(&p / "head" / "conv", cfg.channels, f, 9, 1), Prelu::new(&p / "head" / "act"));
        let blocks = (0..cfg.n_blocks)
            .map(|i| {
                let q = &p / "blocks" / i;
                Block {
                    conv1: conv(&q / "conv1", f, f, 3, 1),
                    bn1: bn(&q / "bn1"),
                    act: Prelu::new(&q / "act"),
                    conv2: conv(&q / "conv2", f, f, 3, 1),
                    bn2: bn(&q / "bn2"),
                }
            })
            .collect();
        let trunk = (conv(&p / "trunk" / "conv", f, f, 3, 1), bn(&p / "trunk" / "bn"));
        let stages = 63 - (cfg.scale as u64).leading_zeros() as i64;
        let ups = (0..stages)
            .map(|i| {
                let q = &p / "up" / i;
                (conv(&q / "conv", f, 4 * f, 3, 1), Prelu::new(&q / "act"))
            })
            .collect();
        let tail = conv(&p / "tail", f, cfg.channels, 9, 1);
        Self { head, blocks, trunk, ups, tail }
    }

    /// Upscaled images `[N, C, s·H, s·W]` of inputs `[N, C, H, W]` in [−1, 1]; `train`: BatchNorm
    /// on batch statistics (updating the running ones), else on the running statistics.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let skip = self.head.1.forward(&self.head.0.forward(x));
        let mut h = skip.shallow_clone();
        for b in &self.blocks {
            h = b.forward(&h, train);
        }
        let mut h = self.trunk.1.forward_t(&self.trunk.0.forward(&h), train) + skip;
        for (c, act) in &self.ups {
            h = act.forward(&c.forward(&h).pixel_shuffle(2));
        }
        self.tail.forward(&h).tanh()
    }
}

/// SRGAN's discriminator (variables `features.<i>.{conv,bn}`, `fc1`, `fc2`).
#[derive(Debug)]
pub struct SrDiscriminator {
    convs: Vec<(nn::Conv2D, Option<gantry_nn::BatchNorm>)>,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl SrDiscriminator {
    /// The discriminator of `cfg` (eight convolutions, then two dense layers).
    pub fn new(p: nn::Path, cfg: &SrganConfig) -> Self {
        let f = cfg.ndf;
        // (out width, stride) of the eight convolutions.
        let plan = [(f, 1), (f, 2), (2 * f, 1), (2 * f, 2), (4 * f, 1), (4 * f, 2), (8 * f, 1), (8 * f, 2)];
        let mut cin = cfg.channels;
        let convs = plan
            .iter()
            .enumerate()
            .map(|(i, &(w, s))| {
                let q = &p / "features" / i as i64;
                let c = conv(&q / "conv", cin, w, 3, s);
                cin = w;
                (c, (i > 0).then(|| gantry_nn::batch_norm2d(&q / "bn", w, Default::default())))
            })
            .collect();
        let side = cfg.size / 16;
        let fc1 = nn::linear(&p / "fc1", 8 * f * side * side, 1024, Default::default());
        let fc2 = nn::linear(&p / "fc2", 1024, 1, Default::default());
        Self { convs, fc1, fc2 }
    }

    /// Logits `[N]` (real vs super-resolved) of images `[N, C, S, S]`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (c, bn) in &self.convs {
            h = c.forward(&h);
            if let Some(bn) = bn {
                h = bn.forward_t(&h, train);
            }
            h = leaky_relu(&h, 0.2);
        }
        let h = leaky_relu(&self.fc1.forward(&h.flatten(1, -1)), 0.2);
        self.fc2.forward(&h).view([-1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn trainable(vs: &nn::VarStore) -> i64 {
        vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }

    #[test]
    fn parameter_counts_follow_the_paper_by_hand() {
        let _generator = crate::generator_lock();
        let cfg = SrganConfig::paper(32, 3);
        let vs = nn::VarStore::new(Device::Cpu);
        let _g = SrResNet::new(vs.root(), &cfg);
        let conv = |cin: i64, cout: i64, k: i64| cin * cout * k * k + cout;
        let block = 2 * conv(64, 64, 3) + 2 * 2 * 64 + 1; // two convs, two BNs (γ, β), one PReLU
        let g = conv(3, 64, 9)
            + 1
            + 16 * block
            + conv(64, 64, 3)
            + 2 * 64
            + 2 * (conv(64, 256, 3) + 1)
            + conv(64, 3, 9);
        assert_eq!(trainable(&vs), g);
        assert_eq!(g, 1_549_462);
        let vs = nn::VarStore::new(Device::Cpu);
        let _d = SrDiscriminator::new(vs.root(), &cfg);
        let widths =
            [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512)];
        let convs: i64 = widths.iter().map(|&(i, o)| conv(i, o, 3)).sum();
        let bns: i64 = widths[1..].iter().map(|&(_, o)| 2 * o).sum();
        let dense = (512 * 2 * 2 * 1024 + 1024) + (1024 + 1);
        assert_eq!(trainable(&vs), convs + bns + dense);
    }

    #[test]
    fn upscales_any_size_by_its_scale() {
        let _generator = crate::generator_lock();
        for scale in [2, 4] {
            let cfg = SrganConfig { scale, n_blocks: 2, ngf: 8, ndf: 4, ..SrganConfig::paper(32, 1) };
            assert!(cfg.validate().is_ok());
            let vs = nn::VarStore::new(Device::Cpu);
            let g = SrResNet::new(vs.root(), &cfg);
            let x = Tensor::rand([2, 1, 5, 7], (Kind::Float, Device::Cpu)) * 2.0 - 1.0;
            let y = tch::no_grad(|| g.forward(&x, false));
            assert_eq!(y.size(), [2, 1, 5 * scale, 7 * scale]);
            assert!(y.abs().max().double_value(&[]) <= 1.0, "Tanh output");
            let d = SrDiscriminator::new(nn::VarStore::new(Device::Cpu).root(), &cfg);
            let hr = Tensor::rand([3, 1, 32, 32], (Kind::Float, Device::Cpu));
            assert_eq!(d.forward(&hr, true).size(), [3]);
        }
        let bad = |c: SrganConfig| c.validate().unwrap_err().0;
        assert!(bad(SrganConfig { scale: 3, ..SrganConfig::paper(48, 3) }).contains("model.scale"));
        assert!(bad(SrganConfig::paper(40, 3)).contains("model.size"));
    }
}
