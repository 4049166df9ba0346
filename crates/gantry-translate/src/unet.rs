//! The U-Net generator of pix2pix (Isola et al. 2017, §3.2.1 and Appendix 6.1.1), as the
//! authors' `UnetGenerator` / `UnetSkipConnectionBlock`:
//!
//! ```text
//! encoder  C64-C128-C256-C512-C512-C512-C512-C512   Ck = Conv4 s2 p1 (k filters), LeakyReLU(0.2)
//!          before each but the first, BatchNorm after each but the first and the innermost
//! decoder  CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128   ReLU, ConvTranspose4 s2 p1, BatchNorm
//!          (none on the outermost), Dropout(0.5) in the blocks marked D; Tanh out
//! skips    block i's input is concatenated to its output (channels double on the way up)
//! ```
//!
//! built recursively from the innermost block out: the innermost (ngf·8 → ngf·8), `num_downs − 5`
//! blocks of ngf·8 with dropout, then ngf·4, ngf·2, ngf, and the outermost taking `input_nc` to
//! `output_nc`. An image of 2^`num_downs` pixels reaches 1×1 at the bottleneck (unet_256: 8).
//!
//! One quirk of the reference is kept: each inner block's LeakyReLU is in place, so the skip
//! connection carries LeakyReLU(x) rather than x.
//!
//! Variable names follow the reference's state dict: `model.model.0.weight` (outermost down
//! conv), `model.model.1.model.1.weight` (the next block's down conv), …

use gantry_nn::leaky_relu;
use gantry_nn::InvalidConfig;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

use crate::norm::{Mode, Norm, NormLayer};

/// A U-Net's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnetConfig {
    /// Input channels.
    pub input_nc: i64,
    /// Output channels.
    pub output_nc: i64,
    /// Filters of the outermost layer (64 in the paper).
    pub ngf: i64,
    /// Downsamplings: the input size must be a multiple of 2^num_downs (≥ 5).
    pub num_downs: i64,
    /// Normalisation: the authors' `batch` or `instance`.
    pub norm: Norm,
    /// Dropout(0.5) in the inner ngf·8 decoder blocks (pix2pix: on).
    pub dropout: bool,
}

/// Where a block sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Outermost,
    Middle,
    Innermost,
}

/// One `UnetSkipConnectionBlock`.
#[derive(Debug)]
struct Block {
    place: Place,
    down: nn::Conv2D,
    down_norm: Option<NormLayer>,
    inner: Option<Box<Block>>,
    up: nn::ConvTranspose2D,
    up_norm: Option<NormLayer>,
    dropout: bool,
}

fn conv_cfg(bias: bool) -> nn::ConvConfig {
    nn::ConvConfig {
        stride: 2,
        padding: 1,
        bias,
        ws_init: crate::conv_init(),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    }
}

fn deconv_cfg(bias: bool) -> nn::ConvTransposeConfig {
    nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        bias,
        ws_init: crate::conv_init(),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    }
}

impl Block {
    /// The block on `p` (its `model` Sequential's indices name the layers).
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &nn::Path,
        outer_nc: i64,
        inner_nc: i64,
        input_nc: i64,
        inner: Option<Block>,
        place: Place,
        norm: Norm,
        dropout: bool,
    ) -> Self {
        let m = p / "model";
        let bias = norm.conv_bias();
        // Indices of the layers with parameters in the reference's Sequential.
        let (down_i, down_norm_i, up_i, up_norm_i) = match place {
            Place::Outermost => (0, None, 3, None),
            Place::Innermost => (1, None, 3, Some(4)),
            Place::Middle => (1, Some(2), 5, Some(6)),
        };
        let down = nn::conv2d(&m / down_i, input_nc, inner_nc, 4, conv_cfg(bias));
        let down_norm = down_norm_i.map(|i| NormLayer::new(&m / i, norm, inner_nc));
        let up_in = if place == Place::Innermost { inner_nc } else { inner_nc * 2 };
        let up_bias = place == Place::Outermost || bias;
        let up = nn::conv_transpose2d(&m / up_i, up_in, outer_nc, 4, deconv_cfg(up_bias));
        let up_norm = up_norm_i.map(|i| NormLayer::new(&m / i, norm, outer_nc));
        Self { place, down, down_norm, inner: inner.map(Box::new), up, up_norm, dropout }
    }

    fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        // [N, C_in, S, S] → [N, C_in + outer_nc, S, S] (outermost: [N, output_nc, S, S]).
        let x = match self.place {
            Place::Outermost => x.shallow_clone(),
            _ => leaky_relu(x, 0.2), // in place in the reference: the skip carries it too
        };
        let mut h = self.down.forward(&x); // [N, inner_nc, S/2, S/2]
        if let Some(n) = &self.down_norm {
            h = n.forward(&h, mode);
        }
        if let Some(inner) = &self.inner {
            h = inner.forward(&h, mode); // [N, 2·inner_nc, S/2, S/2]
        }
        let mut h = self.up.forward(&h.relu()); // [N, outer_nc, S, S]
        if let Some(n) = &self.up_norm {
            h = n.forward(&h, mode);
        }
        if self.dropout {
            h = gantry_nn::dropout(&h, 0.5, mode.dropout());
        }
        match self.place {
            Place::Outermost => h.tanh(),
            _ => Tensor::cat(&[x, h], 1),
        }
    }
}

/// pix2pix's generator.
#[derive(Debug)]
pub struct UnetGenerator {
    /// What it was built from.
    pub cfg: UnetConfig,
    outermost: Block,
}

impl UnetGenerator {
    /// The U-Net on `p` (variables `model.model.…`), initialised as the authors' `init_weights`:
    /// conv weights N(0, 0.02), biases 0, BatchNorm γ N(1, 0.02), β 0. The blocks are built from
    /// the innermost out, so libtorch's generator is drawn in the reference's order.
    pub fn new(p: nn::Path, cfg: &UnetConfig) -> Self {
        let (ngf, norm) = (cfg.ngf, cfg.norm);
        // Paths from the outermost in: the outermost block's submodule is its layer 1, every
        // other block's its layer 3 (after LeakyReLU, conv, norm).
        let path = |depth: usize| {
            let mut q = &p / "model";
            for d in 0..depth {
                q = &q / "model" / if d == 0 { 1 } else { 3 };
            }
            q
        };
        let n_mid8 = (cfg.num_downs - 5).max(0) as usize;
        let depth_inner = 4 + n_mid8;
        let mut block =
            Block::new(&path(depth_inner), ngf * 8, ngf * 8, ngf * 8, None, Place::Innermost, norm, false);
        for i in 0..n_mid8 {
            let d = depth_inner - 1 - i;
            block = Block::new(
                &path(d),
                ngf * 8,
                ngf * 8,
                ngf * 8,
                Some(block),
                Place::Middle,
                norm,
                cfg.dropout,
            );
        }
        for (d, (outer, inner)) in [(3, (ngf * 4, ngf * 8)), (2, (ngf * 2, ngf * 4)), (1, (ngf, ngf * 2))] {
            block = Block::new(&path(d), outer, inner, outer, Some(block), Place::Middle, norm, false);
        }
        let outermost = Block::new(
            &path(0),
            cfg.output_nc,
            ngf,
            cfg.input_nc,
            Some(block),
            Place::Outermost,
            norm,
            false,
        );
        Self { cfg: *cfg, outermost }
    }

    /// Translations `[N, output_nc, S, S]` in (−1, 1) of `x` `[N, input_nc, S, S]`.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        self.outermost.forward(x, mode)
    }
}

impl UnetConfig {
    /// Checks the shape against an image size; the error names the key.
    pub fn validate(&self, size: i64) -> Result<(), InvalidConfig> {
        if self.num_downs < 5 {
            return Err(InvalidConfig(format!(
                "model.num_downs: the U-Net needs at least 5 downsamplings, found {}",
                self.num_downs
            )));
        }
        if self.num_downs > 12 || size % (1 << self.num_downs) != 0 {
            return Err(InvalidConfig(format!(
                "model.size: {size} is not a multiple of 2^{} (the U-Net halves it {} times)",
                self.num_downs, self.num_downs
            )));
        }
        if !(1..=4096).contains(&self.ngf) {
            return Err(InvalidConfig(format!("model.ngf: expected 1 to 4096 filters, found {}", self.ngf)));
        }
        for (k, c) in [("input", self.input_nc), ("output", self.output_nc)] {
            if !(1..=4).contains(&c) {
                return Err(InvalidConfig(format!("model.{k}_channels: expected 1 to 4, found {c}")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn cfg(num_downs: i64) -> UnetConfig {
        UnetConfig { input_nc: 1, output_nc: 3, ngf: 4, num_downs, norm: Norm::Batch, dropout: true }
    }

    #[test]
    fn shapes_names_and_parameter_count() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let g = UnetGenerator::new(vs.root(), &cfg(6));
        let y = tch::no_grad(|| {
            g.forward(&Tensor::randn([2, 1, 64, 64], (Kind::Float, Device::Cpu)), Mode::Eval)
        });
        assert_eq!(y.size(), vec![2, 3, 64, 64]);
        assert!(y.abs().max().double_value(&[]) < 1.0);
        let names = vs.variables();
        for n in [
            "model.model.0.weight",
            "model.model.3.weight",
            "model.model.3.bias",
            "model.model.1.model.1.weight",
            "model.model.1.model.2.running_var",
            "model.model.1.model.5.weight",
            "model.model.1.model.3.model.3.model.3.model.3.model.1.weight",
            "model.model.1.model.3.model.3.model.3.model.3.model.4.bias",
        ] {
            assert!(names.contains_key(n), "{n} missing");
        }
        // No bias before a BatchNorm: only the outermost up conv has one.
        assert_eq!(names.keys().filter(|k| k.ends_with(".bias") && !k.contains("running")).count(), 1 + 9);
        // Parameters by hand: down convs 16·Cin·Cout, up convs 16·Cin·Cout (+3 bias out), BN 2·C.
        let (f, i, o) = (4i64, 1i64, 3i64);
        let downs = [(i, f), (f, 2 * f), (2 * f, 4 * f), (4 * f, 8 * f), (8 * f, 8 * f), (8 * f, 8 * f)];
        let ups = [(2 * f, o), (4 * f, f), (8 * f, 2 * f), (16 * f, 4 * f), (16 * f, 8 * f), (8 * f, 8 * f)];
        let convs: i64 = downs.iter().chain(&ups).map(|(a, b)| 16 * a * b).sum::<i64>() + o;
        let bns = 2 * (2 * f + 4 * f + 8 * f + 8 * f) + 2 * (f + 2 * f + 4 * f + 8 * f + 8 * f);
        let n: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        assert_eq!(n, convs + bns);
    }

    #[test]
    fn dropout_is_random_except_in_eval_mode() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let g = UnetGenerator::new(vs.root(), &cfg(6));
        let x = Tensor::randn([1, 1, 64, 64], (Kind::Float, Device::Cpu));
        let run = |m| tch::no_grad(|| g.forward(&x, m));
        assert!(run(Mode::Eval).equal(&run(Mode::Eval)));
        assert!(!run(Mode::Paper).equal(&run(Mode::Paper)), "paper mode keeps dropout on");
        tch::manual_seed(3);
        let a = run(Mode::Paper);
        tch::manual_seed(3);
        assert!(a.equal(&run(Mode::Paper)), "seeded dropout replays");
        assert!(cfg(4).validate(64).is_err() && cfg(6).validate(48).is_err() && cfg(6).validate(128).is_ok());
    }
}
