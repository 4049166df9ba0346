//! Conditional BatchNorm (de Vries et al., "Modulating early visual processing by language",
//! NeurIPS 2017; the class-conditional form of Miyato & Koyama 2018):
//!
//! ```text
//! CBN(x, y) = γ_y · (x − E[x]) / √(Var[x] + ε) + β_y       per channel, γ, β ∈ ℝ^{K×C}
//! ```
//! The statistics are BatchNorm's (batch statistics in training, running averages in evaluation);
//! only the affine part depends on the class. γ starts at 1 and β at 0, so at initialisation CBN
//! equals BatchNorm.

use tch::nn::{self, ModuleT};
use tch::Tensor;

/// `[N, C, H, W]`, labels `[N]` → `[N, C, H, W]`.
#[derive(Debug)]
pub struct ConditionalBatchNorm2d {
    bn: gantry_nn::BatchNorm,
    /// γ `[K, C]`.
    pub gamma: Tensor,
    /// β `[K, C]`.
    pub beta: Tensor,
}

impl ConditionalBatchNorm2d {
    /// Variables `bn.running_mean`, `bn.running_var`, `gamma`, `beta` under `p`.
    pub fn new(p: &nn::Path, channels: i64, classes: i64) -> Self {
        let bn = gantry_nn::batch_norm2d(
            p / "bn",
            channels,
            nn::BatchNormConfig { affine: false, ..Default::default() },
        );
        let gamma = p.var("gamma", &[classes, channels], nn::Init::Const(1.0));
        let beta = p.var("beta", &[classes, channels], nn::Init::Const(0.0));
        Self { bn, gamma, beta }
    }

    /// `x` `[N, C, H, W]` normalised, then scaled and shifted by the γ and β of each sample's
    /// class `y` `[N]`.
    pub fn forward(&self, x: &Tensor, y: &Tensor, train: bool) -> Tensor {
        let h = self.bn.forward_t(x, train);
        let g = self.gamma.index_select(0, y).unsqueeze(-1).unsqueeze(-1); // [N, C, 1, 1]
        let b = self.beta.index_select(0, y).unsqueeze(-1).unsqueeze(-1);
        h * g + b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn per_class_affine_after_shared_statistics() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cbn = ConditionalBatchNorm2d::new(&vs.root(), 3, 4);
        let x = Tensor::randn([6, 3, 5, 5], tch::kind::FLOAT_CPU) * 3.0 + 1.0;
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 1, 0]);
        // At initialisation: plain BatchNorm (zero mean, unit variance per channel).
        let h = cbn.forward(&x, &y, true);
        let m = h.mean_dim([0i64, 2, 3].as_slice(), false, Kind::Float);
        assert!(m.abs().max().double_value(&[]) < 1e-5);
        tch::no_grad(|| {
            cbn.gamma.shallow_clone().copy_(&Tensor::arange(12, tch::kind::FLOAT_CPU).view([4, 3]));
            let _ = cbn.beta.shallow_clone().fill_(0.5);
        });
        let h2 = cbn.forward(&x, &y, true);
        // Sample 1 has class 1: γ = (3, 4, 5), β = 0.5, on the normalised input.
        let want = h.get(1) * Tensor::from_slice(&[3.0f32, 4.0, 5.0]).view([3, 1, 1]) + 0.5;
        assert!(h2.get(1).allclose(&want, 1e-5, 1e-5, false));
    }
}
