//! Drawing from checkpoints: `gantry sample`, `interpolate`, `traverse` and `translate`, each
//! through the capability of the model it needs ([`crate::capability`]).
//!
//! A checkpoint carries its run's config (metadata `gantry.config`), so the model is rebuilt from
//! the file alone. Latents come from gantry's own seeded generator, never libtorch's.

use std::path::{Path, PathBuf};

use crate::error::{bail, Context, Result};
use gantry_core::device::derive_seed;
use gantry_data::toy::Toy;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::capability::{Direction, Model};
use crate::data::toy_of;
use crate::family::DataNeeds;

pub use gantry_core::latent::latents;

/// The truncation trick at sampling time (see `gantry_nn::truncation`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truncation {
    /// Re-draw latent coordinates with |z| > τ (Brock et al. 2019); `None`: no truncation.
    pub tau: Option<f64>,
    /// Shrink towards the mean: z ↦ ψ·z (Karras et al. 2019's form with w̄ = 0); for StyleGAN,
    /// in W: w ↦ w̄ + ψ·(w − w̄). 1 = off.
    pub psi: f64,
    /// StyleGAN: truncate only the first this many ws (the coarse layers); `None`: all.
    pub cutoff: Option<i64>,
}

impl Default for Truncation {
    fn default() -> Self {
        Self { tau: None, psi: 1.0, cutoff: None }
    }
}

impl Truncation {
    /// Checks τ > 0 and a finite ψ; the error names the flag.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.tau {
            if !(t > 0.0 && t.is_finite()) {
                bail!("invalid --truncation: expected a threshold τ > 0, found {t}");
            }
        }
        if !self.psi.is_finite() {
            bail!("invalid --psi: expected a finite number, found {}", self.psi);
        }
        if let Some(c) = self.cutoff {
            if c < 1 {
                bail!("invalid --cutoff: expected ≥ 1 layers, found {c}");
            }
        }
        Ok(())
    }
}

/// [`latents`] with the truncation trick: τ-truncated N(0, 1) coordinates, then scaled by ψ.
/// With the default (no τ, ψ = 1) this equals [`latents`].
pub fn latents_truncated(n: usize, dim: i64, seed: u64, stream: &str, t: &Truncation) -> Tensor {
    LatentStream::new(seed, stream, t).next(n, dim)
}

/// [`latents_truncated`] drawn a batch at a time: the batches of one stream, concatenated, are
/// its latents for their total count, so a large `gantry sample` need not hold them all.
#[derive(Debug)]
pub struct LatentStream {
    rng: ChaCha8Rng,
    trunc: Truncation,
}

impl LatentStream {
    /// The stream named `stream` of run seed `seed`, truncated as `t` says: its first `n` latents
    /// are those [`latents_truncated`] draws with the same arguments.
    pub fn new(seed: u64, stream: &str, t: &Truncation) -> Self {
        Self { rng: ChaCha8Rng::seed_from_u64(derive_seed(seed, stream, 0)), trunc: *t }
    }

    /// The next `n` latents `[n, dim]`.
    pub fn next(&mut self, n: usize, dim: i64) -> Tensor {
        let rng = &mut self.rng;
        let v: Vec<f32> = match self.trunc.tau {
            None => (0..n * dim as usize).map(|_| gantry_core::latent::standard_normal(rng) as f32).collect(),
            Some(tau) => (0..n * dim as usize)
                .map(|_| {
                    gantry_nn::truncated_normal(tau, || gantry_core::latent::standard_normal(rng)) as f32
                })
                .collect(),
        };
        let z = Tensor::from_slice(&v).reshape([n as i64, dim]);
        if self.trunc.psi == 1.0 {
            z
        } else {
            gantry_nn::shrink(&z, &Tensor::zeros([dim], tch::kind::FLOAT_CPU), self.trunc.psi)
        }
    }
}

/// Writes samples `x` as a PNG: an image grid with `nrow` per row, or for toy models a scatter
/// plot over the data's modes.
pub fn save_samples(x: &Tensor, toy: Option<&Toy>, nrow: usize, out: &Path) -> Result<()> {
    match toy {
        None => gantry_core::image::save_grid(x, nrow, out)?,
        Some(toy) => {
            let extent = toy.modes().iter().flatten().fold(1.0f64, |a, v| a.max(v.abs())) * 1.5;
            gantry_core::image::save_png(&crate::plot::scatter(x, &toy.modes(), extent, 512), out)?;
        }
    }
    Ok(())
}

/// Images `[N, C, H, W]` with C = 1 shown as 3 channels when `colour`.
fn shown(x: &Tensor, colour: bool) -> Tensor {
    if colour && x.size()[1] == 1 {
        x.repeat([1, 3, 1, 1])
    } else {
        x.shallow_clone()
    }
}

/// Writes translations as a PNG of (input | output | target) triples, the target when given,
/// ⌈√(N/2)⌉ triples per row. All images in [−1, 1], `[N, C, S, S]` (grey ones shown in colour
/// when the others are).
pub fn save_translations(
    inputs: &Tensor,
    outputs: &Tensor,
    targets: Option<&Tensor>,
    out: &Path,
) -> Result<()> {
    let n = inputs.size()[0];
    let mut cols = vec![inputs.to_device(Device::Cpu), outputs.to_device(Device::Cpu)];
    cols.extend(targets.map(|t| t.to_device(Device::Cpu)));
    // Super-resolution inputs are smaller: shown enlarged (nearest) to the largest size.
    let side = cols.iter().map(|c| c.size()[2]).max().unwrap_or(1);
    let cols: Vec<Tensor> = cols
        .into_iter()
        .map(|c| match c.size()[2] {
            s if s == side => c,
            s => {
                c.repeat_interleave_self_int(side / s, 2, None).repeat_interleave_self_int(side / s, 3, None)
            }
        })
        .collect();
    let colour = cols.iter().any(|c| c.size()[1] == 3);
    let cols: Vec<Tensor> = cols.iter().map(|c| shown(c, colour)).collect();
    let k = cols.len() as i64;
    let tiles = Tensor::stack(&cols, 1).flatten(0, 1); // [N·k, C, S, S]: triples in order
    let per_row = ((n as f64 / 2.0).sqrt().ceil() as i64).max(1);
    Ok(gantry_core::image::save_grid(&tiles, (per_row * k) as usize, out)?)
}

/// The toy distribution of a toy model (for rendering its samples).
fn toy_of_model(m: &Model) -> Result<Option<Toy>> {
    match m.cfg.family.data() {
        DataNeeds::Toy { dim } => Ok(Some(toy_of(&m.cfg.data, dim)?)),
        _ => Ok(None),
    }
}

/// Where `gantry sample` writes.
#[derive(Debug, Clone, Copy)]
pub enum SampleOut<'a> {
    /// One PNG: a grid of ⌈√n⌉ columns (toy models: a scatter plot).
    Grid(&'a Path),
    /// A folder receiving one PNG per sample, `000000.png` on (0-based), written as they are
    /// drawn: memory stays flat for any n.
    Folder(&'a Path),
    /// The same folder, for samples `first .. first + n` of the seed's stream only (`--seeds A-B`):
    /// each file is the one an unsharded run writes under its name, so jobs on several machines
    /// write disjoint parts of one set.
    Shard(&'a Path, usize),
}

/// Samples are drawn at most this many at a time.
const SAMPLE_BATCH: usize = 256;

/// `gantry sample`: `n` samples from latents seeded by `seed`, with the truncation trick if
/// asked; for conditional models all of class `class` if given (otherwise sample i has class
/// i mod K). They are drawn in batches; a grid that cannot fit in memory is one line before any
/// is drawn (a folder needs one batch at a time).
pub fn sample(
    m: &Model,
    n: usize,
    seed: u64,
    trunc: &Truncation,
    class: Option<i64>,
    out: SampleOut,
) -> Result<()> {
    if n == 0 {
        bail!("--n must be at least 1");
    }
    trunc.validate()?;
    let s = m.sampler()?;
    let in_w = m.family.w_truncation();
    if trunc.cutoff.is_some() && in_w.is_none() {
        bail!("--cutoff truncates StyleGAN's ws; {} holds a {} model", m.path.display(), m.cfg.family.arch());
    }
    let toy = toy_of_model(m)?;
    // StyleGAN truncates in W: z itself is only τ-truncated.
    let z_trunc = if in_w.is_some() { Truncation { psi: 1.0, ..*trunc } } else { *trunc };
    let classes = match class {
        Some(k) => {
            let c = m.class_sampler()?;
            if !(0..c.classes()).contains(&k) {
                bail!("invalid --class: expected 0..{}, found {k}", c.classes() - 1);
            }
            Some((c, k))
        }
        None => None,
    };
    let draw = |z: &Tensor| -> Result<Tensor> {
        let x = match (&classes, in_w) {
            (None, Some(w)) => w.generate_psi(z, trunc.psi, trunc.cutoff)?,
            (None, None) => s.generate(z),
            (Some((c, k)), _) => {
                c.generate_class(z, &Tensor::full([z.size()[0]], *k, (Kind::Int64, Device::Cpu)))?
            }
        };
        Ok(x.to_device(Device::Cpu))
    };
    // Sample i has class i mod K in every batch when a batch is a multiple of K.
    let k = if class.is_none() { m.class_sampler().map_or(1, |c| c.classes().max(1) as usize) } else { 1 };
    let batch = (SAMPLE_BATCH / k).max(1) * k;
    let shape = draw(&latents_truncated(1, s.z_dim(), seed, "sample", &z_trunc))?.size();
    let per_sample: u128 = shape[1..].iter().map(|&d| d as u128).product();
    let mut stream = LatentStream::new(seed, "sample", &z_trunc);
    match out {
        SampleOut::Grid(path) => {
            // Latents, the float samples and the u8 grid (with its padding).
            let floats = n as u128 * (s.z_dim() as u128 + per_sample) * 4;
            let what = format!(
                "--n {n}: a grid of {n} samples of {}",
                shape[1..].iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x")
            );
            gantry_core::mem::ensure_fits(
                &what,
                floats + n as u128 * per_sample * 2,
                "give --outdir DIR to write one PNG per sample",
            )?;
            let mut parts = Vec::new();
            let mut done = 0;
            while done < n {
                let b = batch.min(n - done);
                parts.push(draw(&stream.next(b, s.z_dim()))?);
                done += b;
            }
            let x = if parts.len() == 1 { parts.pop().unwrap() } else { Tensor::cat(&parts, 0) };
            save_samples(&x, toy.as_ref(), (n as f64).sqrt().ceil() as usize, path)
        }
        SampleOut::Folder(dir) | SampleOut::Shard(dir, _) => {
            let first = if let SampleOut::Shard(_, first) = out { first } else { 0 };
            if toy.is_some() {
                bail!(
                    "--outdir writes one image per sample; {} holds a model of 2-D points: give --out FILE.png for its scatter plot",
                    m.path.display()
                );
            }
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let end = first.checked_add(n).context("--seeds: the range overflows")?;
            // Batches as an unsharded run draws them (a conditional model's classes follow the
            // position in a batch), from the one holding `first`.
            let mut done = first / batch * batch;
            for _ in 0..done / batch {
                let _ = stream.next(batch, s.z_dim());
            }
            while done < end {
                let b = batch.min(end - done);
                let px = gantry_core::image::to_u8(&draw(&stream.next(b, s.z_dim()))?);
                for j in (first.max(done) - done)..b.min(end - done) {
                    gantry_core::image::save_png(
                        &px.get(j as i64),
                        &dir.join(format!("{:06}.png", done + j)),
                    )?;
                }
                done += b;
            }
            Ok(())
        }
    }
}

/// `gantry traverse`: InfoGAN's latent codes, one at a time. Code 0 is the categorical code
/// (columns: its K values); code i ≥ 1 is continuous code i (columns: `steps` values from −range to
/// range). Each row keeps one noise vector and the other codes fixed (categorical = row mod K,
/// continuous 0), as in Chen et al.'s Figure 2.
pub fn traverse(
    m: &Model,
    code: usize,
    steps: usize,
    range: f64,
    rows: usize,
    seed: u64,
    out: &Path,
) -> Result<()> {
    let c = m.code_sampler()?;
    let (k, n_cont) = c.codes();
    if code > n_cont as usize {
        bail!("invalid --code: expected 0 (categorical) to {n_cont} (continuous), found {code}");
    }
    if rows == 0 || (code > 0 && steps < 2) || !(range > 0.0 && range.is_finite()) {
        bail!("--rows must be ≥ 1, --steps ≥ 2 and --range > 0 (found {rows}, {steps}, {range})");
    }
    let cols = if code == 0 { k as usize } else { steps };
    let (r, cc) = (rows as i64, cols as i64);
    let z = latents(rows, m.sampler()?.z_dim(), seed, "traverse").repeat_interleave_self_int(cc, 0, None); // [r·c, z]
    let idx = Tensor::arange(r * cc, (Kind::Int64, Device::Cpu));
    let (row, col) = (idx.divide_scalar_mode(cc, "floor"), idx.remainder(cc));
    let mut cat = row.remainder(k);
    let mut cont = Tensor::zeros([r * cc, n_cont], tch::kind::FLOAT_CPU);
    if code == 0 {
        cat = col;
    } else {
        let values = col.to_kind(Kind::Float) * (2.0 * range / (cc - 1) as f64) - range;
        let _ = cont.index_copy_(1, &Tensor::from_slice(&[code as i64 - 1]), &values.unsqueeze(1));
    }
    let x = c.generate_codes(&z, &cat, &cont)?;
    save_samples(&x, None, cols, out)
}

/// `gantry interpolate`: `rows` strips of `frames` images along z(α) = (1 − α)·z1 + α·z2.
pub fn interpolate(m: &Model, frames: usize, rows: usize, seed: u64, how: Walks, out: &Path) -> Result<()> {
    if frames < 2 || rows == 0 {
        bail!("--frames must be at least 2 and --rows at least 1 (found {frames} and {rows})");
    }
    let s = m.sampler()?;
    if m.cfg.family.data().image().is_none() {
        bail!("interpolate draws image strips; this checkpoint holds a {} model", m.cfg.family.arch());
    }
    let z_dim = s.z_dim();
    let ends = latents(2 * rows, z_dim, seed, "interpolate").reshape([rows as i64, 2, z_dim]);
    let z = lerp_path(&ends.select(1, 0), &ends.select(1, 1), frames); // [rows, F, z_dim]
    let x = s.generate(&z.reshape([-1, z_dim]));
    let sz = x.size();
    write_walks(&x.reshape([rows as i64, frames as i64, sz[1], sz[2], sz[3]]), how, out)
}

/// How `gantry interpolate` shows its walks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Walks {
    /// One PNG: a row per walk, a column per step.
    Grid,
    /// An animation whose frame t is every walk's step t (tiled in a square), played forth and
    /// back so that it loops without a jump, as StyleGAN's `gen_video.py` users know them.
    Animation {
        /// How the animation is encoded (GIF, APNG or MP4).
        format: gantry_core::animation::AnimationFormat,
        /// Frames per second (`--fps`, default 12).
        fps: u32,
    },
}

/// Writes walks `[rows, F, C, H, W]` in [−1, 1] as `how` says.
fn write_walks(walks: &Tensor, how: Walks, out: &Path) -> Result<()> {
    let sz = walks.size();
    let (rows, frames) = (sz[0], sz[1]);
    match how {
        Walks::Grid => save_samples(&walks.reshape([-1, sz[2], sz[3], sz[4]]), None, frames as usize, out),
        Walks::Animation { format, fps } => {
            let nrow = (rows as f64).sqrt().ceil() as usize;
            let order = (0..frames).chain((1..frames - 1).rev());
            let tiles = order
                .map(|t| Ok(gantry_core::image::make_grid(&walks.select(1, t), nrow, 2)?))
                .collect::<Result<Vec<_>>>()?;
            gantry_core::animation::save_animation(&tiles, fps, format, out)?;
            Ok(())
        }
    }
}

/// (1 − α)·z1 + α·z2 for `frames` values of α from 0 to 1: `[rows, frames, d]` from `[rows, d]` ends.
fn lerp_path(z1: &Tensor, z2: &Tensor, frames: usize) -> Tensor {
    let alpha = Tensor::linspace(0.0, 1.0, frames as i64, (Kind::Float, z1.device())).view([1, -1, 1]);
    (1.0 - &alpha) * z1.unsqueeze(1) + &alpha * z2.unsqueeze(1)
}

/// The images an autoencoder command reads from `input` (a dataset name, a folder, an archive; see
/// `gantry_data::load`) at the model's size and channels, `split` of a dataset that has one: the
/// first `n` (all when None) as images in [−1, 1] and their labels when the data has them.
pub fn autoencoder_inputs(
    m: &Model,
    input: &str,
    split: gantry_data::Split,
    n: Option<usize>,
) -> Result<(Tensor, Option<Tensor>)> {
    let (c, s) = m.autoencoder()?.image_shape();
    let opts = gantry_data::LoadOptions { split, size: Some(s), channels: Some(c), fit: m.cfg.loader.fit };
    let ds = gantry_data::load(input, &opts).with_context(|| format!("--input {input}"))?;
    let take = n.unwrap_or(usize::MAX).min(ds.len()) as i64;
    if take == 0 {
        bail!("--input {input}: no images to encode");
    }
    let x = gantry_core::image::from_u8(&ds.images.narrow(0, 0, take));
    Ok((x, ds.labels.as_ref().map(|l| l.narrow(0, 0, take))))
}

/// Codes `[N, code_dim]` (on the CPU) of images `[N, C, S, S]` in [−1, 1], in batches.
pub fn encode_all(m: &Model, images: &Tensor) -> Result<Tensor> {
    let ae = m.autoencoder()?;
    let n = images.size()[0];
    let mut out = Vec::new();
    for start in (0..n).step_by(500) {
        out.push(ae.encode(&images.narrow(0, start, 500.min(n - start)))?.to_device(Device::Cpu));
    }
    Ok(Tensor::cat(&out, 0))
}

/// What `gantry encode` wrote.
#[derive(Debug)]
pub struct Encoded {
    /// The number of images encoded (rows of the `.npy`).
    pub count: i64,
    /// The width of each code (columns of the `.npy`).
    pub code_dim: i64,
    /// The labels file, when the data has labels.
    pub labels: Option<PathBuf>,
}

/// `gantry encode`: the codes of `input`'s images as a float32 `.npy` `[N, code_dim]` at `out`,
/// their labels (when the data has them) as int64 `<out stem>.labels.npy` beside it, and with
/// `scatter` a PNG of 2-D codes over samples of the prior, coloured by class. Every file is
/// written atomically; a scatter of codes that are not 2-D is refused before anything is written.
pub fn encode(
    m: &Model,
    input: &str,
    split: gantry_data::Split,
    n: Option<usize>,
    out: &Path,
    scatter: Option<&Path>,
) -> Result<Encoded> {
    let ae = m.autoencoder()?;
    if scatter.is_some() && ae.code_dim() != 2 {
        bail!("--scatter plots 2-D codes; {} encodes to {} dimensions", m.path.display(), ae.code_dim());
    }
    let (x, labels) = autoencoder_inputs(m, input, split, n)?;
    let codes = encode_all(m, &x)?;
    gantry_metrics::npy::write_array(out, &codes)?;
    let labels_path = match &labels {
        Some(l) => {
            let stem = out.file_stem().unwrap_or_default().to_string_lossy();
            let p = out.with_file_name(format!("{stem}.labels.npy"));
            gantry_metrics::npy::write_array(&p, l)?;
            Some(p)
        }
        None => None,
    };
    if let Some(path) = scatter {
        let prior = ae.prior_samples(2000, 0);
        let extent = codes.abs().max().double_value(&[]).max(prior.abs().max().double_value(&[])) * 1.05;
        let classes: Option<Vec<i64>> = labels.as_ref().map(|l| Vec::try_from(l).unwrap_or_default());
        let img = crate::plot::scatter_classes(&codes, classes.as_deref(), &prior, extent, 600);
        gantry_core::image::save_png(&img, path)?;
    }
    Ok(Encoded { count: codes.size()[0], code_dim: codes.size()[1], labels: labels_path })
}

/// `gantry interpolate --input`: `rows` strips between the codes of real images 2r and 2r + 1 of
/// `input`: each row is the first image, `frames` decodings of (1 − α)·E(x₁) + α·E(x₂), the second.
pub fn interpolate_encoded(
    m: &Model,
    input: &str,
    split: gantry_data::Split,
    frames: usize,
    rows: usize,
    how: Walks,
    out: &Path,
) -> Result<()> {
    if frames < 2 || rows == 0 {
        bail!("--frames must be at least 2 and --rows at least 1 (found {frames} and {rows})");
    }
    let ae = m.autoencoder()?;
    let (x, _) = autoencoder_inputs(m, input, split, Some(2 * rows))?;
    if x.size()[0] < 2 * rows as i64 {
        bail!("--input {input}: {rows} rows need {} images, found {}", 2 * rows, x.size()[0]);
    }
    let z = encode_all(m, &x)?; // [2r, d]
    let d = z.size()[1];
    let z = z.reshape([rows as i64, 2, d]);
    let path = lerp_path(&z.select(1, 0), &z.select(1, 1), frames); // [r, F, d]
    let decoded = ae.decode(&path.reshape([-1, d]))?.to_device(Device::Cpu);
    let sz = decoded.size();
    let decoded = decoded.reshape([rows as i64, frames as i64, sz[1], sz[2], sz[3]]);
    let x = x.reshape([rows as i64, 2, sz[1], sz[2], sz[3]]);
    let strip = Tensor::cat(&[x.narrow(1, 0, 1), decoded, x.narrow(1, 1, 1)], 1);
    write_walks(&strip, how, out)
}

/// What `gantry translate` reads: plain input images, or `A|B` pairs whose right half is the
/// target (shown beside the translation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inputs {
    /// Each image is an input to translate.
    Plain,
    /// Each image is an `A|B` pair side by side; one half is the input, the other the target.
    Paired,
}

/// What `gantry translate` did.
#[derive(Debug)]
pub struct Translated {
    /// The number of images translated.
    pub count: usize,
    /// One line on the files of the folder that were left out (not images, or undecodable).
    pub skipped: Option<String>,
}

/// Images translated per forward pass (and read per batch from a folder).
const TRANSLATE_BATCH: usize = 16;

/// `gantry translate`: translations of `input` (an image file, or a folder of them in natural
/// order, its files that do not decode left out; `Paired`: A|B files, the model's `a_to_b`
/// choosing the input half) by a translation model in `direction` (B → A for a reversible one
/// such as CycleGAN), at most `n`. `out` ending in `.png`/`.jpg` gets one grid of (input | output
/// [| target]) triples; any other `out` is a folder that receives each translation as
/// `NNNNN.png` (1-based, in input order), written atomically. A folder is read, translated and
/// written 16 images at a time, so memory stays flat for a folder of any size. libtorch is seeded
/// by `seed` first (pix2pix's dropout).
#[allow(clippy::too_many_arguments)]
pub fn translate(
    m: &Model,
    input: &Path,
    out: &Path,
    inputs: Inputs,
    direction: Direction,
    n: Option<usize>,
    seed: u64,
) -> Result<Translated> {
    let t = m.translator()?;
    if direction == Direction::BtoA && !t.reversible() {
        bail!(
            "--direction b2a: {} holds a {} model, which translates one way (a2b)",
            m.path.display(),
            m.cfg.family.arch()
        );
    }
    let limit = n.unwrap_or(usize::MAX);
    if limit == 0 {
        bail!("--n must be at least 1");
    }
    let ((ci, size), (co, _)) = t.shapes(direction);
    let fit = m.cfg.loader.fit;
    let paired = match inputs {
        Inputs::Plain => None,
        Inputs::Paired => {
            let DataNeeds::Paired { a_to_b, .. } = m.cfg.family.data() else {
                bail!("--paired reads A|B files; {} was trained on unpaired data", m.path.display());
            };
            let split = gantry_data::Split::Train;
            Some(gantry_data::paired::PairedOptions { split, size, channels: (ci, co), fit, a_to_b })
        }
    };
    // Batches of (inputs, targets) in [−1, 1] at the model's size.
    let float = gantry_core::image::from_u8;
    let halves = |ds: gantry_data::ImageDataset| -> Result<(Tensor, Option<Tensor>)> {
        Ok(match &paired {
            Some(po) => {
                let (a, b) = gantry_data::paired::split_halves(ds, po, input)?;
                (float(&a.images), Some(float(&b.images)))
            }
            None => (float(&ds.images), None),
        })
    };
    let mut folder = None;
    let mut one = None;
    if input.is_dir() {
        let listing = gantry_data::folder::list(input, gantry_data::Split::Train)?;
        let target = match paired {
            // Whole A|B images at their own size and channels; each half is fitted after.
            Some(_) => gantry_data::folder::Target { size: None, channels: None, fit },
            None => gantry_data::folder::Target { size: Some(size), channels: Some(ci), fit },
        };
        folder = Some(listing.batches(TRANSLATE_BATCH, target));
    } else {
        one = Some(match &paired {
            Some(po) => {
                let (a, b) = gantry_data::paired::load_dir(input, po)?;
                (float(&a.images), Some(float(&b.images)))
            }
            None => (gantry_data::image_file::read(input, size, ci, fit)?, None),
        });
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let grid = ["png", "jpg", "jpeg"].contains(&ext.as_str());
    if !grid {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    }
    tch::manual_seed(seed as i64);
    let (mut count, mut shown) = (0usize, Vec::new());
    loop {
        let (a, b) = match (&mut folder, one.take()) {
            (Some(batches), _) => match batches.next() {
                Some(ds) => halves(ds?)?,
                None => break,
            },
            (None, Some(x)) => x,
            (None, None) => break,
        };
        let take = (a.size()[0] as usize).min(limit - count) as i64;
        let (a, b) = (a.narrow(0, 0, take), b.map(|b| b.narrow(0, 0, take)));
        let y = t.translate_in(&a, direction)?.to_device(Device::Cpu);
        if grid {
            shown.push((a, y, b));
        } else {
            for i in 0..take {
                let px = gantry_core::image::to_u8(&y.get(i));
                gantry_core::image::save_png(&px, &out.join(format!("{:05}.png", count + i as usize + 1)))?;
            }
        }
        count += take as usize;
        if count == limit {
            break;
        }
    }
    if grid {
        let a = Tensor::cat(&shown.iter().map(|s| s.0.shallow_clone()).collect::<Vec<_>>(), 0);
        let y = Tensor::cat(&shown.iter().map(|s| s.1.shallow_clone()).collect::<Vec<_>>(), 0);
        let b: Option<Vec<Tensor>> = shown.iter().map(|s| s.2.as_ref().map(|b| b.shallow_clone())).collect();
        let b = b.map(|b| Tensor::cat(&b, 0));
        // Without targets, a reversible model shows its cycle: the translation translated back.
        let back = match (&b, direction) {
            (None, Direction::AtoB) if t.reversible() => Some(t.translate_back(&y)?),
            (None, Direction::BtoA) => Some(t.translate(&y)?),
            _ => None,
        };
        save_translations(&a, &y, b.as_ref().or(back.as_ref()), out)?;
    }
    let skipped = folder.and_then(|f| gantry_data::dataset::skipped_summary(f.skipped()));
    Ok(Translated { count, skipped })
}

/// The image files of `input` (a file, or a folder's image files in natural order).
fn image_files(input: &Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let exts = ["png", "jpg", "jpeg", "bmp", "pgm", "ppm", "gif", "tif", "tiff", "webp"];
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| format!("cannot read {}", input.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort_by_key(|p| {
        gantry_data::folder::natural_key(&p.file_name().unwrap_or_default().to_string_lossy())
    });
    if files.is_empty() {
        bail!("{}: no image files (png, jpg, bmp, pgm, …)", input.display());
    }
    Ok(files)
}

/// How `gantry upscale` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpscaleOptions {
    /// The files are high-resolution originals: downsample them first as in training (bicubic
    /// with antialiasing, by the model's scale; sides cropped to a multiple of it), so the output
    /// can be compared with them.
    pub degrade: bool,
    /// Upscale at most this many files.
    pub n: Option<usize>,
    /// Input pixels per tile side (0: whole images at once); None: the largest tile whose
    /// measured working set fits in 1 GiB (or a quarter of the available memory).
    pub tile: Option<i64>,
    /// Context read around each tile; None: the model's receptive field radius (32 if unknown).
    pub overlap: Option<i64>,
}

/// `gantry upscale`: super-resolution of image files at their own size by a model that upscales
/// any size (SRResNet/SRGAN), tile by tile ([`crate::tile`]): memory is bounded by the tile's
/// working set plus the u8 result, whatever the image size, and with the default overlap the
/// result equals whole-image inference. `out` ending in `.png`/`.jpg` gets the one upscaled
/// image of a single input, or with `degrade` a grid of rows (input enlarged | bicubic | model |
/// original); any other `out` is a folder that receives `<name>.png` per input, written
/// atomically. Returns the number upscaled.
pub fn upscale(
    m: &Model,
    input: &Path,
    out: &Path,
    o: UpscaleOptions,
) -> Result<(usize, crate::tile::Tiling)> {
    let t = m.translator()?;
    if !t.any_size() {
        bail!(
            "{} holds a {} model, which translates fixed-size images: use gantry translate",
            m.path.display(),
            m.cfg.family.arch()
        );
    }
    let ((c, lr_side), (_, hr_side)) = (t.input_shape(), t.output_shape());
    let scale = hr_side / lr_side;
    let degrade = o.degrade;
    let mut files = image_files(input)?;
    files.truncate(o.n.unwrap_or(usize::MAX));
    if files.is_empty() {
        bail!("--n must be at least 1");
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let one_file = ["png", "jpg", "jpeg"].contains(&ext.as_str());
    if one_file && !degrade && files.len() > 1 {
        bail!(
            "--out {} is one image, and {} holds {} images: give a folder",
            out.display(),
            input.display(),
            files.len()
        );
    }
    let overlap = o.overlap.or(t.context()).unwrap_or(32);
    if overlap < 0 || o.tile.is_some_and(|t| t < 0) {
        bail!("--tile and --tile-overlap take pixels ≥ 0");
    }
    let tiling = match o.tile {
        Some(tile) => crate::tile::Tiling { tile, overlap },
        None => crate::tile::Tiling::measured(c, overlap, m.device, |x| t.translate(x))?,
    };
    if !one_file {
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    }
    let mut rows = Vec::new();
    for file in &files {
        let x = gantry_data::image_file::read_native(file, c)?;
        let (h, w) = (x.size()[2], x.size()[3]);
        let (lr, hr) = if degrade {
            let (h, w) = (h / scale * scale, w / scale * scale);
            if h == 0 || w == 0 {
                bail!(
                    "{}: {}x{} is smaller than the model's scale {scale}",
                    file.display(),
                    x.size()[3],
                    x.size()[2]
                );
            }
            let hr = x.narrow(2, 0, h).narrow(3, 0, w);
            let Some(lr) = t.degrade(&hr) else {
                bail!("--degrade: {} holds a model whose inputs are not made from images", m.path.display());
            };
            // Quantised, as a low-resolution file would be.
            (gantry_core::image::from_u8(&gantry_core::image::to_u8(&lr)), Some(hr))
        } else {
            (x, None)
        };
        let (lh, lw) = (lr.size()[2] as u128, lr.size()[3] as u128);
        gantry_core::mem::ensure_fits(
            &format!("{}: upscaling {lw}x{lh} by {scale}", file.display()),
            lh * lw * (scale as u128).pow(2) * c as u128 * if hr.is_some() && one_file { 9 } else { 1 },
            "",
        )?;
        let sr_u8 = crate::tile::apply(&lr, scale, tiling, |x| t.translate(x))?;
        match (&hr, one_file) {
            (Some(hr), true) => {
                let near =
                    lr.repeat_interleave_self_int(scale, 2, None).repeat_interleave_self_int(scale, 3, None);
                let Some(bicubic) = t.baseline(&lr) else {
                    bail!("--degrade with a .png --out shows a baseline; {} has none", m.path.display());
                };
                let sr = gantry_core::image::from_u8(&sr_u8.unsqueeze(0));
                rows.push(Tensor::cat(&[near, bicubic, sr, hr.shallow_clone()], 0));
            }
            (None, true) => gantry_core::image::save_png(&sr_u8, out)?,
            (_, false) => {
                let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                gantry_core::image::save_png(&sr_u8, &out.join(format!("{stem}.png")))?;
            }
        }
    }
    if !rows.is_empty() {
        let first = rows[0].size();
        if let Some(r) = rows.iter().find(|r| r.size() != first) {
            bail!(
                "a grid needs images of one size: found {:?} and {:?} (give a folder as --out)",
                &first[2..],
                &r.size()[2..]
            );
        }
        gantry_core::image::save_grid(&Tensor::cat(&rows, 0), 4, out)?;
    }
    Ok((files.len(), tiling))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_latents() {
        let plain = latents(100, 8, 1, "s");
        assert!(latents_truncated(100, 8, 1, "s", &Truncation::default()).equal(&plain));
        let t = latents_truncated(2000, 8, 1, "s", &Truncation { tau: Some(0.5), psi: 1.0, cutoff: None });
        assert!(t.abs().max().double_value(&[]) <= 0.5);
        let p = latents_truncated(100, 8, 1, "s", &Truncation { tau: None, psi: 0.7, cutoff: None });
        assert!(p.allclose(&(&plain * 0.7), 1e-6, 1e-7, false));
        assert!(Truncation { tau: Some(0.0), psi: 1.0, cutoff: None }
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--truncation"));
    }

    #[test]
    fn translation_grids_show_triples_in_colour() {
        let d = tempfile::tempdir().unwrap();
        let a = Tensor::full([8, 1, 4, 4], -1.0, tch::kind::FLOAT_CPU);
        let b = Tensor::full([8, 3, 4, 4], 1.0, tch::kind::FLOAT_CPU);
        let p = d.path().join("t.png");
        save_translations(&a, &b, Some(&b), &p).unwrap();
        let img = image::open(&p).unwrap().to_rgb8();
        // 8 triples, 2 per row: 6 columns and 4 rows of 4×4 tiles with 2-pixel padding.
        assert_eq!((img.width(), img.height()), (6 * 6 + 2, 4 * 6 + 2));
        assert_eq!(img.get_pixel(2, 2).0, [0, 0, 0], "input (grey, black) first");
        assert_eq!(img.get_pixel(8, 2).0, [255, 255, 255], "then its output");
    }
}
