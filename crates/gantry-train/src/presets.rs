//! Named starting points, each a complete [`RunConfig`]; every family lists its own, and the
//! installed [`Registry`] holds them all. `gantry presets` lists them.

use anyhow::Result;
use gantry_data::{Fit, LastBatch, Split};

use crate::config::{LoaderConfig, RunConfig};
use crate::registry::Registry;

/// A named configuration.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    pub name: &'static str,
    pub summary: &'static str,
    pub build: fn() -> RunConfig,
}

impl Preset {
    pub fn config(&self) -> RunConfig {
        (self.build)()
    }
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
