//! InfoGAN — Chen et al., "InfoGAN: Interpretable Representation Learning by Information
//! Maximizing Generative Adversarial Nets", NeurIPS 2016.
//!
//! G's input is [z; c] with z ~ N(0, I) (`noise_dim`), one categorical code c₁ ~ Cat(K) (one-hot)
//! and `continuous` codes c₂… ~ U(−1, 1). D's body is shared with an auxiliary head Q(c | x). The
//! mutual information I(c; G(z, c)) is maximised through its variational lower bound (eq. 4):
//!
//! ```text
//! L_I = E[log Q(c | G(z, c))] + H(c)  ≥ … ;   minimised loss:  λ · ( CE(Q_cat(x), c₁)
//!       + λ_cont · Σ_j ½ (c_j − μ_j(x))² )          (Gaussian Q with unit variance, constants dropped)
//! ```
//! The loss is added to D's objective (training Q and the shared body) and to G's (making codes
//! recoverable), as in the paper's min_{G,Q} max_D V(D, G) − λ L_I.

use gantry_dcgan::dcgan::{conv_init, discriminator_body, generator};
use gantry_dcgan::{DNorm, DcganConfig};
use gantry_nn::{leaky_relu, spectral_norm};
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Reduction, Tensor};

/// InfoGAN on DCGAN's networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoGanConfig {
    pub image_size: i64,
    /// 1 or 3; 0 = from the data.
    pub channels: i64,
    /// Incompressible noise z (the paper's MNIST setting: 62).
    pub noise_dim: i64,
    /// Values K of the categorical code (MNIST: 10).
    pub categorical: i64,
    /// Number of continuous codes (MNIST: 2).
    pub continuous: i64,
    pub g_width: i64,
    pub d_width: i64,
    pub d_norm: DNorm,
    /// λ on the whole information term (the paper: 1).
    pub info_weight: f64,
    /// Extra weight on the continuous codes' Gaussian NLL.
    pub continuous_weight: f64,
}

impl InfoGanConfig {
    /// The paper's MNIST codes (62 noise, Cat(10), 2 continuous) on a 32×32 DCGAN.
    pub fn mnist() -> Self {
        Self {
            image_size: 32,
            channels: 0,
            noise_dim: 62,
            categorical: 10,
            continuous: 2,
            g_width: 32,
            d_width: 32,
            d_norm: DNorm::Batch,
            info_weight: 1.0,
            continuous_weight: 1.0,
        }
    }

    /// Length of G's input [z; onehot(c₁); c₂…].
    pub fn input_dim(&self) -> i64 {
        self.noise_dim + self.categorical + self.continuous
    }

    pub fn dcgan(&self) -> DcganConfig {
        DcganConfig {
            image_size: self.image_size,
            channels: self.channels.max(1),
            z_dim: self.input_dim(),
            g_width: self.g_width,
            d_width: self.d_width,
            d_norm: self.d_norm,
            ..DcganConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), gantry_dcgan::ConfigError> {
        self.dcgan().validate()?;
        for (field, v, min) in [
            ("model.noise_dim", self.noise_dim, 1),
            ("model.categorical", self.categorical, 2),
            ("model.continuous", self.continuous, 0),
        ] {
            if v < min {
                return Err(gantry_dcgan::ConfigError {
                    field,
                    expected: format!("≥ {min}"),
                    found: v.to_string(),
                });
            }
        }
        for (field, v) in
            [("model.info_weight", self.info_weight), ("model.continuous_weight", self.continuous_weight)]
        {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(gantry_dcgan::ConfigError {
                    field,
                    expected: "a finite value ≥ 0".into(),
                    found: v.to_string(),
                });
            }
        }
        Ok(())
    }

    /// G's input from noise `[N, noise_dim]`, categorical values `[N]` and continuous codes
    /// `[N, continuous]`.
    pub fn latent(&self, z: &Tensor, cat: &Tensor, cont: &Tensor) -> Tensor {
        Tensor::cat(
            &[z.shallow_clone(), cat.one_hot(self.categorical).to_kind(z.kind()), cont.to_kind(z.kind())],
            1,
        )
    }
}

/// InfoGAN's generator: DCGAN's, on [z; c] `[N, input_dim]`.
pub fn info_generator(p: nn::Path, cfg: &InfoGanConfig) -> nn::SequentialT {
    generator(p, &cfg.dcgan())
}

/// D with a Q head: images → (realness logits `[N]`, categorical logits `[N, K]`, continuous
/// means `[N, continuous]`).
#[derive(Debug)]
pub struct InfoDiscriminator {
    body: nn::SequentialT,
    logit: Box<dyn ModuleT>,
    q_hidden: nn::Linear,
    q_out: nn::Linear,
    categorical: i64,
}

impl InfoDiscriminator {
    pub fn new(p: nn::Path, cfg: &InfoGanConfig) -> Self {
        let d = cfg.dcgan();
        let (body, c) = discriminator_body(&p, &d, d.channels);
        let f = 16 * c;
        let lin = nn::LinearConfig { ws_init: conv_init(), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        let logit = Box::new(spectral_norm::linear(&p / "logit", f, 1, lin, cfg.d_norm == DNorm::Spectral));
        let q_hidden = nn::linear(&p / "q_hidden", f, 128, Default::default());
        let q_out = nn::linear(&p / "q_out", 128, cfg.categorical + cfg.continuous, Default::default());
        Self { body, logit, q_hidden, q_out, categorical: cfg.categorical }
    }

    pub fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor, Tensor) {
        let h = self.body.forward_t(x, train).flatten(1, -1);
        let realness = self.logit.forward_t(&h, train).flatten(0, -1);
        let q = self.q_out.forward_t(&leaky_relu(&self.q_hidden.forward_t(&h, train), 0.2), train);
        let n = q.size()[1];
        (realness, q.narrow(1, 0, self.categorical), q.narrow(1, self.categorical, n - self.categorical))
    }
}

/// The information loss λ·(CE(cat_logits, cat) + λ_cont·mean_j ½(c_j − μ_j)²), averaged over the
/// batch; also returns the two parts (unweighted) for logging.
pub fn info_loss(
    cfg: &InfoGanConfig,
    cat_logits: &Tensor,
    cont_mean: &Tensor,
    cat: &Tensor,
    cont: &Tensor,
) -> (Tensor, f64, f64) {
    let ce = cat_logits.cross_entropy_loss::<Tensor>(cat, None, Reduction::Mean, -100, 0.0);
    let nll = if cfg.continuous > 0 {
        ((cont - cont_mean).square() * 0.5)
            .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
            .mean(Kind::Float)
    } else {
        Tensor::zeros([], (Kind::Float, cat_logits.device()))
    };
    let total = (&ce + &nll * cfg.continuous_weight) * cfg.info_weight;
    (total, ce.double_value(&[]), nll.double_value(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn shapes_and_the_information_loss() {
        let cfg = InfoGanConfig { channels: 1, g_width: 4, d_width: 4, ..InfoGanConfig::mnist() };
        cfg.validate().unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let g = info_generator(vs.root() / "g", &cfg);
        let d = InfoDiscriminator::new(vs.root() / "d", &cfg);
        let cat = Tensor::from_slice(&[3i64, 0, 9]);
        let cont = Tensor::from_slice(&[0.5f32, -0.5, 0.0, 1.0, -1.0, 0.2]).view([3, 2]);
        let z = cfg.latent(&Tensor::zeros([3, 62], tch::kind::FLOAT_CPU), &cat, &cont);
        assert_eq!(z.size(), vec![3, 74]);
        assert_eq!(z.get(0).get(62 + 3).double_value(&[]), 1.0);
        let x = g.forward_t(&z, true);
        let (r, cl, mu) = d.forward(&x, true);
        assert_eq!((r.size(), cl.size(), mu.size()), (vec![3], vec![3, 10], vec![3, 2]));
        // Closed form: uniform logits give CE = ln 10; μ = 0 gives ½ mean Σ c².
        let (total, ce, nll) = info_loss(
            &cfg,
            &Tensor::zeros([3, 10], tch::kind::FLOAT_CPU),
            &Tensor::zeros([3, 2], tch::kind::FLOAT_CPU),
            &cat,
            &cont,
        );
        assert!((ce - 10f64.ln()).abs() < 1e-6);
        let want_nll = 0.5 * (0.25 + 0.25 + 0.0 + 1.0 + 1.0 + 0.04) / 3.0;
        assert!((nll - want_nll).abs() < 1e-6);
        assert!((total.double_value(&[]) - (ce + nll)).abs() < 1e-5);
    }
}
