//! From a data spec to a dataset.
//!
//! A spec is one of:
//! - `mnist-5k`: the embedded default (5,000 MNIST digits compiled into gantry; no file needed);
//! - a manifest name (`mnist`, `fashion-mnist`, `cifar10`, `cifar10-jpg`, `orl-faces`), found through
//!   [`gantry_manifest::locate`] in `$GANTRY_DATA`, the repository's `datasets/`, the cache, or
//!   `$GANTRY_SHARED/datasets`; a missing one is an error naming `cargo xtask datasets fetch NAME`;
//! - a path: an image folder or `.tar.gz` archive, a folder of IDX files or CIFAR-10 batches, or a
//!   `.csv[.gz]` file in the mnist-5k layout.

use std::io::Read;
use std::path::{Path, PathBuf};

use gantry_manifest::Format;

use crate::dataset::{Fit, ImageDataset, Split};
use crate::folder::Target;
use crate::{cifar, csv, dataset, folder, idx, DataError, Result};

/// The name of the embedded default dataset.
pub const EMBEDDED: &str = "mnist-5k";

static EMBEDDED_MNIST_5K: &[u8] = include_bytes!("../data/mnist-5k/mnist_5k.csv.gz");

/// What to load and how to shape it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Which part of the dataset to load.
    pub split: Split,
    /// Bring images to `size`×`size` (None: keep).
    pub size: Option<i64>,
    /// Bring images to 1 or 3 channels (None: keep).
    pub channels: Option<i64>,
    /// How images of another size are brought to `size`×`size` (ignored when `size` is `None`).
    pub fit: Fit,
}

/// Loads the dataset a spec names (see the module docs).
pub fn load(spec: &str, opts: &LoadOptions) -> Result<ImageDataset> {
    let ds = if spec == EMBEDDED {
        load_embedded(opts.split)?
    } else if let Ok(m) = gantry_manifest::find(spec) {
        let dir = gantry_manifest::locate(&m)?;
        let first = dir.join(&m.files[0].name);
        match m.format {
            Format::Idx => load_idx(&dir, opts.split)?,
            Format::CifarBin => cifar::load(&first, opts.split)?,
            Format::ImageFolder => folder::load(&first, opts.split, target(opts))?,
            Format::MnistCsv => load_csv(&first, opts.split)?,
            Format::UciDigitsCsv => load_uci_digits(&first, opts.split)?,
            Format::Paired | Format::Unpaired => {
                return Err(DataError::Spec(format!(
                    "{spec} is a {} dataset (two image domains): a translation model trains on it",
                    if m.format == Format::Paired { "paired" } else { "unpaired" }
                )))
            }
        }
    } else {
        let path = PathBuf::from(spec);
        if !path.exists() {
            let known: Vec<String> = gantry_manifest::builtin().into_iter().map(|m| m.name).collect();
            return Err(DataError::Spec(format!(
                "data '{spec}': not a known dataset ({}) and no such file or folder",
                known.join(", ")
            )));
        }
        load_path(&path, opts)?
    };
    fit(ds, opts)
}

fn target(opts: &LoadOptions) -> Target {
    Target { size: opts.size, channels: opts.channels, fit: opts.fit }
}

fn fit(ds: ImageDataset, opts: &LoadOptions) -> Result<ImageDataset> {
    ds.fit(opts.size, opts.channels, opts.fit)
}

fn load_path(path: &Path, opts: &LoadOptions) -> Result<ImageDataset> {
    let name = path.to_string_lossy().to_string();
    if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        return load_csv(path, opts.split);
    }
    if path.is_dir() {
        let has = |f: &str| path.join(f).exists() || path.join(format!("{f}.gz")).exists();
        if has("train-images-idx3-ubyte") || has("t10k-images-idx3-ubyte") {
            return load_idx(path, opts.split);
        }
        if path.join("data_batch_1.bin").exists()
            || path.join("test_batch.bin").exists()
            || path.join("cifar-10-batches-bin").is_dir()
        {
            return cifar::load(path, opts.split);
        }
    } else if name.contains("cifar-10-binary") || name.contains("batches-bin") {
        return cifar::load(path, opts.split);
    }
    folder::load(path, opts.split, target(opts))
}

fn idx_file(dir: &Path, stem: &str) -> Result<PathBuf> {
    for cand in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(&cand);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(DataError::format(dir.display(), format!("missing IDX file {stem}[.gz]")))
}

fn load_idx(dir: &Path, split: Split) -> Result<ImageDataset> {
    let one = |prefix: &str| -> Result<ImageDataset> {
        let images = idx_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = idx_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        let (pixels, [n, h, w], labels) = idx::read_pair(&images, &labels)?;
        let classes = dataset::numeric_classes(&labels);
        ImageDataset::from_pixels(
            format!("{} ({prefix})", dir.display()),
            pixels,
            [n, 1, h, w],
            Some(labels),
            classes,
        )
    };
    match split {
        Split::Train => one("train"),
        Split::Test => one("t10k"),
        Split::All => dataset::concat(vec![one("train")?, one("t10k")?], format!("{} (all)", dir.display())),
    }
}

fn load_csv(path: &Path, split: Split) -> Result<ImageDataset> {
    if split == Split::Test {
        return Err(DataError::Spec(format!(
            "{}: a CSV dataset has no test split (use split = \"train\")",
            path.display()
        )));
    }
    let bytes = crate::error::read_maybe_gz(path)?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::format(path.display(), "not UTF-8 text"))?;
    csv::parse(&text, 28, &path.display().to_string())
}

/// The UCI optical digits (8×8, values 0–16 scaled to 0–255): one set, no test split.
fn load_uci_digits(path: &Path, split: Split) -> Result<ImageDataset> {
    if split == Split::Test {
        return Err(DataError::Spec(format!(
            "{}: the UCI digits have no test split (use split = \"train\")",
            path.display()
        )));
    }
    let bytes = crate::error::read_maybe_gz(path)?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::format(path.display(), "not UTF-8 text"))?;
    csv::parse_scaled(&text, 8, 16, &path.display().to_string())
}

/// The folder of a two-domain data spec: a dataset of `format` by name, or a path.
fn domains_root(spec: &str, format: Format, what: &str, example: &str) -> Result<PathBuf> {
    match gantry_manifest::find(spec) {
        Ok(m) if m.format == format => Ok(gantry_manifest::locate(&m)?),
        Ok(m) => Err(DataError::Spec(format!(
            "data '{spec}' is not {what} ({:?}); this model needs {what} data (a folder in the authors' layout, or a set such as {example})",
            m.format
        ))),
        Err(_) => {
            let path = PathBuf::from(spec);
            if !path.exists() {
                let known: Vec<String> =
                    gantry_manifest::builtin().into_iter().filter(|m| m.format == format).map(|m| m.name).collect();
                return Err(DataError::Spec(format!(
                    "data '{spec}': not {what} dataset ({}) and no such folder",
                    if known.is_empty() { "none is known".to_string() } else { known.join(", ") }
                )));
            }
            Ok(path)
        }
    }
}

/// The two domains (A, B) of an unpaired data spec: the name of an unpaired dataset (a
/// gantry-made one such as `digits2mnist`) or a folder in the CycleGAN authors' layout (see
/// [`crate::unpaired`]).
pub fn load_unpaired(
    spec: &str,
    opts: &crate::unpaired::UnpairedOptions,
) -> Result<(ImageDataset, ImageDataset)> {
    crate::unpaired::load(&domains_root(spec, Format::Unpaired, "unpaired", "digits2mnist")?, opts)
}

/// The aligned (inputs, targets) of a paired data spec: the name of a paired dataset (a
/// gantry-made one such as `edges2fashion`) or a folder in the pix2pix authors' layout (see
/// [`crate::paired`]).
pub fn load_paired(spec: &str, opts: &crate::paired::PairedOptions) -> Result<(ImageDataset, ImageDataset)> {
    crate::paired::load(&domains_root(spec, Format::Paired, "paired", "edges2fashion")?, opts)
}

/// Where `cargo xtask datasets fetch` and `gantry derive` put datasets (`$GANTRY_DATA`, else the
/// cache's `datasets/`), one of the folders data names are found in.
pub fn fetch_root() -> PathBuf {
    gantry_manifest::fetch_root()
}

/// The embedded mnist-5k subset (500 digits of each class).
pub fn load_embedded(split: Split) -> Result<ImageDataset> {
    if split == Split::Test {
        return Err(DataError::Spec(format!(
            "{EMBEDDED} has no test split: it is 5,000 images of MNIST-train"
        )));
    }
    let mut text = String::new();
    flate2::read::GzDecoder::new(EMBEDDED_MNIST_5K)
        .read_to_string(&mut text)
        .map_err(|e| DataError::format(EMBEDDED, format!("embedded data is corrupt ({e})")))?;
    csv::parse(&text, 28, EMBEDDED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_digits_are_500_per_class_and_pad_to_32() {
        let ds = load("mnist-5k", &LoadOptions { size: Some(32), channels: Some(1), ..Default::default() })
            .unwrap();
        assert_eq!(ds.len(), 5000);
        assert_eq!(ds.image_shape(), [1, 32, 32]);
        let labels = ds.labels.as_ref().unwrap();
        for c in 0..10 {
            assert_eq!(labels.eq(c).sum(tch::Kind::Int64).int64_value(&[]), 500);
        }
        // The 2-pixel border is background.
        assert_eq!(ds.images.narrow(2, 0, 2).max().int64_value(&[]), 0);
        assert_eq!(ds.images.max().int64_value(&[]), 255);
        assert!(load("mnist-5k", &LoadOptions { split: Split::Test, ..Default::default() }).is_err());
    }

    #[test]
    fn unknown_specs_name_the_known_datasets() {
        let e = load("no-such-data", &LoadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("no-such-data") && e.contains("fashion-mnist"), "{e}");
    }
}
