//! Ctrl-C through the binary: SIGINT (and SIGTERM) make `gantry train` finish the step, write a
//! checkpoint, print the resume command and exit 130; the resumed run equals an uninterrupted one
//! bit for bit.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{gantry, ok};

/// Logging every step, no checkpoint or grid but the last.
const LOG: [&str; 4] =
    ["log.every=1", "log.checkpoint_every=100000", "log.sample_every=100000", "log.keep_checkpoints=0"];

fn train_cmd(out: &Path, steps: u64) -> Command {
    common::tiny_dcgan(out, steps, &LOG)
}

/// Steps logged so far in a run's metrics.
fn logged_steps(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

fn interrupt(signal: &str, run: &Path) -> (u64, String) {
    let child = train_cmd(run, 1_000_000).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    while logged_steps(run) < 3 {
        assert!(t0.elapsed() < Duration::from_secs(120), "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(Command::new("kill").args([signal, &child.id().to_string()]));
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(130), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let step: u64 = stdout
        .split("stopped at step ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no 'stopped at step' in {stdout}"));
    (step, stdout)
}

#[test]
fn ctrl_c_checkpoints_and_the_resumed_run_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("interrupted");
    let (k, stdout) = interrupt("-INT", &run);
    assert!(k >= 3, "stopped after the third logged step or later: {k}");
    let ck_name = format!("checkpoints/step-{k:07}.safetensors");
    assert!(run.join(&ck_name).is_file(), "a checkpoint at the stop step");
    assert!(stdout.contains("--resume") && stdout.contains("--steps 1000000"), "{stdout}");
    // Resume to k + 3 and compare with a run that went to k + 3 at once.
    let target = k + 3;
    ok(gantry().args(["train", "--resume"]).arg(&run).args([
        "--steps",
        &target.to_string(),
        "--device",
        "cpu",
    ]));
    let straight = tmp.path().join("straight");
    ok(&mut train_cmd(&straight, target));
    let name = format!("checkpoints/step-{target:07}.safetensors");
    let (a, b) =
        (Checkpoint::load(&run.join(&name)).unwrap(), Checkpoint::load(&straight.join(&name)).unwrap());
    assert_eq!(a.tensors.keys().collect::<Vec<_>>(), b.tensors.keys().collect::<Vec<_>>());
    for (key, t) in &a.tensors {
        assert!(t.equal(&b.tensors[key]), "{key} differs after an interrupted run resumed");
    }
    // SIGTERM stops the same way.
    let (k2, _) = interrupt("-TERM", &tmp.path().join("terminated"));
    assert!(tmp.path().join("terminated").join(format!("checkpoints/step-{k2:07}.safetensors")).is_file());
}

/// The steps of a run's `metrics.jsonl`, in file order.
fn metric_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["step"].as_u64().unwrap())
        .collect()
}

/// One writer per run folder: while a `gantry train` holds the folder (here stopped with
/// SIGSTOP, so nothing changes under the test), a `--resume` of it is one line naming the
/// holder's pid and touches nothing; the holder then finishes with one trajectory in its
/// metrics. The OS releases the lock on any death: after `kill -9` the folder resumes.
#[test]
fn a_second_writer_is_refused_and_the_first_runs_files_are_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let child = common::tiny_dcgan(&run, 1_000_000, &[&LOG[..], &["log.checkpoint_every=2"]].concat())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let t0 = Instant::now();
    // A checkpoint to resume from: the second writer is refused once it has checked everything
    // else (a resume refused for another reason leaves the folder as it was too).
    while logged_steps(&run) < 3 || !run.join("checkpoints/step-0000002.safetensors").is_file() {
        assert!(t0.elapsed() < Duration::from_secs(120), "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(Command::new("kill").args(["-STOP", &pid]));
    let before = common::snapshot(&run);
    let line = common::fails(gantry().args(["train", "--resume"]).arg(&run).args(["--device", "cpu"]));
    assert!(line.contains(&format!("pid {pid}")) && line.contains("another gantry"), "{line}");
    assert_eq!(common::snapshot(&run), before, "the refused writer changed the run folder");
    // A new run into the same folder is refused as before (not empty).
    common::fails(&mut train_cmd(&run, 10));
    assert_eq!(common::snapshot(&run), before);
    ok(Command::new("kill").args(["-CONT", &pid]));
    ok(Command::new("kill").args(["-INT", &pid]));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let steps = metric_steps(&run);
    let k = *steps.last().unwrap();
    assert_eq!(steps, (1..=k).collect::<Vec<_>>(), "one trajectory in metrics.jsonl");
    // A writer killed with SIGKILL holds nothing: the folder resumes after it.
    let child = gantry()
        .args(["train", "--resume"])
        .arg(&run)
        .args(["--steps", "1000000", "--device", "cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while logged_steps(&run) < k as usize + 2 {
        assert!(t0.elapsed() < Duration::from_secs(240), "the resumed run did not step");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(Command::new("kill").args(["-KILL", &child.id().to_string()]));
    let _ = child.wait_with_output();
    let (newest, _) = gantry_train::run_dir::RunDir::new(&run).latest_checkpoint().unwrap();
    let steps = (newest + 1).to_string();
    ok(gantry().args(["train", "--resume"]).arg(&run).args(["--steps", &steps, "--device", "cpu"]));
}
