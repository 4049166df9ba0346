//! What a trained model can do, asked one capability at a time: a command asks a [`Model`] for
//! the capability it needs ([`Model::sampler`], [`Model::translator`], …) and, when the
//! checkpoint's family lacks it, gets one line naming the model and what it can do instead.
//!
//! Every capability draws in eval mode without touching training state (the EMA generator when
//! the run keeps one).

use std::path::{Path, PathBuf};

use crate::error::{bail, Context, Result};
use gantry_core::checkpoint::Checkpoint;
use tch::{Device, Tensor};

use crate::config::RunConfig;
use crate::family::Family;

/// Draws from latents.
pub trait Sampler {
    /// Latent dimension.
    fn z_dim(&self) -> i64;
    /// G's output for latents `[N, z_dim]` (on any device). Conditional models draw sample i with
    /// class i mod K (InfoGAN: categorical code i mod K, continuous codes 0).
    fn generate(&self, z: &Tensor) -> Tensor;
}

/// Draws a requested class (class-conditional models; InfoGAN's categorical code).
pub trait ClassSampler {
    /// Number of classes.
    fn classes(&self) -> i64;
    /// G's output for latents `[N, z_dim]` and classes `[N]`; an error names a class out of range.
    fn generate_class(&self, z: &Tensor, classes: &Tensor) -> Result<Tensor>;
}

/// Draws from InfoGAN's latent codes.
pub trait CodeSampler {
    /// (categorical values, continuous codes).
    fn codes(&self) -> (i64, i64);
    /// G's output for noise `[N, z_dim]`, categorical codes `[N]` and continuous codes `[N, C]`.
    fn generate_codes(&self, z: &Tensor, cat: &Tensor, cont: &Tensor) -> Result<Tensor>;
}

/// StyleGAN's truncation in W.
pub trait TruncateInW {
    /// G's output for latents `[N, z_dim]` truncated in W, `w̄ + ψ·(w − w̄)` for the first
    /// `cutoff` ws (all when None).
    fn generate_psi(&self, z: &Tensor, psi: f64, cutoff: Option<i64>) -> Result<Tensor>;
}

/// Encodes images into codes and decodes codes into images (the adversarial autoencoder, the
/// VAE-GAN).
pub trait Autoencoder {
    /// (channels, size) of the images it encodes.
    fn image_shape(&self) -> (i64, i64);
    /// Code size.
    fn code_dim(&self) -> i64;
    /// Codes `[N, code_dim]` of images `[N, C, S, S]` in [−1, 1] (a Gaussian posterior's mean).
    fn encode(&self, images: &Tensor) -> Result<Tensor>;
    /// Images `[N, C, S, S]` in [−1, 1] of codes `[N, code_dim]`.
    fn decode(&self, codes: &Tensor) -> Result<Tensor>;
    /// Samples of the prior the codes are matched to, `[n, code_dim]`, drawn from `seed`'s stream.
    fn prior_samples(&self, n: usize, seed: u64) -> Tensor;
    /// The prior's component each code `[N, code_dim]` falls in (a mixture prior), `[N]` i64.
    fn component_of(&self, _codes: &Tensor) -> Option<Tensor> {
        None
    }
}

/// Translates an image into another domain (pix2pix).
pub trait Translator {
    /// (channels, size) of the inputs it takes.
    fn input_shape(&self) -> (i64, i64);
    /// (channels, size) of its outputs.
    fn output_shape(&self) -> (i64, i64);
    /// Translations `[N, C_out, S, S]` of inputs `[N, C_in, S, S]` in [−1, 1]. Models whose
    /// inference is stochastic (pix2pix's dropout) draw from libtorch's generator: seed it first.
    fn translate(&self, inputs: &Tensor) -> Result<Tensor>;
    /// Whether it also translates back, B → A (CycleGAN's second generator).
    fn reversible(&self) -> bool {
        false
    }
    /// Translations B → A of inputs `[N, C_out, S, S]`.
    fn translate_back(&self, _inputs: &Tensor) -> Result<Tensor> {
        bail!("this model translates one way, A → B")
    }
    /// For a model that undoes a known degradation (super-resolution: bicubic downsampling), its
    /// inputs made from targets `[N, C_out, S, S]` in [−1, 1]; None when the inputs are a domain
    /// of their own. Its held-out pairs and preview grids are made from images this way.
    fn degrade(&self, _targets: &Tensor) -> Option<Tensor> {
        None
    }
    /// The classical method the model is measured against, applied to `inputs` (super-resolution:
    /// bicubic upsampling); None when there is none. `gantry upscale --degrade` shows it.
    fn baseline(&self, _inputs: &Tensor) -> Option<Tensor> {
        None
    }
    /// Whether it takes inputs of any size (a fully convolutional upscaler), not only
    /// [`Self::input_shape`]'s.
    fn any_size(&self) -> bool {
        false
    }
    /// For an [`any_size`](Self::any_size) model: how many input pixels on each side an output
    /// pixel depends on (its receptive field's radius), so that tiles with this much overlap give
    /// the whole image's result; None when unknown.
    fn context(&self) -> Option<i64> {
        None
    }
}

/// A style-based generator (StyleGAN2): style mixing, noise grids, inversion and export work on
/// a copy of its sampling generator.
pub trait StyleBased {
    /// A copy of the generator that draws the samples (the EMA one when the run keeps one) on a
    /// store of its own, so that inversion can tune it without touching the model; its config.
    fn copy_generator(
        &self,
    ) -> Result<(tch::nn::VarStore, gantry_stylegan::Generator, gantry_stylegan::StyleGan2Config)>;
}

/// A [`StyleBased`] model's sampling generator on a store of its own (see
/// [`Model::style_generator`]), its configuration and the run's evaluation domain.
#[derive(Debug)]
pub struct StyleGenerator {
    /// The store holding the copy's variables (the model's own are untouched).
    pub vs: tch::nn::VarStore,
    /// The copied generator (the EMA one when the run keeps one).
    pub g: gantry_stylegan::Generator,
    /// Its network configuration.
    pub cfg: gantry_stylegan::StyleGan2Config,
    /// `eval.features` of the run (the domain classifier inversion can use).
    pub domain: String,
}

/// Which way a translation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Domain A to domain B (`a2b`), the model's forward direction.
    AtoB,
    /// Domain B back to domain A (`b2a`); only reversible models (CycleGAN) go this way.
    BtoA,
}

impl std::str::FromStr for Direction {
    type Err = crate::error::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "a2b" | "AtoB" => Ok(Direction::AtoB),
            "b2a" | "BtoA" => Ok(Direction::BtoA),
            _ => bail!("invalid --direction: expected a2b or b2a, found '{s}'"),
        }
    }
}

impl dyn Translator + '_ {
    /// (input, output) (channels, size) of `direction`.
    pub fn shapes(&self, direction: Direction) -> ((i64, i64), (i64, i64)) {
        match direction {
            Direction::AtoB => (self.input_shape(), self.output_shape()),
            Direction::BtoA => (self.output_shape(), self.input_shape()),
        }
    }

    /// u8 inputs made from u8 targets by [`Translator::degrade`] (quantised, as an input file
    /// would be); None for a model whose inputs are a domain of their own.
    pub fn degrade_u8(&self, targets: &Tensor) -> Option<Tensor> {
        self.degrade(&gantry_core::image::from_u8(targets)).map(|x| gantry_core::image::to_u8(&x))
    }

    /// Translations of `inputs` in `direction` (B → A needs a reversible model).
    pub fn translate_in(&self, inputs: &Tensor, direction: Direction) -> Result<Tensor> {
        match direction {
            Direction::AtoB => self.translate(inputs),
            Direction::BtoA => self.translate_back(inputs),
        }
    }
}

/// A checkpoint's model, loaded for inference: its run config and its family (inference networks
/// only).
pub struct Model {
    /// The checkpoint file it was loaded from (a run folder resolved to its newest checkpoint).
    pub path: PathBuf,
    /// The run config stored in the checkpoint (see [`config_of`]).
    pub cfg: RunConfig,
    /// The family, built for inference, with the checkpoint's inference networks loaded.
    pub family: Box<dyn Family>,
    /// The device its networks are on.
    pub device: Device,
}

impl Model {
    /// Loads the checkpoint at `path`, or a run folder's newest, on `device` (the config inside
    /// it rebuilds the networks).
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let path = &crate::run_dir::resolve_checkpoint(path)?;
        let ck = Checkpoint::load(path)?;
        let cfg = config_of(&ck)?;
        let family = cfg.family.build(&cfg, &crate::family::BuildContext::inference(device))?;
        family.networks().load_inference(&ck)?;
        Ok(Self { path: path.to_path_buf(), cfg, family, device })
    }

    /// "`path` holds a `arch` model, which can: …".
    fn lacks(&self, what: &str) -> crate::error::Error {
        let can = self.family.abilities();
        let can = if can.is_empty() { "nothing a command asks for".to_string() } else { can.join("; ") };
        crate::error::err!(
            "{what}; {} holds a {} model, which can: {can}",
            self.path.display(),
            self.cfg.family.arch()
        )
    }

    /// Its [`Sampler`]; an error naming what it can do instead when it does not draw from latents.
    pub fn sampler(&self) -> Result<&dyn Sampler> {
        self.family.sampler().ok_or_else(|| self.lacks("this command draws from latents"))
    }

    /// Its [`ClassSampler`]; an error naming what it can do instead when it is not
    /// class-conditional.
    pub fn class_sampler(&self) -> Result<&dyn ClassSampler> {
        self.family.class_sampler().ok_or_else(|| self.lacks("this needs a class-conditional model"))
    }

    /// Its [`CodeSampler`] (InfoGAN); an error naming what it can do instead for other models.
    pub fn code_sampler(&self) -> Result<&dyn CodeSampler> {
        self.family.code_sampler().ok_or_else(|| self.lacks("this sweeps InfoGAN's latent codes"))
    }

    /// Its [`TruncateInW`] (StyleGAN); an error naming what it can do instead for other models.
    pub fn w_truncation(&self) -> Result<&dyn TruncateInW> {
        self.family.w_truncation().ok_or_else(|| self.lacks("this truncates in StyleGAN's W"))
    }

    /// A copy of its style-based generator (StyleGAN2's, the EMA one when there is one).
    pub fn style_generator(&self) -> Result<StyleGenerator> {
        let s = self.family.style().ok_or_else(|| self.lacks("this command needs a StyleGAN2 checkpoint"))?;
        let (vs, g, cfg) = s.copy_generator()?;
        Ok(StyleGenerator { vs, g, cfg, domain: self.cfg.eval.features.clone() })
    }

    /// Its [`Autoencoder`]; an error naming what it can do instead when it encodes no images.
    pub fn autoencoder(&self) -> Result<&dyn Autoencoder> {
        self.family.autoencoder().ok_or_else(|| self.lacks("this command encodes images (an autoencoder)"))
    }

    /// Its [`Translator`]; an error naming what it can do instead when it translates no images.
    pub fn translator(&self) -> Result<&dyn Translator> {
        self.family.translator().ok_or_else(|| self.lacks("this command translates images"))
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("path", &self.path)
            .field("arch", &self.cfg.family.arch())
            .field("abilities", &self.family.abilities())
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// The run config stored in a checkpoint: its `gantry.config`, or for a network converted from
/// another code base (`scripts/convert_pix2pix.py`) the preset `gantry.preset` with the
/// `key=value` lines of `gantry.set` applied.
pub fn config_of(ck: &Checkpoint) -> Result<RunConfig> {
    let origin = ck.source.display();
    if let Some(text) = ck.metadata.get("gantry.config") {
        return RunConfig::from_toml(text, &format!("{origin} (embedded config)"));
    }
    let Some(preset) = ck.metadata.get("gantry.preset") else {
        bail!("{origin}: not a gantry checkpoint (no gantry.config or gantry.preset metadata)");
    };
    let sets: Vec<String> = ck
        .metadata
        .get("gantry.set")
        .map(|s| s.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    crate::presets::find(preset)
        .and_then(|p| p.config().with_overrides(&sets))
        .with_context(|| format!("{origin} (converted network)"))
}

/// Checks that `classes` `[N]` lie in `0..k`; the error names `what`.
pub fn check_range(classes: &Tensor, k: i64, what: &str) -> Result<()> {
    let (lo, hi) = (classes.min().int64_value(&[]), classes.max().int64_value(&[]));
    if lo < 0 || hi >= k {
        bail!("{what} out of range: expected 0..{}, found {lo}..={hi}", k - 1);
    }
    Ok(())
}
