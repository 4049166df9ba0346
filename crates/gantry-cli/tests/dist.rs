//! Data-parallel training through the binary: `gantry train --nproc 2` (two processes, c10d's
//! Gloo over 127.0.0.1).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{gantry, ok};
use gantry_core::checkpoint::Checkpoint;

/// WGAN-GP on the 8-Gaussian ring (BatchNorm-free MLPs): `batch` per process, 1 thread each.
fn toy(out: &Path, steps: u64, batch: usize, nproc: Option<usize>) -> std::process::Command {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", "toy-ring", "--device", "cpu", "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .args(["--set", "loss=wgan-gp", "--set", &format!("batch_size={batch}"), "--set", "threads=1"])
        .args(["--set", "log.sample_every=1000", "--set", "log.tensorboard=false"]);
    if let Some(n) = nproc {
        cmd.args(["--nproc", &n.to_string()]);
    }
    cmd
}

/// A small `stylegan2-mnist` with nothing computed across the batch inside a step:
/// minibatch-stddev groups of 1, no path-length term (whose mean is per rank, as in
/// StyleGAN2-ADA's multi-GPU training).
const BATCH_FREE_STYLEGAN2: [&str; 6] = [
    "model.channel_base=256",
    "model.channel_max=16",
    "model.z_dim=16",
    "model.w_dim=16",
    "model.mbstd_group=1",
    "reg.pl_weight=0",
];

/// `gantry train --preset preset` for 3 steps into `out` on the CPU with 1 thread, `batch` per
/// process, `--nproc nproc` when given, then `sets`; its last checkpoint.
fn three_steps(preset: &str, out: &Path, batch: usize, nproc: Option<usize>, sets: &[&str]) -> Checkpoint {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", preset, "--device", "cpu", "--steps", "3", "--out"]).arg(out);
    let batch = format!("batch_size={batch}");
    for kv in ["threads=1", "log.tensorboard=false", &batch].iter().chain(sets) {
        cmd.args(["--set", kv]);
    }
    if let Some(n) = nproc {
        cmd.args(["--nproc", &n.to_string()]);
    }
    ok(&mut cmd);
    last_checkpoint(out)
}

fn last_checkpoint(run: &Path) -> Checkpoint {
    Checkpoint::load(&gantry_train::run_dir::resolve_checkpoint(run).unwrap()).unwrap()
}

/// (max |Δ|, share of elements with |Δ| > 1e-6) over the networks' variables (`g.`, `d.`).
fn weight_gap(a: &Checkpoint, b: &Checkpoint) -> (f64, f64) {
    weight_gap_where(a, b, |_| true)
}

/// [`weight_gap`] over the variables whose names pass `keep`.
fn weight_gap_where(a: &Checkpoint, b: &Checkpoint, keep: impl Fn(&str) -> bool) -> (f64, f64) {
    let (mut worst, mut off, mut total) = (0f64, 0i64, 0i64);
    let mut at = String::new();
    for (k, t) in a
        .tensors
        .iter()
        .filter(|(k, _)| (k.starts_with("g.") || k.starts_with("d.") || k.starts_with("g_ema.")) && keep(k))
    {
        let d = (t - b.get(k).unwrap()).abs();
        let m = d.max().double_value(&[]);
        if m > worst {
            worst = m;
            at = format!(
                "{k} ({} of {} elements > 1e-6)",
                d.gt(1e-6).sum(tch::Kind::Int64).int64_value(&[]),
                t.numel()
            );
        }
        off += d.gt(1e-6).sum(tch::Kind::Int64).int64_value(&[]);
        total += t.numel() as i64;
    }
    eprintln!("largest difference in {at}");
    (worst, off as f64 / total as f64)
}

/// Two ranks of batch 16 take the steps of one process of batch 32: the same data rows, the same
/// latents and gradient-penalty draws, gradients averaged. Tolerance: the two reduce in a
/// different order (the mean of two half-batch means vs one mean; gradients agree to ~1e-7
/// relative), and Adam divides each gradient element by its running RMS + ε (1e-8), so an
/// element whose gradients are ~ε (a unit that is dead for these inputs) can move by up to ~lr
/// (1e-4) differently per step; all else agrees to 1e-6. One process of batch 16 differs in
/// most elements.
#[test]
fn two_ranks_take_the_steps_of_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (two, one, half) = (tmp.path().join("two"), tmp.path().join("one"), tmp.path().join("half"));
    let out = ok(&mut toy(&two, 5, 16, Some(2)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("--nproc 2"), "the resume line keeps --nproc: {stdout}");
    ok(&mut toy(&one, 5, 32, None));
    ok(&mut toy(&half, 5, 16, None));
    let (two, one, half) = (last_checkpoint(&two), last_checkpoint(&one), last_checkpoint(&half));
    let (worst, share) = weight_gap(&two, &one);
    eprintln!(
        "2 ranks × 16 vs 1 × 32 after 5 steps: max |Δ| {worst:.2e}, {:.3}% of elements > 1e-6",
        share * 100.0
    );
    assert!(worst < 2e-4 && share < 0.01, "max |Δ| {worst}, share {share}");
    let (control, control_share) = weight_gap(&half, &one);
    eprintln!("1 × 16 vs 1 × 32: max |Δ| {control:.2e}, {:.1}% of elements > 1e-6", control_share * 100.0);
    assert!(control_share > 0.5, "1 × 16 vs 1 × 32: {control_share}");
    // Rank 0 alone wrote the run folder: one metrics line per log step, counting both ranks' images.
    let metrics = std::fs::read_to_string(tmp.path().join("two/metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    assert_eq!(last["kimg"].as_f64(), Some(5.0 * 32.0 / 1000.0));
}

/// DCGAN (BatchNorm in G and D) with `dist.sync_batchnorm`: each BatchNorm layer normalises with
/// the statistics of both ranks' rows, so 2 ranks × 4 take the steps of 1 process × 8 (the same
/// tolerance argument as the toy test: per-channel sums in another order, then Adam's division by
/// √v + ε). Without it each rank normalises its 4 rows alone (DDP's default) and the runs part.
#[test]
fn synchronised_batchnorm_on_two_ranks_takes_the_steps_of_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, steps: u64, batch: usize, nproc: Option<usize>, sync: bool| {
        let out = tmp.path().join(name);
        let (batch, sync) = (format!("batch_size={batch}"), format!("dist.sync_batchnorm={sync}"));
        let sets = [
            "model.g_width=8",
            "model.d_width=8",
            "model.z_dim=16",
            "threads=1",
            "log.tensorboard=false",
            "log.sample_every=1000",
            &batch,
            &sync,
        ];
        let mut cmd = common::tiny_dcgan(&out, steps, &sets);
        if let Some(n) = nproc {
            cmd.args(["--nproc", &n.to_string()]);
        }
        let out_put = ok(&mut cmd);
        (last_checkpoint(&out), String::from_utf8_lossy(&out_put.stderr).into_owned())
    };
    let (synced, banner) = run("synced", 4, 4, Some(2), true);
    assert!(banner.contains("batch 4 each, synchronised BatchNorm"), "{banner}");
    let (one, _) = run("one", 4, 8, None, true);
    let (local, _) = run("local", 4, 4, Some(2), false);
    let (worst, share) = weight_gap(&synced, &one);
    let (local_worst, local_share) = weight_gap(&local, &one);
    eprintln!(
        "DCGAN, 2 ranks × 4 with synchronised BatchNorm vs 1 × 8 after 4 steps: max |Δ| {worst:.2e}, {:.3}% > 1e-6; per-rank BatchNorm: max |Δ| {local_worst:.2e}, {:.1}% > 1e-6",
        share * 100.0,
        local_share * 100.0
    );
    assert!(worst < 2e-4 && share < 0.001, "max |Δ| {worst}, share {share}");
    assert!(local_share > 0.5, "per-rank BatchNorm vs 1 × 8: {local_share}");
    // The running statistics too (they are buffers: `weight_gap` compares them as well).
    let key = one.tensors.keys().find(|k| k.ends_with("running_var")).unwrap().clone();
    let d = (synced.get(&key).unwrap() - one.get(&key).unwrap()).abs().max().double_value(&[]);
    assert!(d < 1e-4, "{key}: {d}");
    // Stopped at step 2 and resumed to 4: bit-identical to the uninterrupted synced run (the
    // setting travels in the run's config).
    let _ = run("parts", 2, 4, Some(2), true);
    ok(gantry()
        .args(["train", "--resume"])
        .arg(tmp.path().join("parts"))
        .args(["--steps", "4", "--nproc", "2"]));
    let resumed = last_checkpoint(&tmp.path().join("parts"));
    for (k, t) in &synced.tensors {
        assert!(t.equal(resumed.get(k).unwrap()), "{k} differs after the resume");
    }
    // A gradient penalty differentiates through D's BatchNorm twice: refused with one line at the
    // first step, no checkpoint.
    let gp = tmp.path().join("gp");
    let mut cmd = common::tiny_dcgan(
        &gp,
        3,
        &["loss=wgan-gp", "model.g_width=8", "model.d_width=8", "batch_size=4", "threads=1"],
    );
    cmd.args(["--nproc", "2"]);
    let out = common::run(cmd.args(["--set", "dist.sync_batchnorm=true"]));
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(
        e.contains(
            "rank 0 of 2: synchronised BatchNorm's backward: synchronised BatchNorm has no second derivative"
        ),
        "{e}"
    );
    assert!(
        !gp.join("checkpoints").exists()
            || std::fs::read_dir(gp.join("checkpoints")).unwrap().next().is_none()
    );
}

/// The same for StyleGAN2 (style mixing, lazy R1, per-pixel noise, the EMA), with what StyleGAN2
/// computes over the batch inside a step made per-sample: minibatch-stddev groups of 1 and no
/// path-length term (the mean a penalty is measured against is per rank, as in StyleGAN2-ADA's
/// multi-GPU training). The EMA generator follows from identical weights; FID during training is
/// sharded over the ranks.
#[test]
fn stylegan2_on_two_ranks_takes_the_steps_of_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &Path, batch: usize, nproc: Option<usize>| {
        let sets = [BATCH_FREE_STYLEGAN2.as_slice(), &["eval.every=3", "eval.n=50"]].concat();
        three_steps("stylegan2-mnist", out, batch, nproc, &sets)
    };
    let two = run(&tmp.path().join("two"), 4, Some(2));
    let one = run(&tmp.path().join("one"), 8, None);
    let half = run(&tmp.path().join("half"), 4, None);
    let (worst, share) = weight_gap(&two, &one);
    let (_, control) = weight_gap(&half, &one);
    eprintln!(
        "StyleGAN2, 2 ranks × 4 vs 1 × 8 after 3 steps: max |Δ| {worst:.2e}, {:.3}% > 1e-6 (1 × 4: {:.1}%)",
        share * 100.0,
        control * 100.0
    );
    assert!(worst < 3.0 * 2.5e-3 && share < 0.01, "max |Δ| {worst}, share {share}");
    assert!(control > 0.5, "1 × 4 vs 1 × 8: {control}");
    // FID during training, sharded over the ranks (25 samples each, features gathered on rank
    // 0), agrees with one process's over the same 50 latents.
    let fid = |run: &str| -> f64 {
        let text = std::fs::read_to_string(tmp.path().join(run).join("metrics.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        last["fid_mnist"].as_f64().unwrap()
    };
    let (f2, f1, fh) = (fid("two"), fid("one"), fid("half"));
    eprintln!("FID during training: 2 ranks {f2:.6}, 1 process {f1:.6} (1 × 4: {fh:.6})");
    assert!((f2 - f1).abs() < 1e-3 * f1, "{f2} vs {f1}");
}

/// BigGAN (a family outside gantry-train, registered by the binary's `main`) with synchronised
/// BatchNorm: 2 ranks × 4 take the steps of 1 process × 8 — two D steps on fresh batches, class
/// labels and hierarchical z drawn per sample, the class-conditional BatchNorms' statistics over
/// both ranks' rows, spectral-norm vectors and the whole-state EMA equal on every rank. Same
/// tolerance argument as the DCGAN test above; all but the biases a BatchNorm cancels (and the
/// statistics that follow them) agree to 1e-5.
#[test]
fn biggan_on_two_ranks_takes_the_steps_of_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, batch: usize, nproc: Option<usize>| {
        let sets = [
            "data=\"mnist-5k\"",
            "model.g_ch=4",
            "model.d_ch=4",
            "train.ema_start=2",
            "eval.every=0",
            "log.sample_every=1000",
            "dist.sync_batchnorm=true",
        ];
        three_steps("biggan-cifar10-cpu", &tmp.path().join(name), batch, nproc, &sets)
    };
    let two = run("two", 4, Some(2));
    let one = run("one", 8, None);
    let half = run("half", 4, None);
    // Biases that a training-mode BatchNorm cancels: each G block's conv1 feeds the block's bn2,
    // its conv2 and shortcut the next block's bn1 or the output BatchNorm (block 1's through the
    // attention, whose γ starts at 0, so its output is its input plus a little). Their gradients
    // are rounding, which Adam (β1 = 0) turns into steps of up to ~√t·lr in either direction, so
    // they are bounded apart (3 steps at lr 2e-4: Σ√t·lr ≈ 8.3e-4).
    let cancelled = |k: &str| k.starts_with('g') && k.contains(".conv") && k.ends_with(".bias");
    // BatchNorm statistics follow those biases (a block's bn2 sees its conv1's bias) and are
    // bounded with them.
    let follows = |k: &str| cancelled(k) || k.contains("stored_");
    let (worst, share) = weight_gap_where(&two, &one, |k| !follows(k));
    let (rounding, _) = weight_gap_where(&two, &one, follows);
    let (_, control) = weight_gap(&half, &one);
    eprintln!(
        "BigGAN, 2 ranks × 4 vs 1 × 8 after 3 steps: max |Δ| {worst:.2e}, {:.3}% > 1e-6 (BatchNorm-cancelled biases and statistics: {rounding:.2e}; 1 × 4: {:.1}%)",
        share * 100.0,
        control * 100.0
    );
    assert!(worst < 1e-5, "max |Δ| {worst}, share {share}");
    assert!(rounding < 2.0 * 8.3e-4, "BatchNorm-cancelled biases and statistics: {rounding}");
    assert!(control > 0.5, "1 × 4 vs 1 × 8: {control}");
}

/// `train.accumulate = 2` at batch 16 takes the steps of one batch of 32, in one process and on
/// 2 ranks of 2 micro-batches of 8 (the same rows, latents and gradient-penalty draws; gradients
/// summed over micro-batches, then averaged over them and the ranks). Same tolerance argument as
/// the 2-rank test above: the mean of partial means vs one mean, then Adam's division by √v + ε.
/// A resumed accumulating run is bit-identical to an uninterrupted one; what cannot accumulate
/// is refused in one line.
#[test]
fn accumulated_micro_batches_take_the_steps_of_one_batch_of_their_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name);
    let accumulating = |name: &str, steps: u64, batch: usize, k: u32, nproc: Option<usize>| {
        let mut cmd = toy(&dir(name), steps, batch, nproc);
        cmd.args(["--set", &format!("train.accumulate={k}")]);
        ok(&mut cmd)
    };
    let out = accumulating("acc", 5, 16, 2, None);
    let banner = String::from_utf8_lossy(&out.stderr);
    assert!(banner.contains("2 micro-batches of 16 per update (32 samples)"), "{banner}");
    accumulating("ranks", 5, 8, 2, Some(2));
    ok(&mut toy(&dir("one"), 5, 32, None));
    ok(&mut toy(&dir("half"), 5, 16, None));
    let [acc, ranks, one, half] = ["acc", "ranks", "one", "half"].map(|n| last_checkpoint(&dir(n)));
    for (what, run) in [("1 × 2 micro-batches × 16", &acc), ("2 ranks × 2 micro-batches × 8", &ranks)] {
        let (worst, share) = weight_gap(run, &one);
        eprintln!(
            "{what} vs 1 × 32 after 5 steps: max |Δ| {worst:.2e}, {:.3}% of elements > 1e-6",
            share * 100.0
        );
        assert!(worst < 2e-4 && share < 0.01, "{what}: max |Δ| {worst}, share {share}");
    }
    let (_, control) = weight_gap(&half, &one);
    assert!(control > 0.5, "1 × 16 vs 1 × 32: {control}");
    // The config keeps the setting; kimg counts every micro-batch of every rank.
    let config = std::fs::read_to_string(dir("ranks").join("config.toml")).unwrap();
    assert!(config.contains("accumulate = 2"), "{config}");
    for run in ["acc", "ranks"] {
        let metrics = std::fs::read_to_string(dir(run).join("metrics.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
        assert_eq!(last["kimg"].as_f64(), Some(5.0 * 32.0 / 1000.0), "{run}");
    }
    // Stopped at 3 and resumed to 5: bit-identical.
    accumulating("parts", 3, 16, 2, None);
    ok(gantry().args(["train", "--resume"]).arg(dir("parts")).args(["--steps", "5"]));
    let resumed = last_checkpoint(&dir("parts"));
    for (k, t) in &acc.tensors {
        assert!(t.equal(resumed.get(k).unwrap()), "{k} differs after the resume");
    }
    // One line each for a bad count and for unrolled look-ahead steps, no run folder left.
    for (set, expect) in [
        ("train.accumulate=0", "train.accumulate: expected a whole number of micro-batches ≥ 1, found 0"),
        ("train.unroll=2", "train.unroll = 2 takes its look-ahead D steps within each G step"),
    ] {
        let out_dir = dir("refused");
        let mut cmd = toy(&out_dir, 2, 8, None);
        let out = common::run(cmd.args(["--set", "train.accumulate=2", "--set", set]));
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{e}");
        assert!(e.contains(expect) && e.trim().lines().count() == 1, "{e}");
        assert!(!out_dir.join("config.toml").exists());
    }
}

/// StyleGAN2 with ADA, lazy R1, per-pixel noise and the EMA: 2 micro-batches of 4 take the
/// steps of one batch of 8 — the EMA moves once per update, ADA counts the signs of both
/// micro-batches and counts one update. Twice: adaptive (its state compared; the untrained D
/// scores every real below 0, so p stays at 0 here) and at a fixed p of 0.5 (the pipe's per-sample
/// draws). Style mixing is off (each micro-batch draws its own cutoff, as StyleGAN2-ADA's
/// accumulation rounds do) and so are what it computes over the batch (minibatch-stddev groups
/// of 1, no path-length mean), as in the 2-rank test above. The mapping network's tracked mean
/// of W moves on every training forward, so once per micro-batch (as in their rounds): it is
/// bounded on its own (it only serves truncation).
#[test]
fn stylegan2_with_ada_accumulates_two_micro_batches_as_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, batch: usize, k: u32, augment: &[&str]| {
        let acc = format!("train.accumulate={k}");
        let mut sets = BATCH_FREE_STYLEGAN2.to_vec();
        sets.extend(["reg.style_mixing=0", "log.sample_every=1000", &acc]);
        sets.extend(augment);
        three_steps("stylegan2-mnist", &tmp.path().join(name), batch, None, &sets)
    };
    let adaptive = ["augment.ada_target=0.6", "augment.ada_interval=2", "augment.ada_kimg=0.05"];
    let w_avg = |k: &str| k.ends_with("mapping.w_avg");
    for (what, augment) in [("adaptive", &adaptive[..]), ("p = 0.5", &["augment.p=0.5"][..])] {
        let acc = run(&format!("{what} acc"), 4, 2, augment);
        let one = run(&format!("{what} one"), 8, 1, augment);
        let (worst, share) = weight_gap_where(&acc, &one, |k| !w_avg(k));
        let (w_avg_gap, _) = weight_gap_where(&acc, &one, w_avg);
        eprintln!(
            "StyleGAN2 + ADA ({what}), 2 micro-batches × 4 vs 1 × 8 after 3 steps: max |Δ| {worst:.2e}, {:.3}% > 1e-6 (W's tracked mean: {w_avg_gap:.2e})",
            share * 100.0,
        );
        assert!(worst < 3.0 * 2.5e-3 && share < 0.01, "{what}: max |Δ| {worst}, share {share}");
        assert!(w_avg_gap < 0.1, "{what}: W's tracked mean: {w_avg_gap}");
        if what == "adaptive" {
            // p, the sign sum and count since the last adjustment (at update 2), the updates
            // counted since, the last r_t: update 3's 8 signs are waiting.
            let state =
                |c: &Checkpoint| Vec::<f32>::try_from(c.get("ada.state").unwrap().flatten(0, -1)).unwrap();
            let (a, b) = (state(&acc), state(&one));
            eprintln!("ADA's state after 3 updates: {a:?} (1 × 8: {b:?})");
            assert_eq!(a, b);
            assert!(a[2] == 8.0 && a[3] == 1.0, "{a:?}");
            let half = run("half", 4, 1, augment);
            let (_, control) = weight_gap(&half, &one);
            assert!(control > 0.5, "1 × 4 vs 1 × 8: {control}");
        }
    }
}

/// A 2-rank run stopped at step 3 and resumed to 6 ends bit-identical to an uninterrupted one.
#[test]
fn a_resumed_two_rank_run_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, parts) = (tmp.path().join("whole"), tmp.path().join("parts"));
    ok(&mut toy(&whole, 6, 8, Some(2)));
    ok(&mut toy(&parts, 3, 8, Some(2)));
    ok(gantry().args(["train", "--resume"]).arg(&parts).args(["--steps", "6", "--nproc", "2"]));
    let (a, b) = (last_checkpoint(&whole), last_checkpoint(&parts));
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (k, t) in &a.tensors {
        assert!(t.equal(b.get(k).unwrap()), "{k} differs after the resume");
    }
}

/// SIGKILL to rank 1 mid-run: rank 0 stops with one line within seconds, the launcher exits
/// non-zero naming the rank, and the last checkpoint loads and resumes.
#[test]
fn a_killed_rank_ends_the_run_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut cmd = toy(&run, 1_000_000, 8, Some(2));
    cmd.args(["--set", "log.checkpoint_every=20", "--set", "log.every=20"]).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut rank1 = None;
    let start = Instant::now();
    let checkpoints = run.join("checkpoints");
    while start.elapsed() < Duration::from_secs(120) {
        while let Ok(l) = rx.try_recv() {
            if let Some(pid) = l.strip_prefix("gantry: rank 1 of 2 is pid ") {
                rank1 = Some(pid.trim().to_string());
            }
            lines.push(l);
        }
        let n = std::fs::read_dir(&checkpoints).map_or(0, |d| d.count());
        if rank1.is_some() && n >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = rank1.expect("the launcher names rank 1's pid");
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(killed.elapsed() < Duration::from_secs(60), "rank 0 did not stop after rank 1 died");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    lines.extend(rx.try_iter());
    let text = lines.join("\n");
    eprintln!("stopped {:.2?} after the kill", killed.elapsed());
    assert_eq!(status.code(), Some(1), "{text}");
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains("rank 0 of 2: the data-parallel group failed"), "{text}");
    assert!(
        text.contains("gantry: rank 1 ended with signal 9") || text.contains("gantry: rank 0 ended"),
        "{text}"
    );
    // The newest checkpoint is whole, and the run continues from it.
    let (step, _) = gantry_train::run_dir::RunDir::new(&run).latest_checkpoint().unwrap();
    let _ = last_checkpoint(&run);
    ok(gantry().args(["train", "--resume"]).arg(&run).args([
        "--steps",
        &(step + 2).to_string(),
        "--nproc",
        "2",
    ]));
    let path: PathBuf = gantry_train::run_dir::resolve_checkpoint(&run).unwrap();
    assert!(path.to_string_lossy().contains(&format!("{:07}", step + 2)), "{}", path.display());
}

/// Ctrl-C to the whole process group (as a terminal sends it): every rank stops after the same
/// step, rank 0 checkpoints it and prints the resume command with `--nproc 2`, the launcher exits
/// 130; resumed, the run ends bit-identical to an uninterrupted one.
#[test]
fn ctrl_c_stops_every_rank_at_one_step_and_the_resume_is_bit_identical() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut cmd = toy(&run, 1_000_000, 8, Some(2));
    cmd.args(["--set", "log.every=10"]).process_group(0).stdout(Stdio::piped()).stderr(Stdio::null());
    let child = cmd.spawn().unwrap();
    let pgid = child.id();
    let start = Instant::now();
    while std::fs::read_to_string(run.join("metrics.jsonl")).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "no metrics after a minute");
        std::thread::sleep(Duration::from_millis(50));
    }
    // procps' kill takes a process group only after `--`.
    assert!(std::process::Command::new("kill")
        .args(["-s", "INT", "--", &format!("-{pgid}")])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    let step: u64 = stdout
        .split("stopped at step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(stdout.contains("--nproc 2"), "{stdout}");
    let (ck_step, _) = gantry_train::run_dir::RunDir::new(&run).latest_checkpoint().unwrap();
    assert_eq!(ck_step, step);
    let target = (step + 3).to_string();
    ok(gantry().args(["train", "--resume"]).arg(&run).args(["--steps", &target, "--nproc", "2"]));
    let whole = tmp.path().join("whole");
    ok(toy(&whole, step + 3, 8, Some(2)).args(["--set", "log.every=10"]));
    let (a, b) = (last_checkpoint(&run), last_checkpoint(&whole));
    for (k, t) in a.tensors.iter().filter(|(k, _)| !k.starts_with("meta.")) {
        assert!(t.equal(b.get(k).unwrap()), "{k} differs after the resume");
    }
}

#[test]
fn nproc_refuses_a_single_process_and_torchrun_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let e = common::fails(&mut toy(&tmp.path().join("a"), 2, 8, Some(1)));
    assert!(e.contains("--nproc: expected ≥ 2 processes, found 1"), "{e}");
    let e = common::fails(toy(&tmp.path().join("b"), 2, 8, Some(2)).env("WORLD_SIZE", "2"));
    assert!(e.contains("under torchrun or srun"), "{e}");
    let e = common::fails(toy(&tmp.path().join("c"), 2, 8, None).env("WORLD_SIZE", "2").env("RANK", "0"));
    assert!(e.contains("needs MASTER_ADDR and MASTER_PORT"), "{e}");
    assert!(!tmp.path().join("a").exists() && !tmp.path().join("c").exists());
}
