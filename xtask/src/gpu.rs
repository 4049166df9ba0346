//! `cargo xtask gpu-check`: what only a GPU box can check, as one script that stays within ten
//! minutes. Each check prints one line (`ok`, `FAILED` with the reason, or `skipped` with why) and
//! the script goes on; the exit status is non-zero when any check failed. Results also go to
//! `results.json` in the work folder (`target/gpu-check/`).
//!
//! GPU machines are lent for minutes and reach no package registry, so the work splits in two:
//! `cargo xtask gpu-check --prepare` (here, no GPU needed) builds everything the checks run — the
//! release `gantry` with the `nccl` feature (it also trains on Gloo and the CPU), gantry-dist's
//! NCCL test binary and this xtask binary — into `target/gpu-check/prepared/` with a `run.sh`;
//! there, `bash target/gpu-check/prepared/run.sh` runs the checks against that machine's
//! PyTorch 2.11.0+cu130 libraries (`GANTRY_TORCH_LIB`, else its Python's torch) without building
//! anything. Plain `cargo xtask gpu-check` on a GPU machine with a toolchain does both.
//!
//! 1. The release binary with the `nccl` feature (CUDA runtime and NCCL headers from PyPI).
//! 2. gantry-dist's one-rank NCCL tests on `cuda:0`: the collectives, and synchronised BatchNorm
//!    against libtorch's batch_norm on the GPU.
//! 3. Every preset for 3 steps on `cuda` (presets whose data is missing are skipped).
//! 4. FID on `cuda` against the CPU's: `gantry eval fid` of 500 samples of step 3's dcgan-mnist
//!    checkpoint against the embedded digits with the `mnist` features, relative difference ≤ 1e-3
//!    (the generator and the features both run on each device).
//! 5. With two or more GPUs, `gantry train --nproc 2 --device cuda` (NCCL) for 20 steps.
//! 6. StyleGAN2 at 256² (`stylegan2-paper256`, batch 64 on one GPU): seconds per kimg, beside
//!    StyleGAN2-ADA's published 21.6–24.2 s/kimg on one V100 (its README's table).
//! 7. `[perf]` on cuda: `dcgan-mnist` at batch 128 for 40 steps in each of NCHW and NHWC, with
//!    and without the fused Adam kernel, then NHWC with fused Adam under `perf.precision = bf16`
//!    and `fp16` (loss scale and skipped updates reported): seconds per step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::{cargo, libtorch, repo_root, run_status};

/// `cargo xtask gpu-check` flags.
#[derive(clap::Args)]
pub struct GpuArgs {
    /// Here, without a GPU: build what the checks run into `target/gpu-check/prepared/`, with the
    /// `run.sh` that runs them on the GPU machine.
    #[arg(long, conflicts_with = "prepared")]
    prepare: bool,
    /// There: run the checks with the binaries `--prepare` left in DIR, against this machine's
    /// libtorch (`--torch-lib`).
    #[arg(long, value_name = "DIR")]
    prepared: Option<PathBuf>,
    /// The `lib/` folder of the libtorch the prepared binaries load (with `--prepared`).
    #[arg(long, value_name = "DIR", requires = "prepared")]
    torch_lib: Option<PathBuf>,
}

/// What the checks run: the `gantry` binary, gantry-dist's NCCL test binary (or how to build
/// and run it), the libtorch `lib/` they load, and the folder they work in.
struct Kit {
    gantry: PathBuf,
    nccl_test: NcclTest,
    torch_lib: PathBuf,
    work: PathBuf,
}

enum NcclTest {
    /// A built test binary.
    Binary(PathBuf),
    /// `cargo test` with these CUDA header folders (a machine with a toolchain).
    Cargo(Vec<String>, libtorch::Libtorch),
}

impl Kit {
    /// A command for one of the kit's binaries, loading its libtorch.
    fn command(&self, exe: &Path) -> Command {
        let mut c = Command::new(exe);
        let mut ld = vec![self.torch_lib.display().to_string()];
        if let Ok(old) = std::env::var("LD_LIBRARY_PATH") {
            ld.extend(old.split(':').filter(|p| !p.is_empty()).map(str::to_string));
        }
        c.env("LD_LIBRARY_PATH", ld.join(":"));
        c
    }
}

struct Check {
    name: String,
    outcome: Result<String, String>,
    skipped: bool,
}

/// Runs `cmd` with a time limit; its stdout on success, else the last lines of its output.
fn run_limited(mut cmd: Command, limit: Duration) -> Result<String, String> {
    let out_file = tempfile_path("out");
    let file = std::fs::File::create(&out_file).map_err(|e| e.to_string())?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = cmd.stdout(file).stderr(err).spawn().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", limit.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    if status.success() {
        Ok(text)
    } else {
        let tail: Vec<&str> = text.lines().rev().take(3).collect();
        Err(format!("{status}: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")))
    }
}

fn tempfile_path(tag: &str) -> PathBuf {
    let dir = repo_root().join("target/gpu-check");
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{tag}.{}.log", std::process::id()))
}

/// The last metrics.jsonl line of a run folder.
fn last_metrics(run: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).ok()?;
    serde_json::from_str(text.lines().last()?).ok()
}

fn gpus() -> usize {
    Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or(0, |o| String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.trim().is_empty()).count())
}

pub fn run(args: GpuArgs) -> Result<()> {
    if args.prepare {
        return prepare();
    }
    if let Some(dir) = &args.prepared {
        let torch_lib = match &args.torch_lib {
            Some(lib) => lib.clone(),
            None => bail!(
                "--prepared needs --torch-lib (the lib/ folder of this machine's torch; run.sh finds it)"
            ),
        };
        if !torch_lib.join("libtorch_cuda.so").exists() {
            bail!(
                "{} holds no libtorch_cuda.so: gpu-check needs the CUDA build (torch 2.11.0+cu130)",
                torch_lib.display()
            );
        }
        let work = dir.parent().map_or_else(|| dir.clone(), Path::to_path_buf);
        let kit = Kit {
            gantry: dir.join("gantry"),
            nccl_test: NcclTest::Binary(dir.join("nccl-test")),
            torch_lib,
            work,
        };
        return checks(&kit, Instant::now(), Vec::new());
    }
    let t0 = Instant::now();
    let lt = libtorch::setup()?;
    if !lt.lib_dir().join("libtorch_cuda.so").exists() {
        bail!(
            "{} is a CPU-only libtorch: gpu-check needs the CUDA build (torch 2.11.0+cu130)",
            lt.root.display()
        );
    }
    // 1. Build with NCCL.
    let include = libtorch::nccl_headers(&lt)?;
    let include: Vec<String> = include.iter().map(|p| p.display().to_string()).collect();
    let built = build_gantry(&lt, &include);
    let first = Check {
        name: "build --features nccl".into(),
        outcome: built.as_ref().map(|_| "built".into()).map_err(|e| e.to_string()),
        skipped: false,
    };
    report(&first);
    let gantry = built?;
    let kit = Kit {
        gantry,
        nccl_test: NcclTest::Cargo(include, lt.clone()),
        torch_lib: lt.lib_dir(),
        work: repo_root().join("target/gpu-check"),
    };
    checks(&kit, t0, vec![first])
}

/// The release `gantry` with the `nccl` feature.
fn build_gantry(lt: &libtorch::Libtorch, include: &[String]) -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "gantry-cli", "--features", "nccl"]);
    lt.apply(&mut build);
    build.env("GANTRY_CUDA_INCLUDE", include.join(":"));
    run_status(build, "cargo build --release --features nccl")?;
    Ok(repo_root().join("target/release/gantry"))
}

/// The NCCL test binary's cargo command (`--no-run` to build it only).
fn nccl_test_cargo(lt: &libtorch::Libtorch, include: &[String], no_run: bool) -> Command {
    let mut test = cargo();
    test.args(["test", "--release", "-p", "gantry-dist", "--features", "nccl", "--test", "nccl"]);
    if no_run {
        test.args(["--no-run", "--message-format=json-render-diagnostics"]);
    } else {
        test.args(["--", "--ignored"]);
    }
    lt.apply(&mut test);
    test.env("GANTRY_CUDA_INCLUDE", include.join(":"));
    test
}

/// `--prepare`: the binaries and `run.sh` into `target/gpu-check/prepared/`.
fn prepare() -> Result<()> {
    let lt = libtorch::setup()?;
    let include = libtorch::nccl_headers(&lt)?;
    let include: Vec<String> = include.iter().map(|p| p.display().to_string()).collect();
    let dir = repo_root().join("target/gpu-check/prepared");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let gantry = build_gantry(&lt, &include)?;
    std::fs::copy(&gantry, dir.join("gantry")).context("copying gantry")?;
    let out = nccl_test_cargo(&lt, &include, true).output().context("cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the NCCL test failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    // cargo's JSON messages name the test executable it built.
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == "nccl")
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .context("cargo built no NCCL test executable")?;
    std::fs::copy(&exe, dir.join("nccl-test")).context("copying the NCCL test")?;
    let me = std::env::current_exe().context("where xtask runs from")?;
    std::fs::copy(&me, dir.join("xtask")).context("copying xtask")?;
    let script = r#"#!/bin/sh
# Left by `cargo xtask gpu-check --prepare`: runs the GPU checks with the binaries beside this
# file against this machine's libtorch (GANTRY_TORCH_LIB, else its Python's torch/lib), building
# nothing. Run from the repository root (presets find their data under shared/).
set -e
here=$(cd "$(dirname "$0")" && pwd)
lib=${GANTRY_TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/xtask" gpu-check --prepared "$here" --torch-lib "$lib"
"#;
    let run = dir.join("run.sh");
    std::fs::write(&run, script)?;
    let mut total = 0u64;
    for name in ["gantry", "nccl-test", "xtask", "run.sh"] {
        let path = dir.join(name);
        let mut perms = std::fs::metadata(&path)?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms)?;
        let size = std::fs::metadata(&path)?.len();
        total += size;
        println!("{:>8.1} MB  {}", size as f64 / 1e6, path.display());
    }
    println!(
        "{:.1} MB in {}; on the GPU machine, from the repository root: bash target/gpu-check/prepared/run.sh",
        total as f64 / 1e6,
        dir.display()
    );
    Ok(())
}

fn report(c: &Check) {
    match (&c.outcome, c.skipped) {
        (_, true) => println!("skipped  {}: {}", c.name, c.outcome.as_ref().unwrap_or_else(|e| e)),
        (Ok(m), _) => println!("ok       {}: {m}", c.name),
        (Err(e), _) => println!("FAILED   {}: {e}", c.name),
    }
}

/// Checks 2–7 with `kit`, after `earlier` (check 1 when it was built here).
fn checks(kit: &Kit, t0: Instant, earlier: Vec<Check>) -> Result<()> {
    let n_gpus = gpus();
    if n_gpus == 0 {
        bail!("nvidia-smi lists no GPU: run gpu-check on a GPU machine");
    }
    eprintln!("gpu-check: {n_gpus} GPU(s), libtorch from {}", kit.torch_lib.display());
    let mut checks: Vec<Check> = earlier;
    let mut record = |name: &str, outcome: Result<String, String>, skipped: bool| {
        let c = Check { name: name.into(), outcome, skipped };
        report(&c);
        checks.push(c);
    };
    let gantry = || kit.command(&kit.gantry);

    // 2. The NCCL group test.
    let test = match &kit.nccl_test {
        NcclTest::Binary(exe) => {
            let mut c = kit.command(exe);
            c.arg("--ignored");
            c
        }
        NcclTest::Cargo(include, lt) => nccl_test_cargo(lt, include, false),
    };
    let r = run_limited(test, Duration::from_secs(240))
        .map(|_| "one-rank group on cuda:0, synchronised BatchNorm".to_string());
    record("NCCL group", r, false);

    // 3. Every preset for a few steps.
    let dir = kit.work.clone();
    std::fs::create_dir_all(&dir)?;
    let list = gantry().arg("presets").output().context("gantry presets")?;
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let Some(preset) = line.split_whitespace().next() else { continue };
        if preset == "stylegan2-paper256" {
            continue; // step 6
        }
        let out = dir.join(preset);
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = gantry();
        cmd.args(["train", "--preset", preset, "--device", "cuda", "--steps", "3", "--out"])
            .arg(&out)
            .args(["--set", "log.every=3", "--set", "log.sample_every=3", "--set", "log.checkpoint_every=3"]);
        let r = run_limited(cmd, Duration::from_secs(60));
        let missing = r.as_ref().err().is_some_and(|e| e.contains("not found") || e.contains("missing"));
        let r = r.map(|_| match last_metrics(&out).and_then(|m| m["sec_per_step"].as_f64()) {
            Some(s) => format!("3 steps, {s:.3} s/step"),
            None => "3 steps".into(),
        });
        record(&format!("train {preset}"), r, missing);
    }

    // 4. FID features on cuda against the CPU's.
    let fid = |device: &str| -> Result<f64, String> {
        let mut c = gantry();
        // The embedded digits against 500 samples of step 3's dcgan-mnist checkpoint (the same
        // latents on both devices).
        c.args(["eval", "fid", "--real", "mnist-5k", "--features", "mnist", "--n", "500", "--fake"])
            .arg(dir.join("dcgan-mnist"))
            .args(["--device", device, "--json"]);
        let text = run_limited(c, Duration::from_secs(120))?;
        let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).ok_or("no JSON line")?;
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        v["fid"].as_f64().ok_or_else(|| "no fid in the JSON".to_string())
    };
    let r = match (fid("cpu"), fid("cuda")) {
        (Ok(c), Ok(g)) => {
            let rel = (g - c).abs() / c.abs().max(1e-12);
            if rel <= 1e-3 {
                Ok(format!("cpu {c:.6}, cuda {g:.6} (relative {rel:.1e})"))
            } else {
                Err(format!("cpu {c:.6}, cuda {g:.6}: relative difference {rel:.1e} > 1e-3"))
            }
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    record("FID features cuda vs cpu", r, false);

    // 5. Two GPUs over NCCL.
    if n_gpus >= 2 {
        let out = dir.join("nproc2");
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = gantry();
        cmd.args([
            "train",
            "--preset",
            "stylegan2-mnist",
            "--device",
            "cuda",
            "--steps",
            "20",
            "--nproc",
            "2",
        ])
        .arg("--out")
        .arg(&out)
        .args(["--set", "log.every=10"]);
        let r = run_limited(cmd, Duration::from_secs(120)).map(|_| {
            let m = last_metrics(&out).unwrap_or_default();
            format!(
                "20 steps, {:.3} s/step, all-reduce {:.1}% of a step",
                m["sec_per_step"].as_f64().unwrap_or(f64::NAN),
                100.0 * m["allreduce_share"].as_f64().unwrap_or(f64::NAN)
            )
        });
        record("--nproc 2 on cuda (NCCL)", r, false);
    } else {
        record("--nproc 2 on cuda (NCCL)", Err("one GPU".into()), true);
    }

    // 6. StyleGAN2 at 256².
    let out = dir.join("paper256");
    let _ = std::fs::remove_dir_all(&out);
    let mut cmd = gantry();
    cmd.args(["train", "--preset", "stylegan2-paper256", "--device", "cuda", "--steps", "60", "--out"])
        .arg(&out)
        .args(["--set", "log.every=30", "--set", "log.sample_every=60", "--set", "log.checkpoint_every=60"]);
    let r = run_limited(cmd, Duration::from_secs(240)).and_then(|_| {
        let m = last_metrics(&out).ok_or("no metrics")?;
        let s = m["sec_per_step"].as_f64().ok_or("no sec_per_step")?;
        Ok(format!(
            "{:.2} s/kimg at batch 64 on one GPU (StyleGAN2-ADA's README: 21.6–24.2 s/kimg on one V100)",
            s * 1000.0 / 64.0
        ))
    });
    record("stylegan2-paper256 speed", r, false);

    // 7. [perf] on cuda.
    let settings = [
        ("nchw", false, "fp32"),
        ("nhwc", false, "fp32"),
        ("nchw", true, "fp32"),
        ("nhwc", true, "fp32"),
        ("nhwc", true, "bf16"),
        ("nhwc", true, "fp16"),
    ];
    for (format, fused, precision) in settings {
        let out = dir.join(format!("perf-{format}-{fused}-{precision}"));
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = gantry();
        cmd.args(["train", "--preset", "dcgan-mnist", "--device", "cuda", "--steps", "40", "--out"])
            .arg(&out)
            .args(["--set", "batch_size=128", "--set", "log.every=20", "--set", "log.sample_every=40"])
            .args([
                "--set",
                &format!("perf.memory_format={format}"),
                "--set",
                &format!("perf.fused_adam={fused}"),
                "--set",
                &format!("perf.precision=\"{precision}\""),
            ]);
        let r = run_limited(cmd, Duration::from_secs(60)).and_then(|_| {
            let m = last_metrics(&out).ok_or("no metrics")?;
            let scaling = match (m.get("fp16_scale"), m.get("fp16_skipped")) {
                (Some(s), Some(k)) => format!("; loss scale {s}, skipped updates per step {k}"),
                _ => String::new(),
            };
            Ok(format!(
                "{:.4} s/step (steps 21–40){scaling}",
                m["sec_per_step"].as_f64().ok_or("no sec_per_step")?
            ))
        });
        record(
            &format!("dcgan-mnist batch 128 on cuda, {format}, fused Adam {fused}, {precision}"),
            r,
            false,
        );
    }

    let failed: Vec<&str> =
        checks.iter().filter(|c| !c.skipped && c.outcome.is_err()).map(|c| c.name.as_str()).collect();
    let json: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| {
            serde_json::json!({
                "check": c.name, "skipped": c.skipped,
                "ok": c.outcome.is_ok(), "message": c.outcome.as_ref().unwrap_or_else(|e| e),
            })
        })
        .collect();
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&json)?)?;
    println!(
        "gpu-check took {:.0} s; {} checks, {} failed",
        t0.elapsed().as_secs_f64(),
        checks.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}
