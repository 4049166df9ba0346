//! A small domain classifier for 28×28 grey images (LeNet-style; LeCun et al. 1998), trained by
//! gantry on MNIST or Fashion-MNIST. Its penultimate activations give a domain FID, its logits a
//! domain Inception Score, its predictions class-conditional accuracy and mode counts.
//!
//! ```text
//! x [N, 1, 28, 28] ─ conv 5×5 (16) ─ ReLU ─ maxpool 2 ─ conv 5×5 (32) ─ ReLU ─ maxpool 2   [N, 32, 7, 7]
//!   ─ flatten ─ linear 1568→128 ─ ReLU  = features [N, 128]  ─ dropout 0.3 ─ linear 128→10 = logits
//! ```
//!
//! Inputs are u8 images `[N, 1|3, H, W]`: RGB becomes its channel mean, 32×32 (MNIST padded, as
//! gantry's DCGANs draw it) is centre-cropped to 28×28, other sizes are resized bilinearly; then
//! scaled to [−1, 1].
//!
//! Weights trained by `cargo xtask weights train-classifier NAME` are committed under `weights/`
//! and compiled in ([`Classifier::builtin`]).

use std::path::Path;

use gantry_core::checkpoint::Checkpoint;
use gantry_core::optim::{Adam, AdamConfig};
use gantry_data::{Batcher, ImageDataset, LastBatch};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::{MetricError, Result};

/// Feature width.
pub const FEATURES: i64 = 128;

static BUILTIN_MNIST: &[u8] = include_bytes!("../weights/classifier-mnist.safetensors");
static BUILTIN_FASHION: &[u8] = include_bytes!("../weights/classifier-fashion-mnist.safetensors");

/// The classifier and its weights.
#[derive(Debug)]
pub struct Classifier {
    vs: nn::VarStore,
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
    /// Metadata: domain, test accuracy, training protocol.
    pub info: std::collections::BTreeMap<String, String>,
}

impl Classifier {
    /// A freshly initialised network on `device` (weights from libtorch's generator: seed it).
    pub fn new(device: Device) -> Self {
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let conv = nn::ConvConfig { padding: 2, ..Default::default() };
        let conv1 = nn::conv2d(&p / "conv1", 1, 16, 5, conv);
        let conv2 = nn::conv2d(&p / "conv2", 16, 32, 5, conv);
        let fc1 = nn::linear(&p / "fc1", 32 * 7 * 7, FEATURES, Default::default());
        let fc2 = nn::linear(&p / "fc2", FEATURES, 10, Default::default());
        Self { vs, conv1, conv2, fc1, fc2, info: Default::default() }
    }

    /// The weights compiled into gantry for `domain` (`mnist` or `fashion-mnist`).
    pub fn builtin(domain: &str, device: Device) -> Result<Self> {
        let bytes = match domain {
            "mnist" => BUILTIN_MNIST,
            "fashion-mnist" => BUILTIN_FASHION,
            other => {
                return Err(MetricError::Invalid(format!(
                    "no built-in classifier for '{other}': expected mnist or fashion-mnist"
                )))
            }
        };
        let ck = Checkpoint::from_bytes(bytes, Path::new(&format!("<built-in classifier-{domain}>")))?;
        Self::from_checkpoint(&ck, device)
    }

    /// Loads weights written by [`Self::save`].
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        Self::from_checkpoint(&Checkpoint::load(path)?, device)
    }

    fn from_checkpoint(ck: &Checkpoint, device: Device) -> Result<Self> {
        let mut c = Self::new(device);
        ck.load_varstore("classifier", &c.vs)?;
        c.info = ck.metadata.clone();
        Ok(c)
    }

    /// Writes the weights and [`Self::info`] atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut ck = Checkpoint::new();
        ck.insert_varstore("classifier", &self.vs);
        ck.metadata = self.info.clone();
        ck.save(path)?;
        Ok(())
    }

    /// u8 images `[N, 1|3, H, W]` → float `[N, 1, 28, 28]` in [−1, 1] on the network's device.
    pub fn preprocess(&self, images: &Tensor) -> Result<Tensor> {
        let s = images.size();
        if s.len() != 4 || !(s[1] == 1 || s[1] == 3) || images.kind() != Kind::Uint8 {
            return Err(MetricError::Invalid(format!(
                "classifier input must be u8 [N, 1|3, H, W], found {:?} {s:?}",
                images.kind()
            )));
        }
        let x = images.to_device(self.vs.device()).to_kind(Kind::Float);
        let x = if s[1] == 3 { x.mean_dim(1, true, Kind::Float) } else { x };
        let x = match (s[2], s[3]) {
            (28, 28) => x,
            (32, 32) => x.narrow(2, 2, 28).narrow(3, 2, 28),
            _ => x.upsample_bilinear2d([28, 28], false, None, None),
        };
        Ok(x / 127.5 - 1.0)
    }

    /// Differentiable features `[N, 128]` of float images `[N, 1|3, H, W]` in [−1, 1] on the
    /// network's device (the preprocessing of [`Self::preprocess`] without the u8 rounding): a
    /// perceptual distance for GAN inversion.
    pub fn features_of_float(&self, x: &Tensor) -> Result<Tensor> {
        let s = x.size();
        if s.len() != 4 || !(s[1] == 1 || s[1] == 3) {
            return Err(MetricError::Invalid(format!(
                "classifier input must be [N, 1|3, H, W], found {s:?}"
            )));
        }
        let x = if s[1] == 3 { x.mean_dim(1, true, Kind::Float) } else { x.shallow_clone() };
        let x = match (s[2], s[3]) {
            (28, 28) => x,
            (32, 32) => x.narrow(2, 2, 28).narrow(3, 2, 28),
            _ => x.upsample_bilinear2d([28, 28], false, None, None),
        };
        Ok(self.run(&x, false).0)
    }

    /// (features `[N, 128]`, logits `[N, 10]`) of float input `[N, 1, 28, 28]`.
    fn run(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let h = self.conv1.forward(x).relu().max_pool2d_default(2); // [N, 16, 14, 14]
        let h = self.conv2.forward(&h).relu().max_pool2d_default(2); // [N, 32, 7, 7]
        let f = self.fc1.forward(&h.flatten(1, -1)).relu(); // [N, 128]
        let logits = self.fc2.forward(&f.dropout(0.3, train)); // [N, 10]
        (f, logits)
    }

    /// Features `[N, 128]` and logits `[N, 10]` (CPU, f32) of u8 images, in batches of 1000.
    pub fn features_and_logits(&self, images: &Tensor) -> Result<(Tensor, Tensor)> {
        let (mut fs, mut ls) = (Vec::new(), Vec::new());
        for chunk in images.split(1000, 0) {
            let x = self.preprocess(&chunk)?;
            let (f, l) = tch::no_grad(|| self.run(&x, false));
            fs.push(f.to_device(Device::Cpu));
            ls.push(l.to_device(Device::Cpu));
        }
        Ok((Tensor::cat(&fs, 0), Tensor::cat(&ls, 0)))
    }

    /// Predicted classes `[N]` of u8 images.
    pub fn predict(&self, images: &Tensor) -> Result<Tensor> {
        Ok(self.features_and_logits(images)?.1.argmax(1, false))
    }

    /// Share of a labelled dataset classified correctly.
    pub fn accuracy(&self, ds: &ImageDataset) -> Result<f64> {
        let labels =
            ds.labels.as_ref().ok_or_else(|| MetricError::Invalid(format!("{} has no labels", ds.name)))?;
        let pred = self.predict(&ds.images)?;
        Ok(pred.eq_tensor(labels).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]))
    }

    /// Trains on a labelled 28×28 dataset: Adam (lr 1e-3 × 0.7^epoch), cross-entropy, batches of
    /// 128, `epochs` passes in an order seeded by `seed`, libtorch's generator re-seeded per step.
    pub fn train(
        ds: &ImageDataset,
        epochs: u64,
        seed: u64,
        device: Device,
        mut progress: impl FnMut(u64, f64),
    ) -> Result<Self> {
        let labels =
            ds.labels.as_ref().ok_or_else(|| MetricError::Invalid(format!("{} has no labels", ds.name)))?;
        gantry_core::device::seed_torch(seed, "classifier-init", 0);
        let net = Self::new(device);
        let mut opt = Adam::new(&net.vs, AdamConfig::default());
        let mut batcher = Batcher::new(ds.len(), 128, LastBatch::Drop, seed, false)
            .map_err(|e| MetricError::Invalid(e.to_string()))?;
        let per_epoch = batcher.batches_per_epoch();
        for k in 0..epochs * per_epoch {
            opt.config.lr = 1e-3 * 0.7f64.powi((k / per_epoch) as i32);
            gantry_core::device::seed_torch(seed, "classifier-step", k);
            let (_, _, idx) = batcher.indices(k);
            let idx = Tensor::from_slice(&idx);
            let x = net.preprocess(&ds.images.index_select(0, &idx))?;
            let y = labels.index_select(0, &idx).to_device(device);
            let (_, logits) = net.run(&x, true);
            let loss = logits.cross_entropy_for_logits(&y);
            opt.backward_step(&loss);
            if (k + 1) % per_epoch == 0 {
                progress((k + 1) / per_epoch, loss.double_value(&[]));
            }
        }
        Ok(net)
    }
}
