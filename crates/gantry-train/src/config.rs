//! A run's configuration, saved as `config.toml` beside the checkpoints (and inside each
//! checkpoint) so that a run can be rebuilt from its folder alone.
//!
//! The common part (data, seed, steps, batch size, threads, loader, logging, evaluation) is the
//! same for every family; the rest (`model`, and whichever of `loss`, `reg`, `train` the family
//! has) is the family's own [`FamilySettings`], chosen by `model.arch`. A DCGAN run's config
//! holds DCGAN's knobs, not StyleGAN2's.
//!
//! `--set key=value` overrides any field by its dotted path (`model.g_width=64`,
//! `train.g_opt.lr=1e-4`, `data=mnist`); an unknown key or a value of the wrong type is a one-line
//! error naming the key. An optional setting the config leaves out (`model.conv_clamp` of a
//! StyleGAN2 without clamping) is set the same way, and `--set key=none` leaves one out. Configs written by older gantry versions (before each family had its
//! own settings) load: keys of other families that hold their old defaults are dropped, and any
//! other value is refused with a line saying what to remove.

use std::any::Any;
use std::fmt::Debug;
use std::path::Path;

use crate::error::{bail, err, Context, Error, Result};
use gantry_data::{Fit, LastBatch, Split};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::family::BuildContext;
use crate::family::{DataNeeds, Family};
use crate::registry::Registry;

/// Everything that defines a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The preset this configuration started from (informational).
    pub preset: String,
    /// Training data: a dataset name (`mnist-5k`, `mnist`, `fashion-mnist`, `cifar10`,
    /// `cifar10-jpg`, `orl-faces`, a gantry-made paired set), a path (image folder/archive, IDX
    /// folder, CIFAR batches, CSV, an `A|B` paired folder), or for MLP models a toy distribution
    /// (`ring`, `grid`, `gaussian1d`).
    pub data: String,
    /// Run seed: weights, noise, data order and sample latents all derive from it.
    pub seed: u64,
    /// Training steps to reach (a step runs every phase of the family once, or `repeat` times).
    pub steps: u64,
    /// Examples per batch.
    pub batch_size: usize,
    /// CPU threads (0 = all available). Part of the run: it changes floating-point reduction order.
    pub threads: usize,
    /// The family's own sections (`model` with its `arch`, and `loss`, `reg`, `train` as it has them).
    #[serde(flatten)]
    pub family: FamilyConfig,
    /// `[loader]`: how the dataset is read and batched.
    pub loader: LoaderConfig,
    /// `[log]`: logging, sampling and checkpointing cadence.
    pub log: LogConfig,
    /// FID during training (off unless `eval.every` > 0).
    #[serde(default)]
    pub eval: EvalConfig,
    /// How a data-parallel run (`--nproc`, torchrun, srun) trains; nothing here changes a
    /// single-process run.
    #[serde(default)]
    pub dist: DistConfig,
    /// `[augment]`: augmentation of what the discriminator sees (off unless set).
    #[serde(default)]
    pub augment: AugmentConfig,
    /// `[perf]`: how the arithmetic is laid out (part of the run: it changes rounding).
    #[serde(default)]
    pub perf: PerfConfig,
}

/// A family's own part of a run config (see [`Recipe`], which family files implement).
pub trait FamilySettings: Debug + Send + Sync + 'static {
    /// `model.arch`.
    fn arch(&self) -> &'static str;
    /// The family's sections as a TOML table (without `model.arch`).
    fn to_table(&self) -> Result<toml::Table>;
    /// A boxed copy (what `Clone` of a [`FamilyConfig`] uses).
    fn clone_box(&self) -> Box<dyn FamilySettings>;
    /// Whether `other` holds the same family's settings with equal values.
    fn eq_box(&self, other: &dyn FamilySettings) -> bool;
    /// The settings as `Any`, for downcasting to the family's own type.
    fn as_any(&self) -> &dyn Any;
    /// [`Self::as_any`], mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// What it trains on.
    fn data(&self) -> DataNeeds;
    /// Resolves a channel count of 0 ("from the data") once the data is loaded.
    fn set_channels(&mut self, channels: i64);
    /// Whether this run applies `[augment]` to what its discriminator sees.
    fn augments(&self) -> bool;
    /// Checks values that types alone cannot; errors name the key.
    fn validate(&self, run: &RunConfig) -> Result<()>;
    /// Builds the family's networks (their initial weights come from libtorch's generator: seed
    /// it first). `run`'s channels are resolved.
    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>>;
    /// The memory format `perf.memory_format = "auto"` trains in ([`Recipe::memory_format`]).
    fn memory_format(&self) -> gantry_core::layout::MemoryFormat;
}

/// A family's settings as a plain serde struct: its `model` section and whichever of `loss`,
/// `reg`, `train` it has. Implementing this is all a family file does for configs.
pub trait Recipe: Serialize + DeserializeOwned + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// `model.arch` of this family's runs.
    const ARCH: &'static str;
    /// What it trains on.
    fn data(&self) -> DataNeeds;
    /// Resolves a channel count of 0 ("from the data") once the data is loaded.
    fn set_channels(&mut self, channels: i64);
    /// Whether the family applies `[augment]` (DiffAugment) to every image its discriminator
    /// sees, real and fake, in D's step and G's, penalties included ([`crate::recipes::adversarial::Game::seen`]).
    /// False (the default): a run that asks for augmentation is refused in one line, so a family
    /// never accepts the setting and ignores it.
    fn augments(&self) -> bool {
        false
    }
    /// Checks values that types alone cannot; errors name the key.
    fn validate(&self, run: &RunConfig) -> Result<()>;
    /// Builds the family's networks (their initial weights come from libtorch's generator: seed
    /// it first). `run`'s channels are resolved.
    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>>;
    /// The memory format `perf.memory_format = "auto"` trains in: NCHW (the default) unless the
    /// family's step is measured faster in NHWC (`cargo xtask bench`; the README's performance
    /// section lists the measurements). Any family trains in either (the harness checks that
    /// they agree).
    fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        gantry_core::layout::MemoryFormat::Nchw
    }
    /// Rewrites a config file an older version of the family wrote (keys since renamed or
    /// dropped) before it is parsed; `table` is the whole file. Only files are migrated, not
    /// `--set` lines. The error is one line naming the key.
    fn migrate(_table: &mut toml::Table) -> Result<()> {
        Ok(())
    }
}

impl<T: Recipe> FamilySettings for T {
    fn arch(&self) -> &'static str {
        T::ARCH
    }

    fn to_table(&self) -> Result<toml::Table> {
        match toml::Value::try_from(self).context("cannot serialise the family's settings")? {
            toml::Value::Table(t) => Ok(t),
            other => bail!("the family's settings serialise to a {}, not a table", other.type_str()),
        }
    }

    fn clone_box(&self) -> Box<dyn FamilySettings> {
        Box::new(self.clone())
    }

    fn eq_box(&self, other: &dyn FamilySettings) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn data(&self) -> DataNeeds {
        Recipe::data(self)
    }

    fn set_channels(&mut self, channels: i64) {
        Recipe::set_channels(self, channels)
    }

    fn augments(&self) -> bool {
        Recipe::augments(self)
    }

    fn validate(&self, run: &RunConfig) -> Result<()> {
        Recipe::validate(self, run)
    }

    fn build(&self, run: &RunConfig, cx: &BuildContext) -> Result<Box<dyn Family>> {
        Recipe::build(self, run, cx)
    }

    fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        Recipe::memory_format(self)
    }
}

/// Parses a family's table (without `model.arch`) as `T`, naming the first key `T` does not have.
pub(crate) fn parse_settings<T: Recipe>(table: toml::Table) -> Result<Box<dyn FamilySettings>> {
    let parsed: T =
        toml::Value::Table(table.clone()).try_into().map_err(|e| Error::msg(one_line(&e.to_string())))?;
    // Keys the struct does not know are refused (serde's deny_unknown_fields does not see
    // through flattened sections, so compare with what the settings write back).
    let back = FamilySettings::to_table(&parsed)?;
    if let Some(key) = unknown_key(&table, &back, "") {
        bail!("unknown config key '{key}' for a {} run", T::ARCH);
    }
    Ok(Box::new(parsed))
}

/// The first key (dotted) of `given` that `known` lacks.
fn unknown_key(given: &toml::Table, known: &toml::Table, prefix: &str) -> Option<String> {
    for (k, v) in given {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match (v, known.get(k)) {
            (_, None) => return Some(path),
            (toml::Value::Table(g), Some(toml::Value::Table(kn))) => {
                if let Some(p) = unknown_key(g, kn, &path) {
                    return Some(p);
                }
            }
            _ => {}
        }
    }
    None
}

/// The family part of a [`RunConfig`]: the family's own settings, and the keys every family's
/// `train` section has: [`OnNonFinite`] (`train.on_nonfinite`) and `train.accumulate`.
#[derive(Debug)]
pub struct FamilyConfig {
    settings: Box<dyn FamilySettings>,
    /// What the loop does when a loss or a parameter stops being finite.
    pub on_nonfinite: OnNonFinite,
    /// `train.accumulate`: micro-batches of `batch_size` per optimiser update (1: none). Each
    /// update then averages the gradients of `accumulate × batch_size` samples per rank, as one
    /// batch of that size would (see [`gantry_core::parallel`]); BatchNorm and minibatch standard
    /// deviation see one micro-batch at a time.
    pub accumulate: u32,
}

/// `train.on_nonfinite`: what the loop does when a step leaves a loss or a parameter NaN or
/// infinite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnNonFinite {
    /// Stop with one line naming the step and the term, writing nothing (the last checkpoint
    /// stays the last good one), and exit non-zero.
    #[default]
    Stop,
    /// Undo the step (every network and optimiser state as before it; a copy of them is kept for
    /// this, on their device), count it as `skipped_steps` in `metrics.jsonl`, and go on; stop
    /// as `stop` does after [`MAX_CONSECUTIVE_SKIPS`] skipped steps in a row.
    Skip,
}

/// Steps in a row that `train.on_nonfinite = "skip"` undoes before it gives up.
pub const MAX_CONSECUTIVE_SKIPS: u64 = 10;

impl FamilyConfig {
    /// The family part for `settings`, with `train.on_nonfinite` at its default (`stop`).
    pub fn new(settings: impl FamilySettings) -> Self {
        Self { settings: Box::new(settings), on_nonfinite: OnNonFinite::default(), accumulate: 1 }
    }

    /// The settings as the family's own type (None for another family).
    pub fn get<T: Recipe>(&self) -> Option<&T> {
        self.settings.as_any().downcast_ref()
    }

    /// The settings as the family's own type, mutably (None for another family).
    pub fn get_mut<T: Recipe>(&mut self) -> Option<&mut T> {
        self.settings.as_any_mut().downcast_mut()
    }
}

impl std::ops::Deref for FamilyConfig {
    type Target = dyn FamilySettings;
    fn deref(&self) -> &Self::Target {
        self.settings.as_ref()
    }
}

impl std::ops::DerefMut for FamilyConfig {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.settings.as_mut()
    }
}

impl Clone for FamilyConfig {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone_box(),
            on_nonfinite: self.on_nonfinite,
            accumulate: self.accumulate,
        }
    }
}

impl PartialEq for FamilyConfig {
    fn eq(&self, other: &Self) -> bool {
        self.settings.eq_box(other.settings.as_ref())
            && self.on_nonfinite == other.on_nonfinite
            && self.accumulate == other.accumulate
    }
}

impl Serialize for FamilyConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut table = self.settings.to_table().map_err(S::Error::custom)?;
        let model = table
            .entry("model")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| S::Error::custom("the family's `model` is not a table"))?;
        // `arch` first: it says how to read the rest.
        let mut with_arch = toml::Table::new();
        with_arch.insert("arch".into(), toml::Value::String(self.settings.arch().into()));
        with_arch.extend(std::mem::take(model));
        *model = with_arch;
        let train = table
            .entry("train")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| S::Error::custom("the family's `train` is not a table"))?;
        train.insert(
            "on_nonfinite".into(),
            toml::Value::try_from(self.on_nonfinite).map_err(S::Error::custom)?,
        );
        // Written where it is not the default, so that runs without it keep their configs.
        if self.accumulate != 1 {
            train.insert("accumulate".into(), toml::Value::Integer(self.accumulate.into()));
        }
        table.serialize(s)
    }
}

impl<'de> Deserialize<'de> for FamilyConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let arch = match table.get_mut("model").and_then(|m| m.as_table_mut()) {
            Some(model) => match model.remove("arch") {
                Some(toml::Value::String(a)) => a,
                Some(other) => {
                    return Err(D::Error::custom(format!("model.arch: expected a string, found {other}")))
                }
                None => return Err(D::Error::custom("missing model.arch (the model family)")),
            },
            None => return Err(D::Error::custom("missing the [model] section")),
        };
        // The common keys of every `train` section; a `train` left empty was there for them alone.
        let mut on_nonfinite = OnNonFinite::default();
        let mut accumulate = 1;
        if let Some(train) = table.get_mut("train").and_then(|t| t.as_table_mut()) {
            if let Some(v) = train.remove("on_nonfinite") {
                on_nonfinite = v
                    .try_into()
                    .map_err(|_| D::Error::custom("train.on_nonfinite: expected \"stop\" or \"skip\""))?;
            }
            if let Some(v) = train.remove("accumulate") {
                accumulate = match v.as_integer().map(u32::try_from) {
                    Some(Ok(k)) if k >= 1 => k,
                    _ => {
                        return Err(D::Error::custom(format!(
                            "train.accumulate: expected a whole number of micro-batches ≥ 1, found {v}"
                        )))
                    }
                };
            }
            if train.is_empty() {
                table.remove("train");
            }
        }
        let settings = Registry::current().parse(&arch, table).map_err(D::Error::custom)?;
        Ok(Self { settings, on_nonfinite, accumulate })
    }
}

/// Evaluation during training: every `every` steps, FID between `n` generated samples (from
/// fixed latents, or translations of fixed inputs) and the training data (up to 10,000 images, a
/// seeded subset), logged to `metrics.jsonl` as `fid_<features>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Steps between evaluations; 0 turns it off.
    pub every: u64,
    /// `inception`, `mnist` or `fashion-mnist`.
    pub features: String,
    /// Generated samples per evaluation.
    pub n: usize,
    /// How images reach the Inception network (`gantry eval --resize`): `legacy-tensorflow`
    /// (StyleGAN2-ADA's, the default), `clean` (clean-fid's) or `legacy-pytorch` (pytorch-fid's).
    /// Recorded with the rest of the protocol in the run's `eval-protocol.json`.
    #[serde(default = "default_resize")]
    pub resize: String,
}

fn default_resize() -> String {
    gantry_metrics::inception::Resize::default().name().into()
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self { every: 0, features: "inception".into(), n: 1000, resize: default_resize() }
    }
}

impl EvalConfig {
    /// `eval.resize` parsed; the error names the key.
    pub fn resize_mode(&self) -> Result<gantry_metrics::inception::Resize> {
        self.resize.parse().map_err(|e| Error::msg(format!("invalid eval.resize: {e}")))
    }
}

/// Augmentation of every image the discriminator sees, real and fake, in D's step and in G's
/// (so G's gradient passes through it), for the families that [`Recipe::augments`]: DiffAugment
/// (`diffaug`) or StyleGAN2-ADA's pipe (`ada_target` adapts its p, `p` fixes it), not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    /// `augment.diffaug`: DiffAugment's policies (Zhao et al. 2020), any of
    /// `"color,translation,cutout"` in the order they apply; `""` (the default) for none. The
    /// authors use all three at 10–20% of the data, `translation,cutout` when colour matters.
    #[serde(default)]
    pub diffaug: gantry_augment::DiffAugment,
    /// `augment.ada_target`: adaptive discriminator augmentation (Karras et al. 2020) steering
    /// p so that E[sign(D(real))] stays near this value (their 0.6); p starts at 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ada_target: Option<f64>,
    /// `augment.p`: the pipe at this fixed probability (their `--aug fixed --p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// `augment.pipe`: which transforms (their `--augpipe`: blit, geom, color, filter, noise,
    /// cutout, bg, bgc, bgcf, bgcfn, bgcfnc); default `bgc`, theirs.
    #[serde(default = "default_pipe", skip_serializing_if = "is_default_pipe")]
    pub pipe: gantry_augment::Spec,
    /// `augment.ada_kimg`: thousands of real images for p to move by 1 (their 500).
    #[serde(default = "default_ada_kimg", skip_serializing_if = "is_default_ada_kimg")]
    pub ada_kimg: f64,
    /// `augment.ada_interval`: D steps between adjustments of p (their 4).
    #[serde(default = "default_ada_interval", skip_serializing_if = "is_default_ada_interval")]
    pub ada_interval: u64,
}

fn default_pipe() -> gantry_augment::Spec {
    gantry_augment::Spec::Bgc
}
fn is_default_pipe(s: &gantry_augment::Spec) -> bool {
    *s == default_pipe()
}
fn default_ada_kimg() -> f64 {
    500.0
}
fn is_default_ada_kimg(v: &f64) -> bool {
    *v == default_ada_kimg()
}
fn default_ada_interval() -> u64 {
    4
}
fn is_default_ada_interval(v: &u64) -> bool {
    *v == default_ada_interval()
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            diffaug: Default::default(),
            ada_target: None,
            p: None,
            pipe: default_pipe(),
            ada_kimg: default_ada_kimg(),
            ada_interval: default_ada_interval(),
        }
    }
}

impl AugmentConfig {
    /// Whether nothing is augmented.
    pub fn is_off(&self) -> bool {
        self.diffaug.is_empty() && !self.ada()
    }

    /// Whether StyleGAN2-ADA's pipe is on (adaptive or fixed p).
    pub fn ada(&self) -> bool {
        self.ada_target.is_some() || self.p.is_some()
    }

    /// The key that switched augmentation on, for errors.
    pub fn key(&self) -> &'static str {
        match (self.ada_target.is_some(), self.p.is_some()) {
            (true, _) => "augment.ada_target",
            (_, true) => "augment.p",
            _ => "augment.diffaug",
        }
    }

    /// Checks the values; errors name the key.
    pub fn validate(&self) -> Result<()> {
        if let (Some(_), Some(_)) = (self.ada_target, self.p) {
            bail!("invalid augment.p: set augment.ada_target (p adapts) or augment.p (p fixed), not both");
        }
        if self.ada() && !self.diffaug.is_empty() {
            bail!("invalid augment.diffaug: DiffAugment and ADA's pipe (augment.ada_target / augment.p) are alternatives; choose one");
        }
        if let Some(t) = self.ada_target.filter(|t| !(t.is_finite() && *t > -1.0 && *t < 1.0)) {
            bail!("invalid augment.ada_target: expected a value in (-1, 1) (E[sign(D(real))]; theirs is 0.6), found {t}");
        }
        if let Some(p) = self.p.filter(|p| !(p.is_finite() && (0.0..=1.0).contains(p))) {
            bail!("invalid augment.p: expected a probability in [0, 1], found {p}");
        }
        if !(self.ada_kimg.is_finite() && self.ada_kimg > 0.0) {
            bail!("invalid augment.ada_kimg: expected > 0, found {}", self.ada_kimg);
        }
        if self.ada_interval == 0 {
            bail!("invalid augment.ada_interval: expected ≥ 1, found 0");
        }
        Ok(())
    }
}

/// `perf.memory_format`: the layout of the networks' 4-D variables, their optimiser moments and
/// the batches ([`gantry_core::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryFormatChoice {
    /// The family's choice ([`Recipe::memory_format`]), from measurements on this project's
    /// benches (the README's performance section); resolved when a run starts.
    Auto,
    /// Contiguous `[N, C, H, W]`, libtorch's default.
    Nchw,
    /// Channels-last (oneDNN's NHWC convolutions on CPUs, tensor cores' layout on GPUs).
    Nhwc,
}

/// Performance settings. Each is part of the run: results agree across them within float
/// rounding, not bit for bit, and a resumed run keeps the run's. A config without `[perf]` (one
/// written before it existed, or by hand) trains as gantry did before: NCHW, per-tensor Adam;
/// the presets say `memory_format = "auto"`, which a run resolves for its family when it starts
/// and stores resolved, so its resumes keep the format it started in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerfConfig {
    /// `auto` (the family's measured choice), `nchw` or `nhwc`.
    #[serde(default = "PerfConfig::nchw")]
    pub memory_format: MemoryFormatChoice,
    /// Adam's updates through libtorch's fused kernel (`torch.optim.Adam(fused=True)`: one pass
    /// over each parameter, its gradient and moments) instead of gantry's per-tensor arithmetic.
    /// The same optimiser state either way; rounding differs. Off in configs that predate it, so
    /// their runs resume as they trained.
    #[serde(default)]
    pub fused_adam: bool,
    /// `perf.precision`: `fp32`, or mixed precision with the forward passes under autocast to
    /// `bf16` or `fp16` (with dynamic loss scaling); float32 weights, optimiser state, losses
    /// and penalties either way ([`gantry_core::amp`]).
    #[serde(default)]
    pub precision: Precision,
    /// `perf.loss_scale`: with `precision = "fp16"`, the loss scale each optimiser starts from
    /// (GradScaler's `init_scale`, 2¹⁶); it halves on every update with non-finite gradients and
    /// doubles after 2000 finite ones in a row.
    #[serde(default = "PerfConfig::loss_scale")]
    pub loss_scale: f64,
}

/// `perf.precision`: the precision of the forward passes ([`PerfConfig::precision`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Float32 throughout.
    #[default]
    Fp32,
    /// Autocast to bfloat16 (float32's range: no loss scaling needed; CPUs and Ampere+ GPUs).
    Bf16,
    /// Autocast to float16 with a dynamic loss scaler per optimiser (`torch.amp.GradScaler`'s
    /// rule: updates with non-finite gradients are skipped and counted in `fp16_skipped`).
    Fp16,
}

impl Precision {
    /// The autocast dtype (None for fp32).
    pub fn kind(self) -> Option<tch::Kind> {
        match self {
            Precision::Fp32 => None,
            Precision::Bf16 => Some(tch::Kind::BFloat16),
            Precision::Fp16 => Some(tch::Kind::Half),
        }
    }
}

impl Default for PerfConfig {
    fn default() -> Self {
        Self {
            memory_format: MemoryFormatChoice::Nchw,
            fused_adam: false,
            precision: Precision::Fp32,
            loss_scale: Self::loss_scale(),
        }
    }
}

impl PerfConfig {
    fn nchw() -> MemoryFormatChoice {
        MemoryFormatChoice::Nchw
    }

    fn loss_scale() -> f64 {
        gantry_core::optim::LossScaler::default().scale
    }
}

impl From<gantry_core::layout::MemoryFormat> for MemoryFormatChoice {
    fn from(f: gantry_core::layout::MemoryFormat) -> Self {
        match f {
            gantry_core::layout::MemoryFormat::Nchw => MemoryFormatChoice::Nchw,
            gantry_core::layout::MemoryFormat::Nhwc => MemoryFormatChoice::Nhwc,
        }
    }
}

impl RunConfig {
    /// The memory format this run trains in (`perf.memory_format`, `auto` resolved for its
    /// family).
    pub fn memory_format(&self) -> gantry_core::layout::MemoryFormat {
        use gantry_core::layout::MemoryFormat;
        match self.perf.memory_format {
            MemoryFormatChoice::Auto => self.family.memory_format(),
            MemoryFormatChoice::Nchw => MemoryFormat::Nchw,
            MemoryFormatChoice::Nhwc => MemoryFormat::Nhwc,
        }
    }
}

/// Data-parallel settings ([`crate::dist`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistConfig {
    /// BatchNorm statistics over every rank's rows of the batch (PyTorch's SyncBatchNorm: the
    /// statistics of one process with the whole batch) instead of each rank's own (PyTorch DDP's
    /// default). Costs two small collectives per BatchNorm layer per forward and backward.
    #[serde(default)]
    pub sync_batchnorm: bool,
}

/// How the dataset is read and batched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderConfig {
    /// `loader.split`: which part of the dataset to train on, `train` (the presets'), `test` or
    /// `all`.
    pub split: Split,
    /// How images of another size reach the model's: `auto`, `pad`, `resize`.
    pub fit: Fit,
    /// Random horizontal flips (off for digits); paired data flips both images alike.
    pub hflip: bool,
    /// `drop` or `keep` the last partial batch of an epoch.
    pub last_batch: LastBatch,
    /// Random jitter (pix2pix): resize each image to this size, then crop back to the model's at
    /// a random place (paired data: the same place in both). 0 = off.
    #[serde(default)]
    pub jitter: i64,
}

/// Logging, sampling and checkpointing cadence (in training steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Append averaged losses to `metrics.jsonl` every this many steps.
    pub every: u64,
    /// Write `samples/step-N.png` (fixed latents, or fixed inputs with their translations) every
    /// this many steps (and at the end).
    pub sample_every: u64,
    /// Write `checkpoints/step-N.safetensors` every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Checkpoints kept (the newest); 0 keeps all.
    pub keep_checkpoints: usize,
    /// Also keep, whatever `keep_checkpoints` says, the checkpoint whose step logged the best
    /// value of this `metrics.jsonl` key so far (`fid_inception`, `psnr`, …; lower is better
    /// for FID, KID and losses, higher for PSNR, SSIM, IS, precision and recall; `name:min` or
    /// `name:max` for any other). Empty: off. `gantry train --keep-best METRIC` sets it.
    #[serde(default)]
    pub keep_best: String,
    /// Samples in the grid (translation: inputs shown).
    pub grid: usize,
    /// Write TensorBoard event files in the run folder (every logged number, the sample grids).
    #[serde(default = "yes")]
    pub tensorboard: bool,
}

fn yes() -> bool {
    true
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            every: 50,
            sample_every: 500,
            checkpoint_every: 1000,
            keep_checkpoints: 5,
            keep_best: String::new(),
            grid: 64,
            tensorboard: true,
        }
    }
}

impl RunConfig {
    /// The config as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).context("cannot serialise the config")
    }

    /// Parses TOML (migrating configs of older gantry versions); `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| err!("{origin}: {}", one_line(&e.to_string())))?;
        // Only files are migrated: `--set` names today's keys.
        Registry::current().migrate(&mut table).map_err(|e| err!("{origin}: {e}"))?;
        toml::Value::Table(table).try_into().map_err(|e| err!("{origin}: {}", one_line(&e.to_string())))
    }

    /// Reads and parses the config file at `path` (see [`Self::from_toml`]); errors name the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The family's settings as its own type; an error names both families.
    pub fn settings<T: Recipe>(&self) -> Result<&T> {
        self.family
            .get::<T>()
            .ok_or_else(|| err!("expected a {} run config, found a {} one", T::ARCH, self.family.arch()))
    }

    /// Applies `key=value` overrides (see the module docs).
    pub fn with_overrides(self, sets: &[String]) -> Result<Self> {
        let mut value = toml::Value::try_from(&self).context("cannot serialise the config")?;
        for set in sets {
            let (key, raw) = set.split_once('=').ok_or_else(|| err!("--set {set:?}: expected key=value"))?;
            let key = key.trim();
            let raw = raw.trim();
            let arch = self.family.arch();
            let name_key = |e: crate::error::Error| {
                let others = Registry::current().archs_with_key(key);
                match others.is_empty() {
                    true => err!("{e} (a {arch} run)"),
                    false => {
                        err!("{e}: '{key}' is a setting of {} runs, this is a {arch} run", others.join(", "))
                    }
                }
            };
            let edit = set_path(&mut value, key, raw).map_err(name_key)?;
            // Check each override on its own so the error names the key that broke the config.
            if let Err(e) = value.clone().try_into::<RunConfig>() {
                let e = one_line(&e.to_string());
                return Err(match edit {
                    Edit::Added(unknown) if e.contains("unknown") => name_key(unknown),
                    Edit::Added(_) if raw == "none" => {
                        // A known optional setting, already left out.
                        remove_path(&mut value, key);
                        continue;
                    }
                    Edit::Removed => err!("--set {key}=none: '{key}' is not optional ({e})"),
                    _ => err!("--set {key}={raw}: invalid value for '{key}': {e}"),
                });
            }
        }
        value.try_into().map_err(|e| err!("invalid config after --set: {}", one_line(&e.to_string())))
    }

    /// Checks values that types alone cannot; errors name the key.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 {
            bail!("invalid steps: expected ≥ 1, found 0");
        }
        if self.batch_size == 0 {
            bail!("invalid batch_size: expected ≥ 1, found 0");
        }
        for (k, v) in [
            ("log.every", self.log.every),
            ("log.sample_every", self.log.sample_every),
            ("log.checkpoint_every", self.log.checkpoint_every),
        ] {
            if v == 0 {
                bail!("invalid {k}: expected ≥ 1, found 0");
            }
        }
        if self.log.grid == 0 {
            bail!("invalid log.grid: expected ≥ 1, found 0");
        }
        if !self.log.keep_best.is_empty() {
            crate::run_dir::KeepBest::parse(&self.log.keep_best)
                .map_err(|e| err!("invalid log.keep_best: {e}"))?;
        }
        self.augment.validate()?;
        let scale = self.perf.loss_scale;
        if !(scale.is_finite() && scale >= 1.0) {
            bail!("invalid perf.loss_scale: expected a finite scale ≥ 1, found {scale}");
        }
        if !self.augment.is_off() && !self.family.augments() {
            bail!(
                "invalid {}: the {} family does not augment what its discriminator sees (families that do: {})",
                self.augment.key(),
                self.family.arch(),
                Registry::current().archs_where(|s| s.augments()).join(", ")
            );
        }
        let data = self.family.data();
        if self.eval.every > 0 {
            if !["inception", "mnist", "fashion-mnist"].contains(&self.eval.features.as_str()) {
                bail!(
                    "invalid eval.features: expected inception, mnist or fashion-mnist, found '{}'",
                    self.eval.features
                );
            }
            if self.eval.n < 2 {
                bail!("invalid eval.n: expected ≥ 2, found {}", self.eval.n);
            }
            if self.eval.features != "inception" && self.eval.resize_mode()? != Default::default() {
                bail!(
                    "invalid eval.resize: '{}' is a protocol of the Inception features; eval.features = {} resizes to the classifier's 28x28 as it was trained",
                    self.eval.resize,
                    self.eval.features
                );
            }
            if data.image().is_none() {
                bail!(
                    "invalid eval.every: FID needs an image model, this run trains a {} model",
                    self.family.arch()
                );
            }
        }
        if let Some((c, size)) = data.image() {
            if c < 0 {
                bail!("invalid model.channels: expected 0 (from the data), 1 or 3, found {c}");
            }
            if self.loader.jitter != 0 && self.loader.jitter < size {
                bail!(
                    "invalid loader.jitter: expected 0 (off) or a size ≥ the model's {size}, found {}",
                    self.loader.jitter
                );
            }
        } else if self.loader.jitter != 0 {
            bail!(
                "invalid loader.jitter: jitter crops images, this run trains a {} model",
                self.family.arch()
            );
        }
        self.family.validate(self)
    }
}

pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sets `key` (dotted) in a TOML table to `raw`, keeping the existing value's type.
/// What [`set_path`] did to the config.
enum Edit {
    Replaced,
    /// Added a key the config left out (an optional setting, or an unknown key: the error).
    Added(crate::error::Error),
    /// Removed an optional setting (`none`).
    Removed,
}

fn set_path(root: &mut toml::Value, key: &str, raw: &str) -> Result<Edit> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let table = node
            .as_table_mut()
            .ok_or_else(|| err!("unknown config key '{key}': '{}' is not a table", parts[..i].join(".")))?;
        if !table.contains_key(*part) {
            let here = if i == 0 { "top level".to_string() } else { format!("'{}'", parts[..i].join(".")) };
            let mut known: Vec<&str> = table.keys().map(String::as_str).collect();
            known.sort();
            let unknown = err!("unknown config key '{key}' (keys at {here}: {})", known.join(", "));
            if !last {
                return Err(unknown);
            }
            // A leaf the config leaves out: an optional setting (kept if the config then parses,
            // which refuses keys the family does not have) or a typo. `none` goes in as a string
            // only to tell the two apart, and comes out again.
            table.insert(part.to_string(), parse_untyped(raw));
            return Ok(Edit::Added(unknown));
        }
        if last && raw == "none" && !table[*part].is_str() && !table[*part].is_table() {
            table.remove(*part);
            return Ok(Edit::Removed);
        }
        node = table.get_mut(*part).expect("checked");
    }
    let new =
        parse_value(raw, node).map_err(|why| err!("--set {key}={raw}: invalid value for '{key}': {why}"))?;
    *node = new;
    Ok(Edit::Replaced)
}

/// Removes the leaf at dotted `key` (which [`set_path`] added).
fn remove_path(root: &mut toml::Value, key: &str) {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        node = &mut node[*part];
    }
    if let Some(t) = node.as_table_mut() {
        t.remove(parts[parts.len() - 1]);
    }
}

/// `raw` as TOML (a string when it is not a TOML value), for a key with no old value to follow.
fn parse_untyped(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Parses `raw` as a value of the same TOML type as `old` (strings need no quotes).
fn parse_value(raw: &str, old: &toml::Value) -> std::result::Result<toml::Value, String> {
    use toml::Value as V;
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v"));
    match (old, parsed) {
        (V::String(_), Some(V::String(s))) => Ok(V::String(s)),
        (V::String(_), _) => Ok(V::String(raw.to_string())),
        (V::Integer(_), Some(V::Integer(i))) => Ok(V::Integer(i)),
        (V::Float(_), Some(V::Float(f))) => Ok(V::Float(f)),
        (V::Float(_), Some(V::Integer(i))) => Ok(V::Float(i as f64)),
        (V::Boolean(_), Some(V::Boolean(b))) => Ok(V::Boolean(b)),
        (V::Table(_), _) => Err("it is a table; set one of its keys".into()),
        (old, _) => Err(format!("expected {}, found {raw:?}", old.type_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets;
    use crate::recipes::adversarial::{Constraint, LossChoice};
    use crate::recipes::gan::DcganRun;
    use gantry_losses::{AdversarialLoss, GpSide};

    #[test]
    fn perf_defaults_to_what_gantry_did_before_and_presets_to_the_familys_choice() {
        use gantry_core::layout::MemoryFormat;
        let preset = presets::find("dcgan-mnist").unwrap().config();
        assert_eq!(preset.perf.memory_format, MemoryFormatChoice::Auto);
        assert_eq!(preset.memory_format(), MemoryFormat::Nhwc, "DCGAN's measured choice");
        let style = presets::find("stylegan2-mnist").unwrap().config();
        assert_eq!(style.memory_format(), MemoryFormat::Nchw, "StyleGAN2's measured choice");
        // The same config without [perf] (a run folder from before it existed): NCHW, per-tensor
        // Adam, so its resumes train as it did.
        let text = toml::to_string(&preset).unwrap();
        let mut table: toml::Table = text.parse().unwrap();
        assert!(table.remove("perf").is_some());
        let old = RunConfig::from_toml(&toml::to_string(&table).unwrap(), "test").unwrap();
        assert_eq!(old.memory_format(), MemoryFormat::Nchw);
        assert!(!old.perf.fused_adam);
        // An unknown key or value is one line naming it.
        let bad =
            preset.clone().with_overrides(&["perf.memory_format=nhcw".to_string()]).unwrap_err().to_string();
        assert!(bad.contains("memory_format") || bad.contains("nhcw"), "{bad}");
        let bad = preset.with_overrides(&["perf.fast=true".to_string()]).unwrap_err().to_string();
        assert!(bad.contains("fast"), "{bad}");
    }

    #[test]
    fn every_preset_round_trips_through_toml_and_validates() {
        for p in presets::all() {
            let c = p.config();
            c.validate().unwrap();
            let back = RunConfig::from_toml(&c.to_toml().unwrap(), "t").unwrap();
            assert_eq!(back, c, "{}", p.name);
        }
    }

    #[test]
    fn overrides_keep_types_and_name_bad_keys() {
        let c = presets::find("dcgan-mnist").unwrap().config();
        let c2 = c
            .clone()
            .with_overrides(&[
                "data=mnist".into(),
                "model.g_width=64".into(),
                "train.g_opt.lr=1e-4".into(),
                "loss=minimax".into(),
                "loader.hflip=true".into(),
                "train.d_opt.beta1=0".into(),
            ])
            .unwrap();
        assert_eq!(c2.data, "mnist");
        assert!(c2.loader.hflip);
        let s = c2.settings::<DcganRun>().unwrap();
        assert_eq!(s.loss, LossChoice::Minimax);
        assert_eq!(s.train.g_opt.lr, 1e-4);
        assert_eq!(s.train.d_opt.beta1, 0.0);
        assert_eq!(s.model.g_width, 64);
        let e = c.clone().with_overrides(&["model.g_widht=3".into()]).unwrap_err().to_string();
        assert!(e.contains("'model.g_widht'") && e.contains("g_width"), "{e}");
        let e = c.clone().with_overrides(&["steps=abc".into()]).unwrap_err().to_string();
        assert!(e.contains("'steps'") && e.contains("integer"), "{e}");
        let e = c.clone().with_overrides(&["loss=wgan-gpp".into()]).unwrap_err().to_string();
        assert!(e.contains("'loss'") && e.contains("wgan-gpp") && e.contains("wgan-gp"), "{e}");
        let w = c.clone().with_overrides(&["loss=wgan-gp".into(), "reg.gp=5".into()]).unwrap();
        let s = w.settings::<DcganRun>().unwrap();
        assert_eq!(s.loss.adversarial(), AdversarialLoss::Wasserstein);
        assert_eq!(s.loss.constraint(), Constraint::GradientPenalty(GpSide::TwoSided));
        assert_eq!(s.reg.gp, 5.0);
        let e = c.clone().with_overrides(&["reg.r1=-1".into()]).unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("reg.r1"), "{e}");
        let e = c.clone().with_overrides(&["train=1".into()]).unwrap_err().to_string();
        assert!(e.contains("'train'") && e.contains("table"), "{e}");
        assert!(c.with_overrides(&["steps".into()]).unwrap_err().to_string().contains("key=value"));
    }

    #[test]
    fn optional_settings_are_set_and_left_out() {
        use crate::recipes::stylegan2::StyleRun;
        let clamp = |c: &RunConfig| c.settings::<StyleRun>().unwrap().model.conv_clamp;
        let small = presets::find("stylegan2-mnist").unwrap().config();
        assert_eq!(clamp(&small), None);
        let set = small.clone().with_overrides(&["model.conv_clamp=256.0".into()]).unwrap();
        assert_eq!(clamp(&set), Some(256.0));
        let back = set.with_overrides(&["model.conv_clamp=none".into()]).unwrap();
        assert_eq!(back, small);
        assert_eq!(small.clone().with_overrides(&["model.conv_clamp=none".into()]).unwrap(), small);
        let e = small.clone().with_overrides(&["model.conv_clamp=high".into()]).unwrap_err().to_string();
        assert!(e.contains("invalid value for 'model.conv_clamp'"), "{e}");
        for typo in ["model.conv_clmap=256.0", "model.conv_clmap=none"] {
            let e = small.clone().with_overrides(&[typo.into()]).unwrap_err().to_string();
            assert!(e.contains("unknown config key 'model.conv_clmap'"), "{e}");
        }
        let e = small.with_overrides(&["model.z_dim=none".into()]).unwrap_err().to_string();
        assert!(e.contains("'model.z_dim' is not optional"), "{e}");
    }

    #[test]
    fn loss_names_are_the_config_spellings() {
        for &loss in LossChoice::ALL {
            let parsed: LossChoice = toml::Value::String(loss.name().into()).try_into().unwrap();
            assert_eq!(parsed, loss);
            assert_eq!(toml::Value::try_from(loss).unwrap().as_str(), Some(loss.name()));
        }
    }

    #[test]
    fn configs_without_later_sections_still_load() {
        let c = presets::find("dcgan-mnist").unwrap().config();
        let text = c.to_toml().unwrap();
        let start = text.find("[reg]").unwrap();
        let end = start + text[start..].find("\n\n").unwrap();
        let old = format!("{}{}", &text[..start], &text[end..]);
        assert!(!old.contains("[reg]"));
        assert_eq!(RunConfig::from_toml(&old, "old.toml").unwrap(), c);
    }

    #[test]
    fn a_run_config_holds_its_own_familys_knobs_only() {
        let dcgan = presets::find("dcgan-mnist").unwrap().config().to_toml().unwrap();
        for foreign in ["pl_weight", "style_mixing", "pl_decay"] {
            assert!(!dcgan.contains(foreign), "{foreign} in a dcgan config:\n{dcgan}");
        }
        let style = presets::find("stylegan2-mnist").unwrap().config().to_toml().unwrap();
        for foreign in ["unroll", "instance_noise"] {
            assert!(!style.contains(foreign), "{foreign} in a stylegan2 config:\n{style}");
        }
        assert!(style.contains("pl_weight") && dcgan.contains("unroll"));
    }

    /// A dcgan config as gantry wrote it before each family had its own settings (every family's
    /// keys, at their unused values) still loads; a foreign key with a real value is refused.
    #[test]
    fn configs_of_the_single_schema_still_load() {
        let c = presets::find("dcgan-mnist").unwrap().config();
        let text = c.to_toml().unwrap();
        let old = text.replacen(
            "[reg]\n",
            "[reg]\npl_weight = 0.0\npl_every = 4\npl_batch_shrink = 2\npl_decay = 0.01\nstyle_mixing = 0.0\n",
            1,
        );
        assert_ne!(old, text);
        assert_eq!(RunConfig::from_toml(&old, "old.toml").unwrap(), c);
        let bad = old.replace("pl_weight = 0.0", "pl_weight = 2.0");
        let e = RunConfig::from_toml(&bad, "old.toml").unwrap_err().to_string();
        assert!(e.contains("old.toml") && e.contains("reg.pl_weight") && e.contains("remove"), "{e}");
        let style = presets::find("stylegan2-mnist").unwrap().config().to_toml().unwrap();
        let old_style = style.replacen(
            "[train]\n",
            "[train]\nunroll = 0\ninstance_noise = 0.0\ninstance_noise_steps = 0\n",
            1,
        );
        assert_ne!(old_style, style);
        RunConfig::from_toml(&old_style, "old.toml").unwrap();
    }

    #[test]
    fn config_files_refuse_unknown_keys() {
        let c = presets::find("toy-ring").unwrap().config();
        let text = c.to_toml().unwrap().replace("[train]", "[train]\nmomentum = 0.9");
        let e = RunConfig::from_toml(&text, "run.toml").unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("momentum"), "{e}");
        assert!(!e.contains('\n'));
        let text = c.to_toml().unwrap().replace("arch = \"mlp\"", "arch = \"mlpp\"");
        let e = RunConfig::from_toml(&text, "run.toml").unwrap_err().to_string();
        assert!(e.contains("mlpp") && e.contains("dcgan"), "{e}");
    }
}
