//! Pretrained weights that metrics need, found without a network: `$GANTRY_WEIGHTS/<file>`,
//! `$GANTRY_SHARED/weights/<file>` (a local mirror; `cargo xtask test` sets it), then
//! `<cache>/weights/<file>` (where `cargo xtask weights fetch` puts them).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{MetricError, Result};

/// The FID Inception-v3 (TF graph `inception-2015-12-05` converted to TorchScript, pool3 features).
pub const INCEPTION_FILE: &str = "fid-inception-2015-12-05.torchscript.pt";
/// Its size in bytes and sha256 (checked by `cargo xtask weights verify inception`).
pub const INCEPTION_SIZE: u64 = 87_335_461;
/// Its sha256, lowercase hex.
pub const INCEPTION_SHA256: &str = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34";

/// The folders searched for weight files, in order.
pub fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(p) = std::env::var_os("GANTRY_WEIGHTS").filter(|p| !p.is_empty()) {
        roots.push(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("GANTRY_SHARED").filter(|p| !p.is_empty()) {
        roots.push(PathBuf::from(p).join("weights"));
    }
    roots.push(gantry_manifest::cache_dir().join("weights"));
    roots
}

/// The path of weight file `name`; the error names the folders and the fetch command.
pub fn locate(name: &str, fetch: &str) -> Result<PathBuf> {
    let roots = search_roots();
    for r in &roots {
        let p = r.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(MetricError::Invalid(format!(
        "weights {name} not found (looked in {}); get them with `cargo xtask weights fetch {fetch}`",
        roots.iter().map(|r| r.display().to_string()).collect::<Vec<_>>().join(", ")
    )))
}

/// The sha256 of the file at `path`, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let err = |e: std::io::Error| MetricError::File { path: path.to_path_buf(), message: e.to_string() };
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).map_err(err)?, &mut hasher).map_err(err)?;
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sha256_of_a_file_is_lowercase_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            super::sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(super::sha256_file(&dir.path().join("missing")).is_err());
    }
}
