//! Normalisation as the authors' `get_norm_layer`: `batch` (`BatchNorm2d(affine=True)`, weight
//! initialised N(1, 0.02), bias 0, running statistics with momentum 0.1, ε 1e-5) or `instance`
//! (`InstanceNorm2d(affine=False)`, no parameters).
//!
//! pix2pix runs its generator at test time "in exactly the same manner as during the training
//! phase" (Isola et al. 2017, §3.3): dropout on and BatchNorm with the statistics of the test
//! batch. [`Mode`] says which behaviour a forward pass has.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

/// Which normalisation layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// BatchNorm (pix2pix's default).
    #[default]
    Batch,
    /// Instance norm without affine parameters (CycleGAN's).
    Instance,
}

impl Norm {
    /// Whether a convolution followed by this norm has a bias (the authors' `use_bias`: only
    /// instance norm, which has no β of its own).
    pub fn conv_bias(self) -> bool {
        self == Norm::Instance
    }
}

/// How a forward pass treats dropout and BatchNorm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training: batch statistics (updating the running ones), dropout on.
    Train,
    /// pix2pix's test time: batch statistics without updating the running ones, dropout on.
    Paper,
    /// The usual eval mode: running statistics, dropout off.
    Eval,
}

impl Mode {
    /// Whether dropout is active.
    pub fn dropout(self) -> bool {
        self != Mode::Eval
    }
}

/// One normalisation layer over `channels` channels.
#[derive(Debug)]
pub struct NormLayer {
    norm: Norm,
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

impl NormLayer {
    /// The layer's variables on `p` (`weight`, `bias`, `running_mean`, `running_var` for batch
    /// norm, as PyTorch names them; none for instance norm).
    pub fn new(p: nn::Path, norm: Norm, channels: i64) -> Self {
        match norm {
            Norm::Batch => Self {
                norm,
                weight: p.var("weight", &[channels], nn::Init::Randn { mean: 1.0, stdev: 0.02 }),
                bias: p.var("bias", &[channels], nn::Init::Const(0.0)),
                running_mean: p.zeros_no_train("running_mean", &[channels]),
                running_var: p.ones_no_train("running_var", &[channels]),
            },
            Norm::Instance => Self {
                norm,
                weight: Tensor::new(),
                bias: Tensor::new(),
                running_mean: Tensor::new(),
                running_var: Tensor::new(),
            },
        }
    }

    /// `x` `[N, C, H, W]` normalised.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        match (self.norm, mode) {
            (Norm::Instance, _) => x.instance_norm(
                None::<Tensor>,
                None::<Tensor>,
                None::<Tensor>,
                None::<Tensor>,
                true,
                0.1,
                1e-5,
                false,
            ),
            (Norm::Batch, Mode::Train) => gantry_nn::batch_norm::batch_norm(
                x,
                Some(&self.weight),
                Some(&self.bias),
                Some(&self.running_mean),
                Some(&self.running_var),
                true,
                0.1,
                1e-5,
            ),
            (Norm::Batch, Mode::Paper) => x.batch_norm(
                Some(&self.weight),
                Some(&self.bias),
                None::<&Tensor>,
                None::<&Tensor>,
                true,
                0.1,
                1e-5,
                false,
            ),
            (Norm::Batch, Mode::Eval) => x.batch_norm(
                Some(&self.weight),
                Some(&self.bias),
                Some(&self.running_mean),
                Some(&self.running_var),
                false,
                0.1,
                1e-5,
                false,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn paper_mode_uses_batch_statistics_without_touching_the_running_ones() {
        let _generator = crate::generator_lock();
        let vs = nn::VarStore::new(Device::Cpu);
        let bn = NormLayer::new(vs.root(), Norm::Batch, 3);
        let x = Tensor::randn([4, 3, 5, 5], (Kind::Float, Device::Cpu)) * 3.0 + 2.0;
        let before = bn.running_mean.copy();
        let y = tch::no_grad(|| bn.forward(&x, Mode::Paper));
        assert!(bn.running_mean.equal(&before), "paper mode moved the running mean");
        // Batch statistics: each channel of y is (x − mean)/std · γ + β over the batch.
        let m = x.mean_dim([0i64, 2, 3].as_slice(), true, Kind::Float);
        let v = x.var_correction([0i64, 2, 3].as_slice(), 0, true);
        let want = (&x - &m) / (v + 1e-5).sqrt() * bn.weight.view([1, 3, 1, 1]) + bn.bias.view([1, 3, 1, 1]);
        assert!(y.allclose(&want, 1e-5, 1e-5, false));
        let _ = tch::no_grad(|| bn.forward(&x, Mode::Train));
        assert!(!bn.running_mean.equal(&before), "train mode updates the running mean");
        // Eval mode with fresh statistics (0, 1) is an affine map.
        let fresh = NormLayer::new(vs.root() / "b", Norm::Batch, 3);
        let e = tch::no_grad(|| fresh.forward(&x, Mode::Eval));
        let want = &x / (1.0f64 + 1e-5).sqrt() * fresh.weight.view([1, 3, 1, 1]);
        assert!(e.allclose(&want, 1e-5, 1e-5, false));
        // γ ~ N(1, 0.02).
        let g = NormLayer::new(vs.root() / "c", Norm::Batch, 4096).weight;
        assert!((g.mean(Kind::Float).double_value(&[]) - 1.0).abs() < 0.002);
        assert!((g.std(true).double_value(&[]) - 0.02).abs() < 0.002);
    }
}
