//! What the binary's test files share: running `gantry` as a subprocess (libtorch's RNG is
//! global to a process), with LD_LIBRARY_PATH removed so that the binary must find libtorch
//! through its rpath, and asserting how it ends.
#![allow(dead_code)] // each test file uses some of these

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn gantry() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
    c.env_remove("LD_LIBRARY_PATH");
    c
}

/// The settings of a tiny `dcgan-mnist` run (widths 4, batch 8, 2 threads): a step takes
/// milliseconds.
pub const TINY: [&str; 4] = ["model.g_width=4", "model.d_width=4", "batch_size=8", "threads=2"];

/// `gantry train --preset dcgan-mnist` on the CPU for `steps` into `out`, with [`TINY`] and then
/// `sets` (later ones win).
pub fn tiny_dcgan(out: &Path, steps: u64, sets: &[&str]) -> Command {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", "dcgan-mnist", "--device", "cpu", "--steps", &steps.to_string(), "--out"])
        .arg(out);
    for kv in TINY.iter().chain(sets) {
        cmd.args(["--set", kv]);
    }
    cmd
}

/// The model of a checkpoint, loaded in this process.
pub fn model(path: &Path) -> gantry_train::capability::Model {
    gantry_train::capability::Model::load(path, tch::Device::Cpu).unwrap()
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("gantry runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "gantry panicked: {stderr}");
    out
}

pub fn ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "gantry failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Runs a command that must fail with one clear line; returns that line.
pub fn fails(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1, got {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

/// Every file below `dir` with its bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}
