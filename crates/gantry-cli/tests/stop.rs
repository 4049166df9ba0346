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
