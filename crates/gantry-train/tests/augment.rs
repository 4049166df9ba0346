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

/// Held by each test that trains: libtorch's generator is one per process, so runs on two test
/// threads at once would draw from each other's stream.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn training() -> std::sync::MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether two checkpoints hold the same tensors, bit for bit.
fn same(a: &Path, b: &Path) -> bool {
    let (a, b) = (Checkpoint::load(a).unwrap(), Checkpoint::load(b).unwrap());
    a.tensors.len() == b.tensors.len()
        && a.tensors.iter().all(|(k, x)| b.tensors.get(k).is_some_and(|y| x.size() == y.size() && x.equal(y)))
}

#[test]
fn diffaugment_runs_resume_exactly_and_every_policy_changes_the_step() {
    let _one = training();
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
    let _one = training();
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

/// p in checkpoint `ck` (ADA's state store: `[p, Σ sign, count, steps, last r_t]`).
fn ada_state(ck: &Path) -> Vec<f32> {
    let ck = Checkpoint::load(ck).unwrap();
    Vec::<f32>::try_from(&ck.tensors["ada.state"]).unwrap()
}

#[test]
fn ada_runs_resume_with_the_same_p_and_p_follows_the_signs_of_d_on_reals() {
    let _one = training();
    let tmp = tempfile::tempdir().unwrap();
    let dev = Device::Cpu;
    // A target D's scores always exceed: p rises by 8 images × 2 steps / 50 = 0.32 every 2 steps.
    let ada = ["augment.ada_target=-0.999", "augment.ada_interval=2", "augment.ada_kimg=0.05"];
    let whole = tmp.path().join("whole");
    let a = gantry_train::train::start(small("dcgan-mnist", 5, &ada), &whole, dev).unwrap();
    let split = tmp.path().join("split");
    gantry_train::train::start(small("dcgan-mnist", 3, &ada), &split, dev).unwrap();
    // Stopped mid-interval: the signs of step 3 are in the checkpoint, waiting for step 4.
    let mid = ada_state(&gantry_train::run_dir::RunDir::new(&split).checkpoint(3));
    assert_eq!((mid[2], mid[3]), (8.0, 1.0), "one step's 8 scores gathered: {mid:?}");
    let b = gantry_train::train::resume(&split, Some(5), dev).unwrap();
    assert!(same(&a.checkpoint, &b.checkpoint), "a resumed ADA run differs");
    let p = gantry_train::run_dir::RunDir::new(&whole).metric_values("ada_p").unwrap();
    let want = [0.0, 0.32, 0.32, 0.64, 0.64];
    assert_eq!(p.len(), 5, "{p:?}");
    for ((step, got), want) in p.iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "step {step}: p {got}, expected {want}");
    }
    assert!((ada_state(&a.checkpoint)[0] as f64 - 0.64).abs() < 1e-6);

    // A fixed p stays where it is set, and every augmented step differs from the plain one.
    let fixed = gantry_train::train::start(
        small("dcgan-mnist", 2, &["augment.p=0.5"]),
        &tmp.path().join("fixed"),
        dev,
    )
    .unwrap();
    assert_eq!(ada_state(&fixed.checkpoint)[0], 0.5);
    let fixed_p =
        gantry_train::run_dir::RunDir::new(tmp.path().join("fixed")).metric_values("ada_p").unwrap();
    assert_eq!(fixed_p.values().copied().collect::<Vec<_>>(), [0.5, 0.5]);
    let plain =
        gantry_train::train::start(small("dcgan-mnist", 2, &[]), &tmp.path().join("plain"), dev).unwrap();
    assert!(!same(&plain.checkpoint, &fixed.checkpoint), "p = 0.5 changed nothing");
}

#[test]
fn ada_settings_are_checked_by_name() {
    for (sets, says) in [
        (&["augment.ada_target=0.6", "augment.p=0.5"][..], "not both"),
        (&["augment.ada_target=0.6", "augment.diffaug=\"color\""][..], "choose one"),
        (&["augment.p=1.5"][..], "invalid augment.p"),
        (&["augment.ada_target=1.0"][..], "invalid augment.ada_target"),
        (&["augment.ada_target=0.6", "augment.pipe=\"bgx\""][..], "is not an augmentation pipe"),
    ] {
        let cfg = presets::find("dcgan-mnist").unwrap().config();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let e = match cfg.with_overrides(&sets) {
            Err(e) => e.to_string(),
            Ok(cfg) => cfg.validate().unwrap_err().to_string(),
        };
        assert!(e.contains(says) && !e.contains('\n'), "{sets:?}: {e}");
    }
}
