//! Dataset manifests: what a dataset is made of, where it comes from, how to check it, and where
//! gantry looks for it on disk.
//!
//! A manifest is `datasets/<name>.toml` in the repository. Every manifest is compiled into this
//! crate ([`builtin`]), so an installed `gantry` knows them without the repository. `cargo xtask
//! datasets` (fetch, verify) and `gantry-data` (load) both read them through this crate, which links
//! no libtorch so that xtask can build before libtorch exists.
//!
//! Checksums are of the *decompressed payload*: `sha256`/`size` of a `.gz` file are those of its
//! decompressed bytes; an archive or folder has a `tree_sha256` over its members (see
//! [`FileEntry::tree_sha256`]) or, where only the host's checksum is known, the `md5` of the
//! downloaded archive and each member's size.

#![warn(missing_docs, missing_debug_implementations)]

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors from reading manifests or locating datasets.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields: what each variant's message names
pub enum ManifestError {
    /// A manifest that does not parse.
    #[error("manifest {origin}: {message}")]
    Parse { origin: String, message: String },
    /// No manifest of that name.
    #[error("unknown dataset '{name}': known datasets are {known}")]
    Unknown { name: String, known: String },
    /// A known dataset whose files are nowhere gantry looks.
    #[error("dataset '{name}' not found (looked in {looked}); {how}")]
    Missing { name: String, looked: String, how: String },
}

/// How a dataset's files are laid out, which decides the reader `gantry-data` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// IDX files (`train-images-idx3-ubyte[.gz]`, ...) as MNIST and Fashion-MNIST ship them.
    Idx,
    /// CIFAR-10 binary batches (`data_batch_{1..5}.bin`, `test_batch.bin`), in a folder or `.tar.gz`.
    CifarBin,
    /// Images in class folders (optionally under `train/` and `test/`), in a folder or `.tar.gz`.
    ImageFolder,
    /// One image per CSV row: 784 pixels then the label (the mnist-5k layout).
    MnistCsv,
    /// Image pairs side by side (`A|B`) in `train/`, `val/`, `test/` folders: the pix2pix
    /// authors' aligned layout.
    Paired,
    /// Two unpaired domains in `trainA/`, `trainB/`, `testA/`, `testB/` folders: the CycleGAN
    /// authors' unaligned layout (class subfolders, where present, are labels).
    Unpaired,
    /// One 8×8 image per CSV row, 64 values of 0–16 then the label (the UCI optical digits).
    UciDigitsCsv,
}

/// One archive member whose size is known.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Its path inside the archive.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One file (or folder, `name = "."`) of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// File name inside the dataset folder; `"."` for a dataset that is a folder of files.
    pub name: String,
    /// Canonical download URL, where one exists.
    #[serde(default)]
    pub url: Option<String>,
    /// sha256 of the decompressed payload of a single file.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Size in bytes of the decompressed payload of a single file.
    #[serde(default)]
    pub size: Option<u64>,
    /// For archives and folders: sha256 of the listing `"<sha256>  <path>\n"` of every regular file
    /// member, sorted bytewise by path (what `find . -type f | LC_ALL=C sort | xargs sha256sum`
    /// prints, paths without `./`).
    #[serde(default)]
    pub tree_sha256: Option<String>,
    /// For archives and folders: the number of regular file members.
    #[serde(default)]
    pub member_count: Option<u64>,
    /// md5 of the downloaded archive bytes, as its host publishes it.
    #[serde(default)]
    pub md5: Option<String>,
    /// Archive members whose sizes are checked.
    #[serde(default)]
    pub members: Vec<Member>,
}

/// A dataset manifest (`manifests/<name>.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// What `data = NAME` names, and the folder it lives in.
    pub name: String,
    /// Its name in words.
    pub title: String,
    /// How its files are read.
    pub format: Format,
    /// Its license.
    pub license: String,
    /// Who made it, as they ask to be cited.
    pub credit: String,
    /// Where it is described.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Compiled into gantry (needs no files on disk).
    #[serde(default)]
    pub embedded: bool,
    /// Made by gantry from these datasets (`cargo xtask datasets derive NAME`) rather than
    /// downloaded.
    #[serde(default)]
    pub derived_from: Vec<String>,
    /// Its files, each with its size and hash.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    /// Parses a manifest; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let m: Manifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            origin: origin.to_string(),
            message: e.message().to_string(),
        })?;
        if m.files.is_empty() {
            return Err(ManifestError::Parse {
                origin: origin.to_string(),
                message: "no [[files]] entries".into(),
            });
        }
        Ok(m)
    }

    /// What to run to get the dataset.
    pub fn how_to_get(&self) -> String {
        if self.derived_from.is_empty() {
            format!(
                "fetch it with `cargo xtask datasets fetch {}` (add `--from DIR` to copy it from a local mirror such as ../shared/datasets)",
                self.name
            )
        } else {
            format!(
                "make it with `cargo xtask datasets derive {}` (from {})",
                self.name,
                self.derived_from.join(", ")
            )
        }
    }

    /// Whether every file of the manifest exists below `dir`.
    pub fn present_in(&self, dir: &Path) -> bool {
        self.files.iter().all(|f| dir.join(&f.name).exists())
    }
}

/// The built-in manifests' (name, TOML text).
pub fn builtin_texts() -> &'static [(&'static str, &'static str)] {
    BUILTIN
}

const BUILTIN: &[(&str, &str)] = &[
    ("mnist", include_str!("../manifests/mnist.toml")),
    ("fashion-mnist", include_str!("../manifests/fashion-mnist.toml")),
    ("cifar10", include_str!("../manifests/cifar10.toml")),
    ("cifar10-jpg", include_str!("../manifests/cifar10-jpg.toml")),
    ("orl-faces", include_str!("../manifests/orl-faces.toml")),
    ("mnist-5k", include_str!("../manifests/mnist-5k.toml")),
    ("edges2fashion", include_str!("../manifests/edges2fashion.toml")),
    ("colorize-cifar", include_str!("../manifests/colorize-cifar.toml")),
    ("digits", include_str!("../manifests/digits.toml")),
    ("digits2mnist", include_str!("../manifests/digits2mnist.toml")),
    ("horse2deer", include_str!("../manifests/horse2deer.toml")),
];

/// Every manifest compiled into gantry, sorted by name.
pub fn builtin() -> Vec<Manifest> {
    let mut all: Vec<Manifest> = BUILTIN
        .iter()
        .map(|(name, text)| {
            // The manifests are checked by this crate's tests; a malformed one is a build defect.
            Manifest::parse(text, &format!("datasets/{name}.toml"))
                .unwrap_or_else(|e| panic!("built-in manifest is malformed: {e}"))
        })
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The compiled-in manifest called `name`.
pub fn find(name: &str) -> Result<Manifest, ManifestError> {
    let all = builtin();
    match all.iter().find(|m| m.name == name) {
        Some(m) => Ok(m.clone()),
        None => Err(ManifestError::Unknown {
            name: name.to_string(),
            known: all.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "),
        }),
    }
}

/// The cache folder: `$GANTRY_CACHE`, else `$XDG_CACHE_HOME/gantry`, else `~/.cache/gantry`.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("GANTRY_CACHE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME").filter(|p| !p.is_empty()) {
        return PathBuf::from(p).join("gantry");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("gantry")
}

/// Where `cargo xtask datasets fetch` puts datasets: `$GANTRY_DATA` if set, else `<cache>/datasets`.
pub fn fetch_root() -> PathBuf {
    match std::env::var_os("GANTRY_DATA").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => cache_dir().join("datasets"),
    }
}

/// The folders searched for `<root>/<name>/`, in order: `$GANTRY_DATA`, the cache's `datasets/`,
/// and `$GANTRY_SHARED/datasets` (a local mirror such as `../shared`, which `cargo xtask test`
/// sets). (The manifests themselves are compiled in, from this crate's `manifests/`.)
pub fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(p) = std::env::var_os("GANTRY_DATA").filter(|p| !p.is_empty()) {
        roots.push(PathBuf::from(p));
    }
    roots.push(cache_dir().join("datasets"));
    if let Some(p) = std::env::var_os("GANTRY_SHARED").filter(|p| !p.is_empty()) {
        roots.push(PathBuf::from(p).join("datasets"));
    }
    roots
}

/// The folder holding every file of `manifest`, searched in `roots` (see [`search_roots`]).
pub fn locate_in(manifest: &Manifest, roots: &[PathBuf]) -> Result<PathBuf, ManifestError> {
    for root in roots {
        let dir = root.join(&manifest.name);
        if dir.is_dir() && manifest.present_in(&dir) {
            return Ok(dir);
        }
    }
    Err(ManifestError::Missing {
        name: manifest.name.clone(),
        how: manifest.how_to_get(),
        looked: roots
            .iter()
            .map(|r| r.join(&manifest.name).display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// [`locate_in`] over the default [`search_roots`].
pub fn locate(manifest: &Manifest) -> Result<PathBuf, ManifestError> {
    locate_in(manifest, &search_roots())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifests_parse_and_are_consistent() {
        let all = builtin();
        assert_eq!(all.len(), BUILTIN.len());
        for m in &all {
            for f in &m.files {
                // Every file can be verified somehow.
                let checkable = f.sha256.is_some() || f.tree_sha256.is_some() || f.md5.is_some();
                assert!(checkable, "{}: {} has no checksum", m.name, f.name);
                for h in [&f.sha256, &f.tree_sha256].into_iter().flatten() {
                    assert_eq!(h.len(), 64, "{}: bad sha256 {h}", m.name);
                    assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }
        assert_eq!(find("mnist").unwrap().files.len(), 4);
        assert_eq!(find("mnist").unwrap().format, Format::Idx);
        assert!(find("mnist-5k").unwrap().embedded);
    }

    #[test]
    fn unknown_fields_are_rejected_with_the_origin() {
        let text =
            "name='x'\ntitle='t'\nformat='idx'\nlicense='l'\ncredit='c'\ncolour='red'\n[[files]]\nname='a'\n";
        let err = Manifest::parse(text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("x.toml") && err.contains("colour"), "{err}");
    }

    #[test]
    fn unknown_dataset_lists_known_ones() {
        let err = find("imagenet").unwrap_err().to_string();
        assert!(err.contains("imagenet") && err.contains("mnist"), "{err}");
    }

    #[test]
    fn missing_dataset_names_the_fetch_command() {
        let m = find("mnist").unwrap();
        let err = locate_in(&m, &[PathBuf::from("/nonexistent-root")]).unwrap_err().to_string();
        assert!(err.contains("cargo xtask datasets fetch mnist"), "{err}");
        assert!(err.contains("/nonexistent-root/mnist"), "{err}");
    }

    #[test]
    fn derived_datasets_name_the_derive_command() {
        let m = find("edges2fashion").unwrap();
        assert_eq!((m.format, m.derived_from.clone()), (Format::Paired, vec!["fashion-mnist".to_string()]));
        let err = locate_in(&m, &[PathBuf::from("/nonexistent-root")]).unwrap_err().to_string();
        assert!(
            err.contains("cargo xtask datasets derive edges2fashion") && err.contains("fashion-mnist"),
            "{err}"
        );
        for m in builtin() {
            for source in &m.derived_from {
                assert!(find(source).is_ok(), "{} is derived from unknown {source}", m.name);
            }
        }
    }

    #[test]
    fn locate_finds_a_complete_folder_only() {
        let root = std::env::temp_dir().join(format!("gantry-manifest-{}", std::process::id()));
        let dir = root.join("mnist");
        std::fs::create_dir_all(&dir).unwrap();
        let m = find("mnist").unwrap();
        assert!(locate_in(&m, std::slice::from_ref(&root)).is_err());
        for f in &m.files {
            std::fs::write(dir.join(&f.name), b"").unwrap();
        }
        assert_eq!(locate_in(&m, std::slice::from_ref(&root)).unwrap(), dir);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
