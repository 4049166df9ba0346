//! `cargo xtask fuzz [--secs N] [--only TARGET]`: every reader of untrusted bytes
//! (`crates/gantry-fuzz`) under libFuzzer, through cargo-fuzz (`fuzz/`).
//!
//! cargo-fuzz is installed from crates.io when missing. Its instrumented build (SanitizerCoverage,
//! `--sanitizer none`: the readers are safe Rust, and libtorch is not built for ASan) runs on the
//! nightly toolchain when rustup has one, else on the stable toolchain with `RUSTC_BOOTSTRAP=1`
//! (cargo-fuzz passes a few `-Z` flags). Each target starts from its seeds (valid inputs written by
//! `fuzz-seeds`) plus the corpus earlier runs kept in `fuzz/corpus/<target>`, and runs `--secs`
//! seconds with libFuzzer's memory limit at 2 GB (an input that makes a reader allocate what it
//! only claims is an `oom-*` crash) and 10 s per input. Crashing inputs land in
//! `fuzz/artifacts/<target>/`; a fixed one goes to `crates/gantry-fuzz/regressions/<target>/`,
//! which the test suite replays.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, libtorch, repo_root, run_status};

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Only this target (see crates/gantry-fuzz: idx, idx_gz, cifar, csv, image, pairs, archive,
    /// checkpoint, npz, npy, config, set, manifest, tensorboard).
    #[arg(long)]
    only: Option<String>,
}

/// What one target's run found.
struct Outcome {
    target: String,
    runs: u64,
    corpus: usize,
    crashes: Vec<PathBuf>,
}

fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `cargo fuzz` with the toolchain that builds it.
fn cargo_fuzz(nightly: bool) -> Command {
    let mut cmd = if nightly {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly", "cargo", "fuzz"]);
        c
    } else {
        let mut c = cargo();
        c.env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
        c
    };
    cmd.current_dir(repo_root());
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    let ok = cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("xtask: installing cargo-fuzz from crates.io (once, ~2 min)");
        let mut cmd = cargo();
        cmd.args(["install", "cargo-fuzz", "--locked"]);
        run_status(cmd, "cargo install cargo-fuzz")?;
    }
    Ok(())
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect())
        .unwrap_or_default()
}

/// libFuzzer's `stat::number_of_executed_units`.
fn executed(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub fn run(a: FuzzArgs) -> Result<()> {
    let lt = libtorch::setup()?;
    ensure_cargo_fuzz()?;
    let nightly = has_nightly();
    let root = repo_root();
    // The seeds, written by a plain build of gantry-fuzz.
    let seeds = root.join("target/fuzz-seeds");
    let mut cmd = cargo();
    cmd.args(["run", "--release", "-q", "-p", "gantry-fuzz", "--bin", "fuzz-seeds", "--"]).arg(&seeds);
    lt.apply(&mut cmd);
    run_status(cmd, "writing the fuzz seeds")?;
    let mut cmd = cargo_fuzz(nightly);
    cmd.args(["build", "--sanitizer", "none", "-O", "reader"]);
    lt.apply(&mut cmd);
    run_status(cmd, "cargo fuzz build")?;
    let binary = root.join("fuzz/target/x86_64-unknown-linux-gnu/release/reader");
    if !binary.is_file() {
        bail!("cargo fuzz build left no {}", binary.display());
    }
    let targets: Vec<String> = std::fs::read_dir(&seeds)
        .with_context(|| format!("cannot list {}", seeds.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|t| a.only.as_ref().is_none_or(|o| o == t))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if targets.is_empty() {
        bail!("no fuzz target named {:?} (see crates/gantry-fuzz)", a.only.unwrap_or_default());
    }
    eprintln!(
        "fuzzing {} target(s), {} s each, toolchain {}",
        targets.len(),
        a.secs,
        if nightly { "nightly" } else { "stable (RUSTC_BOOTSTRAP=1)" }
    );
    let mut outcomes = Vec::new();
    for t in &targets {
        let corpus = root.join("fuzz/corpus").join(t);
        let artifacts = root.join("fuzz/artifacts").join(t);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        let before: Vec<PathBuf> = files_in(&artifacts);
        let mut cmd = Command::new(&binary);
        cmd.arg(&corpus)
            .arg(seeds.join(t))
            .arg(format!("-max_total_time={}", a.secs))
            .args(["-rss_limit_mb=2048", "-malloc_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .env("GANTRY_FUZZ_TARGET", t);
        lt.apply(&mut cmd);
        let out = cmd.output().with_context(|| format!("cannot run {}", binary.display()))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let crashes: Vec<PathBuf> =
            files_in(&artifacts).into_iter().filter(|p| !before.contains(p)).collect();
        if !out.status.success() && crashes.is_empty() {
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            bail!(
                "{t}: the fuzzer failed ({}):\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let o =
            Outcome { target: t.clone(), runs: executed(&stderr), corpus: files_in(&corpus).len(), crashes };
        eprintln!(
            "{:<12} {:>10} inputs  corpus {:>5}  crashes {}",
            o.target,
            o.runs,
            o.corpus,
            o.crashes.len()
        );
        outcomes.push(o);
    }
    println!("| target | inputs run | corpus kept | crashes |");
    println!("|---|---:|---:|---:|");
    for o in &outcomes {
        println!("| {} | {} | {} | {} |", o.target, o.runs, o.corpus, o.crashes.len());
    }
    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.crashes.is_empty()).collect();
    if !crashed.is_empty() {
        for o in &crashed {
            for c in &o.crashes {
                eprintln!(
                    "crash: {} (replay: GANTRY_FUZZ_TARGET={} {} {})",
                    c.display(),
                    o.target,
                    binary.display(),
                    c.display()
                );
            }
        }
        bail!("{} target(s) crashed: fix the reader, then move the input to crates/gantry-fuzz/regressions/<target>/", crashed.len());
    }
    Ok(())
}
