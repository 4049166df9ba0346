//! `cargo xtask datasets list | fetch NAME [--from DIR] | verify NAME [--dir DIR] | derive NAME [--from DIR]`.
//!
//! Fetch downloads each file of a manifest from its canonical URL (with a progress bar), or copies
//! it from a local mirror laid out as `<DIR>/<name>/...` (such as `../shared/datasets`), into
//! `$GANTRY_DATA/<name>` (default `<cache>/datasets/<name>`), then verifies every checksum.
//! Derive makes a gantry-made paired set (`edges2fashion`, `colorize-cifar`) from its source
//! dataset (fetched first when missing) with `gantry derive`, then verifies it the same way.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use gantry_manifest::{FileEntry, Manifest};
use sha2::{Digest, Sha256};

#[derive(Subcommand)]
pub enum DatasetsCmd {
    /// List the manifests and where each dataset was found.
    List,
    /// Download a dataset (or copy it from a local mirror) and verify it.
    Fetch {
        name: String,
        /// A local mirror holding `<DIR>/<name>/...`, e.g. ../shared/datasets.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Make a gantry-made dataset (edges2fashion, colorize-cifar) from its source and verify it.
    Derive {
        name: String,
        /// A local mirror to fetch the source dataset from when it is missing (../shared/datasets).
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// Check every file of a dataset against its manifest.
    Verify {
        name: String,
        /// The dataset folder (default: where gantry would find it).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub fn run(cmd: DatasetsCmd) -> Result<()> {
    match cmd {
        DatasetsCmd::List => {
            for m in gantry_manifest::builtin() {
                let place = if m.embedded {
                    "embedded in gantry".to_string()
                } else {
                    match gantry_manifest::locate(&m) {
                        Ok(dir) => format!("found at {}", dir.display()),
                        Err(_) => format!("missing: {}", m.how_to_get()),
                    }
                };
                println!("{:<14} {:<13} {:<48} {}", m.name, format!("{:?}", m.format), m.title, place);
            }
            Ok(())
        }
        DatasetsCmd::Fetch { name, from } => {
            let m = gantry_manifest::find(&name)?;
            let dest = gantry_manifest::fetch_root().join(&m.name);
            fetch(&m, from.as_deref(), &dest)?;
            verify(&m, &dest)?;
            println!("{} is ready in {}", m.name, dest.display());
            Ok(())
        }
        DatasetsCmd::Derive { name, from } => derive(&name, from.as_deref()),
        DatasetsCmd::Verify { name, dir } => {
            let m = gantry_manifest::find(&name)?;
            let dir = match dir {
                Some(d) => d,
                None => gantry_manifest::locate(&m)?,
            };
            verify(&m, &dir)?;
            println!("{}: every file matches its manifest ({})", m.name, dir.display());
            Ok(())
        }
    }
}

/// `cargo xtask datasets derive NAME`: the sources present (fetched from `from` if missing),
/// `gantry derive NAME` into the fetch root, then every checksum.
fn derive(name: &str, from: Option<&Path>) -> Result<()> {
    let m = gantry_manifest::find(name)?;
    if m.derived_from.is_empty() {
        bail!("{name} is not made by gantry: fetch it with `cargo xtask datasets fetch {name}`");
    }
    for source in &m.derived_from {
        let s = gantry_manifest::find(source)?;
        if gantry_manifest::locate(&s).is_err() {
            let Some(mirror) = from else {
                bail!("{name} is made from {source}, which is missing: fetch it first, or pass --from DIR");
            };
            let dest = gantry_manifest::fetch_root().join(&s.name);
            fetch(&s, Some(mirror), &dest)?;
            verify(&s, &dest)?;
        }
    }
    let dest = gantry_manifest::fetch_root().join(&m.name);
    if dest.exists() {
        if verify(&m, &dest).is_ok() {
            println!("{} is ready in {}", m.name, dest.display());
            return Ok(());
        }
        eprintln!("{} does not match its manifest: deriving it again", dest.display());
        std::fs::remove_dir_all(&dest).with_context(|| format!("cannot remove {}", dest.display()))?;
    }
    let mut cmd = crate::release_gantry()?;
    cmd.args(["derive", name, "--out"]).arg(&dest);
    crate::run_status(cmd, "gantry derive")?;
    verify(&m, &dest)?;
    println!("{} is ready in {}", m.name, dest.display());
    Ok(())
}

fn fetch(m: &Manifest, from: Option<&Path>, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    for f in &m.files {
        let target = dest.join(&f.name);
        if let Some(mirror) = from {
            let src = mirror.join(&m.name).join(&f.name);
            if !src.exists() {
                bail!("{} is not in the mirror: expected {}", f.name, src.display());
            }
            eprintln!("copying {} -> {}", src.display(), target.display());
            copy_tree(&src, &target)?;
        } else {
            let Some(url) = &f.url else {
                bail!(
                    "{} has no public download URL for {}; copy it from a local mirror with \
                     `cargo xtask datasets fetch {} --from DIR`",
                    m.name,
                    f.name,
                    m.name
                );
            };
            download(url, &target)?;
        }
    }
    Ok(())
}

/// Copies a file, or a folder recursively; files are written under a temporary name then renamed.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    if src.is_dir() {
        std::fs::create_dir_all(dst)?;
        for e in std::fs::read_dir(src)? {
            let e = e?;
            copy_tree(&e.path(), &dst.join(e.file_name()))?;
        }
        return Ok(());
    }
    let tmp = tmp_path(dst);
    std::fs::copy(src, &tmp)
        .with_context(|| format!("cannot copy {} to {}", src.display(), tmp.display()))?;
    std::fs::rename(&tmp, dst)?;
    Ok(())
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut name = p.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    p.with_file_name(name)
}

fn download(url: &str, target: &Path) -> Result<()> {
    eprintln!("downloading {url}");
    let mut resp = ureq::get(url).call().with_context(|| format!("download of {url} failed"))?;
    let len = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tmp = tmp_path(target);
    let result = (|| -> Result<()> {
        let mut out = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut reader = bar.wrap_read(resp.body_mut().as_reader());
        io::copy(&mut reader, &mut out).with_context(|| format!("download of {url} broke off"))?;
        out.sync_all()?;
        Ok(())
    })();
    bar.finish();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result?;
    std::fs::rename(&tmp, target)?;
    Ok(())
}

/// Checks every file of `m` in `dir`; the error names the file and the expected and found values.
pub fn verify(m: &Manifest, dir: &Path) -> Result<()> {
    for f in &m.files {
        let path = dir.join(&f.name);
        if !path.exists() {
            bail!("{}: {} is missing", m.name, path.display());
        }
        verify_file(f, &path).with_context(|| format!("{}: {}", m.name, path.display()))?;
        eprintln!("ok  {}", path.display());
    }
    Ok(())
}

fn verify_file(f: &FileEntry, path: &Path) -> Result<()> {
    if let Some(expected) = &f.sha256 {
        let (hash, size) = hash_payload(path)?;
        if let Some(want) = f.size {
            if size != want {
                bail!("payload size: expected {want} bytes, found {size}");
            }
        }
        if &hash != expected {
            bail!("payload sha256: expected {expected}, found {hash}");
        }
    }
    if let Some(expected) = &f.md5 {
        let mut hasher = md5::Md5::new();
        io::copy(&mut File::open(path)?, &mut hasher)?;
        let found = hex(&hasher.finalize());
        if &found != expected {
            bail!("md5: expected {expected}, found {found}");
        }
    }
    if f.tree_sha256.is_some() || !f.members.is_empty() {
        let members = list_members(path)?;
        if let Some(want) = f.member_count {
            if members.len() as u64 != want {
                bail!("member count: expected {want}, found {}", members.len());
            }
        }
        if let Some(expected) = &f.tree_sha256 {
            let found = tree_sha256(&members);
            if &found != expected {
                bail!("tree sha256: expected {expected}, found {found}");
            }
        }
        for want in &f.members {
            match members.iter().find(|m| m.path == want.path) {
                None => bail!("member {} is missing", want.path),
                Some(found) if found.size != want.size => {
                    bail!("member {}: expected {} bytes, found {}", want.path, want.size, found.size)
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

struct MemberHash {
    path: String,
    sha256: String,
    size: u64,
}

/// The sha256 of the `sha256sum`-style listing of `members`, sorted bytewise by path.
fn tree_sha256(members: &[MemberHash]) -> String {
    let mut sorted: Vec<&MemberHash> = members.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut h = Sha256::new();
    for m in sorted {
        h.update(format!("{}  {}\n", m.sha256, m.path).as_bytes());
    }
    hex(&h.finalize())
}

/// Every regular file of a folder or a `.tar.gz`/`.tgz`/`.tar`, with its sha256 and size.
fn list_members(path: &Path) -> Result<Vec<MemberHash>> {
    let mut out = Vec::new();
    if path.is_dir() {
        walk(path, path, &mut out)?;
        return Ok(out);
    }
    let name = path.to_string_lossy();
    let reader: Box<dyn Read> = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(File::open(path)?)))
    } else if name.ends_with(".tar") {
        Box::new(BufReader::new(File::open(path)?))
    } else {
        bail!("expected a folder or a .tar.gz archive");
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().context("not a tar archive")? {
        let mut entry = entry.context("corrupt tar archive")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let p = entry.path()?.to_string_lossy().trim_start_matches("./").to_string();
        let (sha256, size) = hash_reader(&mut entry)?;
        out.push(MemberHash { path: p, sha256, size });
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<MemberHash>) -> Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            walk(root, &p, out)?;
        } else if p.is_file() {
            let rel = p.strip_prefix(root)?.to_string_lossy().to_string();
            let (sha256, size) = hash_reader(&mut File::open(&p)?)?;
            out.push(MemberHash { path: rel, sha256, size });
        }
    }
    Ok(())
}

/// sha256 and size of a file's payload (decompressed when it ends in `.gz`).
fn hash_payload(path: &Path) -> Result<(String, u64)> {
    let file = BufReader::new(File::open(path)?);
    if path.extension().is_some_and(|e| e == "gz") {
        hash_reader(&mut flate2::read::GzDecoder::new(file)).context("corrupt gzip stream")
    } else {
        hash_reader(&mut { file })
    }
}

fn hash_reader(r: &mut dyn Read) -> Result<(String, u64)> {
    struct HashWriter(Sha256, u64);
    impl Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.update(buf);
            self.1 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut w = HashWriter(Sha256::new(), 0);
    io::copy(r, &mut w)?;
    Ok((hex(&w.0.finalize()), w.1))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_hash_matches_sha256sum_listing() {
        // printf 'a' | sha256sum -> ca97..., and the listing line format of sha256sum.
        let ms = vec![
            MemberHash { path: "b".into(), sha256: "2".repeat(64), size: 1 },
            MemberHash { path: "a".into(), sha256: "1".repeat(64), size: 1 },
        ];
        let listing = format!("{}  a\n{}  b\n", "1".repeat(64), "2".repeat(64));
        assert_eq!(tree_sha256(&ms), hex(&Sha256::digest(listing.as_bytes())));
    }

    /// `$GANTRY_SHARED/datasets`; panics naming what is missing.
    fn shared_datasets() -> PathBuf {
        let root =
            std::env::var_os("GANTRY_SHARED").expect("needs the local mirror: GANTRY_SHARED is not set");
        let p = PathBuf::from(root).join("datasets");
        assert!(p.is_dir(), "needs the local mirror: {} not found", p.display());
        p
    }

    /// Tests named `mirror::…`: `cargo xtask test` skips them by that name when the mirror is absent.
    mod mirror {
        use super::*;

        #[test]
        #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
        fn manifests_match_the_local_mirror() {
            let mirror = shared_datasets();
            let mut checked = 0;
            for m in gantry_manifest::builtin() {
                let dir = mirror.join(&m.name);
                if dir.is_dir() {
                    verify(&m, &dir).unwrap();
                    checked += 1;
                }
            }
            assert!(checked >= 5, "only {checked} manifests had a mirror copy");
        }

        #[test]
        #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
        fn fetch_from_a_mirror_copies_and_verifies_and_tampering_is_caught() {
            let mirror = shared_datasets();
            let tmp = std::env::temp_dir().join(format!("xtask-fetch-{}", std::process::id()));
            let m = gantry_manifest::find("orl-faces").unwrap();
            let dest = tmp.join("orl-faces");
            fetch(&m, Some(&mirror), &dest).unwrap();
            verify(&m, &dest).unwrap();
            let victim = dest.join("s7/3.pgm");
            let mut bytes = std::fs::read(&victim).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            std::fs::set_permissions(
                &victim,
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644),
            )
            .unwrap();
            std::fs::write(&victim, bytes).unwrap();
            let e = format!("{:#}", verify(&m, &dest).unwrap_err());
            assert!(e.contains("tree sha256: expected 22798a9e") && e.contains("found"), "{e}");
            let e = format!(
                "{:#}",
                fetch(&gantry_manifest::find("cifar10-jpg").unwrap(), None, &tmp.join("c")).unwrap_err()
            );
            assert!(e.contains("no public download URL") && e.contains("--from"), "{e}");
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }

    #[test]
    fn verify_reports_expected_and_found() {
        let dir = std::env::temp_dir().join(format!("xtask-verify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.bin"), b"abc").unwrap();
        let f = FileEntry {
            name: "f.bin".into(),
            url: None,
            sha256: Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()),
            size: Some(3),
            tree_sha256: None,
            member_count: None,
            md5: Some("900150983cd24fb0d6963f7d28e17f72".into()),
            members: vec![],
        };
        verify_file(&f, &dir.join("f.bin")).unwrap();
        std::fs::write(dir.join("f.bin"), b"abd").unwrap();
        let err = verify_file(&f, &dir.join("f.bin")).unwrap_err().to_string();
        assert!(err.contains("expected ba7816bf") && err.contains("found"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
