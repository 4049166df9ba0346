//! The two sides of a metric: what a source is (statistics, features, a checkpoint, data) and
//! its features, statistics and logits.

use std::path::{Path, PathBuf};

use crate::error::{bail, Context, Result};
use gantry_data::{LoadOptions, Split};
use gantry_metrics::FeatureStats;
use rand::SeedableRng;
use tch::{Device, Tensor};

use crate::capability::Model;
use crate::config::RunConfig;
use crate::family::Family;
use crate::generate::latents;

use super::{held_out_inputs, Extractor};

/// What a source turned out to be.
pub(crate) enum Kind2 {
    Stats(PathBuf),
    Features(PathBuf),
    Checkpoint(PathBuf),
    Data(String),
}

pub(crate) fn classify(src: &str) -> Result<Kind2> {
    let p = Path::new(src);
    let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
    Ok(match ext {
        "npz" => Kind2::Stats(p.to_path_buf()),
        "npy" => Kind2::Features(p.to_path_buf()),
        "safetensors" => Kind2::Checkpoint(p.to_path_buf()),
        _ if p.is_dir() && p.join("checkpoints").is_dir() => {
            Kind2::Checkpoint(crate::run_dir::resolve_checkpoint(p)?)
        }
        _ => Kind2::Data(src.to_string()),
    })
}

/// What a model is evaluated on: fixed latents, or fixed inputs to translate.
#[derive(Debug)]
pub(crate) enum EvalInputs {
    Latents(Tensor),
    /// u8 inputs.
    Inputs(Tensor),
}

impl EvalInputs {
    pub(crate) fn len(&self) -> i64 {
        match self {
            EvalInputs::Latents(t) | EvalInputs::Inputs(t) => t.size()[0],
        }
    }

    /// Rows `start..start + len`.
    pub(crate) fn rows(&self, start: i64, len: i64) -> Self {
        match self {
            EvalInputs::Latents(t) => EvalInputs::Latents(t.narrow(0, start, len)),
            EvalInputs::Inputs(t) => EvalInputs::Inputs(t.narrow(0, start, len)),
        }
    }
}

/// Images `[N, C, S, S]` in [−1, 1] from `family` for each chunk of `inputs`.
pub(crate) fn draw(family: &dyn Family, inputs: &EvalInputs, batch: i64) -> Result<Vec<Tensor>> {
    match inputs {
        EvalInputs::Latents(z) => {
            let s = family.sampler().context("this model draws no samples from latents")?;
            Ok(z.split(batch, 0).iter().map(|zb| s.generate(zb)).collect())
        }
        EvalInputs::Inputs(x) => {
            let t = family.translator().context("this model translates no images")?;
            x.split(batch, 0).iter().map(|xb| t.translate(&gantry_core::image::from_u8(xb))).collect()
        }
    }
}

/// Everything computed from one side.
#[derive(Debug)]
pub struct Side {
    /// What the side is (a path or dataset name, with how many images), for the report.
    pub label: String,
    /// Samples behind it; None for a statistics file that does not say.
    pub count: Option<usize>,
    /// Feature mean `[d]` and covariance `[d, d]` (f64); None with fewer than 2 samples.
    pub stats: Option<(Tensor, Tensor)>,
    /// Feature matrix `[N, d]`, kept only when [`EvalOptions::keep_features`] is set (or read
    /// from a `.npy` file).
    pub features: Option<Tensor>,
    /// Classifier logits `[N, classes]`, when the feature network has a classifier head.
    pub logits: Option<Tensor>,
}

/// Options shared by both sides.
#[derive(Debug)]
pub struct EvalOptions {
    /// Samples per side: a seeded random subset of a dataset or features file (all for None),
    /// or how many a checkpoint generates (10,000 for None).
    pub n: Option<usize>,
    /// Images per forward pass (of the feature network and of a generator).
    pub batch: i64,
    /// Seed of the subsets drawn from data, of a checkpoint's latents and of libtorch before
    /// translating.
    pub seed: u64,
    /// Where checkpoints are loaded and networks run.
    pub device: Device,
    /// Whether full feature matrices are needed (KID, PRDC) or streaming stats suffice (FID).
    pub keep_features: bool,
}

/// A seeded random order of `n` of the `len` indices (all of them when `n` is None or ≥ len).
/// Always shuffled: datasets are often stored sorted by class, and the Inception Score's
/// consecutive splits assume random samples.
pub(crate) fn subset(len: usize, n: Option<usize>, seed: u64) -> Vec<i64> {
    let n = n.unwrap_or(len).min(len);
    let mut idx: Vec<i64> = (0..len as i64).collect();
    let mut rng =
        rand_chacha::ChaCha8Rng::seed_from_u64(gantry_core::device::derive_seed(seed, "eval-subset", 0));
    for i in 0..n {
        let j = rand::Rng::random_range(&mut rng, i..len);
        idx.swap(i, j);
    }
    idx.truncate(n);
    idx
}

fn accumulate(
    ex: &Extractor,
    batches: impl Iterator<Item = Result<Tensor>>,
    opts: &EvalOptions,
    label: String,
) -> Result<Side> {
    let (mut stats, mut feats, mut logits, mut count) = (FeatureStats::new(), Vec::new(), Vec::new(), 0usize);
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    for b in batches {
        let images = b?;
        let (f, l) = ex.run(&images)?;
        count += f.size()[0] as usize;
        bar.set_message(format!("{label}: {count} images through {}", ex.name()));
        bar.tick();
        stats.update(&f)?;
        if opts.keep_features {
            feats.push(f);
        }
        if let Some(l) = l {
            logits.push(l);
        }
    }
    bar.finish_and_clear();
    if count == 0 {
        bail!("{label}: no images");
    }
    let stats = if count >= 2 { Some((stats.mean()?, stats.cov()?)) } else { None };
    Ok(Side {
        label,
        count: Some(count),
        stats,
        features: (!feats.is_empty()).then(|| Tensor::cat(&feats, 0)),
        logits: (!logits.is_empty()).then(|| Tensor::cat(&logits, 0)),
    })
}

/// How a dataset should be prepared when the other side is a model.
pub(crate) fn data_options(model: Option<&RunConfig>) -> LoadOptions {
    match model {
        Some(cfg) => match cfg.family.data().image() {
            Some((channels, size)) => LoadOptions {
                split: cfg.loader.split,
                size: Some(size),
                channels: (channels > 0).then_some(channels),
                fit: cfg.loader.fit,
            },
            None => LoadOptions::default(),
        },
        None => LoadOptions { split: Split::Train, ..Default::default() },
    }
}

/// Loads one side.
pub fn side(
    src: &str,
    other_model: Option<&RunConfig>,
    ex: Option<&Extractor>,
    opts: &EvalOptions,
) -> Result<Side> {
    let need_ex = || ex.with_context(|| format!("{src}: images need a feature network"));
    match classify(src)? {
        Kind2::Stats(p) => {
            let st = gantry_metrics::npy::read_stats(&p)?;
            Ok(Side {
                label: p.display().to_string(),
                count: st.count,
                stats: Some((st.mu, st.sigma)),
                features: None,
                logits: None,
            })
        }
        Kind2::Features(p) => {
            let f = gantry_metrics::npy::read_features(&p)?;
            let idx = Tensor::from_slice(&subset(f.size()[0] as usize, opts.n, opts.seed));
            let f = f.index_select(0, &idx);
            let mut s = FeatureStats::new();
            s.update(&f)?;
            Ok(Side {
                label: p.display().to_string(),
                count: Some(f.size()[0] as usize),
                stats: Some((s.mean()?, s.cov()?)),
                features: Some(f),
                logits: None,
            })
        }
        Kind2::Checkpoint(p) => {
            let m = Model::load(&p, opts.device)?;
            let n = opts.n.unwrap_or(10_000);
            if m.family.translator().is_some() {
                // Translations of the run's held-out inputs.
                let inputs = held_out_inputs(&m, Some(n))?;
                let label = format!(
                    "{} (translations of {} held-out inputs of {})",
                    p.display(),
                    inputs.size()[0],
                    m.cfg.data
                );
                tch::manual_seed(opts.seed as i64);
                let images = draw(m.family.as_ref(), &EvalInputs::Inputs(inputs), opts.batch)?;
                return accumulate(
                    need_ex()?,
                    images.into_iter().map(|x| Ok(gantry_core::image::to_u8(&x))),
                    opts,
                    label,
                );
            }
            let s = m.sampler()?;
            if m.cfg.family.data().image().is_none() {
                bail!(
                    "{}: metrics need an image model, this checkpoint holds a {} model",
                    p.display(),
                    m.cfg.family.arch()
                );
            }
            let z = latents(n, s.z_dim(), opts.seed, "eval");
            let batches =
                z.split(opts.batch, 0).into_iter().map(|zb| Ok(gantry_core::image::to_u8(&s.generate(&zb))));
            accumulate(need_ex()?, batches, opts, format!("{} ({n} samples)", p.display()))
        }
        Kind2::Data(spec) => {
            let mut lo = data_options(other_model);
            let spec = match spec.rsplit_once('@') {
                Some((name, split)) => {
                    lo.split = split.parse().map_err(|e| crate::error::err!("'{spec}': {e}"))?;
                    name.to_string()
                }
                None => spec,
            };
            let ds = gantry_data::load(&spec, &lo)?;
            let idx = subset(ds.len(), opts.n, opts.seed);
            // A file left out (undecodable, not an image) is said where the source is named.
            let label = match gantry_data::dataset::skipped_summary(&ds.skipped) {
                Some(line) => format!("{} ({} images; {line})", ds.name, idx.len()),
                None => format!("{} ({} images)", ds.name, idx.len()),
            };
            let images = ds.images;
            let batches = idx
                .chunks(opts.batch as usize)
                .map(move |c| Ok(images.index_select(0, &Tensor::from_slice(c))));
            accumulate(need_ex()?, batches, opts, label)
        }
    }
}

/// Whether a source is images (a dataset, a folder, a checkpoint) that a feature network must
/// see, rather than precomputed statistics (`.npz`) or features (`.npy`).
pub fn needs_network(src: &str) -> Result<bool> {
    Ok(matches!(classify(src)?, Kind2::Checkpoint(_) | Kind2::Data(_)))
}

/// The run config of a source, when it is a checkpoint.
pub fn model_of(src: &str) -> Result<Option<RunConfig>> {
    match classify(src)? {
        Kind2::Checkpoint(p) => {
            let ck = gantry_core::checkpoint::Checkpoint::load(&p)?;
            Ok(Some(crate::capability::config_of(&ck)?))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_seeded_shuffled_and_complete_when_large() {
        let a = subset(100, Some(10), 1);
        assert_eq!(a, subset(100, Some(10), 1));
        assert_ne!(a, subset(100, Some(10), 2));
        let mut s = a.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 10);
        let all = subset(50, None, 1);
        assert_ne!(all, (0..50).collect::<Vec<i64>>(), "shuffled");
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<i64>>());
        assert_eq!(subset(5, Some(10), 1).len(), 5);
    }
}
