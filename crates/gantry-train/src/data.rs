//! The training data of a run, as its family's [`DataNeeds`] ask: images (with labels when the
//! family is conditional), toy points, or aligned pairs. Batch `k` of a run is always the same
//! batch: the order comes from (run seed, epoch), flips and crops from (run seed, k).

use crate::error::{bail, Result};
use gantry_core::device::derive_seed;
use gantry_data::paired::PairedOptions;
use gantry_data::toy::Toy;
use gantry_data::{Batcher, ImageDataset, LoadOptions};
use tch::{Device, Tensor};

use crate::config::RunConfig;
use crate::family::{Batch, DataNeeds, Family};

/// The file of a run folder that lists the data files left out ([`Source::write_skipped`]).
pub const SKIPPED_FILES: &str = "skipped-files.txt";

/// Where real examples come from.
#[derive(Debug)]
pub enum Source {
    /// An image dataset (with labels when the family is conditional).
    Images {
        /// The images, u8 `[N, C, H, W]` on the CPU.
        ds: ImageDataset,
        /// Its batch order, flips and crops.
        batcher: Batcher,
    },
    /// Points drawn fresh for every batch from a toy distribution.
    Toy {
        /// The distribution.
        toy: Toy,
        /// The run seed; batch `k`'s points come from a seed derived from it and `k`.
        seed: u64,
        /// Points per batch.
        batch_size: usize,
    },
    /// Aligned inputs (A) and targets (B).
    Paired {
        /// The input images (domain A), u8 `[N, C_A, H, W]`.
        inputs: ImageDataset,
        /// The target images (domain B), u8 `[N, C_B, H, W]`, aligned with `inputs`.
        targets: ImageDataset,
        /// One batch order for both, so that pairs stay together (with the same flips and crops).
        batcher: Batcher,
    },
    /// Two unpaired domains, each with its own data order (B's from a seed derived from the
    /// run's).
    Unpaired {
        /// Domain A's images (the inputs).
        a: ImageDataset,
        /// Domain B's images (what D sees as real).
        b: ImageDataset,
        /// Domain A's batch order, from the run seed.
        batcher_a: Batcher,
        /// Domain B's batch order, from a seed derived from the run's.
        batcher_b: Batcher,
    },
}

/// The toy distribution an MLP run trains on (`data = "ring" | "grid" | "gaussian1d"`), checked
/// against the model's dimension.
pub fn toy_of(data: &str, dim: i64) -> Result<Toy> {
    let toy = match data {
        "ring" => Toy::ring(),
        "grid" => Toy::grid(),
        "gaussian1d" => Toy::Gaussian1d { mean: 7.0, std: 1.0 }, // the lectures' toy (G(z) = z + θ from θ = 3)
        other => bail!("invalid data for an mlp model: expected ring, grid or gaussian1d, found '{other}'"),
    };
    if dim != toy.dim() as i64 {
        bail!("invalid model.data_dim: '{data}' is {}-dimensional, found {dim}", toy.dim());
    }
    Ok(toy)
}

impl Source {
    /// Loads the data of `cfg` and resolves what depends on it (channels = 0).
    pub fn load(cfg: &mut RunConfig) -> Result<Self> {
        let l = &cfg.loader;
        match cfg.family.data() {
            DataNeeds::Images { channels, size, classes } => {
                let opts = LoadOptions {
                    split: l.split,
                    size: Some(size),
                    channels: (channels > 0).then_some(channels),
                    fit: l.fit,
                };
                let ds = gantry_data::load(&cfg.data, &opts)?;
                if channels == 0 {
                    cfg.family.set_channels(ds.image_shape()[0]);
                }
                if let Some(k) = classes {
                    let Some(labels) = &ds.labels else {
                        bail!(
                            "a {} model trains on labelled data; {} has no labels",
                            cfg.family.arch(),
                            ds.name
                        );
                    };
                    let top = labels.max().int64_value(&[]);
                    if top >= k {
                        bail!(
                            "invalid model.classes: {} has labels up to {top}, the model has {k} classes",
                            ds.name
                        );
                    }
                }
                let batcher = Batcher::new(ds.len(), cfg.batch_size, l.last_batch, cfg.seed, l.hflip)?
                    .with_jitter(l.jitter);
                Ok(Source::Images { ds, batcher })
            }
            DataNeeds::Toy { dim } => {
                Ok(Source::Toy { toy: toy_of(&cfg.data, dim)?, seed: cfg.seed, batch_size: cfg.batch_size })
            }
            DataNeeds::Paired { input_channels, output_channels, size, a_to_b } => {
                let opts = PairedOptions {
                    split: l.split,
                    size,
                    channels: (input_channels, output_channels),
                    fit: l.fit,
                    a_to_b,
                };
                let (inputs, targets) = gantry_data::source::load_paired(&cfg.data, &opts)?;
                let batcher = Batcher::new(inputs.len(), cfg.batch_size, l.last_batch, cfg.seed, l.hflip)?
                    .with_jitter(l.jitter);
                Ok(Source::Paired { inputs, targets, batcher })
            }
            DataNeeds::Unpaired { channels_a, channels_b, size } => {
                let opts = gantry_data::unpaired::UnpairedOptions {
                    split: l.split,
                    size,
                    channels: (channels_a, channels_b),
                    fit: l.fit,
                };
                let (a, b) = gantry_data::source::load_unpaired(&cfg.data, &opts)?;
                let batcher = |n: usize, seed: u64| -> Result<Batcher> {
                    Ok(Batcher::new(n, cfg.batch_size, l.last_batch, seed, l.hflip)?.with_jitter(l.jitter))
                };
                let (batcher_a, batcher_b) =
                    (batcher(a.len(), cfg.seed)?, batcher(b.len(), derive_seed(cfg.seed, "domain-b", 0))?);
                Ok(Source::Unpaired { a, b, batcher_a, batcher_b })
            }
        }
    }

    /// Global batch `k` on `device`: in a data-parallel run, this rank's rows of it (the source
    /// was loaded with the whole batch, ranks × `batch_size`).
    pub fn batch(&mut self, k: u64, device: Device) -> Batch {
        let whole = self.whole_batch(k, device);
        if gantry_core::parallel::shard().1 == 1 {
            return whole;
        }
        let (start, len) = gantry_core::parallel::rows(whole.images.size()[0]);
        let rows = |t: Tensor| t.narrow(0, start, len);
        Batch { images: rows(whole.images), labels: whole.labels.map(rows), inputs: whole.inputs.map(rows) }
    }

    fn whole_batch(&mut self, k: u64, device: Device) -> Batch {
        match self {
            Source::Images { ds, batcher } => {
                let b = batcher.batch(ds, k, device);
                Batch { images: b.images, labels: b.labels, inputs: None }
            }
            Source::Toy { toy, seed, batch_size } => Batch::unlabelled(
                toy.sample(*batch_size, derive_seed(*seed, "toy-batch", k)).to_device(device),
            ),
            Source::Paired { inputs, targets, batcher } => {
                let (mut x, _, _, _) = batcher.batch_aligned(&[inputs, targets], k, device);
                let b = x.remove(1);
                let a = x.remove(0);
                Batch { images: b, labels: None, inputs: Some(a) }
            }
            Source::Unpaired { a, b, batcher_a, batcher_b } => {
                let xa = batcher_a.batch(a, k, device).images;
                let xb = batcher_b.batch(b, k, device).images;
                Batch { images: xb, labels: None, inputs: Some(xa) }
            }
        }
    }

    /// Batches in one epoch (toys: 1, they have no epochs).
    pub fn batches_per_epoch(&self) -> u64 {
        match self {
            Source::Images { batcher, .. } | Source::Paired { batcher, .. } => batcher.batches_per_epoch(),
            // An epoch of the larger domain, as the authors' unaligned dataset counts them.
            Source::Unpaired { batcher_a, batcher_b, .. } => {
                batcher_a.batches_per_epoch().max(batcher_b.batches_per_epoch())
            }
            Source::Toy { .. } => 1,
        }
    }

    /// The real images D sees (u8 `[N, C, H, W]`): what evaluation compares against.
    pub fn real_images(&self) -> Option<&Tensor> {
        match self {
            Source::Images { ds, .. } => Some(&ds.images),
            Source::Paired { targets, .. } => Some(&targets.images),
            Source::Unpaired { b, .. } => Some(&b.images),
            Source::Toy { .. } => None,
        }
    }

    /// The toy distribution, for toy runs.
    pub fn toy(&self) -> Option<&Toy> {
        match self {
            Source::Toy { toy, .. } => Some(toy),
            _ => None,
        }
    }

    /// The first `n` inputs (u8) in the dataset's order with their targets when the data is
    /// paired, for the preview grids and evaluations of translation runs.
    pub fn fixed_inputs(&self, n: usize) -> Option<(Tensor, Option<Tensor>)> {
        let first = |ds: &ImageDataset| ds.images.narrow(0, 0, (n as i64).min(ds.len() as i64));
        match self {
            Source::Paired { inputs, targets, .. } => Some((first(inputs), Some(first(targets)))),
            Source::Unpaired { a, .. } => Some((first(a), None)),
            _ => None,
        }
    }

    /// The first `n` inputs (u8) a translation `family` is shown and evaluated on, with their
    /// targets when there are any: [`Self::fixed_inputs`] of two-domain data, or for a model
    /// that undoes a degradation (super-resolution) inputs it makes from the first images.
    pub fn translation_inputs(&self, family: &dyn Family, n: usize) -> Option<(Tensor, Option<Tensor>)> {
        let t = family.translator()?;
        if let Some(pairs) = self.fixed_inputs(n) {
            return Some(pairs);
        }
        let images = self.real_images()?;
        let targets = images.narrow(0, 0, (n as i64).min(images.size()[0]));
        t.degrade_u8(&targets).map(|inputs| (inputs, Some(targets)))
    }

    /// The files of the data's folders that were left out, each with why (see
    /// [`gantry_data::folder`]).
    pub fn skipped(&self) -> Vec<&gantry_data::Skipped> {
        match self {
            Source::Images { ds, .. } => ds.skipped.iter().collect(),
            Source::Toy { .. } => Vec::new(),
            Source::Paired { inputs, targets, .. } => inputs.skipped.iter().chain(&targets.skipped).collect(),
            Source::Unpaired { a, b, .. } => a.skipped.iter().chain(&b.skipped).collect(),
        }
    }

    /// Writes [`Source::skipped`] to `SKIPPED_FILES` in `run_root`, a line a file (`FILE<TAB>why`),
    /// when anything was left out.
    pub fn write_skipped(&self, run_root: &std::path::Path) -> Result<()> {
        let skipped = self.skipped();
        if skipped.is_empty() {
            return Ok(());
        }
        let lines: String = skipped.iter().map(|s| format!("{}\t{}\n", s.file, s.why)).collect();
        Ok(gantry_core::fs::write_atomic(&run_root.join(SKIPPED_FILES), lines.as_bytes())?)
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        let images = |ds: &ImageDataset| {
            let [c, h, w] = ds.image_shape();
            let skipped = match gantry_data::dataset::skipped_summary(&ds.skipped) {
                Some(line) => format!(" ({line}; every one in the run folder's {SKIPPED_FILES})"),
                None => String::new(),
            };
            format!("{}: {} images {c}x{h}x{w}{skipped}", ds.name, ds.len())
        };
        match self {
            Source::Images { ds, .. } => images(ds),
            Source::Toy { toy, .. } => format!("toy distribution {toy:?}"),
            Source::Paired { inputs, targets, .. } => {
                let [ca, ..] = inputs.image_shape();
                format!("{} (inputs {ca} channels → targets)", images(targets))
            }
            Source::Unpaired { a, b, .. } => format!("A: {}; B: {}", images(a), images(b)),
        }
    }
}
