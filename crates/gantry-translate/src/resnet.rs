//! The ResNet generator of CycleGAN (Zhu et al. 2017, Appendix 7.2; Johnson et al. 2016's
//! architecture), as the authors' `ResnetGenerator`:
//!
//! ```text
//! c7s1-64        ReflectionPad(3), Conv7 (ngf), norm, ReLU
//! d128, d256     Conv3 s2 p1 (×2 the filters), norm, ReLU
//! R256 × n       residual blocks: ReflectionPad(1), Conv3, norm, ReLU, [Dropout(0.5)],
//!                ReflectionPad(1), Conv3, norm; out = x + block(x)   (n = 6 for 128², 9 for 256²)
//! u128, u64      ConvTranspose3 s2 p1 output_padding 1 (÷2 the filters), norm, ReLU
//! c7s1-3         ReflectionPad(3), Conv7 (output_nc), Tanh
//! ```
//!
//! With instance norm (CycleGAN's; no affine parameters, no running statistics) every conv has a
//! bias; with BatchNorm none but the last. Variable names follow the reference's state dict:
//! `model.1.weight`, `model.10.conv_block.1.weight`, `model.19.weight` (n = 9), …

use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::norm::{Mode, Norm, NormLayer};

/// A ResNet generator's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResnetConfig {
    /// Input channels.
    pub input_nc: i64,
    /// Output channels.
    pub output_nc: i64,
    /// Filters of the first layer (64).
    pub ngf: i64,
    /// Residual blocks (6 for 128×128 images, 9 for 256×256).
    pub n_blocks: i64,
    /// Normalisation: the authors' `batch` or `instance`.
    pub norm: Norm,
    /// Dropout(0.5) inside each residual block (CycleGAN: off).
    pub dropout: bool,
}

/// One `ResnetBlock`: x + [pad, conv, norm, ReLU, (dropout), pad, conv, norm](x).
#[derive(Debug)]
struct Block {
    conv1: nn::Conv2D,
    norm1: NormLayer,
    conv2: nn::Conv2D,
    norm2: NormLayer,
    dropout: bool,
}

impl Block {
    fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        let h = self.norm1.forward(&self.conv1.forward(&x.reflection_pad2d([1, 1, 1, 1])), mode).relu();
        let h = if self.dropout { gantry_nn::dropout(&h, 0.5, mode.dropout()) } else { h };
        x + self.norm2.forward(&self.conv2.forward(&h.reflection_pad2d([1, 1, 1, 1])), mode)
    }
}

/// CycleGAN's generator.
#[derive(Debug)]
pub struct ResnetGenerator {
    /// What it was built from.
    pub cfg: ResnetConfig,
    first: (nn::Conv2D, NormLayer),
    downs: Vec<(nn::Conv2D, NormLayer)>,
    blocks: Vec<Block>,
    ups: Vec<(nn::ConvTranspose2D, NormLayer)>,
    last: nn::Conv2D,
}

fn conv(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64, padding: i64, bias: bool) -> nn::Conv2D {
    let c = nn::ConvConfig {
        stride,
        padding,
        bias,
        ws_init: crate::conv_init(),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::conv2d(p, cin, cout, k, c)
}

impl ResnetGenerator {
    /// The generator on `p` (variables `model.<index>.…`), initialised as the authors'
    /// `init_weights(…, 'normal', 0.02)`, built in the reference's layer order.
    pub fn new(p: nn::Path, cfg: &ResnetConfig) -> Self {
        let m = &p / "model";
        let (ngf, norm, bias) = (cfg.ngf, cfg.norm, cfg.norm.conv_bias());
        let first = (conv(&m / 1, cfg.input_nc, ngf, 7, 1, 0, bias), NormLayer::new(&m / 2, norm, ngf));
        let downs = (0..2)
            .map(|i| {
                let (cin, idx) = (ngf << i, 4 + 3 * i);
                (conv(&m / idx, cin, cin * 2, 3, 2, 1, bias), NormLayer::new(&m / (idx + 1), norm, cin * 2))
            })
            .collect();
        let dim = ngf * 4;
        let blocks = (0..cfg.n_blocks)
            .map(|b| {
                let q = &m / (10 + b) / "conv_block";
                let second = if cfg.dropout { 6 } else { 5 };
                Block {
                    conv1: conv(&q / 1, dim, dim, 3, 1, 0, bias),
                    norm1: NormLayer::new(&q / 2, norm, dim),
                    conv2: conv(&q / second, dim, dim, 3, 1, 0, bias),
                    norm2: NormLayer::new(&q / (second + 1), norm, dim),
                    dropout: cfg.dropout,
                }
            })
            .collect();
        let ups = (0..2)
            .map(|i| {
                let (cin, idx) = (dim >> i, 10 + cfg.n_blocks + 3 * i);
                let c = nn::ConvTransposeConfig {
                    stride: 2,
                    padding: 1,
                    output_padding: 1,
                    bias,
                    ws_init: crate::conv_init(),
                    bs_init: nn::Init::Const(0.0),
                    ..Default::default()
                };
                (
                    nn::conv_transpose2d(&m / idx, cin, cin / 2, 3, c),
                    NormLayer::new(&m / (idx + 1), norm, cin / 2),
                )
            })
            .collect();
        let last = conv(&m / (17 + cfg.n_blocks), ngf, cfg.output_nc, 7, 1, 0, true);
        Self { cfg: *cfg, first, downs, blocks, ups, last }
    }

    /// Translations `[N, output_nc, H, W]` in (−1, 1) of `x` `[N, input_nc, H, W]` (H, W multiples
    /// of 4).
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        let (c, n) = &self.first;
        let mut h = n.forward(&c.forward(&x.reflection_pad2d([3, 3, 3, 3])), mode).relu(); // [N, ngf, H, W]
        for (c, n) in &self.downs {
            h = n.forward(&c.forward(&h), mode).relu(); // halves H, W; doubles the channels
        }
        for b in &self.blocks {
            h = b.forward(&h, mode); // [N, 4·ngf, H/4, W/4]
        }
        for (c, n) in &self.ups {
            h = n.forward(&c.forward(&h), mode).relu();
        }
        self.last.forward(&h.reflection_pad2d([3, 3, 3, 3])).tanh()
    }
}

impl ResnetConfig {
    /// Checks the shape against an image size; the error names the key.
    pub fn validate(&self, size: i64) -> Result<(), InvalidConfig> {
        if size % 4 != 0 || size < 8 {
            return Err(InvalidConfig(format!("model.size: the ResNet generator halves the image twice: expected a multiple of 4 ≥ 8, found {size}")));
        }
        if !(0..=64).contains(&self.n_blocks) {
            return Err(InvalidConfig(format!(
                "model.n_blocks: expected 0 to 64 residual blocks, found {}",
                self.n_blocks
            )));
        }
        if !(1..=4096).contains(&self.ngf) {
            return Err(InvalidConfig(format!("model.ngf: expected 1 to 4096 filters, found {}", self.ngf)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn shapes_names_and_parameter_count() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = ResnetConfig {
            input_nc: 3,
            output_nc: 1,
            ngf: 4,
            n_blocks: 9,
            norm: Norm::Instance,
            dropout: false,
        };
        let g = ResnetGenerator::new(vs.root(), &cfg);
        let y = tch::no_grad(|| {
            g.forward(&Tensor::randn([2, 3, 32, 32], (Kind::Float, Device::Cpu)), Mode::Eval)
        });
        assert_eq!(y.size(), vec![2, 1, 32, 32]);
        let names = vs.variables();
        for n in [
            "model.1.weight",
            "model.1.bias",
            "model.4.weight",
            "model.7.bias",
            "model.10.conv_block.1.weight",
            "model.18.conv_block.5.bias",
            "model.19.weight",
            "model.22.bias",
            "model.26.weight",
            "model.26.bias",
        ] {
            assert!(names.contains_key(n), "{n} missing");
        }
        // By hand: 7²·3·4 + 4, two downs (3²·4·8 + 8, 3²·8·16 + 16), 9 blocks of two 3²·16² + 16,
        // two ups (3²·16·8 + 8, 3²·8·4 + 4), 7²·4·1 + 1; instance norm has no parameters.
        let want = (49 * 12 + 4)
            + (9 * 32 + 8)
            + (9 * 128 + 16)
            + 9 * 2 * (9 * 256 + 16)
            + (9 * 128 + 8)
            + (9 * 32 + 4)
            + (49 * 4 + 1);
        let n: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        assert_eq!(n, want);
        assert!(cfg.validate(30).is_err() && cfg.validate(64).is_ok());
    }
}
