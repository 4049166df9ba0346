//! `cargo xtask bench`: each criterion bench beside its PyTorch peer (`benches/peers/*.py`), run from
//! this process with the same thread count, reported as medians and a ratio gantry/pytorch.
//!
//! Shared machines drift by ±10% over a minute, so the two sides are measured in interleaved rounds
//! (peer, gantry, peer, gantry, …) and the ratio is taken between the medians over rounds. Each
//! peer runs in every configuration of [`VARIANTS`] (eager NCHW, eager channels-last,
//! `torch.compile`) each round; gantry is compared with the fastest of them, with the spread of
//! the per-round ratios, and with eager PyTorch.
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
    /// Only the pairs of this bench (e.g. `dcgan_step`) or criterion id prefix (`frechet`).
    #[arg(long)]
    only: Option<String>,
    /// Interleaved measurement rounds per pair.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// A criterion bench and the PyTorch script measuring the same work.
struct Pair {
    /// `cargo bench --bench <bench>`.
    bench: &'static str,
    /// The criterion id, i.e. the folder under `target/criterion/`.
    criterion_id: &'static str,
    /// The peer script under `benches/peers/`, if there is one, and its arguments.
    peer: Option<&'static str>,
    peer_args: &'static [&'static str],
    what: &'static str,
    /// An environment variable naming a folder of outside code the peer needs, and the peer's
    /// flag that takes it; the pair is skipped, saying so, when it is unset.
    needs: Option<(&'static str, &'static str)>,
}

/// A folder holding the augmentation authors' code (DiffAugment's `DiffAugment_pytorch.py`;
/// StyleGAN2-ADA's `training/`, `torch_utils/`, `dnnlib/`), which gantry does not ship.
const AUGMENT_CODE: (&str, &str) = ("GANTRY_AUGMENT_CODE", "--augment-code");

/// A checkout of ajbrock/BigGAN-PyTorch (their `BigGAN.py`, `layers.py`, `sync_batchnorm/`).
const BIGGAN_CODE: (&str, &str) = ("GANTRY_BIGGAN_CODE", "--biggan-code");

const PAIRS: &[Pair] = &[
    Pair {
        bench: "dcgan_step",
        criterion_id: "dcgan32_train_step/batch64",
        peer: Some("dcgan_step.py"),
        peer_args: &[],
        what: "DCGAN-32 training step (D + G, batch 64, CPU)",
        needs: None,
    },
    Pair {
        bench: "dcgan_step",
        criterion_id: "dcgan32_train_step/batch64_diffaug",
        peer: Some("dcgan_step.py"),
        peer_args: &["--augment", "diffaug"],
        what: "DCGAN-32 training step with DiffAugment color,translation,cutout on all D sees (peer: the authors' DiffAugment_pytorch.py)",
        needs: Some(AUGMENT_CODE),
    },
    Pair {
        bench: "dcgan_step",
        criterion_id: "dcgan32_train_step/batch64_ada_p0.5",
        peer: Some("dcgan_step.py"),
        peer_args: &["--augment", "ada"],
        what: "DCGAN-32 training step with ADA's bgc pipe at p = 0.5 on all D sees (peer: StyleGAN2-ADA's AugmentPipe)",
        needs: Some(AUGMENT_CODE),
    },
    Pair {
        bench: "stylegan2_step",
        criterion_id: "stylegan2_train_step/32x32_batch32",
        peer: Some("stylegan2_step.py"),
        peer_args: &["--resolution", "32"],
        what: "StyleGAN2 training step at 32x32 (stylegan2-mnist's network; D + G, batch 32, CPU)",
        needs: None,
    },
    Pair {
        bench: "stylegan2_step",
        criterion_id: "stylegan2_train_step/64x64_batch32",
        peer: Some("stylegan2_step.py"),
        peer_args: &["--resolution", "64"],
        what: "StyleGAN2 training step at 64x64 (stylegan2-orl's network; D + G, batch 32, CPU)",
        needs: None,
    },
    Pair {
        bench: "pix2pix_step",
        criterion_id: "pix2pix_train_step/64x64_batch1",
        peer: Some("pix2pix_step.py"),
        peer_args: &["--batch", "1", "--steps", "30"],
        what: "pix2pix training step at 64x64 (U-Net 6 downs ngf 64, 70x70 PatchGAN ndf 64; D + G, batch 1, CPU)",
        needs: None,
    },
    Pair {
        bench: "pix2pix_step",
        criterion_id: "pix2pix_train_step/64x64_batch16",
        peer: Some("pix2pix_step.py"),
        peer_args: &["--batch", "16"],
        what: "pix2pix training step at 64x64 (U-Net 6 downs ngf 64, 70x70 PatchGAN ndf 64; D + G, batch 16, CPU)",
        needs: None,
    },
    Pair {
        bench: "cyclegan_step",
        criterion_id: "cyclegan_train_step/64x64_batch1",
        peer: Some("cyclegan_step.py"),
        peer_args: &[],
        what: "CycleGAN training step at 64x64 RGB (2 ResNet-6 G ngf 64, 2 PatchGAN ndf 64, instance norm, pools; batch 1, CPU)",
        needs: None,
    },
    Pair {
        bench: "srgan_step",
        criterion_id: "srgan_train_step/x4_64x64_batch16",
        peer: Some("srgan_step.py"),
        peer_args: &[],
        what: "SRGAN training step x4 to 64x64 RGB (SRResNet 16 blocks, the paper's D, Inception-stem content + 1e-3 adversarial; batch 16, CPU)",
        needs: None,
    },
    Pair {
        bench: "biggan_step",
        criterion_id: "biggan_train_step/cifar_ch64_batch50_4d",
        peer: Some("biggan_step.py"),
        peer_args: &["--config", "cifar"],
        what: "BigGAN-CIFAR iteration (their launch_cifar_ema.sh networks: ch 64; 4 D steps + 1 G step + EMA, batch 50, CPU; peer: their BigGAN.py)",
        needs: Some(BIGGAN_CODE),
    },
    Pair {
        bench: "biggan_step",
        criterion_id: "biggan_train_step/cpu_ch16_batch32_2d",
        peer: Some("biggan_step.py"),
        peer_args: &["--config", "cpu"],
        what: "BigGAN iteration at CPU width (biggan-cifar10-cpu: ch 16, shared, hierarchical z, attention; 2 D + 1 G + EMA, batch 32; peer: their BigGAN.py)",
        needs: Some(BIGGAN_CODE),
    },
    Pair {
        bench: "metrics",
        criterion_id: "frechet/2048d",
        peer: Some("frechet.py"),
        peer_args: &[],
        what: "Frechet distance between 2048-d Gaussians (f64; peer: scipy sqrtm, pytorch-fid's formula)",
        needs: None,
    },
    Pair {
        bench: "metrics",
        criterion_id: "precision_recall/10k_x_10k_512d",
        peer: Some("prdc.py"),
        peer_args: &[],
        what: "precision/recall k=3, 10k x 10k features of 512-d (peer: NumPy blocked k-NN)",
        needs: None,
    },
    Pair {
        bench: "transport",
        criterion_id: "transport_w1/200x200",
        peer: None,
        peer_args: &[],
        what: "exact W1 (transportation simplex), 200x200 points in 2-D",
        needs: None,
    },
];

pub fn run(args: BenchArgs) -> Result<()> {
    let lt = libtorch::setup()?;
    if args.only.as_deref() == Some("dist") {
        return dist(&args, &lt);
    }
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let python = lt
        .python
        .clone()
        .context("no Python with torch 2.11.0 is known for the PyTorch peers; set GANTRY_PYTHON to one")?;
    // The metric peers need NumPy and SciPy beside torch; StyleGAN2-ADA's code (the ADA peer)
    // imports requests too.
    let have = Command::new(&python)
        .args(["-c", "import numpy, scipy, requests"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        eprintln!("installing numpy, scipy and requests for the peers into {}", python.display());
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "numpy",
            "scipy",
            "requests",
        ]);
        run_status(pip, "pip install numpy scipy requests")?;
    }
    let mut results = Vec::new();
    for pair in PAIRS
        .iter()
        .filter(|p| args.only.as_deref().is_none_or(|o| o == p.bench || p.criterion_id.starts_with(o)))
    {
        let mut peer_args: Vec<String> = pair.peer_args.iter().map(|a| a.to_string()).collect();
        if let Some((var, flag)) = pair.needs {
            match std::env::var(var) {
                Ok(dir) if !dir.is_empty() => peer_args.extend([flag.to_string(), dir]),
                _ => {
                    println!(
                        "{}: skipped ({var} is unset: set it to a folder holding the authors' code)",
                        pair.what
                    );
                    continue;
                }
            }
        }
        let mut ours = Vec::new();
        // Per variant: its median in each round it ran, or why it could not run.
        let mut peers: Vec<(&str, Vec<f64>, Option<String>)> =
            VARIANTS.iter().map(|v| (*v, Vec::new(), None)).collect();
        let rounds = if pair.peer.is_some() { args.rounds.max(1) } else { 1 };
        for round in 1..=rounds {
            if let Some(peer) = pair.peer {
                for (variant, times, failed) in &mut peers {
                    if failed.is_some() {
                        continue;
                    }
                    let mut a = peer_args.clone();
                    a.extend(["--variant".to_string(), variant.to_string()]);
                    match peer_median_ms(&python, peer, &a, threads) {
                        Ok(ms) => times.push(ms),
                        // eager is the reference: its failure is the bench's; the tuned variants
                        // may not work with every network (their code's views on channels-last
                        // tensors, Inductor's limits), which is reported, not fatal.
                        Err(e) if *variant != "eager" => *failed = Some(last_line(&format!("{e:#}"))),
                        Err(e) => return Err(e),
                    }
                }
            }
            let mut cmd = cargo();
            cmd.args([
                "bench",
                "--bench",
                pair.bench,
                "--",
                pair.criterion_id,
                // The id alone, not every id it prefixes (batch64 would run batch64_diffaug too).
                "--exact",
                "--warm-up-time",
                "2",
                "--measurement-time",
                "8",
            ])
            .args(["--sample-size", "10"])
            .env("GANTRY_BENCH_THREADS", threads.to_string());
            lt.apply(&mut cmd);
            run_status(cmd, &format!("cargo bench --bench {}", pair.bench))?;
            ours.push(criterion_median_ms(pair.criterion_id)?);
            if pair.peer.is_some() {
                let theirs: Vec<String> = peers
                    .iter()
                    .filter_map(|(v, t, f)| match (f, t.get(round - 1)) {
                        (None, Some(ms)) => Some(format!("{v} {ms:.2}")),
                        _ => None,
                    })
                    .collect();
                eprintln!(
                    "round {round}: gantry {:.2} ms, pytorch {} ms",
                    ours.last().unwrap_or(&0.0),
                    theirs.join(", ")
                );
            }
        }
        if pair.peer.is_none() {
            let g = median(&ours);
            println!("{}, {threads} threads: gantry {g:.2} ms (median; no peer)", pair.what);
            results
                .push(serde_json::json!({ "bench": pair.bench, "what": pair.what, "gantry_median_ms": g }));
            continue;
        }
        let g = median(&ours);
        let ran: Vec<&(&str, Vec<f64>, Option<String>)> =
            peers.iter().filter(|(_, t, f)| f.is_none() && t.len() == ours.len()).collect();
        let eager = median(&peers[0].1);
        let best =
            ran.iter().min_by(|a, b| median(&a.1).total_cmp(&median(&b.1))).context("no peer variant ran")?;
        let p = median(&best.1);
        // The spread: gantry over the best variant within each round (the two ran minutes apart).
        let per_round: Vec<f64> = ours.iter().zip(&best.1).map(|(g, p)| g / p).collect();
        let (lo, hi) = per_round.iter().fold((f64::MAX, f64::MIN), |(a, b), &r| (a.min(r), b.max(r)));
        let others: Vec<String> = peers
            .iter()
            .map(|(v, t, f)| match f {
                Some(why) => format!("{v}: did not run ({why})"),
                None => format!("{v} {:.2} ms", median(t)),
            })
            .collect();
        println!(
            "{}, {threads} threads, {} rounds: gantry {g:.2} ms; pytorch {} (medians); ratio gantry/best pytorch ({}) = {:.3} (rounds {lo:.3}..{hi:.3}); gantry/eager = {:.3}",
            pair.what,
            ours.len(),
            others.join(", "),
            best.0,
            g / p,
            g / eager,
        );
        let variants: serde_json::Map<String, serde_json::Value> = peers
            .iter()
            .map(|(v, t, f)| {
                let value = match f {
                    Some(why) => serde_json::json!({ "failed": why }),
                    None => serde_json::json!({ "ms_per_round": t, "median_ms": median(t) }),
                };
                (v.to_string(), value)
            })
            .collect();
        results.push(serde_json::json!({
            "bench": pair.bench, "what": pair.what, "threads": threads,
            "gantry_ms_per_round": ours, "gantry_median_ms": g,
            "pytorch": variants, "best_pytorch": best.0, "pytorch_median_ms": p,
            "ratio": g / p, "ratio_per_round": per_round, "ratio_eager": g / eager,
        }));
    }
    let dir = repo_root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    Ok(())
}

/// `--only dist`: data-parallel training on this CPU, `gantry train --nproc 2` with 1 thread per
/// rank and batch B each against one process with 2 threads and batch 2B (the same images per
/// step), both through the release binary on dcgan-mnist, in interleaved rounds; images per second
/// (the steady state: the second half of each run) and the share of rank 0's step spent averaging
/// gradients (`allreduce_share` in metrics.jsonl); and the 2-rank run again with synchronised
/// BatchNorm (`dist.sync_batchnorm`), whose cost is its ratio to the per-rank-BatchNorm run.
fn dist(args: &BenchArgs, lt: &libtorch::Libtorch) -> Result<()> {
    let mut build = cargo();
    build.args(["build", "--release", "-p", "gantry-cli"]);
    lt.apply(&mut build);
    run_status(build, "cargo build --release -p gantry-cli")?;
    let exe = repo_root().join("target/release/gantry");
    let tmp = repo_root().join("target/bench/dist");
    let (steps, batch) = (60u64, 64usize);
    // (images/s, allreduce share) of the last metrics line of a run.
    let measure = |name: &str, extra: &[&str]| -> Result<(f64, Option<f64>)> {
        let out = tmp.join(name);
        let _ = std::fs::remove_dir_all(&out);
        let mut cmd = Command::new(&exe);
        cmd.args(["train", "--preset", "dcgan-mnist", "--device", "cpu", "--steps", &steps.to_string()])
            .arg("--out")
            .arg(&out)
            .args(["--set", &format!("log.every={}", steps / 2), "--set", "log.tensorboard=false"])
            .args([
                "--set",
                &format!("log.sample_every={steps}"),
                "--set",
                &format!("log.checkpoint_every={steps}"),
            ])
            .args(extra);
        lt.apply(&mut cmd);
        run_status(cmd, &format!("gantry train ({name})"))?;
        let text = std::fs::read_to_string(out.join("metrics.jsonl"))?;
        let last: serde_json::Value = serde_json::from_str(text.lines().last().context("no metrics line")?)?;
        let sec = last["sec_per_step"].as_f64().context("no sec_per_step")?;
        Ok(((2 * batch) as f64 / sec, last["allreduce_share"].as_f64()))
    };
    let (mut single, mut ranks, mut shares, mut synced) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let b2 = format!("batch_size={}", 2 * batch);
    let b1 = format!("batch_size={batch}");
    for round in 1..=args.rounds.max(1) {
        single.push(measure("single", &["--set", &b2, "--set", "threads=2"])?.0);
        let (ips, share) = measure("ranks", &["--set", &b1, "--set", "threads=1", "--nproc", "2"])?;
        ranks.push(ips);
        shares.push(share.context("the 2-rank run logged no allreduce_share")?);
        let sync = ["--set", &b1, "--set", "threads=1", "--set", "dist.sync_batchnorm=true", "--nproc", "2"];
        synced.push(measure("synced", &sync)?.0);
        eprintln!(
            "round {round}: 2 ranks x 1 thread {:.0} img/s (all-reduce {:.1}% of a step; synchronised BatchNorm {:.0} img/s), 1 process x 2 threads {:.0} img/s",
            ips,
            100.0 * shares.last().unwrap_or(&0.0),
            synced.last().unwrap_or(&0.0),
            single.last().unwrap_or(&0.0)
        );
    }
    let sync_ratios: Vec<f64> = synced.iter().zip(&ranks).map(|(s, r)| s / r).collect();
    let (slo, shi) = sync_ratios.iter().fold((f64::MAX, f64::MIN), |(a, b), &r| (a.min(r), b.max(r)));
    let ratios: Vec<f64> = ranks.iter().zip(&single).map(|(r, s)| r / s).collect();
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(a, b), &r| (a.min(r), b.max(r)));
    println!(
        "dcgan-mnist training, {} rounds: 2 ranks x 1 thread (batch {batch} each) {:.0} img/s, 1 process x 2 threads (batch {}) {:.0} img/s (medians); ratio {:.3} (rounds {lo:.3}..{hi:.3}); all-reduce {:.1}% of rank 0's step",
        ratios.len(),
        median(&ranks),
        2 * batch,
        median(&single),
        median(&ratios),
        100.0 * median(&shares)
    );
    println!(
        "synchronised BatchNorm: {:.0} img/s, {:.3} of the per-rank-BatchNorm run (rounds {slo:.3}..{shi:.3})",
        median(&synced),
        median(&sync_ratios)
    );
    let result = serde_json::json!([{
        "bench": "dist", "what": "dcgan-mnist training: 2 ranks x 1 thread vs 1 process x 2 threads, same images per step",
        "ranks_img_per_s": ranks, "single_img_per_s": single, "ratio_per_round": ratios,
        "ratio_median": median(&ratios), "allreduce_share": shares,
        "sync_batchnorm_img_per_s": synced, "sync_batchnorm_ratio_per_round": sync_ratios,
        "sync_batchnorm_ratio_median": median(&sync_ratios),
    }]);
    std::fs::create_dir_all(&tmp)?;
    std::fs::write(repo_root().join("target/bench/dist.json"), serde_json::to_string_pretty(&result)?)?;
    Ok(())
}

/// The PyTorch configurations every peer runs (`benches/peers/harness.py`): eager NCHW, eager
/// channels-last, `torch.compile`. The first is the reference and must run.
const VARIANTS: [&str; 3] = ["eager", "channels_last", "compile"];

/// The last non-empty line of an error (a Python traceback's is the exception).
fn last_line(text: &str) -> String {
    text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_string()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs the peer script once; its last stdout line is `{"median_ms": ...}`.
fn peer_median_ms(python: &std::path::Path, peer: &str, args: &[String], threads: usize) -> Result<f64> {
    let script = repo_root().join("benches/peers").join(peer);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .args(["--threads", &threads.to_string()])
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(last)
        .with_context(|| format!("{peer} printed no JSON result line: {last:?}"))?;
    v["median_ms"].as_f64().context("peer JSON has no median_ms")
}

fn criterion_median_ms(id: &str) -> Result<f64> {
    let path: PathBuf = repo_root().join("target/criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let ns =
        v["median"]["point_estimate"].as_f64().with_context(|| format!("no median in {}", path.display()))?;
    Ok(ns / 1e6)
}
