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
use tch::nn::{self, LinearConfig, ModuleT};
use tch::{Kind, Reduction, Tensor};

/// InfoGAN on DCGAN's networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoGanConfig {
    /// Output resolution (power of two ≥ 8).
    pub image_size: i64,
    /// 1 or 3; 0 = from the data.
    pub channels: i64,
    /// Incompressible noise z (the paper's MNIST setting: 62).
    pub noise_dim: i64,
    /// Values K of the categorical code (MNIST: 10).
    pub categorical: i64,
    /// Number of continuous codes (MNIST: 2).
    pub continuous: i64,
    /// G's width (DCGAN's `g_width`).
    pub g_width: i64,
    /// D's width (DCGAN's `d_width`).
    pub d_width: i64,
    /// D's normalisation.
    pub d_norm: DNorm,
    /// λ on the whole information term (the paper: 1).
    pub info_weight: f64,
    /// Extra weight on the continuous codes' Gaussian NLL.
    pub continuous_weight: f64,
    /// Width of the paper's fully connected layer (Appendix C.1, MNIST: 1024) between the codes
    /// and G's convolutional stack, and between D's convolutional body and its heads (then Q's
    /// hidden layer has BatchNorm too, as in the paper); 0 = DCGAN's networks unchanged.
    #[serde(default)]
    pub fc_width: i64,
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
            fc_width: 0,
        }
    }

    /// The paper's MNIST networks (Chen et al. 2016, Table 1) at 32×32: FC 1024 before G's
    /// 4×4×128 projection and after D's 4×4×128 body, BatchNorm in Q's hidden layer.
    pub fn paper_mnist() -> Self {
        Self { g_width: 32, d_width: 32, fc_width: 1024, ..Self::mnist() }
    }

    /// Length of G's input [z; onehot(c₁); c₂…].
    pub fn input_dim(&self) -> i64 {
        self.noise_dim + self.categorical + self.continuous
    }

    /// The DCGAN networks underneath (G's input is [z; c]).
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

    /// Checks the sizes; the error names the field.
    pub fn validate(&self) -> Result<(), gantry_dcgan::ConfigError> {
        self.dcgan().validate()?;
        for (field, v, min) in [
            ("model.noise_dim", self.noise_dim, 1),
            ("model.categorical", self.categorical, 2),
            ("model.continuous", self.continuous, 0),
            ("model.fc_width", self.fc_width, 0),
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

/// InfoGAN's generator: [z; c] `[N, input_dim]` → images; DCGAN's generator, behind the paper's
/// FC–BN–ReLU layer when `fc_width > 0`.
pub fn info_generator(p: nn::Path, cfg: &InfoGanConfig) -> nn::SequentialT {
    if cfg.fc_width == 0 {
        return generator(p, &cfg.dcgan());
    }
    let lin = nn::LinearConfig { ws_init: conv_init(), bs_init: None, bias: false };
    let conv = generator(&p / "conv", &DcganConfig { z_dim: cfg.fc_width, ..cfg.dcgan() });
    nn::seq_t()
        .add(nn::linear(&p / "fc", cfg.input_dim(), cfg.fc_width, lin)) // [N, fc_width]
        .add(gantry_nn::batch_norm1d(&p / "fc_bn", cfg.fc_width, bn_config()))
        .add_fn(|x| x.relu())
        .add(conv)
}

/// DCGAN's BatchNorm initialisation (γ ~ N(1, 0.02)).
fn bn_config() -> nn::BatchNormConfig {
    nn::BatchNormConfig { ws_init: nn::Init::Randn { mean: 1.0, stdev: 0.02 }, ..Default::default() }
}

/// D with a Q head: images → (realness logits `[N]`, categorical logits `[N, K]`, continuous
/// means `[N, continuous]`).
#[derive(Debug)]
pub struct InfoDiscriminator {
    body: nn::SequentialT,
    logit: Box<dyn ModuleT>,
    q_hidden: nn::SequentialT,
    q_out: nn::Linear,
    categorical: i64,
}

impl InfoDiscriminator {
    /// DCGAN's D body with a realness logit and the Q head.
    pub fn new(p: nn::Path, cfg: &InfoGanConfig) -> Self {
        let d = cfg.dcgan();
        let (conv, c) = discriminator_body(&p, &d, d.channels);
        let sn = cfg.d_norm == DNorm::Spectral;
        let lin = nn::LinearConfig { ws_init: conv_init(), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        let mut body = conv.add_fn(|x| x.flatten(1, -1)); // [N, 16c]
        let mut f = 16 * c;
        let q_hidden = if cfg.fc_width > 0 {
            // The paper's FC 1024 (BN, lReLU) shared by D and Q, and BN in Q's hidden layer.
            let bn = cfg.d_norm == DNorm::Batch;
            body = body.add(spectral_norm::linear(
                &p / "fc",
                f,
                cfg.fc_width,
                LinearConfig { bias: !bn, ..lin },
                sn,
            ));
            if bn {
                body = body.add(gantry_nn::batch_norm1d(&p / "fc_bn", cfg.fc_width, bn_config()));
            }
            body = body.add_fn(|x| leaky_relu(x, 0.2));
            f = cfg.fc_width;
            let no_bias = nn::LinearConfig { bias: false, ..Default::default() };
            nn::seq_t().add(nn::linear(&p / "q_hidden", f, 128, no_bias)).add(gantry_nn::batch_norm1d(
                &p / "q_hidden_bn",
                128,
                bn_config(),
            ))
        } else {
            nn::seq_t().add(nn::linear(&p / "q_hidden", f, 128, Default::default()))
        };
        let logit = Box::new(spectral_norm::linear(&p / "logit", f, 1, lin, sn));
        let q_out = nn::linear(&p / "q_out", 128, cfg.categorical + cfg.continuous, Default::default());
        Self { body, logit, q_hidden, q_out, categorical: cfg.categorical }
    }

    /// (realness logits `[N]`, categorical logits `[N, K]`, continuous codes' means `[N, C]`).
    pub fn forward(&self, x: &Tensor, train: bool) -> (Tensor, Tensor, Tensor) {
        let h = self.body.forward_t(x, train);
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

    /// Trainable scalars of (G, D) built from `cfg`.
    fn counts(cfg: &InfoGanConfig) -> (i64, i64) {
        let (vg, vd) = (nn::VarStore::new(Device::Cpu), nn::VarStore::new(Device::Cpu));
        let _g = info_generator(vg.root(), cfg);
        let _d = InfoDiscriminator::new(vd.root(), cfg);
        let n = |vs: &nn::VarStore| vs.trainable_variables().iter().map(|t| t.numel() as i64).sum::<i64>();
        (n(&vg), n(&vd))
    }

    #[test]
    fn the_papers_fully_connected_layers() {
        let small = InfoGanConfig { channels: 1, g_width: 4, d_width: 4, ..InfoGanConfig::mnist() };
        let fc = InfoGanConfig { fc_width: 24, ..small.clone() };
        fc.validate().unwrap();
        let ((g0, d0), (g1, d1)) = (counts(&small), counts(&fc));
        let (i, f, c0) = (small.input_dim(), 24, 4 * 4 * 16); // G's first map: 16 channels at 4×4
        let body = 16 * 4 * 4; // D's body output: 16 channels at 4×4, flattened
                               // G: FC (no bias) + BN, and the projection now reads F inputs instead of i.
        assert_eq!(g1 - g0, i * f + 2 * f + (f - i) * c0);
        // D: FC (no bias, BN follows) + BN; logit and Q's hidden read F inputs; Q's hidden loses
        // its bias and gains BN.
        assert_eq!(d1 - d0, body * f + 2 * f + (f - body) + (f - body) * 128 - 128 + 2 * 128);

        let vs = nn::VarStore::new(Device::Cpu);
        let g = info_generator(vs.root() / "g", &fc);
        let d = InfoDiscriminator::new(vs.root() / "d", &fc);
        let z = Tensor::randn([5, fc.input_dim()], tch::kind::FLOAT_CPU);
        let x = g.forward_t(&z, true);
        assert_eq!(x.size(), vec![5, 1, 32, 32]);
        let (r, cl, mu) = d.forward(&x, true);
        assert_eq!((r.size(), cl.size(), mu.size()), (vec![5], vec![5, 10], vec![5, 2]));
        // In evaluation BatchNorm uses running statistics: an image's outputs do not depend on
        // the rest of the batch.
        let (r_all, _, _) = d.forward(&x, false);
        let (r_one, _, _) = d.forward(&x.narrow(0, 0, 1), false);
        assert!((r_all.get(0) - r_one.get(0)).abs().double_value(&[]) < 1e-5);
        assert!(InfoGanConfig { fc_width: -1, ..small }.validate().is_err());
    }
}
