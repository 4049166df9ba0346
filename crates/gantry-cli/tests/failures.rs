//! Runs that fail: a non-finite loss or parameter (`train.on_nonfinite = stop|skip`).

use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{gantry, ok, run, snapshot};

const SMALL: [&str; 8] = [
    "model.g_width=4",
    "model.d_width=4",
    "batch_size=8",
    "threads=2",
    "log.every=1",
    "log.checkpoint_every=5",
    "log.sample_every=100000",
    "log.keep_checkpoints=0",
];

fn train_cmd(out: &Path, steps: u64) -> Command {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", "dcgan-mnist", "--device", "cpu", "--steps", &steps.to_string(), "--out"])
        .arg(out);
    for kv in SMALL {
        cmd.args(["--set", kv]);
    }
    cmd
}

fn resume_cmd(dir: &Path, steps: u64) -> Command {
    let mut cmd = gantry();
    cmd.args(["train", "--resume"]).arg(dir).args(["--steps", &steps.to_string()]);
    cmd
}

fn ck(dir: &Path, step: u64) -> PathBuf {
    dir.join(format!("checkpoints/step-{step:07}.safetensors"))
}

/// Edits the run's config.toml: D's learning rate so large that its first update overflows
/// (params → ±inf, so G's loss is NaN), and the policy.
fn sabotage(dir: &Path, policy: &str) {
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, d_opt) = text.split_once("[train.d_opt]").unwrap();
    let d_opt = d_opt.replacen("lr = 0.0002", "lr = 1e39", 1);
    let head = head.replace("on_nonfinite = \"stop\"", &format!("on_nonfinite = \"{policy}\""));
    assert!(head.contains(&format!("on_nonfinite = \"{policy}\"")), "{head}");
    std::fs::write(&path, format!("{head}[train.d_opt]{d_opt}")).unwrap();
}

/// The last line of a failed command's stderr (training prints its progress before it).
fn error_line(cmd: &mut Command) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap().to_string();
    assert!(last.starts_with("error: "), "{stderr}");
    last
}

#[test]
fn a_nan_stops_the_run_and_leaves_the_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&mut train_cmd(&dir, 10));
    sabotage(&dir, "stop");
    let before = snapshot(&dir.join("checkpoints"));
    let e = error_line(&mut resume_cmd(&dir, 20));
    // The step, the term, what was (not) written, and what to do.
    assert!(e.contains("step 11: loss term 'g_loss' is NaN"), "{e}");
    assert!(e.contains("stopped without writing a checkpoint"), "{e}");
    assert!(e.contains(&ck(&dir, 10).display().to_string()) && e.contains("--resume"), "{e}");
    assert!(e.contains("on_nonfinite"), "{e}");
    assert_eq!(snapshot(&dir.join("checkpoints")), before, "checkpoints untouched, none added");
}

#[test]
fn skip_undoes_non_finite_steps_exactly_and_gives_up_after_ten_in_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    ok(&mut train_cmd(&dir, 10));
    sabotage(&dir, "skip");
    let out = ok(&mut resume_cmd(&dir, 15));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for step in 11..=15 {
        assert!(stderr.contains(&format!("step {step}: loss term 'g_loss' is NaN; step undone")), "{stderr}");
    }
    // Every network and optimiser state as at step 10: each of the five steps was undone.
    let (a, b) = (Checkpoint::load(&ck(&dir, 10)).unwrap(), Checkpoint::load(&ck(&dir, 15)).unwrap());
    assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
    for (k, t) in a.tensors.iter().filter(|(k, _)| k.as_str() != "meta.step") {
        assert!(t.equal(&b.tensors[k]), "{k} changed although every step was undone");
    }
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let skipped: Vec<u64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["step"].as_u64().unwrap() > 10)
        .map(|v| v["skipped_steps"].as_u64().unwrap())
        .collect();
    assert_eq!(skipped, vec![1; 5]);
    // Resumed: ten more undone in a row (16–25, checkpointed as they come), the eleventh stops.
    let e = error_line(&mut resume_cmd(&dir, 40));
    assert!(e.contains("step 26: loss term 'g_loss' is NaN"), "{e}");
    assert!(e.contains("gave up after 10 steps undone in a row"), "{e}");
    assert!(e.contains(&ck(&dir, 25).display().to_string()), "{e}");
    assert!(!ck(&dir, 30).exists());
}

#[test]
fn on_nonfinite_takes_stop_or_skip_only() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(train_cmd(&tmp.path().join("r"), 1).args(["--set", "train.on_nonfinite=maybe"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("train.on_nonfinite") && stderr.contains("\"skip\""), "{stderr}");
    assert!(!tmp.path().join("r").exists());
}
