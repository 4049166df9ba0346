//! The README's "Use gantry from your own crate", checked: a crate outside this workspace that
//! depends on gantry's crates (by path here; the README gives their registry form), with the
//! `custom_family` example as its `main.rs` and gantry-link's rpath step in its `build.rs`, builds
//! and its binary runs without `LD_LIBRARY_PATH`.
//!
//! It builds into this workspace's target folder with this workspace's lock file, after `cargo
//! test` has built the same dependencies, so only the crate itself is compiled.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::libtorch::Libtorch;
use crate::{cargo, repo_root};

/// The downstream crate's `Cargo.toml`: what the README tells a user to write.
fn manifest(root: &Path) -> String {
    let path = |p: &str| root.join(p).display().to_string();
    format!(
        r#"[package]
name = "my-gan"
version = "0.1.0"
edition = "2021"

[dependencies]
gantry = {{ path = {:?} }}
gantry-cli = {{ path = {:?} }}
tch = "=0.24.0"
# A binary depends on torch-sys itself, so that its build script learns where libtorch is.
torch-sys = "=0.24.0"
serde = {{ version = "1", features = ["derive"] }}

[build-dependencies]
gantry-link = {{ path = {:?} }}

[workspace]
"#,
        path(""),
        path("crates/gantry-cli"),
        path("crates/gantry-link"),
    )
}

/// Writes the crate under `target/downstream/my-gan`, builds it, and runs `my-gan presets`.
pub fn check(lt: &Libtorch) -> Result<()> {
    let root = repo_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
    let krate = target.join("downstream/my-gan");
    std::fs::create_dir_all(krate.join("src"))
        .with_context(|| format!("cannot create {}", krate.display()))?;
    std::fs::write(krate.join("Cargo.toml"), manifest(&root))?;
    std::fs::write(krate.join("build.rs"), "fn main() {\n    gantry_link::libtorch_rpath();\n}\n")?;
    std::fs::copy(root.join("examples/custom_family.rs"), krate.join("src/main.rs"))?;
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock"))?;
    let mut build = cargo();
    build.current_dir(&krate).args(["build", "--offline"]).env("CARGO_TARGET_DIR", &target);
    lt.apply(&mut build);
    crate::run_status(build, "building the downstream crate (target/downstream/my-gan)")?;
    let out = Command::new(target.join("debug/my-gan"))
        .env_remove("LD_LIBRARY_PATH")
        .arg("presets")
        .output()
        .context("could not run target/debug/my-gan")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !text.contains("selfmod-lsgan-mnist") || !text.contains("dcgan-mnist") {
        bail!(
            "the downstream binary did not list its family beside gantry's ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("downstream crate: built outside the workspace, and its binary lists its own family beside gantry's without LD_LIBRARY_PATH");
    Ok(())
}
