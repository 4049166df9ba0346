//! Recipes for conditional models: [`CondRecipe`] (cGAN, conditional BN, projection D, ACGAN)
//! and [`InfoRecipe`] (InfoGAN). Both take the adversarial loss, penalties and EMA of the run
//! config like [`crate::recipe::GanRecipe`]; unrolling and instance noise are DCGAN/MLP options.
//!
//! Fake classes (and InfoGAN's codes) are drawn from libtorch's generator, which the loop seeds
//! per step, so runs replay and resume exactly.

use anyhow::{Context, Result};
use gantry_cond::{
    info_generator, info_loss, CondConfig, CondDiscriminator, CondGenerator, InfoDiscriminator, InfoGanConfig,
};
use gantry_core::checkpoint::Checkpoint;
use tch::nn::ModuleT;
use tch::{Device, Kind, Reduction, Tensor};

use crate::config::{LossChoice, RegConfig, TrainConfig};
use crate::recipe::{Core, Real, Recipe, Scalars};

/// Sample i's class: i mod K, on `device`.
fn cycling(n: i64, k: i64, device: Device) -> Tensor {
    Tensor::arange(n, (Kind::Int64, device)).remainder(k)
}

fn cross_entropy(logits: &Tensor, y: &Tensor) -> Tensor {
    logits.cross_entropy_loss::<Tensor>(y, None, Reduction::Mean, -100, 0.0)
}

fn accuracy(logits: &Tensor, y: &Tensor) -> f64 {
    logits.argmax(1, false).eq_tensor(y).to_kind(Kind::Float).mean(Kind::Float).double_value(&[])
}

/// cGAN, conditional-BN G, projection D and ACGAN.
pub struct CondRecipe {
    cfg: CondConfig,
    core: Core,
    g: CondGenerator,
    d: CondDiscriminator,
    g_ema: Option<CondGenerator>,
}

impl CondRecipe {
    /// `cfg.channels` must be resolved (≥ 1).
    pub fn new(
        cfg: &CondConfig,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        cfg.validate()?;
        let (core, g, d, g_ema) = Core::build(
            loss,
            reg,
            train,
            device,
            |p| Ok(CondGenerator::new(p, cfg)),
            |p| Ok(CondDiscriminator::new(p, cfg)),
        )?;
        Ok(Self { cfg: cfg.clone(), core, g, d, g_ema })
    }

    fn labels(&self, real: &Real) -> Tensor {
        real.labels
            .as_ref()
            .expect("conditional runs load labelled data (checked at load)")
            .to_device(self.core.device)
    }

    fn fake_labels(&self, n: i64) -> Tensor {
        Tensor::randint(self.cfg.classes, [n], (Kind::Int64, self.core.device))
    }
}

impl Recipe for CondRecipe {
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars {
        let (x, y) = (&real.images, self.labels(real));
        let b = x.size()[0];
        let z = Tensor::randn([b, self.cfg.z_dim], (Kind::Float, self.core.device));
        let y_fake = self.fake_labels(b);
        let fake = tch::no_grad(|| self.g.forward(&z, &y_fake, true));
        let (real_out, real_cls) = self.d.forward(x, &y, true);
        let (fake_out, fake_cls) = self.d.forward(&fake, &y_fake, true);
        let adv = self.core.loss.d_loss(&real_out, &fake_out);
        // Penalties judge (x, y) pairs with the real labels (interpolates take the real ones).
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, &y, true).0;
        let mut extra = self.core.penalties(&critic, x, &fake, k);
        let mut acc = None;
        if let (Some(rc), Some(fc)) = (&real_cls, &fake_cls) {
            let mut cls = cross_entropy(rc, &y);
            if self.cfg.acgan_fake_class_loss {
                cls += cross_entropy(fc, &y_fake);
            }
            extra += cls * self.cfg.class_weight;
            acc = Some(accuracy(rc, &y));
        }
        let mut out = self.core.d_update(&adv, &extra, &real_out, &fake_out);
        if let Some(a) = acc {
            out.push(("d_class_acc_real", a));
        }
        out
    }

    fn g_step(&mut self, real: &Real) -> Scalars {
        let b = real.images.size()[0];
        let z = Tensor::randn([b, self.cfg.z_dim], (Kind::Float, self.core.device));
        let y_fake = self.fake_labels(b);
        let fake = self.g.forward(&z, &y_fake, true);
        let (fake_out, fake_cls) = self.d.forward(&fake, &y_fake, true);
        let real_out =
            self.core.loss.g_needs_real().then(|| self.d.forward(&real.images, &self.labels(real), true).0);
        let mut loss = self.core.loss.g_loss(&fake_out, real_out.as_ref());
        let mut out = Vec::new();
        if let Some(fc) = &fake_cls {
            loss += cross_entropy(fc, &y_fake) * self.cfg.class_weight;
            out.push(("g_class_acc_fake", accuracy(fc, &y_fake)));
        }
        self.core.opt_g.backward_step(&loss);
        out.insert(0, ("g_loss", loss.double_value(&[])));
        self.core.update_ema(b);
        out
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let y = cycling(z.size()[0], self.cfg.classes, self.core.device);
        self.generate_class(z, &y).expect("labels in range")
    }

    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor> {
        let y = classes.to_device(self.core.device).to_kind(Kind::Int64);
        let (lo, hi) = (y.min().int64_value(&[]), y.max().int64_value(&[]));
        anyhow::ensure!(
            lo >= 0 && hi < self.cfg.classes,
            "class out of range: expected 0..{}, found {lo}..={hi}",
            self.cfg.classes - 1
        );
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        Ok(tch::no_grad(|| g.forward(&z.to_device(self.core.device), &y, false)))
    }

    fn z_dim(&self) -> i64 {
        self.cfg.z_dim
    }

    fn classes(&self) -> Option<i64> {
        Some(self.cfg.classes)
    }

    crate::recipe::core_state_methods!();
}

/// InfoGAN.
pub struct InfoRecipe {
    cfg: InfoGanConfig,
    core: Core,
    g: Box<dyn ModuleT>,
    d: InfoDiscriminator,
    g_ema: Option<Box<dyn ModuleT>>,
}

impl InfoRecipe {
    /// `cfg.channels` must be resolved (≥ 1).
    pub fn new(
        cfg: &InfoGanConfig,
        loss: LossChoice,
        reg: &RegConfig,
        train: &TrainConfig,
        device: Device,
    ) -> Result<Self> {
        cfg.validate()?;
        let (core, g, d, g_ema) = Core::build(
            loss,
            reg,
            train,
            device,
            |p| Ok(Box::new(info_generator(p, cfg)) as Box<dyn ModuleT>),
            |p| Ok(InfoDiscriminator::new(p, cfg)),
        )?;
        Ok(Self { cfg: cfg.clone(), core, g, d, g_ema })
    }

    /// Noise, categorical and continuous codes for `n` samples: N(0, I), Cat(K), U(−1, 1).
    fn draw(&self, n: i64) -> (Tensor, Tensor, Tensor) {
        let dev = self.core.device;
        let z = Tensor::randn([n, self.cfg.noise_dim], (Kind::Float, dev));
        let cat = Tensor::randint(self.cfg.categorical, [n], (Kind::Int64, dev));
        let cont = Tensor::rand([n, self.cfg.continuous], (Kind::Float, dev)) * 2.0 - 1.0;
        (z, cat, cont)
    }
}

impl Recipe for InfoRecipe {
    fn d_step(&mut self, real: &Real, k: u64) -> Scalars {
        let x = &real.images;
        let (z, cat, cont) = self.draw(x.size()[0]);
        let fake = tch::no_grad(|| self.g.forward_t(&self.cfg.latent(&z, &cat, &cont), true));
        let (real_out, _, _) = self.d.forward(x, true);
        let (fake_out, cat_logits, cont_mean) = self.d.forward(&fake, true);
        let adv = self.core.loss.d_loss(&real_out, &fake_out);
        let d = &self.d;
        let critic = |t: &Tensor| d.forward(t, true).0;
        let mut extra = self.core.penalties(&critic, x, &fake, k);
        let (info, ce, nll) = info_loss(&self.cfg, &cat_logits, &cont_mean, &cat, &cont);
        extra += info;
        let mut out = self.core.d_update(&adv, &extra, &real_out, &fake_out);
        out.push(("info_cat_ce", ce));
        out.push(("info_cont_nll", nll));
        out.push(("q_cat_acc", accuracy(&cat_logits, &cat)));
        out
    }

    fn g_step(&mut self, real: &Real) -> Scalars {
        let b = real.images.size()[0];
        let (z, cat, cont) = self.draw(b);
        let fake = self.g.forward_t(&self.cfg.latent(&z, &cat, &cont), true);
        let (fake_out, cat_logits, cont_mean) = self.d.forward(&fake, true);
        let real_out = self.core.loss.g_needs_real().then(|| self.d.forward(&real.images, true).0);
        let (info, _, _) = info_loss(&self.cfg, &cat_logits, &cont_mean, &cat, &cont);
        let loss = self.core.loss.g_loss(&fake_out, real_out.as_ref()) + info;
        self.core.opt_g.backward_step(&loss);
        self.core.update_ema(b);
        vec![("g_loss", loss.double_value(&[]))]
    }

    fn generate(&self, z: &Tensor) -> Tensor {
        let n = z.size()[0];
        let cat = cycling(n, self.cfg.categorical, self.core.device);
        self.generate_class(z, &cat).expect("codes in range")
    }

    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor> {
        let cont = Tensor::zeros([z.size()[0], self.cfg.continuous], (Kind::Float, self.core.device));
        self.generate_codes(z, classes, &cont)
    }

    fn generate_codes(&self, z: &Tensor, cat: &Tensor, cont: &Tensor) -> Result<Tensor> {
        let dev = self.core.device;
        let cat = cat.to_device(dev).to_kind(Kind::Int64);
        let (lo, hi) = (cat.min().int64_value(&[]), cat.max().int64_value(&[]));
        anyhow::ensure!(
            lo >= 0 && hi < self.cfg.categorical,
            "categorical code out of range: expected 0..{}, found {lo}..={hi}",
            self.cfg.categorical - 1
        );
        anyhow::ensure!(
            cont.size() == [z.size()[0], self.cfg.continuous],
            "continuous codes: expected [{}, {}], found {:?}",
            z.size()[0],
            self.cfg.continuous,
            cont.size()
        );
        let input = self.cfg.latent(&z.to_device(dev), &cat, &cont.to_device(dev));
        let g = self.g_ema.as_ref().unwrap_or(&self.g);
        Ok(tch::no_grad(|| g.forward_t(&input, false)))
    }

    fn z_dim(&self) -> i64 {
        self.cfg.noise_dim
    }

    fn parameter_counts(&self) -> (i64, i64) {
        self.core.parameter_counts()
    }

    fn classes(&self) -> Option<i64> {
        Some(self.cfg.categorical)
    }

    fn codes(&self) -> Option<(i64, i64)> {
        Some((self.cfg.categorical, self.cfg.continuous))
    }

    fn save(&self, ck: &mut Checkpoint) {
        self.core.save(ck);
    }

    fn load(&mut self, ck: &Checkpoint) -> Result<()> {
        self.core.load(ck).context("loading an InfoGAN checkpoint")
    }

    fn load_generator(&mut self, ck: &Checkpoint) -> Result<()> {
        self.core.load_generator(ck)
    }
}
