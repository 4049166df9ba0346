//! FID between two folders of images with gantry-metrics alone (and gantry-data to read them):
//! no run, no model, no config.
//!
//! ```text
//! cargo run --release --example fid_of_two_folders -- REAL_DIR FAKE_DIR [--features inception|mnist|fashion-mnist] [--weights FILE]
//! ```
//!
//! `inception` (the default) is the FID Inception network of StyleGAN2-ADA's metrics and
//! pytorch-fid (the TorchScript file `cargo xtask weights fetch inception` provisions, found as
//! [`gantry::metrics::weights::locate`] says, or given with `--weights`); `mnist` and
//! `fashion-mnist` are gantry's own domain classifiers, compiled in. The images of a folder may
//! be PNG, JPEG, BMP, WebP, TIFF or PNM; for the classifiers they are read as grey.
//!
//! In a `Cargo.toml` of your own, this needs only:
//!
//! ```toml
//! [dependencies]
//! gantry-metrics = "0.1"
//! gantry-data = "0.1"
//! tch = "=0.24.0"
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gantry::data::{LoadOptions, Split};
use gantry::metrics::classifier::Classifier;
use gantry::metrics::inception::Inception;
use gantry::metrics::{frechet_distance, FeatureStats};
use tch::{Device, Tensor};

/// What turns u8 images into feature vectors.
enum Features {
    Inception(Inception),
    Classifier(Box<Classifier>),
}

impl Features {
    fn of(&self, images: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Features::Inception(net) => net.features(images)?,
            Features::Classifier(net) => net.features_and_logits(images)?.0,
        })
    }
}

/// Mean and covariance of the features of every image in `folder`, 50 images at a time.
fn statistics(folder: &str, features: &Features) -> Result<(Tensor, Tensor, usize)> {
    // Split::Train reads a plain folder whole (the split only selects inside datasets that
    // have one).
    let ds = gantry::data::load(folder, &LoadOptions { split: Split::Train, ..Default::default() })?;
    let mut stats = FeatureStats::new();
    for batch in ds.images.split(50, 0) {
        stats.update(&features.of(&batch)?)?;
    }
    if stats.count() < 2 {
        bail!("{folder}: FID needs at least 2 images, found {}", stats.count());
    }
    Ok((stats.mean()?, stats.cov()?, stats.count() as usize))
}

fn main() -> Result<()> {
    let mut folders = Vec::new();
    let (mut features, mut weights) = ("inception".to_string(), None::<PathBuf>);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--features" => features = args.next().context("--features needs a value")?,
            "--weights" => weights = Some(args.next().context("--weights needs a file")?.into()),
            flag if flag.starts_with("--") => bail!("unknown option {flag}: expected --features, --weights"),
            _ => folders.push(a),
        }
    }
    let [real, fake] = folders.as_slice() else {
        bail!("expected two folders, REAL_DIR FAKE_DIR; found {}", folders.len());
    };
    let device = Device::cuda_if_available();
    let net = match (features.as_str(), weights) {
        ("inception", Some(file)) => Features::Inception(Inception::load(&file, device)?),
        ("inception", None) => Features::Inception(Inception::load_default(device)?),
        (domain, None) => Features::Classifier(Box::new(Classifier::builtin(domain, device)?)),
        (_, Some(_)) => {
            bail!("--weights gives the Inception file; it cannot be combined with --features {features}")
        }
    };
    let (mu1, sigma1, n1) = statistics(real, &net)?;
    let (mu2, sigma2, n2) = statistics(fake, &net)?;
    let fid = frechet_distance(&mu1, &sigma1, &mu2, &sigma2)?;
    println!("fid {fid:.6}  ({features} features; real: {real} ({n1} images); fake: {fake} ({n2} images))");
    Ok(())
}
