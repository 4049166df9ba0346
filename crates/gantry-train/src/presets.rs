//! Named starting points, each a complete [`RunConfig`]; every family file lists its own
//! ([`crate::recipes::FAMILIES`]). `gantry presets` lists them.

use std::sync::OnceLock;

use anyhow::{bail, Result};
use gantry_data::{Fit, LastBatch, Split};

use crate::config::{LoaderConfig, RunConfig};

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

/// Every preset, family by family.
pub fn all() -> &'static [Preset] {
    static ALL: OnceLock<Vec<Preset>> = OnceLock::new();
    ALL.get_or_init(|| crate::recipes::FAMILIES.iter().flat_map(|k| k.presets.iter().copied()).collect())
}

/// The preset called `name`.
pub fn find(name: &str) -> Result<Preset> {
    match all().iter().find(|p| p.name == name) {
        Some(p) => Ok(*p),
        None => bail!(
            "unknown preset '{name}': expected one of {}",
            all().iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn preset_names_are_unique_and_say_what_they_build() {
        let all = super::all();
        let mut names: Vec<&str> = all.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len(), "duplicate preset names");
        for p in all {
            assert_eq!(p.config().preset, p.name, "preset {} builds a config named otherwise", p.name);
        }
    }
}
