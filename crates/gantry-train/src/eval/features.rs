//! The networks that turn images into features (the FID Inception network, gantry's domain
//! classifiers) and how many images they take at once.

use std::path::Path;

use crate::error::{bail, Result};
use gantry_metrics::classifier::Classifier;
use gantry_metrics::inception::{Inception, Resize};
use tch::{Device, Tensor};

/// Which network turns images into features.
#[derive(Debug)]
pub enum Extractor {
    /// The FID Inception-v3 network: 2048-wide pool features, and logits when its weights have them.
    Inception(Inception),
    /// A built-in domain classifier, by name (`mnist` or `fashion-mnist`).
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

    /// The name [`Extractor::load`] takes: `inception`, or the classifier's name.
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

    /// The same network resizing with `resize`; the domain classifiers take only the default
    /// (they resize to their own 28×28, as they were trained).
    pub fn with_resize(self, resize: Resize) -> Result<Self> {
        Ok(match self {
            Extractor::Inception(net) => Extractor::Inception(net.with_resize(resize)),
            Extractor::Classifier(name, _) if resize != Resize::default() => bail!(
                "--resize {resize} is a protocol of the Inception features; --features {name} resizes to the classifier's 28x28 as it was trained"
            ),
            other => other,
        })
    }

    /// What the features are, for a result's record: the network's name, its resize and, for
    /// the Inception network, the sha256 of its file.
    pub fn protocol(&self) -> Result<serde_json::Value> {
        Ok(match self {
            Extractor::Inception(net) => serde_json::json!({
                "features": "inception", "resize": net.resize().name(), "features_sha256": net.sha256()?,
            }),
            Extractor::Classifier(name, _) => {
                serde_json::json!({ "features": name, "resize": "classifier-28" })
            }
        })
    }

    /// Features `[N, d]` and, when the network has a classifier head, logits of u8 images.
    pub fn run(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        Ok(match self {
            Extractor::Inception(net) => net.features_and_logits(images)?,
            Extractor::Classifier(_, net) => {
                let (f, l) = net.features_and_logits(images)?;
                (f, Some(l))
            }
        })
    }
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
