//! One critic step for every adversarial family: pix2pix, CycleGAN and SRGAN used to write their
//! own D steps and silently ignored `reg.drift` (accepted and validated, never applied). Each now
//! goes through `critic_step`; here, through the binary, the same tiny run with and without
//! `reg.drift = 0.01` logs the same first `d_loss` (D is the same before its first update) and a
//! `d_reg` of 0 against a positive one (ProGAN's ε·E[D(x)²] on the real scores).

use std::path::Path;

mod common;
use common::{gantry, ok};

/// The first logged line of a run's metrics.
fn first_line(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

/// Trains `preset` on `data` for 2 steps into `out`, logging every step, with `sets`.
fn train(preset: &str, data: &Path, out: &Path, sets: &[&str]) {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", preset, "--steps", "2", "--device", "cpu", "--out"]).arg(out);
    cmd.arg("--set").arg(format!("data={}", data.display()));
    for kv in ["threads=2", "log.every=1", "log.checkpoint_every=2", "log.grid=4", "batch_size=4"]
        .iter()
        .chain(sets)
    {
        cmd.args(["--set", kv]);
    }
    ok(&mut cmd);
}

fn drift_changes_d_reg(preset: &str, data: &Path, sets: &[&str], tmp: &Path) {
    let (plain, drift) = (tmp.join(format!("{preset}-plain")), tmp.join(format!("{preset}-drift")));
    train(preset, data, &plain, sets);
    let with: Vec<&str> = sets.iter().copied().chain(["reg.drift=0.01"]).collect();
    train(preset, data, &drift, &with);
    let (a, b) = (first_line(&plain), first_line(&drift));
    assert_eq!(a["d_loss"], b["d_loss"], "{preset}: the same D before its first update: {a} {b}");
    assert_eq!(a["d_reg"].as_f64(), Some(0.0), "{preset}: no penalty by default: {a}");
    let d_reg = b["d_reg"].as_f64().unwrap();
    assert!(d_reg > 0.0 && d_reg.is_finite(), "{preset}: reg.drift must reach its D step: {b}");
}

#[test]
fn drift_reaches_the_critic_step_of_pix2pix_cyclegan_and_srgan() {
    let tmp = tempfile::tempdir().unwrap();
    let pairs = tmp.path().join("pairs");
    gantry_data::derive::edges_of_digits(&pairs, 8, 2).unwrap();
    let p2p = ["model.size=64", "model.num_downs=6", "model.ngf=4", "model.ndf=4"];
    drift_changes_d_reg("pix2pix-edges2fashion", &pairs, &p2p, tmp.path());

    let domains = tmp.path().join("digits");
    gantry_data::derive::inverted_digits(&domains, 8, 2).unwrap();
    let cycle = ["model.ngf=4", "model.ndf=4", "model.n_blocks=2"];
    drift_changes_d_reg("cyclegan-digits2mnist", &domains, &cycle, tmp.path());

    let images = tmp.path().join("images/0");
    std::fs::create_dir_all(&images).unwrap();
    let digits = gantry_data::load(gantry_data::source::EMBEDDED, &gantry_data::LoadOptions::default())
        .unwrap()
        .images;
    for i in 0..8 {
        gantry_core::image::save_png(&digits.get(i), &images.join(format!("{i}.png"))).unwrap();
    }
    let sr = [
        "model.channels=1",
        "model.n_blocks=1",
        "model.ngf=8",
        "model.ndf=4",
        "train.content=mse",
        "train.init_from=\"\"",
    ];
    drift_changes_d_reg("srgan-cifar", &tmp.path().join("images"), &sr, tmp.path());
}
