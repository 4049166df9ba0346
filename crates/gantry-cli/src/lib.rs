//! `gantry`: train, sample and explore GANs. The `gantry` binary is [`main`]; a crate with
//! families of its own gets the same command line for them with [`run_with`]:
//!
//! ```no_run
//! use gantry_train::config::Recipe;
//! use gantry_train::presets::Preset;
//! use gantry_train::registry::Registry;
//!
//! /// `main` of a program whose family's settings are `MyRun`, with its presets.
//! fn main_with<MyRun: Recipe>(my_presets: &'static [Preset]) -> ! {
//!     let registry = Registry::builtin().register::<MyRun>(my_presets).expect("new names");
//!     gantry_cli::run_with(registry)
//! }
//! ```
//!
//! ```text
//! gantry train --preset NAME | --config FILE.toml [--set key=value ...] [--out DIR] [--steps N]
//!              [--device auto|cpu|cuda|cuda:N] [--seed S]
//! gantry train --resume DIR [--steps N]
//! gantry sample --ckpt DIR|FILE [--n 64] [--seed S] [--truncation TAU] [--psi PSI] [--cutoff L] [--class K] --out FILE.png
//! gantry traverse --ckpt DIR|FILE --code I [--steps 10] [--range 2] [--rows 10] --out FILE.png
//! gantry interpolate --ckpt DIR|FILE [--frames 10] [--rows 8] [--seed S] --out FILE.png
//! gantry style-mix --ckpt DIR|FILE [--rows 5] [--cols 5] [--styles coarse|middle|fine|A-B] [--psi PSI] --out FILE.png
//! gantry noise --ckpt DIR|FILE [--rows 4] [--cols 4] --out FILE.png
//! gantry invert --ckpt DIR|FILE --image FILE [--method optim|encoder|pti] [--space w|w+] [--steps 300] --out FILE.png
//! gantry translate --ckpt DIR|FILE --input FILE|DIR [--paired] [--direction a2b|b2a] [--n N] --out FILE.png|DIR
//! gantry derive edges2fashion|colorize-cifar [--out DIR]
//! gantry eval fid|kid|is|prdc|accuracy|psnr|ssim [--real SRC] --fake SRC
//! gantry presets
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use gantry_train::capability::Model;
use gantry_train::config::RunConfig;
use gantry_train::registry::Registry;
use gantry_train::{generate, presets, run_dir, train};

#[derive(Parser)]
#[command(name = "gantry", version, about = "Train, sample and explore generative adversarial networks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// Formats `gantry export` writes.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// StyleGAN2-ADA (NVlabs/stylegan2-ada-pytorch) `Generator` state dict.
    #[value(name = "stylegan2-ada")]
    Stylegan2Ada,
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a GAN from a preset or a config file, or resume a run.
    Train(TrainArgs),
    /// Draw samples from a checkpoint: a grid (--out), or one PNG per sample (--outdir).
    Sample {
        #[command(flatten)]
        from: Ckpt,
        /// Output PNG: a grid of the samples.
        #[arg(long, required_unless_present = "outdir")]
        out: Option<PathBuf>,
        /// A folder receiving one PNG per sample (000000.png, …), written batch by batch: memory
        /// stays flat for any --n.
        #[arg(long, conflicts_with = "out")]
        outdir: Option<PathBuf>,
        /// Number of samples.
        #[arg(long, default_value_t = 64)]
        n: usize,
        /// With --outdir: only samples A to B (inclusive, 0-based) of --seed's stream, each the file
        /// a whole run writes under its name (A.png, zero-padded): shards of one sample set.
        #[arg(long, value_name = "A-B", requires = "outdir", conflicts_with = "n")]
        seeds: Option<String>,
        /// Truncation trick: re-draw latent coordinates with |z| > τ.
        #[arg(long, value_name = "TAU")]
        truncation: Option<f64>,
        /// Shrink latents towards the mean: z ↦ ψ·z; StyleGAN: in W, w ↦ w̄ + ψ·(w − w̄) (1 = off).
        #[arg(long, default_value_t = 1.0)]
        psi: f64,
        /// StyleGAN: apply ψ to the first this many ws only (coarse styles); default all.
        #[arg(long)]
        cutoff: Option<i64>,
        /// Conditional models: every sample of this class (InfoGAN: categorical code).
        #[arg(long)]
        class: Option<i64>,
    },
    /// InfoGAN: a grid sweeping one latent code while the others stay fixed.
    Traverse {
        #[command(flatten)]
        from: FromCheckpoint,
        /// 0: the categorical code (columns: its values); i ≥ 1: continuous code i.
        #[arg(long)]
        code: usize,
        /// Columns for a continuous code.
        #[arg(long, default_value_t = 10)]
        steps: usize,
        /// A continuous code sweeps [−range, range] (training draws U(−1, 1)).
        #[arg(long, default_value_t = 2.0)]
        range: f64,
        /// Rows (noise vectors).
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
    /// Walk the latent space: rows of z(α) = (1 − α)·z1 + α·z2 for α from 0 to 1.
    Interpolate {
        #[command(flatten)]
        from: FromCheckpoint,
        /// Images per row (α steps).
        #[arg(long, default_value_t = 10)]
        frames: usize,
        /// Rows (pairs z1, z2).
        #[arg(long, default_value_t = 8)]
        rows: usize,
        /// An autoencoder: interpolate between the codes of real images instead (pairs of
        /// consecutive images of this dataset name, folder or archive).
        #[arg(long)]
        input: Option<String>,
        /// The split of --input: train, test or all.
        #[arg(long, default_value = "test")]
        split: String,
        /// png (a grid: a row per walk), gif, apng or mp4 (an animation of all walks, forth and
        /// back; mp4 needs an ffmpeg on PATH); default from --out's extension, else png.
        #[arg(long)]
        format: Option<String>,
        /// Frames per second of an animation.
        #[arg(long, default_value_t = 12)]
        fps: u32,
    },
    /// An autoencoder (AAE, VAE-GAN): the codes of images as a float32 .npy [N, code_dim], their
    /// labels beside it (NAME.labels.npy) when the data has them, and a scatter of 2-D codes.
    Encode {
        /// A checkpoint file, or a run folder (its newest checkpoint).
        #[arg(long)]
        ckpt: PathBuf,
        /// A dataset name (mnist, mnist-5k, fashion-mnist, ...), a folder (class subfolders give
        /// labels) or an archive.
        #[arg(long)]
        input: String,
        /// The split of --input: train, test or all.
        #[arg(long, default_value = "test")]
        split: String,
        /// Encode at most this many (the first).
        #[arg(long)]
        n: Option<usize>,
        /// The codes file (.npy).
        #[arg(long)]
        out: PathBuf,
        /// Also plot 2-D codes over the prior's samples, coloured by class, to this PNG.
        #[arg(long)]
        scatter: Option<PathBuf>,
        /// auto (CUDA when available), cpu, cuda, cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// StyleGAN2: a style-mixing grid (top row: sources of the copied styles; left column: the rest).
    StyleMix {
        #[command(flatten)]
        from: FromCheckpoint,
        /// Rows (latents that keep the other styles).
        #[arg(long, default_value_t = 5)]
        rows: usize,
        /// Columns (latents whose styles are copied).
        #[arg(long, default_value_t = 5)]
        cols: usize,
        /// Which styles come from the columns: coarse (4²–8²), middle (16²–32²), fine, or A-B (ws indices).
        #[arg(long, default_value = "coarse")]
        styles: String,
        /// Truncation in W for every latent (1 = off).
        #[arg(long, default_value_t = 1.0)]
        psi: f64,
    },
    /// StyleGAN2: what the noise inputs control (same w, different noise; no noise; per-pixel std).
    Noise {
        #[command(flatten)]
        from: FromCheckpoint,
        /// Rows (latents).
        #[arg(long, default_value_t = 4)]
        rows: usize,
        /// Noise draws shown per row.
        #[arg(long, default_value_t = 4)]
        cols: usize,
    },
    /// StyleGAN2: find the latent of an image (GAN inversion) and report the reconstruction's PSNR.
    Invert {
        /// A StyleGAN2 checkpoint file, or a run folder (its newest checkpoint).
        #[arg(long)]
        ckpt: PathBuf,
        /// The image to invert (PNG/JPEG; fitted to the generator's size and channels).
        #[arg(long)]
        image: PathBuf,
        /// optim (StyleGAN2's projector), encoder (+ optimisation), or pti (pivotal tuning).
        #[arg(long, default_value = "optim")]
        method: String,
        /// w (one latent for every layer) or w+ (one per layer).
        #[arg(long, default_value = "w")]
        space: String,
        /// Optimiser steps.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Output PNG: the image and its reconstruction side by side.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the optimiser's noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Edit the result: move its ws along the difference of two class means in W, FROM:TO
        /// (classes as the run's domain classifier reads G's samples; MNIST/Fashion-MNIST runs),
        /// and write the row to OUT-edit.png.
        #[arg(long)]
        edit: Option<String>,
        /// Strengths α of the edit, w + α·(w̄_TO − w̄_FROM), comma-separated.
        #[arg(long, default_value = "0,0.5,1,1.5")]
        edit_strengths: String,
        /// auto (CUDA when available), cpu, cuda, cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// Translate images with a translation model (pix2pix): a grid of input | output (| target),
    /// or a folder of translations.
    Translate {
        /// A checkpoint file, or a run folder (its newest checkpoint).
        #[arg(long)]
        ckpt: PathBuf,
        /// An image file or a folder of them (natural order).
        #[arg(long)]
        input: PathBuf,
        /// The inputs are A|B pairs (the pix2pix layout): the grid shows each target too.
        #[arg(long)]
        paired: bool,
        /// a2b, or b2a for a model that translates both ways (CycleGAN).
        #[arg(long, default_value = "a2b")]
        direction: String,
        /// Translate at most this many.
        #[arg(long)]
        n: Option<usize>,
        /// A .png/.jpg grid, or a folder that receives NNNNN.png per translation.
        #[arg(long)]
        out: PathBuf,
        /// Seed of libtorch's generator (pix2pix keeps dropout on at test time).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// auto (CUDA when available), cpu, cuda, cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// Upscale images with a super-resolution model (SRResNet/SRGAN), at any size.
    Upscale {
        /// A checkpoint file, or a run folder (its newest checkpoint).
        #[arg(long)]
        ckpt: PathBuf,
        /// An image file or a folder of them (natural order).
        #[arg(long)]
        input: PathBuf,
        /// The inputs are high-resolution originals: downsample them first as in training, and
        /// (with a .png --out) write rows of input | bicubic | model | original.
        #[arg(long)]
        degrade: bool,
        /// Upscale at most this many.
        #[arg(long)]
        n: Option<usize>,
        /// A .png/.jpg (one input, or the --degrade grid), or a folder that receives NAME.png per input.
        #[arg(long)]
        out: PathBuf,
        /// Input pixels per tile side (0: whole images at once). Default: the largest tile whose
        /// measured working set fits in 1 GiB (or a quarter of the available memory).
        #[arg(long)]
        tile: Option<i64>,
        /// Input pixels of context read around each tile. Default: the model's receptive field
        /// radius, so tiled output equals whole-image output.
        #[arg(long)]
        tile_overlap: Option<i64>,
        /// auto (CUDA when available), cpu, cuda, cuda:N.
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// Make a paired dataset from one you have: edges2fashion (Canny edges → Fashion-MNIST) or
    /// colorize-cifar (grey → colour CIFAR-10), in the pix2pix layout.
    Derive {
        /// edges2fashion or colorize-cifar.
        name: String,
        /// Where to write it (default: the dataset cache, where `data = NAME` finds it).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a checkpoint's networks in another code base's format: `stylegan2-ada`, a state
    /// dict StyleGAN2-ADA's `Generator` loads strictly (`G_ema`; constructor arguments in the
    /// `stylegan2ada.init_kwargs` metadata).
    Export {
        /// A checkpoint file, or a run folder (its newest checkpoint).
        #[arg(long)]
        ckpt: PathBuf,
        /// The format to write.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Where to write it (.safetensors).
        #[arg(long)]
        out: PathBuf,
    },
    /// Datasets of your own: `prepare` turns a folder of images into one `data=` reads.
    Dataset {
        #[command(subcommand)]
        cmd: DatasetCmd,
    },
    /// List the presets.
    Presets,
    /// Write a run's report.html (self-contained: config, curves, sample grids, checkpoints);
    /// training rewrites it at every checkpoint.
    Report {
        /// The run folder.
        run: PathBuf,
        /// Where to write it (default: RUN/report.html).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// One page overlaying the curves of several runs, with the settings that differ.
    Compare {
        /// Two or more run folders.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Evaluate: fid, kid, is or prdc between --real and --fake sources.
    Eval(EvalArgs),
    /// The domain classifier used by MNIST-domain metrics: train it or measure it.
    Classifier {
        #[command(subcommand)]
        cmd: ClassifierCmd,
    },
}

#[derive(Args)]
struct EvalArgs {
    /// fid, kid, is, prdc, accuracy (class-conditional accuracy of --fake, judged by the
    /// --features classifier), intra-fid (a conditional --fake against labelled --real data, class
    /// by class, with the samples' class accuracy), or psnr / ssim (translations against targets).
    metric: String,
    /// Real source: dataset name, image folder/archive, .npz stats, .npy features, checkpoint or run folder.
    #[arg(long)]
    real: Option<String>,
    /// Fake source (same kinds); a checkpoint generates --n samples.
    #[arg(long)]
    fake: Option<String>,
    /// Samples per side (default: every image of a dataset, 10,000 from a checkpoint).
    #[arg(long)]
    n: Option<usize>,
    /// Images per forward pass (0: 10 on a CPU, where large Inception batches thrash the
    /// allocator, 200 on a GPU).
    #[arg(long, default_value_t = 0)]
    batch: i64,
    /// inception (the FID network, the default), mnist or fashion-mnist (gantry's domain
    /// classifiers). Between precomputed statistics or features no network runs: this only
    /// labels them.
    #[arg(long)]
    features: Option<String>,
    /// An Inception TorchScript to use instead of the FID network (e.g. pytorch-fid's full
    /// weights with logits, converted by scripts/convert_pytorch_fid_inception.py; enables IS).
    #[arg(long)]
    inception: Option<PathBuf>,
    /// How images are resized to the Inception network's 299x299: legacy-tensorflow
    /// (StyleGAN2-ADA's metrics; the default), clean (clean-fid's mode="clean": PIL bicubic,
    /// antialiased) or legacy-pytorch (pytorch-fid's bilinear). Recorded with the result.
    #[arg(long)]
    resize: Option<String>,
    /// Write the real side's mean and covariance as a pytorch-fid .npz.
    #[arg(long)]
    save_stats: Option<PathBuf>,
    /// Print one JSON object instead of a line.
    #[arg(long)]
    json: bool,
    /// Seed of the latents and subsets.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// KID: subsets and subset size.
    #[arg(long, default_value_t = 100)]
    kid_subsets: usize,
    #[arg(long, default_value_t = 1000)]
    kid_subset_size: usize,
    #[arg(long, default_value = "auto")]
    device: String,
}

#[derive(Subcommand)]
enum DatasetCmd {
    /// A folder (or .tar.gz) of PNG, JPEG (CMYK, progressive), WebP, BMP, TIFF images of any size,
    /// mode and depth, EXIF-rotated photos included, as S×S PNGs in class folders with a manifest
    /// (gantry-dataset.json) and StyleGAN2-ADA's dataset.json: what `--set data=OUT` trains on.
    /// Files left out (undecodable, too small, duplicates, unlabelled) are each one line.
    Prepare {
        /// The images: a folder, or a .tar/.tar.gz archive.
        src: PathBuf,
        /// Where to write the dataset: a new (or empty) folder, or an archive (.tar, .tar.gz).
        out: PathBuf,
        /// Side of the square output images, in pixels.
        #[arg(long)]
        size: u32,
        /// center: the centred square, resized (StyleGAN2-ADA's center-crop); pad: the whole
        /// image, letterboxed on the background; none: the whole image, stretched.
        #[arg(long, default_value = "center")]
        crop: gantry_data::prepare::Crop,
        /// Pillow's resampling filter: lanczos (StyleGAN2-ADA's dataset tool), bicubic (clean-fid),
        /// box, bilinear or hamming; equal to Pillow's byte for byte.
        #[arg(long, default_value = "lanczos")]
        filter: gantry_data::resample::Filter,
        /// auto (dataset.json if there is one, else class folders if every image is in one),
        /// none, folders or dataset.json (StyleGAN2-ADA's).
        #[arg(long, default_value = "auto")]
        labels: gantry_data::prepare::Labels,
        /// 1 (grey) or 3 (RGB); default: grey images stay grey, colour ones RGB.
        #[arg(long)]
        channels: Option<u8>,
        /// What transparency is composited on (and pad's canvas): white, black, grey or #rrggbb.
        #[arg(long, default_value = "white", value_parser = gantry_data::prepare::parse_colour)]
        background: [u8; 3],
        /// Leave out images whose kept side (the shorter one; the longer with --crop pad) is under
        /// this many pixels [default: half of --size].
        #[arg(long)]
        min_size: Option<u32>,
    },
}

#[derive(Subcommand)]
enum ClassifierCmd {
    /// Train on a dataset's train split and write the weights with their test accuracy.
    Train {
        /// mnist or fashion-mnist.
        #[arg(long)]
        data: String,
        #[arg(long, default_value_t = 10)]
        epochs: u64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// CPU threads (0 = all).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// Accuracy on a dataset's test split (the built-in weights unless --weights).
    Eval {
        #[arg(long)]
        data: String,
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

/// `gantry eval accuracy --fake CKPT --features mnist|fashion-mnist`: class-conditional accuracy.
fn accuracy_cmd(a: &EvalArgs) -> Result<()> {
    use gantry_train::eval;
    let features = a.features.as_deref().unwrap_or("inception");
    if features == "inception" || a.real.is_some() {
        bail!("eval accuracy takes --fake CKPT and --features mnist or fashion-mnist (no --real)");
    }
    let fake = a.fake.as_deref().context("eval accuracy needs --fake CKPT (a conditional model)")?;
    let device = gantry_core::device::parse_device(&a.device)?;
    let classifier = gantry_metrics::classifier::Classifier::builtin(features, device)?;
    let path = run_dir::resolve_checkpoint(Path::new(fake))?;
    let model = Model::load(&path, device)?;
    let n = a.n.unwrap_or(1000);
    let r = eval::class_accuracy(&model, &classifier, n, a.seed)?;
    if a.json {
        let obj = serde_json::json!({ "metric": "accuracy", "accuracy": r.accuracy, "per_class": r.per_class, "purity": r.purity, "matching": r.matching, "n": n, "fake": path.display().to_string(), "features": features });
        println!("{obj}");
    } else {
        let per: Vec<String> =
            r.per_class.iter().enumerate().map(|(k, v)| format!("{k}: {:.1}%", 100.0 * v)).collect();
        println!("class-conditional accuracy {:.2}% ({n} samples; {})", 100.0 * r.accuracy, per.join(", "));
        let m: Vec<String> = r.matching.iter().enumerate().map(|(k, d)| format!("{k}→{d}")).collect();
        println!(
            "purity {:.2}% (best one-to-one matching of requested class or code value → predicted class: {})",
            100.0 * r.purity,
            m.join(" ")
        );
    }
    Ok(())
}

/// `--resize` (default `legacy-tensorflow`).
fn resize_of(a: &EvalArgs) -> Result<gantry_metrics::inception::Resize> {
    Ok(a.resize.as_deref().unwrap_or("legacy-tensorflow").parse()?)
}

/// The network `--features` (or `--inception FILE`) names, resizing with `resize`.
fn feature_network(
    a: &EvalArgs,
    resize: gantry_metrics::inception::Resize,
    device: tch::Device,
) -> Result<gantry_train::eval::Extractor> {
    use gantry_train::eval::Extractor;
    let features = a.features.as_deref().unwrap_or("inception");
    let ex = match &a.inception {
        Some(path) if features == "inception" => Extractor::inception_from(path, device)?,
        Some(_) => bail!(
            "--inception replaces the inception features; it cannot be combined with --features {features}"
        ),
        None => Extractor::load(features, device)?,
    };
    Ok(ex.with_resize(resize)?)
}

/// `gantry eval intra-fid`: a conditional model against labelled data, class by class.
fn intra_fid_cmd(a: &EvalArgs) -> Result<()> {
    use gantry_train::eval;
    let fake = a.fake.as_deref().context("eval intra-fid needs --fake CKPT (a class-conditional model)")?;
    let real =
        a.real.as_deref().context("eval intra-fid needs --real DATA (labelled images, e.g. mnist@test)")?;
    if a.batch < 0 {
        bail!("--batch must be at least 1 (or 0 for the default)");
    }
    let device = gantry_core::device::parse_device(&a.device)?;
    let batch = if a.batch == 0 { eval::default_batch(device) } else { a.batch };
    let model = Model::load(&run_dir::resolve_checkpoint(Path::new(fake))?, device)?;
    let features = a.features.as_deref().unwrap_or("inception");
    let ex = feature_network(a, resize_of(a)?, device)?;
    // The samples' classes are read by the domain classifier: the features' own, or the one the
    // run evaluates with.
    let judge = [features, model.cfg.eval.features.as_str()].into_iter().find(|f| *f != "inception");
    let classifier =
        judge.map(|name| gantry_metrics::classifier::Classifier::builtin(name, device)).transpose()?;
    let opts = eval::EvalOptions { n: a.n, batch, seed: a.seed, device, keep_features: false };
    let mut out = eval::intra_fid(&model, real, &ex, judge.zip(classifier.as_ref()), &opts)?;
    for (k, v) in ex.protocol()?.as_object().into_iter().flatten() {
        out[k] = v.clone();
    }
    let smallest = out["class_counts"].as_array().and_then(|c| c.iter().filter_map(|v| v.as_u64()).min());
    if let Some(n) = smallest.filter(|&n| n < 10_000) {
        eprintln!(
            "warning: each class's FID has {n} or more samples a side, fewer than 10,000: intra-FID is biased upwards (more for rarer classes); compare only at equal counts"
        );
    }
    if a.json {
        println!("{out}");
    } else {
        let per: Vec<String> = out["per_class"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(k, v)| format!("{k}: {:.2}", v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        let accuracy = match out["accuracy"].as_f64() {
            Some(acc) => format!("; class accuracy {:.2}% ({} classifier)", 100.0 * acc, judge.unwrap_or("?")),
            None => "; class accuracy: no domain classifier for this data (give --features mnist or fashion-mnist)".into(),
        };
        println!(
            "intra-fid {:.6}  ({features} features, {} resize; per class {}{accuracy}; real: {}; fake: {})",
            out["intra_fid"].as_f64().unwrap_or(f64::NAN),
            out["resize"].as_str().unwrap_or("-"),
            per.join(", "),
            out["real"].as_str().unwrap_or("-"),
            out["fake"].as_str().unwrap_or("-"),
        );
    }
    Ok(())
}

/// `gantry eval psnr|ssim`: translations against their targets.
fn similarity_cmd(a: &EvalArgs) -> Result<()> {
    use gantry_train::eval;
    let fake = a
        .fake
        .as_deref()
        .context("eval psnr/ssim needs --fake (a translation checkpoint, or a folder beside --real)")?;
    let device = gantry_core::device::parse_device(&a.device)?;
    let batch = if a.batch == 0 { 64 } else { a.batch };
    let opts = eval::EvalOptions { n: a.n, batch, seed: a.seed, device, keep_features: false };
    let s = eval::similarity(&a.metric, a.real.as_deref(), fake, &opts)?;
    let mean = s.mean();
    if a.json {
        let obj = serde_json::json!({ "metric": a.metric, a.metric.as_str(): mean, "n": s.scores.len(), "real": s.real, "fake": s.fake });
        println!("{obj}");
    } else {
        println!(
            "{} {mean:.6}  (mean of {} pairs; real: {}; fake: {})",
            a.metric,
            s.scores.len(),
            s.real,
            s.fake
        );
    }
    Ok(())
}

/// The checkpoint a generating command draws from.
#[derive(Args)]
struct Ckpt {
    /// A checkpoint file, or a run folder (its newest checkpoint).
    #[arg(long)]
    ckpt: PathBuf,
    /// Seed of the latents.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto (CUDA when available), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
}

impl Ckpt {
    /// The checkpoint file and the device.
    fn resolve(&self) -> Result<(PathBuf, tch::Device)> {
        Ok((run_dir::resolve_checkpoint(&self.ckpt)?, gantry_core::device::parse_device(&self.device)?))
    }

    /// The checkpoint's model (`Model::load` resolves a run folder itself).
    fn model(&self) -> Result<Model> {
        Ok(Model::load(&self.ckpt, gantry_core::device::parse_device(&self.device)?)?)
    }
}

/// What every generating command that writes one PNG takes.
#[derive(Args)]
struct FromCheckpoint {
    #[command(flatten)]
    src: Ckpt,
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
}

impl std::ops::Deref for FromCheckpoint {
    type Target = Ckpt;
    fn deref(&self) -> &Ckpt {
        &self.src
    }
}

#[derive(Args)]
struct TrainArgs {
    /// Start from a named preset (see `gantry presets`).
    #[arg(long, conflicts_with_all = ["config", "resume"])]
    preset: Option<String>,
    /// Start from a config file (TOML, as written to a run's config.toml).
    #[arg(long, conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Override a config field: --set model.g_width=64 --set data=mnist.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    sets: Vec<String>,
    /// Continue the run in this folder from its newest checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Run folder (default: runs/<preset>-<YYYYmmdd-HHMMSS>).
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Total generator steps to reach.
    #[arg(long)]
    steps: Option<u64>,
    /// Run seed.
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// Never prune the checkpoint with the best value of this metrics.jsonl key so far
    /// (`fid_inception`, `psnr`, or `name:min|max`): `--set log.keep_best=METRIC`.
    #[arg(long, value_name = "METRIC", conflicts_with = "resume")]
    keep_best: Option<String>,
    /// auto (CUDA when available), cpu, cuda, cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Data-parallel training in N processes on this machine (c10d's Gloo over 127.0.0.1; on
    /// GPUs rank r takes cuda:r): `batch_size` per process, as one process with N times the batch.
    /// Under torchrun or srun, leave it out: their variables say the ranks.
    #[arg(long, value_name = "N")]
    nproc: Option<usize>,
}

/// The `gantry` command over gantry's own families: gantry-train's and gantry-biggan's.
pub fn main() -> ! {
    // gantry-train's families, and BigGAN from its own crate (registered as any crate's family).
    match gantry_biggan::family::register(Registry::builtin()) {
        Ok(registry) => run_with(registry),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    }
}

/// The `gantry` command over the families of `registry` (installed first: every config this
/// process reads, including those of run folders and checkpoints, is parsed with it). Parses the
/// process's arguments, runs the command, and exits: 0, or 1 after one line on stderr.
pub fn run_with(registry: Registry) -> ! {
    registry.install();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {}", gantry_train::error::chain_line(e.as_ref()));
        std::process::exit(1);
    }
    std::process::exit(0)
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Presets => {
            for p in presets::all() {
                println!("{:<23} {}", p.name, p.summary);
            }
            Ok(())
        }
        Cmd::Train(args) => train_cmd(args),
        Cmd::Export { ckpt, format: ExportFormat::Stylegan2Ada, out } => {
            let path = run_dir::resolve_checkpoint(&ckpt)?;
            let n = gantry_train::explore::export_stylegan2ada(&path, &out)?;
            println!(
                "wrote {} ({n} tensors: the generator of {} as StyleGAN2-ADA's Generator state dict)",
                out.display(),
                path.display()
            );
            Ok(())
        }
        Cmd::Report { run, out } => {
            let path = gantry_train::report::write(&run, out.as_deref())?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Cmd::Compare { runs, out } => {
            gantry_train::report::compare(&runs, &out)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Cmd::Translate { ckpt, input, paired, direction, n, out, seed, device } => {
            let direction = direction.parse()?;
            let path = run_dir::resolve_checkpoint(&ckpt)?;
            let m = Model::load(&path, gantry_core::device::parse_device(&device)?)?;
            let inputs = if paired { generate::Inputs::Paired } else { generate::Inputs::Plain };
            let done = generate::translate(&m, &input, &out, inputs, direction, n, seed)?;
            if let Some(line) = &done.skipped {
                eprintln!("{}: {line}", input.display());
            }
            println!(
                "wrote {} ({} translations of {} by {})",
                out.display(),
                done.count,
                input.display(),
                path.display()
            );
            Ok(())
        }
        Cmd::Upscale { ckpt, input, degrade, n, out, tile, tile_overlap, device } => {
            let path = run_dir::resolve_checkpoint(&ckpt)?;
            let m = Model::load(&path, gantry_core::device::parse_device(&device)?)?;
            let o = generate::UpscaleOptions { degrade, n, tile, overlap: tile_overlap };
            let (count, tiling) = generate::upscale(&m, &input, &out, o)?;
            let peak = gantry_core::mem::peak()
                .map(|b| format!("; peak memory {}", gantry_core::mem::human(b as u128)))
                .unwrap_or_default();
            let tiles = match tiling.tile {
                0 => "whole images".to_string(),
                t => format!("tiles of {t} px, overlap {}", tiling.overlap),
            };
            println!(
                "wrote {} ({count} images of {} upscaled by {}; {tiles}{peak})",
                out.display(),
                input.display(),
                path.display()
            );
            Ok(())
        }
        Cmd::Encode { ckpt, input, split, n, out, scatter, device } => {
            let path = run_dir::resolve_checkpoint(&ckpt)?;
            let m = Model::load(&path, gantry_core::device::parse_device(&device)?)?;
            let e = generate::encode(&m, &input, parse_split(&split)?, n, &out, scatter.as_deref())?;
            println!(
                "wrote {} ({} codes of {} dimensions from {})",
                out.display(),
                e.count,
                e.code_dim,
                path.display()
            );
            if let Some(l) = e.labels {
                println!("wrote {} (their labels)", l.display());
            }
            if let Some(s) = scatter {
                println!("wrote {} (the codes over the prior's samples)", s.display());
            }
            Ok(())
        }
        Cmd::Derive { name, out } => {
            let out = out.unwrap_or_else(|| gantry_data::source::fetch_root().join(&name));
            gantry_data::derive::derive(&name, &out)?;
            println!("wrote {} (the {name} pairs; train with data = {name})", out.display());
            Ok(())
        }
        Cmd::Classifier { cmd } => classifier_cmd(cmd),
        Cmd::Dataset { cmd } => dataset_cmd(cmd),
        Cmd::Eval(args) => eval_cmd(args),
        Cmd::Traverse { from, code, steps, range, rows } => {
            let m = from.model()?;
            generate::traverse(&m, code, steps, range, rows, from.seed, &from.out)?;
            println!("wrote {} (code {code} traversal from {})", from.out.display(), m.path.display());
            Ok(())
        }
        Cmd::Sample { from, out, outdir, mut n, seeds, truncation, psi, cutoff, class } => {
            let range = seeds.as_deref().map(parse_range).transpose()?;
            let m = from.model()?;
            let trunc = generate::Truncation { tau: truncation, psi, cutoff };
            let (to, path) = match (&out, &outdir, range) {
                (_, Some(dir), Some((a, b))) => {
                    n = (b - a).checked_add(1).context("--seeds: the range is too large")?;
                    (generate::SampleOut::Shard(dir, a), dir)
                }
                (_, Some(dir), None) => (generate::SampleOut::Folder(dir), dir),
                (Some(file), None, _) => (generate::SampleOut::Grid(file), file),
                (None, None, _) => bail!("give --out FILE.png or --outdir DIR"),
            };
            generate::sample(&m, n, from.seed, &trunc, class, to)?;
            println!("wrote {} ({n} samples from {})", path.display(), m.path.display());
            Ok(())
        }
        Cmd::StyleMix { from, rows, cols, styles, psi } => {
            let (path, device) = from.resolve()?;
            let styles: gantry_stylegan::explore::Styles = styles.parse()?;
            gantry_train::explore::style_mix(&path, rows, cols, &styles, psi, from.seed, &from.out, device)?;
            println!("wrote {} ({rows}x{cols} style mixing from {})", from.out.display(), path.display());
            Ok(())
        }
        Cmd::Noise { from, rows, cols } => {
            let (path, device) = from.resolve()?;
            gantry_train::explore::noise(&path, rows, cols, from.seed, &from.out, device)?;
            println!("wrote {} (noise grid from {})", from.out.display(), path.display());
            Ok(())
        }
        Cmd::Invert { ckpt, image, method, space, steps, out, seed, edit, edit_strengths, device } => {
            use gantry_stylegan::invert;
            let device = gantry_core::device::parse_device(&device)?;
            let path = run_dir::resolve_checkpoint(&ckpt)?;
            let edit: Option<invert::EditClasses> = edit.as_deref().map(str::parse).transpose()?;
            let strengths = edit_strengths
                .split(',')
                .map(|t| t.trim().parse::<f64>().ok().filter(|a| a.is_finite()))
                .collect::<Option<Vec<f64>>>()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "invalid --edit-strengths: expected comma-separated numbers, found '{edit_strengths}'"
                    )
                })?;
            let cfg = invert::InvertConfig {
                method: method.parse()?,
                space: space.parse()?,
                steps,
                ..Default::default()
            };
            let mut loaded = gantry_train::explore::load(&path, device)?;
            let classifier = match edit {
                None => None,
                Some(_) => match gantry_train::inversion::domain_classifier(&loaded)? {
                    Some(c) => Some(c),
                    None => bail!(
                        "--edit needs a run evaluated with a domain classifier (eval.features mnist or fashion-mnist), this one uses '{}'",
                        loaded.domain
                    ),
                },
            };
            let (r, c) = (loaded.cfg.resolution, loaded.cfg.channels.max(1));
            let target = gantry_data::image_file::read(&image, r, c, gantry_data::Fit::Auto)?;
            // The direction comes from the checkpoint's G, before tuning or noise optimisation.
            let direction = match (edit, &classifier) {
                (Some(e), Some(cl)) => {
                    Some(invert::class_direction(&loaded.g, &gantry_train::inversion::classify_with(cl), e)?)
                }
                _ => None,
            };
            let inv = gantry_train::inversion::invert(&mut loaded, &path, &target, &cfg, seed)?;
            let pair = tch::Tensor::cat(&[target, inv.image.to_device(tch::Device::Cpu)], 0);
            gantry_core::image::save_grid(&pair, 2, &out)?;
            println!(
                "{method} in {space}: PSNR {:.2} dB; wrote {} (image | reconstruction)",
                inv.psnr,
                out.display()
            );
            if let (Some(e), Some(d), Some(cl)) = (edit, direction, classifier) {
                let x = invert::edit(&loaded.g, &inv.ws, &d, &strengths);
                let read: Vec<i64> = Vec::try_from(cl.predict(&gantry_core::image::to_u8(&x))?)?;
                let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let edit_out = out.with_file_name(format!("{stem}-edit.png"));
                gantry_core::image::save_grid(&x.to_device(tch::Device::Cpu), strengths.len(), &edit_out)?;
                let cols: Vec<String> =
                    strengths.iter().zip(&read).map(|(a, k)| format!("α {a}: {k}")).collect();
                println!(
                    "edit {} → {}: the classifier reads {}; wrote {}",
                    e.from,
                    e.to,
                    cols.join(", "),
                    edit_out.display()
                );
            }
            Ok(())
        }
        Cmd::Interpolate { from, frames, rows, input, split, format, fps } => {
            let ext = from.out.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            let format = format.unwrap_or_else(|| {
                if ["gif", "apng", "mp4"].contains(&ext.as_str()) {
                    ext
                } else {
                    "png".into()
                }
            });
            let how = match format.as_str() {
                "png" => generate::Walks::Grid,
                other => generate::Walks::Animation {
                    format: other.parse().map_err(|e| anyhow::anyhow!("invalid --format: {e} (or png)"))?,
                    fps,
                },
            };
            let m = from.model()?;
            match input {
                Some(input) => generate::interpolate_encoded(
                    &m,
                    &input,
                    parse_split(&split)?,
                    frames,
                    rows,
                    how,
                    &from.out,
                )?,
                None => generate::interpolate(&m, frames, rows, from.seed, how, &from.out)?,
            }
            println!(
                "wrote {} ({rows} rows x {frames} frames from {})",
                from.out.display(),
                m.path.display()
            );
            Ok(())
        }
    }
}

fn eval_cmd(a: EvalArgs) -> Result<()> {
    use gantry_train::eval;
    if a.metric == "accuracy" {
        return accuracy_cmd(&a);
    }
    if a.metric == "psnr" || a.metric == "ssim" {
        return similarity_cmd(&a);
    }
    if a.metric == "intra-fid" {
        return intra_fid_cmd(&a);
    }
    if !["fid", "kid", "is", "prdc"].contains(&a.metric.as_str()) {
        bail!(
            "unknown metric '{}': expected fid, kid, is, prdc, accuracy, intra-fid, psnr or ssim",
            a.metric
        );
    }
    if a.batch < 0 {
        bail!("--batch must be at least 1 (or 0 for the default)");
    }
    let device = gantry_core::device::parse_device(&a.device)?;
    let batch = if a.batch == 0 { eval::default_batch(device) } else { a.batch };
    // A network is loaded only when a side is images: between statistics files (or feature
    // matrices) the distance needs none.
    let mut image_sides = false;
    for src in a.real.iter().chain(&a.fake) {
        image_sides |= eval::needs_network(src)?;
    }
    let resize = resize_of(&a)?;
    let ex = if image_sides { Some(feature_network(&a, resize, device)?) } else { None };
    // What the numbers are features of: the network that ran, or what the user says the files
    // hold (nothing, when neither).
    let features_label = match &ex {
        Some(ex) => Some(ex.name().to_string()),
        None => a.features.clone(),
    };
    let opts = eval::EvalOptions {
        n: a.n,
        batch,
        seed: a.seed,
        device,
        keep_features: ["kid", "prdc"].contains(&a.metric.as_str()),
    };
    let real_model = match &a.real {
        Some(r) => eval::model_of(r)?,
        None => None,
    };
    let fake_model = match &a.fake {
        Some(f) => eval::model_of(f)?,
        None => None,
    };
    let real = match &a.real {
        Some(r) => Some(eval::side(r, fake_model.as_ref(), ex.as_ref(), &opts)?),
        None => None,
    };
    if let Some(path) = &a.save_stats {
        let side = real.as_ref().context("--save-stats saves the --real side's statistics; give --real")?;
        let (mu, sigma) = eval::stats_of(side).context("the real side has fewer than 2 samples")?;
        gantry_metrics::npy::write_stats(path, &mu, &sigma, side.count)?;
        eprintln!(
            "wrote {} ({} features of {})",
            path.display(),
            features_label.as_deref().unwrap_or("precomputed"),
            side.label
        );
    }
    let Some(fake_src) = &a.fake else {
        if a.save_stats.is_some() {
            return Ok(());
        }
        bail!("--fake is required (or --save-stats alone to precompute statistics)");
    };
    let fake = eval::side(fake_src, real_model.as_ref(), ex.as_ref(), &opts)?;
    let kid_cfg =
        gantry_metrics::KidConfig { subsets: a.kid_subsets, subset_size: a.kid_subset_size, seed: a.seed };
    let mut out = eval::compute(&a.metric, real.as_ref(), &fake, features_label.as_deref(), &kid_cfg)?;
    // The protocol: how the features were made (between precomputed files, what the user says).
    match &ex {
        Some(ex) => {
            for (k, v) in ex.protocol()?.as_object().into_iter().flatten() {
                out[k] = v.clone();
            }
        }
        None => out["resize"] = serde_json::json!(a.resize),
    }
    out["seed"] = serde_json::json!(a.seed);
    let smallest = [out["real_count"].as_u64(), out["fake_count"].as_u64()].into_iter().flatten().min();
    if let Some(n) = smallest.filter(|&n| a.metric == "fid" && n < 10_000) {
        eprintln!(
            "warning: FID from {n} samples on a side is biased upwards (the bias shrinks as 1/N): compare FIDs only at equal sample counts; KID (`gantry eval kid`) is unbiased at small N"
        );
    }
    if a.json {
        println!("{out}");
    } else {
        let numbers: Vec<String> =
            ["fid", "kid", "kid_std", "is", "is_std", "precision", "recall", "density", "coverage"]
                .iter()
                .filter_map(|k| out[*k].as_f64().map(|v| format!("{k} {v:.6}")))
                .collect();
        let resized = out["resize"].as_str().map(|r| format!(", {r} resize")).unwrap_or_default();
        println!(
            "{}  ({} features{resized}; real: {}; fake: {})",
            numbers.join("  "),
            features_label.as_deref().unwrap_or("precomputed"),
            out["real"].as_str().unwrap_or("-"),
            fake.label
        );
    }
    Ok(())
}

fn classifier_cmd(cmd: ClassifierCmd) -> Result<()> {
    use gantry_data::{LoadOptions, Split};
    use gantry_metrics::classifier::Classifier;
    let load = |data: &str, split| {
        gantry_data::load(
            data,
            &LoadOptions { split, size: Some(28), channels: Some(1), ..Default::default() },
        )
    };
    match cmd {
        ClassifierCmd::Train { data, epochs, seed, threads, out, device } => {
            let device = gantry_core::device::parse_device(&device)?;
            let threads = if threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                threads
            };
            tch::set_num_threads(threads as i32);
            let (train, test) = (load(&data, Split::Train)?, load(&data, Split::Test)?);
            eprintln!("training the {data} classifier: {} train images, {epochs} epochs, seed {seed}, {threads} threads", train.len());
            let mut net = Classifier::train(&train, epochs, seed, device, |e, loss| {
                eprintln!("epoch {e}: last batch loss {loss:.4}")
            })?;
            let acc = net.accuracy(&test)?;
            for (k, v) in [
                ("domain", data.clone()),
                ("test_accuracy", format!("{acc:.4}")),
                ("epochs", epochs.to_string()),
                ("seed", seed.to_string()),
                ("threads", threads.to_string()),
                ("command", format!("gantry classifier train --data {data} --epochs {epochs} --seed {seed} --threads {threads}")),
            ] {
                net.info.insert(k.to_string(), v);
            }
            net.save(&out)?;
            println!(
                "{data} classifier: test accuracy {:.2}% ({} test images); wrote {}",
                acc * 100.0,
                test.len(),
                out.display()
            );
            Ok(())
        }
        ClassifierCmd::Eval { data, weights, device } => {
            let device = gantry_core::device::parse_device(&device)?;
            let net = match &weights {
                Some(p) => Classifier::load(p, device)?,
                None => Classifier::builtin(&data, device)?,
            };
            let test = load(&data, Split::Test)?;
            println!(
                "{data} classifier: test accuracy {:.2}% on {} images",
                net.accuracy(&test)? * 100.0,
                test.len()
            );
            Ok(())
        }
    }
}

/// The run folder's default suffix: the local date and time, `YYYYMMDD-HHMMSS`.
fn timestamp() -> String {
    chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()
}

/// Ctrl-C and SIGTERM: the first asks the loop to stop after the current step (it writes a
/// checkpoint); the second aborts at once.
fn install_stop_handler() {
    let installed = ctrlc::set_handler(|| {
        if gantry_train::stop::request() == 1 {
            eprintln!("\nstopping after this step (a checkpoint is written); Ctrl-C again aborts at once");
        } else {
            eprintln!("\naborted");
            std::process::exit(130);
        }
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not save a checkpoint ({e})");
    }
}

/// This program's arguments without `--nproc N` (or `--nproc=N`), for the ranks it starts.
fn args_without_nproc() -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--nproc" {
            args.next();
        } else if !a.to_string_lossy().starts_with("--nproc=") {
            out.push(a);
        }
    }
    out
}

fn train_cmd(a: TrainArgs) -> Result<()> {
    let device = gantry_core::device::parse_device(&a.device)?;
    install_stop_handler();
    if let Some(n) = a.nproc {
        if std::env::var_os("WORLD_SIZE").is_some() {
            bail!("--nproc starts its own ranks; under torchrun or srun (WORLD_SIZE is set) leave it out");
        }
        let mut args = args_without_nproc();
        if a.resume.is_none() && a.out.is_none() {
            // One folder for every rank, named once here.
            let name = match (&a.preset, &a.config) {
                (Some(p), _) => presets::find(p)?.config().preset,
                (None, Some(f)) => RunConfig::load(f)?.preset,
                _ => bail!("train needs --preset NAME, --config FILE or --resume DIR (see `gantry presets`)"),
            };
            args.push("--out".into());
            args.push(Path::new("runs").join(format!("{name}-{}", timestamp())).into());
        }
        std::env::set_var("GANTRY_NPROC", n.to_string());
        let code = gantry_train::dist::launch_local(n, &args)?;
        std::process::exit(code);
    }
    let rank = std::env::var("RANK").ok().and_then(|r| r.parse::<i64>().ok()).unwrap_or(0);
    let summary = if let Some(dir) = &a.resume {
        train::resume(dir, a.steps, device)?
    } else {
        let base = match (&a.preset, &a.config) {
            (Some(p), None) => presets::find(p)?.config(),
            (None, Some(f)) => RunConfig::load(f)?,
            _ => bail!("train needs --preset NAME, --config FILE or --resume DIR (see `gantry presets`)"),
        };
        let mut cfg = base.with_overrides(&a.sets)?;
        if let Some(s) = a.steps {
            cfg.steps = s;
        }
        if let Some(s) = a.seed {
            cfg.seed = s;
        }
        if let Some(m) = &a.keep_best {
            cfg.log.keep_best = m.clone();
        }
        let out = a
            .out
            .clone()
            .unwrap_or_else(|| Path::new("runs").join(format!("{}-{}", cfg.preset, timestamp())));
        train::start(cfg, &out, device)?
    };
    if rank != 0 {
        // Rank 0 reports the run.
        if summary.interrupted.is_some() {
            std::process::exit(130);
        }
        return Ok(());
    }
    let exe = std::env::args().next().unwrap_or_else(|| "gantry".into());
    let nproc = std::env::var("GANTRY_NPROC").map(|n| format!(" --nproc {n}")).unwrap_or_default();
    let run = summary.run.display();
    if let Some(target) = summary.interrupted {
        println!("stopped at step {} of {target} in {:.1} s", summary.steps, summary.seconds);
        println!("  checkpoint: {}", summary.checkpoint.display());
        println!("  resume:     {exe} train --resume {run} --steps {target}{nproc}");
        std::process::exit(130);
    }
    println!("trained to step {} in {:.1} s", summary.steps, summary.seconds);
    println!("  samples:    {}", summary.samples.display());
    println!("  checkpoint: {}", summary.checkpoint.display());
    println!("  metrics:    {}", summary.metrics.display());
    println!("  report:     {}", summary.run.join("report.html").display());
    if let Some((metric, step, value)) = &summary.best {
        println!("  best:       step {step} ({metric} {value:.4}), kept by log.keep_best");
    }
    println!("  resume:     {exe} train --resume {run} --steps {}{nproc}", summary.steps * 2);
    if summary.translates {
        println!("  translate:  {exe} translate --ckpt {run} --input IMAGE_OR_DIR --out translations.png");
    } else {
        println!("  sample:     {exe} sample --ckpt {run} --n 64 --out samples.png");
    }
    Ok(())
}

fn dataset_cmd(cmd: DatasetCmd) -> Result<()> {
    match cmd {
        DatasetCmd::Prepare { src, out, size, crop, filter, labels, channels, background, min_size } => {
            use gantry_data::prepare::{prepare, Options};
            let opts = Options { crop, filter, labels, channels, background, min_size, ..Options::new(size) };
            let done = prepare(&src, &out, &opts, |s| println!("skipped {}: {}", s.file, s.why))?;
            let m = &done.manifest;
            let classes = if m.classes.is_empty() {
                "unlabelled".to_string()
            } else {
                let each: Vec<String> =
                    m.classes.iter().zip(&m.class_counts).map(|(c, n)| format!("{c} {n}")).collect();
                format!(
                    "{} classes ({}; labels from {})",
                    m.classes.len(),
                    each.join(", "),
                    label_source(m.labels)
                )
            };
            let skipped = gantry_data::dataset::skipped_summary(&done.skipped)
                .map(|s| format!("; {s}"))
                .unwrap_or_default();
            println!(
                "wrote {}: {} images {}x{}x{} ({} crop, {}), {classes}{skipped}",
                out.display(),
                m.count,
                m.channels,
                m.size,
                m.size,
                serde_json::to_value(m.crop)?.as_str().unwrap_or_default(),
                m.filter,
            );
            println!(
                "tree hash {}; manifest: {} in {}",
                m.tree_hash,
                gantry_data::prepare::MANIFEST,
                out.display()
            );
            println!("train on it: gantry train --preset PRESET --set data={}", out.display());
            Ok(())
        }
    }
}

fn label_source(l: gantry_data::prepare::Labels) -> &'static str {
    use gantry_data::prepare::Labels;
    match l {
        Labels::DatasetJson => "dataset.json",
        Labels::Folders => "class folders",
        Labels::None | Labels::Auto => "nowhere",
    }
}

/// `--split`: train, test or all.
fn parse_split(s: &str) -> Result<gantry_data::Split> {
    s.parse().map_err(|e| anyhow::anyhow!("invalid --split: {e}"))
}

/// `--seeds A-B`: an inclusive range of sample indices, A ≤ B.
fn parse_range(text: &str) -> Result<(usize, usize)> {
    let parsed =
        text.split_once('-').and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((a, b)) if a <= b => Ok((a, b)),
        _ => bail!("invalid --seeds '{text}': expected A-B, two sample indices with A ≤ B (e.g. 0-49999)"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    #[test]
    fn error_lines_name_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device");
        let core = gantry_core::CoreError::io("/run/checkpoints/step-1.safetensors", io);
        let e = anyhow::Error::new(core).context("writing the checkpoint\n of step 1");
        assert_eq!(
            gantry_train::error::chain_line(e.as_ref()),
            "writing the checkpoint of step 1: /run/checkpoints/step-1.safetensors: No space left on device"
        );
    }

    #[test]
    fn timestamp_has_the_documented_shape() {
        let before = chrono::Local::now().naive_local();
        let t = super::timestamp();
        let after = chrono::Local::now().naive_local();
        assert_eq!(t.len(), 15, "{t}");
        // It reads back as a local date-time between the clock readings around it (to the second).
        let parsed = chrono::NaiveDateTime::parse_from_str(&t, "%Y%m%d-%H%M%S").unwrap();
        let trunc = |d: chrono::NaiveDateTime| d.with_nanosecond(0).unwrap();
        assert!(trunc(before) <= parsed && parsed <= trunc(after), "{t}");
    }
}
