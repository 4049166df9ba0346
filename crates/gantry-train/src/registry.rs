//! The families a process knows: which `model.arch` values a config may name, how each family's
//! sections parse, and the presets `gantry presets` lists.
//!
//! [`Registry::builtin`] holds gantry's own families. A crate with a family of its own (a
//! [`Recipe`] and its [`crate::family::Family`]) adds it and installs the result before reading
//! any config; from then on the loop, run folders, resume, sampling, evaluation, reports and the
//! whole `gantry` command line ([`gantry_cli::run_with`](../../gantry_cli/fn.run_with.html)) treat
//! it as one of gantry's:
//!
//! ```no_run
//! use gantry_train::config::Recipe;
//! use gantry_train::presets::Preset;
//! use gantry_train::registry::{Registry, RegistryError};
//!
//! fn install<MyRun: Recipe>(presets: &'static [Preset]) -> Result<(), RegistryError> {
//!     Registry::builtin().register::<MyRun>(presets)?.install();
//!     Ok(())
//! }
//! ```
//!
//! Configs are parsed against the installed registry ([`Registry::current`]; gantry's own until
//! one is installed), because a config is read in many places (run folders, checkpoints' embedded
//! configs, `--set`) that all must agree on what a `model.arch` means.

use std::fmt;
use std::sync::{Arc, RwLock};

use crate::config::{parse_settings, FamilySettings, Recipe};
use crate::presets::Preset;

/// Why a family or preset could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two families claim one `model.arch`.
    #[error("model.arch '{0}' is registered twice")]
    DuplicateArch(&'static str),
    /// Two presets share a name.
    #[error("preset '{name}' of the {arch} family is named like a preset of the {other} family")]
    DuplicatePreset {
        /// The preset's name.
        name: &'static str,
        /// The `model.arch` of the family being registered.
        arch: &'static str,
        /// The `model.arch` of the family already holding a preset of that name.
        other: &'static str,
    },
    /// A preset builds another family's config.
    #[error("preset '{name}' is listed with the {arch} family but builds a {builds} config")]
    ForeignPreset {
        /// The preset's name.
        name: &'static str,
        /// The `model.arch` of the family it is listed with.
        arch: &'static str,
        /// The `model.arch` of the config it builds.
        builds: &'static str,
    },
    /// No family of that `model.arch`.
    #[error("unknown model.arch '{name}': expected one of {known} (a family another program registers is read by that program)")]
    UnknownArch {
        /// The `model.arch` asked for.
        name: String,
        /// The registered `model.arch` values, comma-separated.
        known: String,
    },
    /// No preset of that name.
    #[error("unknown preset '{name}': expected one of {known}")]
    UnknownPreset {
        /// The preset name asked for.
        name: String,
        /// The registered presets' names, comma-separated.
        known: String,
    },
}

/// One family as the registry knows it.
#[derive(Clone, Copy)]
pub struct Kind {
    /// Its `model.arch`.
    pub arch: &'static str,
    parse: fn(toml::Table) -> crate::error::Result<Box<dyn FamilySettings>>,
    migrate: fn(&mut toml::Table) -> crate::error::Result<()>,
    /// Its presets, in the order `gantry presets` lists them.
    pub presets: &'static [Preset],
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kind")
            .field("arch", &self.arch)
            .field("presets", &self.presets.iter().map(|p| p.name).collect::<Vec<_>>())
            .finish()
    }
}

impl Kind {
    /// The family whose settings are `T`, with its presets.
    pub fn of<T: Recipe>(presets: &'static [Preset]) -> Self {
        Self { arch: T::ARCH, parse: parse_settings::<T>, migrate: T::migrate, presets }
    }
}

/// The families a process knows, in the order `gantry presets` lists them.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    kinds: Vec<Kind>,
}

static CURRENT: RwLock<Option<Arc<Registry>>> = RwLock::new(None);

impl Registry {
    /// No family at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Adds the family whose settings are `T` (`model.arch = T::ARCH`) with its presets. Its
    /// arch and its presets' names must be new, and each preset must build a `T` config.
    pub fn register<T: Recipe>(self, presets: &'static [Preset]) -> Result<Self, RegistryError> {
        self.with(Kind::of::<T>(presets))
    }

    /// Adds a family.
    pub fn with(mut self, kind: Kind) -> Result<Self, RegistryError> {
        if self.kinds.iter().any(|k| k.arch == kind.arch) {
            return Err(RegistryError::DuplicateArch(kind.arch));
        }
        for p in kind.presets {
            if let Some(other) = self.kinds.iter().find(|k| k.presets.iter().any(|q| q.name == p.name)) {
                return Err(RegistryError::DuplicatePreset {
                    name: p.name,
                    arch: kind.arch,
                    other: other.arch,
                });
            }
            let builds = p.config().family.arch();
            if builds != kind.arch {
                return Err(RegistryError::ForeignPreset { name: p.name, arch: kind.arch, builds });
            }
        }
        self.kinds.push(kind);
        Ok(self)
    }

    /// Makes this the registry every config of this process is read with (see the module docs).
    pub fn install(self) {
        *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(self));
    }

    /// The installed registry, or gantry's own families when none was installed.
    pub fn current() -> Arc<Registry> {
        if let Some(r) = CURRENT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return r.clone();
        }
        let mut slot = CURRENT.write().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert_with(|| Arc::new(Registry::builtin())).clone()
    }

    /// Every family.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The family of `model.arch = arch`.
    pub fn kind(&self, arch: &str) -> Result<&Kind, RegistryError> {
        self.kinds.iter().find(|k| k.arch == arch).ok_or_else(|| RegistryError::UnknownArch {
            name: arch.to_string(),
            known: self.kinds.iter().map(|k| k.arch).collect::<Vec<_>>().join(", "),
        })
    }

    /// Every preset, family by family.
    pub fn presets(&self) -> impl Iterator<Item = &Preset> {
        self.kinds.iter().flat_map(|k| k.presets.iter())
    }

    /// The preset called `name`.
    pub fn preset(&self, name: &str) -> Result<Preset, RegistryError> {
        self.presets().find(|p| p.name == name).copied().ok_or_else(|| RegistryError::UnknownPreset {
            name: name.to_string(),
            known: self.presets().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })
    }

    /// Parses the family sections (without `model.arch`) of a config whose `model.arch` is
    /// `arch`.
    pub fn parse(&self, arch: &str, table: toml::Table) -> crate::error::Result<Box<dyn FamilySettings>> {
        (self.kind(arch)?.parse)(table)
    }

    /// Rewrites a config file an older version of its family wrote (`table` is the whole file),
    /// as the family's [`Recipe::migrate`] says; a config of an unknown family is left for
    /// parsing to refuse.
    pub fn migrate(&self, table: &mut toml::Table) -> crate::error::Result<()> {
        let arch =
            table.get("model").and_then(|m| m.get("arch")).and_then(|a| a.as_str()).unwrap_or_default();
        match self.kind(arch) {
            Ok(kind) => (kind.migrate)(table),
            Err(_) => Ok(()),
        }
    }

    /// The families whose configs have the dotted `key` (judged by each family's first preset).
    pub fn archs_with_key(&self, key: &str) -> Vec<&'static str> {
        self.kinds
            .iter()
            .filter(|k| {
                let Some(p) = k.presets.first() else { return false };
                let Ok(v) = toml::Value::try_from(p.config()) else { return false };
                key.split('.').try_fold(&v, |node, part| node.get(part)).is_some()
            })
            .map(|k| k.arch)
            .collect()
    }

    /// The families whose first preset's settings satisfy `has` (e.g.
    /// [`FamilySettings::augments`]).
    pub fn archs_where(&self, has: impl Fn(&dyn FamilySettings) -> bool) -> Vec<&'static str> {
        self.kinds
            .iter()
            .filter(|k| k.presets.first().is_some_and(|p| has(&*p.config().family)))
            .map(|k| k.arch)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipes::gan::{DcganRun, MlpRun, DCGAN_PRESETS, MLP_PRESETS};

    #[test]
    fn builtin_names_are_distinct_and_every_preset_builds_its_family() {
        let r = Registry::builtin();
        assert_eq!(r.kinds().len(), 11);
        for k in r.kinds() {
            for p in k.presets {
                assert_eq!(p.config().family.arch(), k.arch, "preset {}", p.name);
                assert_eq!(p.config().preset, p.name);
            }
        }
        assert_eq!(r.preset("dcgan-mnist").unwrap().name, "dcgan-mnist");
    }

    #[test]
    fn a_second_claim_on_an_arch_or_a_preset_name_is_refused() {
        let r = Registry::empty().register::<DcganRun>(DCGAN_PRESETS).unwrap();
        assert_eq!(r.clone().register::<DcganRun>(&[]).unwrap_err(), RegistryError::DuplicateArch("dcgan"));
        // MLP presets listed under DCGAN: they build another family's config.
        let e =
            Registry::empty().with(Kind { presets: MLP_PRESETS, ..Kind::of::<DcganRun>(&[]) }).unwrap_err();
        assert_eq!(e, RegistryError::ForeignPreset { name: "toy-ring", arch: "dcgan", builds: "mlp" });
        let twice = Kind { arch: "other", ..Kind::of::<DcganRun>(DCGAN_PRESETS) };
        let e = r.clone().with(twice).unwrap_err();
        assert!(
            matches!(e, RegistryError::DuplicatePreset { name: "dcgan-mnist", other: "dcgan", .. }),
            "{e}"
        );
        assert!(r.register::<MlpRun>(MLP_PRESETS).is_ok());
    }

    #[test]
    fn unknown_names_list_what_is_known() {
        let r = Registry::empty().register::<MlpRun>(MLP_PRESETS).unwrap();
        assert_eq!(
            r.preset("dcgan-mnist").unwrap_err().to_string(),
            "unknown preset 'dcgan-mnist': expected one of toy-ring"
        );
        assert_eq!(
            r.parse("dcgan", toml::Table::new()).unwrap_err().to_string(),
            "unknown model.arch 'dcgan': expected one of mlp (a family another program registers is read by that program)"
        );
        assert_eq!(r.archs_with_key("train.unroll"), vec!["mlp"]);
    }
}
