//! Class-conditional GANs on DCGAN's networks.
//!
//! Generator (`g_cond`):
//! - `concat` — cGAN (Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014): G(z, y)
//!   = DCGAN-G([z; e(y)]) with a learned label embedding e(y) ∈ ℝ^{embed_dim}, BatchNorm inside;
//! - `cbn` — G(z, y) = DCGAN-G(z) with every BatchNorm replaced by conditional BatchNorm
//!   (per-class γ, β; Miyato & Koyama 2018's generator).
//!
//! Discriminator (`d_cond`), on DCGAN-D's body φ (`[N, c, 4, 4]`, flattened to h ∈ ℝ^{16c}):
//! - `concat` — D(x, y) on [x; onehot(y) as K constant maps]: D judges the (image, label) pair;
//! - `projection` — D(x, y) = ψ(h) + ⟨embed(y), h⟩ (Miyato & Koyama, "cGANs with Projection
//!   Discriminator", ICLR 2018, eq. 3), ψ linear;
//! - `acgan` — D(x) = (realness logit ψ(h), class logits W·h) (Odena, Olah & Shlens, "Conditional
//!   Image Synthesis with Auxiliary Classifier GANs", ICML 2017); the class loss is added on fakes
//!   for G and on reals for D (`class_weight`). The paper also trains D's class head on fakes
//!   (`acgan_fake_class_loss = true`); then D can learn G's own labelling, and G may settle on one
//!   easily classified image per class (measured: 20% class accuracy and a single image per class
//!   after 3,000 steps on MNIST) — so, as in StudioGAN, reals only by default.
//!
//! With `d_norm = spectral` the heads (ψ, embed, class head) are spectrally normalised too.

use gantry_dcgan::dcgan::{batch_norm, conv_init, discriminator_body};
use gantry_dcgan::{DNorm, DcganConfig};
use gantry_nn::{spectral_norm, MinibatchStdDev};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::{Kind, Tensor};

use crate::cbn::ConditionalBatchNorm2d;

/// How G sees the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GCond {
    /// A label embedding concatenated to z (Mirza & Osindero 2014).
    Concat,
    /// Conditional BatchNorm: per-class γ and β in every block (Miyato & Koyama 2018).
    Cbn,
}

/// How D sees the label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DCond {
    /// One-hot label maps as extra input channels.
    Concat,
    /// The projection head ψ(φ(x)) + ⟨embed(y), φ(x)⟩ (Miyato & Koyama 2018).
    Projection,
    /// A class head beside the realness logit (Odena et al. 2017).
    Acgan,
}

/// A class-conditional DCGAN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CondConfig {
    /// Output resolution (power of two ≥ 8).
    pub image_size: i64,
    /// 1 or 3; 0 = from the data.
    pub channels: i64,
    /// Latent size.
    pub z_dim: i64,
    /// G's channels at its last hidden layer (DCGAN's `g_width`).
    pub g_width: i64,
    /// D's channels at its first layer (DCGAN's `d_width`).
    pub d_width: i64,
    /// Number of classes K.
    pub classes: i64,
    /// Size of G's label embedding with `g_cond = concat`.
    pub embed_dim: i64,
    /// How G takes the class.
    pub g_cond: GCond,
    /// How D takes the class.
    pub d_cond: DCond,
    /// D's normalisation: `batch`, `spectral` or `none`.
    pub d_norm: DNorm,
    /// ACGAN: weight of the class cross-entropy in both losses.
    pub class_weight: f64,
    /// ACGAN: also train D's class head on fakes (Odena et al.'s L_C).
    #[serde(default)]
    pub acgan_fake_class_loss: bool,
    /// Group size of a minibatch-standard-deviation map on D's 4×4 features (0 = off).
    #[serde(default)]
    pub mbstd_group: i64,
}

impl CondConfig {
    /// cGAN on MNIST 32×32: embedding concatenated to z, label maps concatenated to the image.
    pub fn cgan_mnist() -> Self {
        Self {
            image_size: 32,
            channels: 0,
            z_dim: 100,
            g_width: 32,
            d_width: 32,
            classes: 10,
            embed_dim: 10,
            g_cond: GCond::Concat,
            d_cond: DCond::Concat,
            d_norm: DNorm::Batch,
            class_weight: 1.0,
            acgan_fake_class_loss: false,
            mbstd_group: 0,
        }
    }

    /// The DCGAN configuration of the underlying networks.
    pub fn dcgan(&self) -> DcganConfig {
        DcganConfig {
            image_size: self.image_size,
            channels: self.channels.max(1),
            z_dim: self.z_dim,
            g_width: self.g_width,
            d_width: self.d_width,
            d_norm: self.d_norm,
            ..DcganConfig::default()
        }
    }

    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), gantry_dcgan::ConfigError> {
        self.dcgan().validate()?;
        for (field, v) in [("model.classes", self.classes), ("model.embed_dim", self.embed_dim)] {
            if v < 1 {
                return Err(gantry_dcgan::ConfigError {
                    field,
                    expected: "≥ 1".into(),
                    found: v.to_string(),
                });
            }
        }
        if self.mbstd_group < 0 {
            return Err(gantry_dcgan::ConfigError {
                field: "model.mbstd_group",
                expected: "≥ 0 (0 = off)".into(),
                found: self.mbstd_group.to_string(),
            });
        }
        if !(self.class_weight >= 0.0 && self.class_weight.is_finite()) {
            return Err(gantry_dcgan::ConfigError {
                field: "model.class_weight",
                expected: "a finite value ≥ 0".into(),
                found: self.class_weight.to_string(),
            });
        }
        Ok(())
    }
}

/// BatchNorm or conditional BatchNorm.
#[derive(Debug)]
enum Norm {
    Batch(gantry_nn::BatchNorm),
    Cond(ConditionalBatchNorm2d),
}

impl Norm {
    fn new(p: nn::Path, c: i64, cfg: &CondConfig) -> Self {
        match cfg.g_cond {
            GCond::Concat => Norm::Batch(batch_norm(p, c)),
            GCond::Cbn => Norm::Cond(ConditionalBatchNorm2d::new(&p, c, cfg.classes)),
        }
    }

    fn forward(&self, x: &Tensor, y: &Tensor, train: bool) -> Tensor {
        match self {
            Norm::Batch(bn) => bn.forward_t(x, train),
            Norm::Cond(cbn) => cbn.forward(x, y, train),
        }
    }
}

/// G(z, y): z `[N, z_dim]`, y `[N]` (i64 in 0..K) → images `[N, channels, S, S]` in (−1, 1).
#[derive(Debug)]
pub struct CondGenerator {
    embed: Option<nn::Embedding>,
    project: nn::Linear,
    c0: i64,
    norms: Vec<Norm>,
    ups: Vec<nn::ConvTranspose2D>,
    to_image: nn::ConvTranspose2D,
}

impl CondGenerator {
    /// Call [`CondConfig::validate`] first; `cfg.channels` must be resolved (≥ 1).
    pub fn new(p: nn::Path, cfg: &CondConfig) -> Self {
        let d = cfg.dcgan();
        let k = d.stages();
        let c0 = cfg.g_width << (k - 1);
        let embed = (cfg.g_cond == GCond::Concat).then(|| {
            nn::embedding(
                &p / "embed",
                cfg.classes,
                cfg.embed_dim,
                nn::EmbeddingConfig {
                    ws_init: nn::Init::Randn { mean: 0.0, stdev: 1.0 },
                    ..Default::default()
                },
            )
        });
        let z_in = cfg.z_dim + if embed.is_some() { cfg.embed_dim } else { 0 };
        let project = nn::linear(
            &p / "project",
            z_in,
            c0 * 16,
            nn::LinearConfig { ws_init: conv_init(), bs_init: None, bias: false },
        );
        let mut norms = vec![Norm::new(&p / "project_bn", c0, cfg)];
        let mut ups = Vec::new();
        let mut c = c0;
        for i in 1..k {
            let t = nn::ConvTransposeConfig {
                stride: 2,
                padding: 1,
                bias: false,
                ws_init: conv_init(),
                ..Default::default()
            };
            ups.push(nn::conv_transpose2d(&p / format!("up{i}"), c, c / 2, 4, t));
            norms.push(Norm::new(&p / format!("up{i}_bn"), c / 2, cfg));
            c /= 2;
        }
        let t = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ws_init: conv_init(),
            bs_init: nn::Init::Const(0.0),
            ..Default::default()
        };
        let to_image = nn::conv_transpose2d(&p / "to_image", c, d.channels, 4, t);
        Self { embed, project, c0, norms, ups, to_image }
    }

    /// Images `[N, C, S, S]` in [−1, 1] of latents `z` `[N, z_dim]` and classes `y` `[N]`.
    pub fn forward(&self, z: &Tensor, y: &Tensor, train: bool) -> Tensor {
        let input = match &self.embed {
            Some(e) => Tensor::cat(&[z.shallow_clone(), e.forward(y)], 1),
            None => z.shallow_clone(),
        };
        let mut x = self.project.forward(&input).view([-1, self.c0, 4, 4]);
        x = self.norms[0].forward(&x, y, train).relu();
        for (up, norm) in self.ups.iter().zip(&self.norms[1..]) {
            x = norm.forward(&up.forward(&x), y, train).relu();
        }
        self.to_image.forward(&x).tanh()
    }
}

/// D(x, y) → realness logits `[N]`, and for ACGAN class logits `[N, K]`.
#[derive(Debug)]
pub struct CondDiscriminator {
    mode: DCond,
    classes: i64,
    body: nn::SequentialT,
    /// ψ for `projection` and `acgan` (a 4×4 convolution for `concat`).
    head: Box<dyn ModuleT>,
    embed: Option<Tensor>,
    class_head: Option<Box<dyn ModuleT>>,
}

impl CondDiscriminator {
    /// Call [`CondConfig::validate`] first; `cfg.channels` must be resolved (≥ 1).
    pub fn new(p: nn::Path, cfg: &CondConfig) -> Self {
        let d = cfg.dcgan();
        let sn = cfg.d_norm == DNorm::Spectral;
        let extra = if cfg.d_cond == DCond::Concat { cfg.classes } else { 0 };
        let (mut body, mut c) = discriminator_body(&p, &d, d.channels + extra);
        if cfg.mbstd_group > 0 {
            body = body.add(MinibatchStdDev { group_size: cfg.mbstd_group, num_channels: 1 }); // [N, c + 1, 4, 4]
            c += 1;
        }
        let f = 16 * c;
        let lin = nn::LinearConfig { ws_init: conv_init(), bs_init: Some(nn::Init::Const(0.0)), bias: true };
        let head: Box<dyn ModuleT> = match cfg.d_cond {
            DCond::Concat => {
                let conv = nn::ConvConfig {
                    ws_init: conv_init(),
                    bs_init: nn::Init::Const(0.0),
                    ..Default::default()
                };
                Box::new(spectral_norm::conv2d(&p / "logit", c, 1, 4, conv, sn))
            }
            _ => Box::new(spectral_norm::linear(&p / "logit", f, 1, lin, sn)),
        };
        let embed = (cfg.d_cond == DCond::Projection).then(|| p.var("embed", &[cfg.classes, f], conv_init()));
        let class_head: Option<Box<dyn ModuleT>> = (cfg.d_cond == DCond::Acgan).then(|| {
            Box::new(spectral_norm::linear(&p / "classes", f, cfg.classes, lin, sn)) as Box<dyn ModuleT>
        });
        Self { mode: cfg.d_cond, classes: cfg.classes, body, head, embed, class_head }
    }

    /// Realness logits `[N]` and, for ACGAN, class logits `[N, K]`, of images `x` `[N, C, S, S]`
    /// with labels `y` `[N]` (ACGAN's D ignores `y`).
    pub fn forward(&self, x: &Tensor, y: &Tensor, train: bool) -> (Tensor, Option<Tensor>) {
        match self.mode {
            DCond::Concat => {
                let (n, _, h, w) = x.size4().expect("images [N, C, H, W]");
                let maps = y
                    .one_hot(self.classes)
                    .to_kind(x.kind())
                    .view([n, self.classes, 1, 1])
                    .expand([n, self.classes, h, w], false);
                let feat = self.body.forward_t(&Tensor::cat(&[x.shallow_clone(), maps], 1), train);
                (self.head.forward_t(&feat, train).flatten(0, -1), None)
            }
            DCond::Projection => {
                let h = self.body.forward_t(x, train).flatten(1, -1); // [N, 16c]
                let e = self.embed.as_ref().expect("projection has an embedding").index_select(0, y); // [N, 16c]
                let proj = (&h * e).sum_dim_intlist([1i64].as_slice(), false, Kind::Float); // ⟨embed(y), h⟩
                (self.head.forward_t(&h, train).flatten(0, -1) + proj, None)
            }
            DCond::Acgan => {
                let h = self.body.forward_t(x, train).flatten(1, -1);
                let classes = self.class_head.as_ref().expect("acgan has a class head").forward_t(&h, train);
                (self.head.forward_t(&h, train).flatten(0, -1), Some(classes))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn small(g_cond: GCond, d_cond: DCond) -> CondConfig {
        CondConfig { channels: 1, g_width: 4, d_width: 4, g_cond, d_cond, ..CondConfig::cgan_mnist() }
    }

    #[test]
    fn shapes_for_every_combination() {
        let z = Tensor::randn([6, 100], tch::kind::FLOAT_CPU);
        let y = Tensor::from_slice(&[0i64, 1, 2, 3, 9, 5]);
        for g_cond in [GCond::Concat, GCond::Cbn] {
            for d_cond in [DCond::Concat, DCond::Projection, DCond::Acgan] {
                let cfg = small(g_cond, d_cond);
                cfg.validate().unwrap();
                let vs = nn::VarStore::new(Device::Cpu);
                let g = CondGenerator::new(vs.root() / "g", &cfg);
                let d = CondDiscriminator::new(vs.root() / "d", &cfg);
                let x = g.forward(&z, &y, true);
                assert_eq!(x.size(), vec![6, 1, 32, 32]);
                let (logit, classes) = d.forward(&x, &y, true);
                assert_eq!(logit.size(), vec![6]);
                assert_eq!(classes.map(|c| c.size()), (d_cond == DCond::Acgan).then(|| vec![6, 10]));
            }
        }
    }

    #[test]
    fn the_label_changes_the_outputs() {
        // G(z, y) and D(x, y) depend on y for the conditional forms.
        let cfg = small(GCond::Cbn, DCond::Projection);
        let vs = nn::VarStore::new(Device::Cpu);
        let g = CondGenerator::new(vs.root() / "g", &cfg);
        let d = CondDiscriminator::new(vs.root() / "d", &cfg);
        tch::no_grad(|| {
            for (name, mut t) in vs.variables() {
                if name.ends_with("gamma") {
                    t.copy_(&(Tensor::randn(t.size(), tch::kind::FLOAT_CPU) * 0.5 + 1.0));
                }
                if name == "d.embed" {
                    t.copy_(&Tensor::randn(t.size(), tch::kind::FLOAT_CPU));
                }
            }
        });
        let z = Tensor::randn([4, 100], tch::kind::FLOAT_CPU).repeat([2, 1]);
        let y = Tensor::from_slice(&[0i64, 0, 0, 0, 7, 7, 7, 7]);
        let x = g.forward(&z, &y, false);
        assert!(!x.narrow(0, 0, 4).equal(&x.narrow(0, 4, 4)), "G(z, 0) ≠ G(z, 7)");
        // D on the same images under two labels (random images: an untrained G's are near 0).
        let same = Tensor::randn([4, 1, 32, 32], tch::kind::FLOAT_CPU).repeat([2, 1, 1, 1]);
        let (o, _) = d.forward(&same, &y, false);
        assert!(!o.narrow(0, 0, 4).equal(&o.narrow(0, 4, 4)), "D(x, 0) ≠ D(x, 7)");
        // Projection: D(x, y) − D(x, y') = ⟨embed(y) − embed(y'), φ(x)⟩.
        let h = d.body.forward_t(&same, false).flatten(1, -1);
        let e = d.embed.as_ref().unwrap();
        let want = (&h.narrow(0, 0, 4) * (e.get(0) - e.get(7))).sum_dim_intlist(
            [1i64].as_slice(),
            false,
            Kind::Float,
        );
        assert!((o.narrow(0, 0, 4) - o.narrow(0, 4, 4)).allclose(&want, 1e-4, 1e-5, false));
    }
}
