//! `augment.diffaug` in training: a run with DiffAugment resumes bit for bit, each policy changes
//! the step D takes, and a family whose D does not see images refuses it by name. (That every
//! family either applies it or refuses it is `tests/families.rs`'s harness.)

use std::path::Path;

use gantry_core::checkpoint::Checkpoint;
use gantry_train::config::RunConfig;
use gantry_train::presets;
use tch::Device;

fn small(preset: &str, steps: u64, extra: &[&str]) -> RunConfig {
    let mut sets: Vec<String> = [
        "data=\"mnist-5k\"",
        "batch_size=8",
        "threads=2",
        "log.every=1",
        "log.sample_every=100",
        "log.checkpoint_every=1",
        "log.keep_checkpoints=0",
        "log.grid=4",
        "log.tensorboard=false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.push(format!("steps={steps}"));
    sets.extend(extra.iter().map(|s| s.to_string()));
    presets::find(preset).unwrap().config().with_overrides(&sets).unwrap()
}

/// Whether two checkpoints hold the same tensors, bit for bit.
fn same(a: &Path, b: &Path) -> bool {
    let (a, b) = (Checkpoint::load(a).unwrap(), Checkpoint::load(b).unwrap());
    a.tensors.len() == b.tensors.len()
        && a.tensors.iter().all(|(k, x)| b.tensors.get(k).is_some_and(|y| x.size() == y.size() && x.equal(y)))
}

#[test]
fn diffaugment_runs_resume_exactly_and_every_policy_changes_the_step() {
    let tmp = tempfile::tempdir().unwrap();
    let all = "augment.diffaug=\"color,translation,cutout\"";
    let dev = Device::Cpu;
    let whole =
        gantry_train::train::start(small("dcgan-mnist", 3, &[all]), &tmp.path().join("whole"), dev).unwrap();
    let split = tmp.path().join("split");
    gantry_train::train::start(small("dcgan-mnist", 2, &[all]), &split, dev).unwrap();
    let resumed = gantry_train::train::resume(&split, Some(3), dev).unwrap();
    assert!(same(&whole.checkpoint, &resumed.checkpoint), "a resumed DiffAugment run differs");
    let saved = RunConfig::load(&split.join("config.toml")).unwrap();
    assert_eq!(saved.augment.diffaug.to_string(), "color,translation,cutout");

    // Each policy alone changes the first step; none is the plain run.
    let step1 = |name: &str, extra: &[&str]| {
        let dir = tmp.path().join(name);
        gantry_train::train::start(small("dcgan-mnist", 1, extra), &dir, dev).unwrap().checkpoint
    };
    let plain = step1("plain", &[]);
    for policy in ["color", "translation", "cutout"] {
        let set = format!("augment.diffaug=\"{policy}\"");
        let ck = step1(policy, &[&set]);
        assert!(!same(&plain, &ck), "{policy} changed nothing");
    }
}

#[test]
fn families_whose_d_does_not_see_images_refuse_diffaugment_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = small("toy-ring", 1, &["data=\"ring\"", "augment.diffaug=\"color\""]);
    let run = tmp.path().join("toy");
    let e = gantry_train::train::start(cfg, &run, Device::Cpu).unwrap_err().to_string();
    assert!(e.starts_with("invalid augment.diffaug: the mlp family does not augment"), "{e}");
    assert!(e.contains("dcgan") && e.contains("stylegan2"), "names the families that do: {e}");
    assert!(!run.exists(), "refused before the run folder is made");
    let unknown = small("dcgan-mnist", 1, &[]).with_overrides(&["augment.diffaug=\"color,flip\"".into()]);
    let e = unknown.unwrap_err().to_string();
    assert!(e.contains("augment.diffaug") && e.contains("unknown DiffAugment policy 'flip'"), "{e}");
}
