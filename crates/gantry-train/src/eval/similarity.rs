//! PSNR and SSIM of translations against their targets, and a translation model's held-out data.

use crate::error::{bail, Result};
use gantry_data::{LoadOptions, Split};
use tch::{Device, Tensor};

use crate::capability::Model;
use crate::family::DataNeeds;

use super::{classify, EvalOptions, Kind2};

/// What [`similarity`] measures.
#[derive(Debug)]
pub struct Similarity {
    /// Per-pair scores, `[N]` f64 (PSNR in dB, or SSIM).
    pub scores: Vec<f64>,
    /// What was compared, for the report.
    pub real: String,
    /// The side scored against `real`: a checkpoint's translations or the `--fake` folder.
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
