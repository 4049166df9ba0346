//! `cargo xtask bench`: each criterion bench beside its PyTorch peer (`benches/peers/*.py`), run from
//! this process with the same thread count, reported as medians and a ratio gantry/pytorch.
//! Results are also written to `target/bench/results.json`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::{cargo, libtorch, repo_root, run_status};

#[derive(Args)]
pub struct BenchArgs {
    /// CPU threads for both sides (default: the machine's available parallelism).
    #[arg(long)]
    threads: Option<usize>,
    /// Only this pair (e.g. `dcgan_step`).
    #[arg(long)]
    only: Option<String>,
}

/// A criterion bench and the PyTorch script measuring the same work.
struct Pair {
    /// `cargo bench --bench <bench>`.
    bench: &'static str,
    /// The criterion id, i.e. the folder under `target/criterion/`.
    criterion_id: &'static str,
    /// The peer script under `benches/peers/`.
    peer: &'static str,
    what: &'static str,
}

const PAIRS: &[Pair] = &[Pair {
    bench: "dcgan_step",
    criterion_id: "dcgan32_train_step/batch64",
    peer: "dcgan_step.py",
    what: "DCGAN-32 training step (D + G, batch 64, CPU)",
}];

pub fn run(args: BenchArgs) -> Result<()> {
    let lt = libtorch::setup()?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let python = lt
        .python
        .clone()
        .context("no Python with torch 2.11.0 is known for the PyTorch peers; set GANTRY_PYTHON to one")?;
    let mut results = Vec::new();
    for pair in PAIRS.iter().filter(|p| args.only.as_deref().is_none_or(|o| o == p.bench)) {
        let mut cmd = cargo();
        cmd.args(["bench", "--bench", pair.bench]).env("GANTRY_BENCH_THREADS", threads.to_string());
        lt.apply(&mut cmd);
        run_status(cmd, &format!("cargo bench --bench {}", pair.bench))?;
        let ours = criterion_median_ms(pair.criterion_id)?;

        let script = repo_root().join("benches/peers").join(pair.peer);
        let out = Command::new(&python)
            .arg(&script)
            .args(["--threads", &threads.to_string()])
            .output()
            .with_context(|| format!("cannot run {}", script.display()))?;
        if !out.status.success() {
            bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(last)
            .with_context(|| format!("{} printed no JSON result line: {last:?}", pair.peer))?;
        let peer = v["median_ms"].as_f64().context("peer JSON has no median_ms")?;
        let ratio = ours / peer;
        println!(
            "{}, {threads} threads: gantry {ours:.2} ms, pytorch {peer:.2} ms (median); ratio gantry/pytorch = {ratio:.3}",
            pair.what
        );
        results.push(serde_json::json!({
            "bench": pair.bench, "what": pair.what, "threads": threads,
            "gantry_median_ms": ours, "pytorch_median_ms": peer, "ratio": ratio,
        }));
    }
    let dir = repo_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    Ok(())
}

fn criterion_median_ms(id: &str) -> Result<f64> {
    let path: PathBuf = repo_root().join("target/criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let ns =
        v["median"]["point_estimate"].as_f64().with_context(|| format!("no median in {}", path.display()))?;
    Ok(ns / 1e6)
}
