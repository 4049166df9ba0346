//! Named starting points, each a complete [`RunConfig`]; every family lists its own, and the
//! installed [`Registry`] holds them all. `gantry presets` lists them.

use crate::error::Result;
use gantry_data::{Fit, LastBatch, Split};

use crate::config::{EvalConfig, FamilyConfig, LoaderConfig, LogConfig, RunConfig};
use crate::registry::Registry;

/// A named configuration.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// What `--preset` and `gantry presets` call it, e.g. `srgan-cifar`.
    pub name: &'static str,
    /// One line for `gantry presets`: the model, the data and what stands out.
    pub summary: &'static str,
    /// Builds the configuration.
    pub build: fn() -> RunConfig,
}

impl Preset {
    /// The preset's configuration, built afresh.
    pub fn config(&self) -> RunConfig {
        (self.build)()
    }
}

/// What every preset starts from: `family` trained on `data` for `steps` steps of `batch`, seed 0,
/// every CPU thread, one process, no flips, no augmentation, the default logging
/// ([`LogConfig::default`]) and no FID during training. A preset changes the rest with struct update syntax.
pub fn base(name: &str, data: &str, (batch, steps): (usize, u64), family: FamilyConfig) -> RunConfig {
    RunConfig {
        preset: name.into(),
        data: data.into(),
        seed: 0,
        steps,
        batch_size: batch,
        threads: 0,
        family,
        loader: loader(false),
        log: LogConfig::default(),
        eval: EvalConfig::default(),
        dist: Default::default(),
        augment: Default::default(),
        perf: perf(),
    }
}

/// The `[perf]` of new runs (every preset's): the family's measured memory format, and Adam's
/// per-tensor arithmetic (the fused kernel measured no faster on the CPU: README, `[perf]`).
pub fn perf() -> crate::config::PerfConfig {
    crate::config::PerfConfig {
        memory_format: crate::config::MemoryFormatChoice::Auto,
        ..crate::config::PerfConfig::default()
    }
}

/// FID during training off, measured in `features` when it is turned on.
pub fn features(features: &str) -> EvalConfig {
    EvalConfig { features: features.into(), ..Default::default() }
}

/// Training split, `auto` fit, no jitter; flips if `hflip`.
pub fn loader(hflip: bool) -> LoaderConfig {
    LoaderConfig { split: Split::Train, fit: Fit::Auto, hflip, last_batch: LastBatch::Drop, jitter: 0 }
}

/// Every preset of the installed registry, family by family.
pub fn all() -> Vec<Preset> {
    Registry::current().presets().copied().collect()
}

/// The preset called `name` (of the installed registry).
pub fn find(name: &str) -> Result<Preset> {
    Ok(Registry::current().preset(name)?)
}
