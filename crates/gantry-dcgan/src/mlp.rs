//! MLP GANs for low-dimensional toy data (the 8-Gaussian ring and 5×5 grid of Metz et al., "Unrolled
//! Generative Adversarial Networks", ICLR 2017, §3.1; the 1-D Gaussian of the lectures).
//!
//! ```text
//! G: z [N, z_dim] ─ layers × { Linear(hidden) ─ ReLU } ─ Linear → x [N, data_dim]
//! D: x [N, data_dim] ─ layers × { Linear(hidden) ─ LeakyReLU(0.2) } ─ Linear → logit [N]
//! ```
//! PyTorch's default (Kaiming-uniform) initialisation, as in Metz et al.'s reference setting.
//!
//! D options: `spectral_norm` (every D linear layer, Miyato et al. 2018) and `minibatch_kernels` > 0
//! (minibatch discrimination on the last hidden layer, Salimans et al. 2016).

use gantry_nn::{spectral_norm, MinibatchDiscrimination};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};

use crate::ConfigError;
use gantry_nn::leaky_relu;

/// MLP GAN hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Dimension of the data (2 for the ring and the grid, 1 for the 1-D Gaussian).
    pub data_dim: i64,
    /// Latent dimension.
    pub z_dim: i64,
    /// Width of every hidden layer.
    pub hidden: i64,
    /// Number of hidden layers in each network.
    pub layers: i64,
    /// Spectral normalisation of D's layers.
    #[serde(default)]
    pub spectral_norm: bool,
    /// Kernels B of D's minibatch discrimination (0 = off).
    #[serde(default)]
    pub minibatch_kernels: i64,
    /// Dimension C of each minibatch-discrimination kernel.
    #[serde(default = "default_kernel_dim")]
    pub minibatch_kernel_dim: i64,
}

fn default_kernel_dim() -> i64 {
    5
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self {
            data_dim: 2,
            z_dim: 64,
            hidden: 128,
            layers: 3,
            spectral_norm: false,
            minibatch_kernels: 0,
            minibatch_kernel_dim: 5,
        }
    }
}

impl MlpConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, v) in [
            ("model.data_dim", self.data_dim),
            ("model.z_dim", self.z_dim),
            ("model.hidden", self.hidden),
            ("model.layers", self.layers),
            ("model.minibatch_kernel_dim", self.minibatch_kernel_dim),
        ] {
            if v < 1 {
                return Err(ConfigError { field, expected: "≥ 1".into(), found: v.to_string() });
            }
        }
        if self.minibatch_kernels < 0 {
            return Err(ConfigError {
                field: "model.minibatch_kernels",
                expected: "≥ 0 (0 = off)".into(),
                found: self.minibatch_kernels.to_string(),
            });
        }
        Ok(())
    }
}

/// G: z `[N, z_dim]` → points `[N, data_dim]`.
pub fn generator(p: nn::Path, cfg: &MlpConfig) -> nn::SequentialT {
    let mut seq = nn::seq_t();
    let mut width = cfg.z_dim;
    for i in 0..cfg.layers {
        seq = seq
            .add(nn::linear(&p / format!("fc{i}"), width, cfg.hidden, Default::default()))
            .add_fn(|x| x.relu());
        width = cfg.hidden;
    }
    seq.add(nn::linear(&p / "out", width, cfg.data_dim, Default::default()))
}

/// D: points `[N, data_dim]` → logits `[N]`, with the options of the module docs.
pub fn discriminator(p: nn::Path, cfg: &MlpConfig) -> nn::SequentialT {
    let linear =
        |p: nn::Path, i: i64, o: i64| spectral_norm::linear(p, i, o, Default::default(), cfg.spectral_norm);
    let mut seq = nn::seq_t();
    let mut width = cfg.data_dim;
    for i in 0..cfg.layers {
        seq = seq.add(linear(&p / format!("fc{i}"), width, cfg.hidden)).add_fn(|x| leaky_relu(x, 0.2));
        width = cfg.hidden;
    }
    if cfg.minibatch_kernels > 0 {
        seq = seq.add(MinibatchDiscrimination::new(
            &p / "minibatch",
            width,
            cfg.minibatch_kernels,
            cfg.minibatch_kernel_dim,
        ));
        width += cfg.minibatch_kernels;
    }
    seq.add(linear(&p / "logit", width, 1)).add_fn(|x| x.flatten(0, -1))
}

/// [`discriminator`] as a function of its parameters: D's logits for `x` with the weights
/// `param(name)` gives (`fc{i}.weight`, `fc{i}.bias`, …, `logit.weight`, `logit.bias`), which may
/// be any tensors of those shapes — an unrolled D's parameters after differentiable updates, in
/// the autograd graph of what made them. None for the options that hold state of their own
/// (spectral norm's power iteration, minibatch discrimination's kernels).
pub fn discriminator_with(
    x: &tch::Tensor,
    param: impl Fn(&str) -> tch::Tensor,
    cfg: &MlpConfig,
) -> Option<tch::Tensor> {
    if cfg.spectral_norm || cfg.minibatch_kernels > 0 {
        return None;
    }
    let linear = |x: &tch::Tensor, name: &str| {
        x.linear(&param(&format!("{name}.weight")), Some(&param(&format!("{name}.bias"))))
    };
    let mut h = x.shallow_clone();
    for i in 0..cfg.layers {
        h = leaky_relu(&linear(&h, &format!("fc{i}")), 0.2);
    }
    Some(linear(&h, "logit").flatten(0, -1))
}

/// Both networks as boxed modules.
pub fn build(g: nn::Path, d: nn::Path, cfg: &MlpConfig) -> (Box<dyn ModuleT>, Box<dyn ModuleT>) {
    (Box::new(generator(g, cfg)), Box::new(discriminator(d, cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Tensor};

    #[test]
    fn shapes() {
        let cfg = MlpConfig::default();
        let vs = nn::VarStore::new(Device::Cpu);
        let (g, d) = build(vs.root() / "g", vs.root() / "d", &cfg);
        let x = g.forward_t(&Tensor::randn([7, 64], tch::kind::FLOAT_CPU), true);
        assert_eq!(x.size(), vec![7, 2]);
        assert_eq!(d.forward_t(&x, true).size(), vec![7]);
        assert_eq!(vs.variables()["g.fc1.weight"].size(), vec![128, 128]);
        let opts = MlpConfig { spectral_norm: true, minibatch_kernels: 10, ..cfg.clone() };
        let vs = nn::VarStore::new(Device::Cpu);
        let d = discriminator(vs.root() / "d", &opts);
        assert_eq!(d.forward_t(&x, true).size(), vec![7]);
        assert_eq!(vs.variables()["d.logit.weight"].size(), vec![1, 138]);
        assert!(vs.variables().contains_key("d.fc0.sn_u"));
        assert!(MlpConfig { layers: 0, ..cfg.clone() }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("model.layers"));
        assert!(discriminator_with(&x, |_| unreachable!(), &opts).is_none());
    }

    #[test]
    fn the_functional_discriminator_is_the_module() {
        let cfg = MlpConfig { layers: 2, hidden: 16, ..MlpConfig::default() };
        let vs = nn::VarStore::new(Device::Cpu);
        let d = discriminator(vs.root(), &cfg);
        let x = Tensor::randn([5, 2], tch::kind::FLOAT_CPU);
        let vars = vs.variables();
        let f = discriminator_with(&x, |n| vars[n].shallow_clone(), &cfg).unwrap();
        assert!(f.equal(&d.forward_t(&x, true)));
    }
}
