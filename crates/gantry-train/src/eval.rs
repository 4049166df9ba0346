//! `gantry eval fid|kid|is|prdc`: metrics between a real and a fake source.
//!
//! A source is a `.npz` statistics file (pytorch-fid's `mu`/`sigma`; FID only), a `.npy` feature
//! matrix, a checkpoint file or run folder (N samples are generated from seeded latents), or
//! anything `gantry train` accepts as data (dataset name, image folder or archive), optionally with
//! a split suffix (`cifar10-jpg@test`, `mnist@train`, `@all`). When one side
//! is a checkpoint, a dataset on the other side is prepared as that model saw its training data
//! (same size, channels and fit), so that padding or resizing does not show up in the metric.
//!
//! Features come from the FID Inception network (`inception`, 2048-d, the reference protocol) or
//! gantry's domain classifiers (`mnist`, `fashion-mnist`: 128-d features, 10 logits for IS).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gantry_data::{LoadOptions, Split};
use gantry_metrics::classifier::Classifier;
use gantry_metrics::inception::Inception;
use gantry_metrics::{FeatureStats, KidConfig, PrdcConfig};
use rand::SeedableRng;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use crate::capability::Model;
use crate::config::RunConfig;
use crate::data::Source;
use crate::family::{DataNeeds, Family};
use crate::generate::latents;

/// Which network turns images into features.
pub enum Extractor {
    Inception(Inception),
    Classifier(String, Box<Classifier>),
}

impl Extractor {
    /// `inception`, `mnist` or `fashion-mnist`.
    pub fn load(name: &str, device: Device) -> Result<Self> {
        Ok(match name {
            "inception" => Extractor::Inception(Inception::load_default(device)?),
            "mnist" | "fashion-mnist" => {
                Extractor::Classifier(name.to_string(), Box::new(Classifier::builtin(name, device)?))
            }
            other => bail!("unknown --features '{other}': expected inception, mnist or fashion-mnist"),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            Extractor::Inception(_) => "inception",
            Extractor::Classifier(n, _) => n,
        }
    }

    /// `inception` from a given TorchScript file (e.g. pytorch-fid's full weights, converted).
    pub fn inception_from(path: &Path, device: Device) -> Result<Self> {
        Ok(Extractor::Inception(Inception::load(path, device)?))
    }

    /// Features `[N, d]` and, when the network has a classifier head, logits of u8 images.
    fn run(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        Ok(match self {
            Extractor::Inception(net) => net.features_and_logits(images)?,
            Extractor::Classifier(_, net) => {
                let (f, l) = net.features_and_logits(images)?;
                (f, Some(l))
            }
        })
    }
}

/// What a source turned out to be.
enum Kind2 {
    Stats(PathBuf),
    Features(PathBuf),
    Checkpoint(PathBuf),
    Data(String),
}

fn classify(src: &str) -> Result<Kind2> {
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

/// Images per forward pass on `device`: 10 on a CPU (large Inception batches thrash the
/// allocator), 200 on a GPU.
pub fn default_batch(device: Device) -> i64 {
    if device == Device::Cpu {
        10
    } else {
        200
    }
}

/// What a model is evaluated on: fixed latents, or fixed inputs to translate.
enum EvalInputs {
    Latents(Tensor),
    /// u8 inputs.
    Inputs(Tensor),
}

impl EvalInputs {
    fn len(&self) -> i64 {
        match self {
            EvalInputs::Latents(t) | EvalInputs::Inputs(t) => t.size()[0],
        }
    }

    /// Rows `start..start + len`.
    fn rows(&self, start: i64, len: i64) -> Self {
        match self {
            EvalInputs::Latents(t) => EvalInputs::Latents(t.narrow(0, start, len)),
            EvalInputs::Inputs(t) => EvalInputs::Inputs(t.narrow(0, start, len)),
        }
    }
}

/// Images `[N, C, S, S]` in [−1, 1] from `family` for each chunk of `inputs`.
fn draw(family: &dyn Family, inputs: &EvalInputs, batch: i64) -> Result<Vec<Tensor>> {
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

/// FID during training: the real statistics once, then samples from fixed latents (or
/// translations of fixed inputs).
pub struct TrainingEval {
    ex: Extractor,
    mu: Tensor,
    sigma: Tensor,
    inputs: EvalInputs,
    batch: i64,
}

impl TrainingEval {
    /// Real statistics of up to 10,000 images of `images` (u8, a seeded subset) and `cfg.eval.n`
    /// fixed latents, or the first `n` inputs of paired data. In a data-parallel run only rank 0
    /// computes the real statistics (it alone computes the distance).
    pub fn new(
        cfg: &RunConfig,
        images: &Tensor,
        data: &Source,
        family: &dyn Family,
        device: Device,
    ) -> Result<Self> {
        let ex = Extractor::load(&cfg.eval.features, device)?;
        let batch = default_batch(device);
        let idx = subset(images.size()[0] as usize, Some(10_000), cfg.seed);
        let mut stats = FeatureStats::new();
        let idx = if gantry_core::parallel::shard().0 == 0 { idx } else { Vec::new() };
        for c in idx.chunks(batch as usize) {
            stats.update(&ex.run(&images.index_select(0, &Tensor::from_slice(c)))?.0)?;
        }
        if idx.is_empty() {
            let none = Tensor::zeros([0], (tch::Kind::Double, Device::Cpu));
            return Ok(Self {
                ex,
                mu: none.shallow_clone(),
                sigma: none,
                inputs: Self::inputs(cfg, data, family)?,
                batch,
            });
        }
        let inputs = Self::inputs(cfg, data, family)?;
        Ok(Self { ex, mu: stats.mean()?, sigma: stats.cov()?, inputs, batch })
    }

    fn inputs(cfg: &RunConfig, data: &Source, family: &dyn Family) -> Result<EvalInputs> {
        Ok(match data.translation_inputs(family, cfg.eval.n) {
            Some((a, _)) => EvalInputs::Inputs(a),
            _ => {
                let s = family.sampler().context("FID during training needs a model that draws samples")?;
                EvalInputs::Latents(latents(cfg.eval.n, s.z_dim(), cfg.seed, "eval-during-training"))
            }
        })
    }

    /// The metric's name in `metrics.jsonl`.
    pub fn key(&self) -> String {
        format!("fid_{}", self.ex.name())
    }

    /// FID of the model's current samples (eval mode; no training state is touched). In a
    /// data-parallel run every rank calls it: each draws and embeds its rows of the fixed inputs,
    /// the features are gathered, and rank 0's value is the run's (the others get None).
    pub fn fid(&self, family: &dyn Family, dist: Option<&crate::dist::Dist>) -> Result<Option<f64>> {
        let mut stats = FeatureStats::new();
        match dist {
            None => {
                for x in draw(family, &self.inputs, self.batch)? {
                    stats.update(&self.ex.run(&gantry_core::image::to_u8(&x))?.0)?;
                }
            }
            Some(d) => {
                let n = self.inputs.len();
                let (start, len) = gantry_core::parallel::rows(n);
                if len == 0 {
                    bail!("eval.n = {n} is below the number of data-parallel ranks ({})", d.world());
                }
                let mut local = Vec::new();
                for x in draw(family, &self.inputs.rows(start, len), self.batch)? {
                    local.push(self.ex.run(&gantry_core::image::to_u8(&x))?.0);
                }
                let all = d.gather_rows(&Tensor::cat(&local, 0), n)?;
                if !d.writes() {
                    return Ok(None);
                }
                for chunk in all.split(self.batch, 0) {
                    stats.update(&chunk)?;
                }
            }
        }
        Ok(Some(gantry_metrics::frechet_distance(&self.mu, &self.sigma, &stats.mean()?, &stats.cov()?)?))
    }
}

/// Everything computed from one side.
pub struct Side {
    pub label: String,
    /// Samples behind it; None for a statistics file that does not say.
    pub count: Option<usize>,
    pub stats: Option<(Tensor, Tensor)>,
    pub features: Option<Tensor>,
    pub logits: Option<Tensor>,
}

/// Options shared by both sides.
pub struct EvalOptions {
    pub n: Option<usize>,
    pub batch: i64,
    pub seed: u64,
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
fn data_options(model: Option<&RunConfig>) -> LoadOptions {
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
                    lo.split = split.parse().map_err(|e| anyhow::anyhow!("'{spec}': {e}"))?;
                    name.to_string()
                }
                None => spec,
            };
            let ds = gantry_data::load(&spec, &lo)?;
            let idx = subset(ds.len(), opts.n, opts.seed);
            let label = format!("{} ({} images)", ds.name, idx.len());
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

fn need_features<'a>(s: &'a Side, metric: &str) -> Result<&'a Tensor> {
    s.features
        .as_ref()
        .with_context(|| format!("{metric} needs feature vectors; {} holds only statistics", s.label))
}

/// Computes `metric` (fid, kid, is, prdc); returns a JSON object with the numbers and protocol.
/// `features` names the network that made them (None: precomputed inputs that do not say).
pub fn compute(
    metric: &str,
    real: Option<&Side>,
    fake: &Side,
    features: Option<&str>,
    kid_cfg: &KidConfig,
) -> Result<Value> {
    let dim = fake.stats.as_ref().map(|(m, _)| m.size()[0]).or(fake.features.as_ref().map(|f| f.size()[1]));
    let mut out = json!({
        "metric": metric,
        "features": features,
        "feature_dim": dim,
        "fake": fake.label,
        "fake_count": fake.count,
    });
    if let Some(r) = real {
        out["real"] = json!(r.label);
        out["real_count"] = json!(r.count);
    }
    let need_real = || real.context("this metric needs --real");
    match metric {
        "fid" => {
            let r = need_real()?;
            let (m1, s1) = r.stats.as_ref().context("real side has fewer than 2 samples")?;
            let (m2, s2) = fake.stats.as_ref().context("fake side has fewer than 2 samples")?;
            out["fid"] = json!(gantry_metrics::frechet_distance(m1, s1, m2, s2)?);
        }
        "kid" => {
            let k = gantry_metrics::kid(
                need_features(need_real()?, "KID")?,
                need_features(fake, "KID")?,
                kid_cfg,
            )?;
            out["kid"] = json!(k.mean);
            out["kid_std"] = json!(k.std);
            out["kid_subsets"] = json!(k.subsets);
            out["kid_subset_size"] = json!(k.subset_size);
        }
        "is" => {
            let logits = fake.logits.as_ref().context(
                "IS needs class logits: the FID Inception TorchScript has no classifier head (use --features mnist or fashion-mnist, or --inception FILE with pytorch-fid's full weights converted by scripts/convert_pytorch_fid_inception.py)",
            )?;
            let s = gantry_metrics::inception_score(logits, 10)?;
            out["is"] = json!(s.mean);
            out["is_std"] = json!(s.std);
        }
        "prdc" => {
            let p = gantry_metrics::prdc(
                need_features(need_real()?, "PRDC")?,
                need_features(fake, "PRDC")?,
                &PrdcConfig::default(),
            )?;
            out["precision"] = json!(p.precision);
            out["recall"] = json!(p.recall);
            out["density"] = json!(p.density);
            out["coverage"] = json!(p.coverage);
        }
        other => bail!("unknown metric '{other}': expected fid, kid, is or prdc"),
    }
    Ok(out)
}

/// Mean and covariance of `features` `[N, d]`, as f32 tensors (for `--save-stats`).
pub fn stats_of(side: &Side) -> Option<(Tensor, Tensor)> {
    side.stats.as_ref().map(|(m, s)| (m.to_kind(Kind::Double), s.to_kind(Kind::Double)))
}

/// The best one-to-one assignment of rows to columns of a square count matrix: (total, row → col).
pub fn best_matching(counts: &[Vec<usize>]) -> (usize, Vec<usize>) {
    let n = counts.len();
    // best[mask] = the largest total assigning rows 0..popcount(mask) to the columns in mask.
    let mut best = vec![None::<usize>; 1 << n];
    let mut choice = vec![0usize; 1 << n];
    best[0] = Some(0);
    for mask in 0usize..(1 << n) {
        let Some(here) = best[mask] else { continue };
        let row = mask.count_ones() as usize;
        if row == n {
            continue;
        }
        for (col, &c) in counts[row].iter().enumerate() {
            if mask & (1 << col) == 0 {
                let next = mask | (1 << col);
                if best[next].is_none_or(|b| here + c > b) {
                    best[next] = Some(here + c);
                    choice[next] = col;
                }
            }
        }
    }
    let full = (1 << n) - 1;
    let mut assign = vec![0; n];
    let mut mask = full;
    for row in (0..n).rev() {
        assign[row] = choice[mask];
        mask &= !(1 << choice[mask]);
    }
    (best[full].unwrap_or(0), assign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_matching_by_hand() {
        // Greedy would take 9 (row 0 → col 0) and then 1; the optimum crosses: 8 + 7.
        let (total, assign) = best_matching(&[vec![9, 8], vec![7, 1]]);
        assert_eq!((total, assign), (15, vec![1, 0]));
        let id: Vec<Vec<usize>> =
            (0..10).map(|i| (0..10).map(|j| usize::from(i == (j + 3) % 10) * 5).collect()).collect();
        let (total, assign) = best_matching(&id);
        assert_eq!(total, 50);
        assert!(assign.iter().enumerate().all(|(i, &j)| i == (j + 3) % 10));
    }

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

/// What [`class_accuracy`] measures.
#[derive(Debug)]
pub struct ClassAccuracy {
    /// Share of samples the classifier assigns to the requested class.
    pub accuracy: f64,
    /// The same per requested class.
    pub per_class: Vec<f64>,
    /// Share of samples in the best one-to-one matching of requested classes (or InfoGAN code
    /// values) to predicted classes: InfoGAN's categorical-code purity; ≥ `accuracy`.
    pub purity: f64,
    /// That matching: requested class → predicted class.
    pub matching: Vec<usize>,
    /// counts[requested][predicted].
    pub confusion: Vec<Vec<usize>>,
    /// The u8 samples `[n, C, H, W]`.
    pub samples: Tensor,
    /// The requested classes `[n]`.
    pub classes: Tensor,
}

/// Class-conditional accuracy: `n` samples of a conditional model (sample i asks for class
/// i mod K, latents seeded by `seed`; for InfoGAN, categorical code value i mod K), judged by a
/// domain classifier.
pub fn class_accuracy(
    m: &Model,
    classifier: &gantry_metrics::classifier::Classifier,
    n: usize,
    seed: u64,
) -> Result<ClassAccuracy> {
    let c = m.class_sampler()?;
    let k = c.classes();
    if n < k as usize {
        bail!("--n must be at least the number of classes ({k}), found {n}");
    }
    let z = latents(n, m.sampler()?.z_dim(), seed, "class-accuracy");
    let y = Tensor::arange(n as i64, (tch::Kind::Int64, tch::Device::Cpu)).remainder(k);
    let x = gantry_core::image::to_u8(&c.generate_class(&z, &y)?).to_device(tch::Device::Cpu);
    let pred = classifier.predict(&x)?.to_device(tch::Device::Cpu);
    let (accuracy, per_class) = accuracy_per_class(&pred, &y, k);
    let confusion = confusion(&pred, &y, k)?;
    let (matched, matching) = best_matching(&confusion);
    Ok(ClassAccuracy {
        accuracy,
        per_class,
        purity: matched as f64 / n as f64,
        matching,
        confusion,
        samples: x,
        classes: y,
    })
}

/// counts[target][pred] over predictions and targets `[N]` in 0..k (predictions outside are
/// clamped into range).
pub fn confusion(pred: &Tensor, target: &Tensor, k: i64) -> Result<Vec<Vec<usize>>> {
    let (p, t): (Vec<i64>, Vec<i64>) = (Vec::try_from(pred)?, Vec::try_from(target)?);
    let mut counts = vec![vec![0usize; k as usize]; k as usize];
    for (&p, &t) in p.iter().zip(&t) {
        counts[t.clamp(0, k - 1) as usize][p.clamp(0, k - 1) as usize] += 1;
    }
    Ok(counts)
}

/// The share of predictions `[N]` equal to the targets `[N]`, overall and per target class 0..k
/// (NaN for a class with no targets).
pub fn accuracy_per_class(pred: &Tensor, target: &Tensor, k: i64) -> (f64, Vec<f64>) {
    let hit = pred.eq_tensor(target).to_kind(tch::Kind::Float);
    let per_class =
        (0..k).map(|c| hit.masked_select(&target.eq(c)).mean(tch::Kind::Float).double_value(&[])).collect();
    (hit.mean(tch::Kind::Float).double_value(&[]), per_class)
}

/// What [`similarity`] measures.
#[derive(Debug)]
pub struct Similarity {
    /// Per-pair scores, `[N]` f64 (PSNR in dB, or SSIM).
    pub scores: Vec<f64>,
    /// What was compared, for the report.
    pub real: String,
    pub fake: String,
}

impl Similarity {
    /// Mean over pairs (PSNR: of the finite values, identical pairs being +∞).
    pub fn mean(&self) -> f64 {
        let finite: Vec<f64> = self.scores.iter().copied().filter(|v| v.is_finite()).collect();
        finite.iter().sum::<f64>() / finite.len().max(1) as f64
    }
}

/// The held-out pairs of a translation model's data (its test split; `val/` when there is no
/// `test/`): u8 (inputs, targets), the first `n` in file order (all for None).
pub fn held_out_pairs(m: &Model, n: Option<usize>) -> Result<(Tensor, Tensor)> {
    let t = m.translator()?;
    if let DataNeeds::Images { channels, size, .. } = m.cfg.family.data() {
        // A model that undoes a degradation: the held-out images, and inputs made from them.
        let opts = LoadOptions {
            split: Split::Test,
            size: Some(size),
            channels: Some(channels),
            fit: m.cfg.loader.fit,
        };
        let ds = gantry_data::load(&m.cfg.data, &opts)?;
        let targets = ds.images.narrow(0, 0, n.unwrap_or(ds.len()).min(ds.len()) as i64);
        let Some(inputs) = t.degrade_u8(&targets) else {
            bail!("{}: its inputs cannot be made from images", m.path.display());
        };
        return Ok((inputs, targets));
    }
    let DataNeeds::Paired { a_to_b, .. } = m.cfg.family.data() else {
        bail!("{}: trained on unpaired data, whose held-out inputs have no targets", m.path.display());
    };
    let ((ci, size), (co, _)) = (t.input_shape(), t.output_shape());
    let po = gantry_data::paired::PairedOptions {
        split: Split::Test,
        size,
        channels: (ci, co),
        fit: m.cfg.loader.fit,
        a_to_b,
    };
    let (a, b) = gantry_data::source::load_paired(&m.cfg.data, &po)?;
    let n = n.unwrap_or(a.len()).min(a.len()) as i64;
    Ok((a.images.narrow(0, 0, n), b.images.narrow(0, 0, n)))
}

/// The held-out domains (A, B) of a model trained on unpaired data (their test splits), with
/// their labels when the folders have classes.
pub fn held_out_domains(m: &Model) -> Result<(gantry_data::ImageDataset, gantry_data::ImageDataset)> {
    let DataNeeds::Unpaired { channels_a, channels_b, size } = m.cfg.family.data() else {
        bail!("{}: not trained on unpaired data", m.path.display());
    };
    let uo = gantry_data::unpaired::UnpairedOptions {
        split: Split::Test,
        size,
        channels: (channels_a, channels_b),
        fit: m.cfg.loader.fit,
    };
    Ok(gantry_data::source::load_unpaired(&m.cfg.data, &uo)?)
}

/// The first `n` held-out inputs (u8) of a translation model, paired or not.
pub fn held_out_inputs(m: &Model, n: Option<usize>) -> Result<Tensor> {
    match m.cfg.family.data() {
        DataNeeds::Paired { .. } | DataNeeds::Images { .. } => Ok(held_out_pairs(m, n)?.0),
        _ => {
            let (a, _) = held_out_domains(m)?;
            let n = n.unwrap_or(a.len()).min(a.len()) as i64;
            Ok(a.images.narrow(0, 0, n))
        }
    }
}

/// PSNR (`psnr`) or SSIM (`ssim`) of translations against their targets: a translation model's
/// outputs on its held-out pairs (`fake` a checkpoint, `real` None; libtorch seeded by `seed`
/// for pix2pix's dropout), or two image sources compared image by image in their natural file
/// order (`--real DIR --fake DIR`, same count and size).
pub fn similarity(metric: &str, real: Option<&str>, fake: &str, opts: &EvalOptions) -> Result<Similarity> {
    let score = |a: &Tensor, b: &Tensor| -> Result<Vec<f64>> {
        let s = match metric {
            "psnr" => gantry_metrics::similarity::psnr(a, b, 255.0)?,
            "ssim" => gantry_metrics::similarity::ssim(a, b, 255.0)?,
            other => bail!("unknown similarity '{other}': expected psnr or ssim"),
        };
        Ok(Vec::try_from(s.to_device(Device::Cpu))?)
    };
    match (classify(fake)?, real) {
        (Kind2::Checkpoint(p), None) => {
            let m = Model::load(&p, opts.device)?;
            let (a, b) = held_out_pairs(&m, opts.n)?;
            tch::manual_seed(opts.seed as i64);
            let t = m.translator()?;
            let mut scores = Vec::new();
            for (xa, xb) in a.split(opts.batch, 0).iter().zip(b.split(opts.batch, 0)) {
                let y = gantry_core::image::to_u8(&t.translate(&gantry_core::image::from_u8(xa))?);
                scores.extend(score(&y.to_device(Device::Cpu), &xb)?);
            }
            Ok(Similarity {
                scores,
                real: format!("{} held-out targets", m.cfg.data),
                fake: format!("{} ({} translations)", p.display(), a.size()[0]),
            })
        }
        (Kind2::Checkpoint(_), Some(_)) => {
            bail!("--fake CKPT translates its own held-out inputs and compares them with their targets: leave out --real")
        }
        (_, None) => bail!("{metric} compares --fake with --real (two image folders), or --fake CKPT of a translation model alone"),
        (Kind2::Data(f), Some(r)) => {
            let load = |s: &str| gantry_data::load(s, &LoadOptions::default());
            let (rd, fd) = (load(r)?, load(&f)?);
            if rd.len() != fd.len() || rd.image_shape() != fd.image_shape() {
                bail!(
                    "{metric} compares images one to one: {r} has {} of {:?}, {f} {} of {:?}",
                    rd.len(),
                    rd.image_shape(),
                    fd.len(),
                    fd.image_shape()
                );
            }
            Ok(Similarity { scores: score(&fd.images, &rd.images)?, real: rd.name, fake: fd.name })
        }
        _ => bail!("{metric} compares images: --real and --fake must be image folders (or --fake CKPT alone)"),
    }
}
