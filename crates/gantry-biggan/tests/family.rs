//! BigGAN through gantry's open core: the checks every gantry family passes (two steps, a
//! bit-identical resume, sampling, every `reg.*` and augmentation switch taking effect), and
//! BigGAN's own training rules — the EMA pegged to G before `train.ema_start` and decaying after
//! over G's whole state, orthogonal regularisation in both forms, sampling with BatchNorm in
//! evaluation mode, batch statistics or standing statistics.

use gantry_biggan::family::{register, BigGanRun};
use gantry_core::checkpoint::Checkpoint;
use gantry_train::capability::Model;
use gantry_train::config::Recipe;
use gantry_train::registry::Registry;
use tch::{Device, Kind, Tensor};

/// Installs the registry, and holds the lock every test of this file trains under: runs in
/// one process share libtorch's generator (initial weights) and thread pool.
fn install() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    register(Registry::builtin()).unwrap().install();
    guard
}

#[test]
fn biggan_passes_the_family_checks() {
    let _lock = install();
    let registry = Registry::current();
    let kind = registry.kind(BigGanRun::ARCH).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = gantry_train::harness::check(kind, dir.path()).unwrap();
    assert!(
        report.capabilities.contains(&"sampler") && report.capabilities.contains(&"class sampler"),
        "{report}"
    );
    eprintln!("{report}");
}

/// A small run: the CPU preset at ch 8 on the embedded digits, 3 steps.
fn small(dir: &std::path::Path, steps: u64, extra: &[&str]) -> std::path::PathBuf {
    let mut sets: Vec<String> = [
        "data=\"mnist-5k\"",
        "batch_size=4",
        "threads=2",
        "model.g_ch=8",
        "model.d_ch=8",
        "log.every=1",
        "log.sample_every=100",
        "log.checkpoint_every=1",
        "log.tensorboard=false",
        "eval.every=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    sets.push(format!("steps={steps}"));
    sets.extend(extra.iter().map(|s| s.to_string()));
    let cfg =
        gantry_train::presets::find("biggan-cifar10-cpu").unwrap().config().with_overrides(&sets).unwrap();
    gantry_train::train::start(cfg, dir, Device::Cpu).unwrap().checkpoint
}

#[test]
fn ema_is_pegged_before_its_start_and_averages_every_variable_after() {
    let _lock = install();
    let d = tempfile::tempdir().unwrap();
    // ema_start 3: G steps 1, 2 copy G; step 3 decays by 0.5.
    let ck = small(&d.path().join("a"), 3, &["train.ema_start=3", "train.ema_decay=0.5"]);
    let c2 = Checkpoint::load(&d.path().join("a/checkpoints/step-0000002.safetensors")).unwrap();
    let c3 = Checkpoint::load(&ck).unwrap();
    let mut checked = 0;
    for (name, g2) in c2.tensors.iter().filter_map(|(n, t)| n.strip_prefix("g.").map(|n| (n.to_string(), t)))
    {
        let e2 = &c2.tensors[&format!("g_ema.{name}")];
        assert!(e2.equal(g2), "before ema_start, g_ema.{name} is G's");
        let (g3, e3) = (&c3.tensors[&format!("g.{name}")], &c3.tensors[&format!("g_ema.{name}")]);
        let want = e2 * 0.5 + g3 * 0.5;
        assert!(e3.allclose(&want, 1e-6, 1e-7, false), "g_ema.{name} after: 0.5·ema + 0.5·G");
        checked += 1;
    }
    // Buffers too: spectral-norm vectors and BatchNorm statistics.
    assert!(c3.tensors.keys().any(|k| k.starts_with("g_ema.") && k.ends_with("u0")));
    assert!(c3.tensors.keys().any(|k| k.starts_with("g_ema.") && k.ends_with("stored_var")));
    assert!(checked > 50, "{checked}");
}

#[test]
fn orthogonal_regularisation_takes_effect_and_the_paper_form_is_the_code_form_at_twice_beta() {
    let _lock = install();
    let d = tempfile::tempdir().unwrap();
    let w = "g.blocks.0.0.conv1.weight";
    let get = |ck: std::path::PathBuf| Checkpoint::load(&ck).unwrap().tensors[w].shallow_clone();
    let plain = get(small(&d.path().join("plain"), 1, &[]));
    let code = get(small(&d.path().join("code"), 1, &["train.g_ortho=0.2", "train.ortho_form=\"code\""]));
    let paper = get(small(&d.path().join("paper"), 1, &["train.g_ortho=0.1", "train.ortho_form=\"paper\""]));
    assert!(!code.equal(&plain), "g_ortho changes G's step");
    // β 0.2 in their code's form is β 0.1 in the paper's: the same step.
    assert!(code.equal(&paper));
}

/// The family with `model.sample_bn = mode`, its networks loaded from `ck`.
fn loaded(ck: &std::path::Path, mode: &str) -> gantry_biggan::family::BigGanFamily {
    let c = Checkpoint::load(ck).unwrap();
    let m = Model::load(ck, Device::Cpu).unwrap();
    let cfg = m.cfg.clone().with_overrides(&[format!("model.sample_bn=\"{mode}\"")]).unwrap();
    let s = cfg.family.get::<BigGanRun>().unwrap();
    let mut f = gantry_biggan::family::BigGanFamily::new(s, Device::Cpu).unwrap();
    use gantry_train::family::Family;
    f.networks_mut().load(&c).unwrap();
    f
}

#[test]
fn samples_with_eval_batch_and_standing_statistics_change_no_buffer() {
    let _lock = install();
    let d = tempfile::tempdir().unwrap();
    let ck = small(&d.path().join("run"), 3, &["train.ema_start=0", "model.standing_passes=4"]);
    let z = Tensor::randn([8, 120], (Kind::Float, Device::Cpu));
    let classes = Tensor::arange(8, (Kind::Int64, Device::Cpu)).remainder(10);
    use gantry_train::capability::ClassSampler;
    use gantry_train::family::Family;
    let state = |f: &gantry_biggan::family::BigGanFamily| -> Vec<Tensor> {
        let ema = f.networks().iter().find(|n| n.name == "g_ema").expect("an EMA");
        let mut v: Vec<(String, Tensor)> = ema.vs.variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|x| x.1.copy()).collect()
    };
    let mut outs = Vec::new();
    for mode in ["eval", "batch", "standing"] {
        let f = loaded(&ck, mode);
        let before = state(&f);
        let a = f.generate_class(&z, &classes).unwrap();
        let b = f.generate_class(&z, &classes).unwrap();
        assert!(a.equal(&b), "{mode}: sampling twice gives the same images");
        let after = state(&f);
        assert!(before.iter().zip(&after).all(|(x, y)| x.equal(y)), "{mode}: sampling changed the model");
        assert_eq!(a.size(), vec![8, 3, 32, 32]);
        outs.push(a);
    }
    // Three different uses of BatchNorm, three different images.
    assert!(!outs[0].equal(&outs[1]) && !outs[0].equal(&outs[2]) && !outs[1].equal(&outs[2]));
    // Batch statistics: sample i depends on the rest of its batch; eval mode's does not.
    let f = loaded(&ck, "batch");
    let one = f.generate_class(&z.narrow(0, 0, 4), &classes.narrow(0, 0, 4)).unwrap();
    assert!(!one.equal(&outs[1].narrow(0, 0, 4)));
    let f = loaded(&ck, "eval");
    let one = f.generate_class(&z.narrow(0, 0, 4), &classes.narrow(0, 0, 4)).unwrap();
    assert!(one.allclose(&outs[0].narrow(0, 0, 4), 1e-5, 1e-6, false));
    // gantry's class-conditional evaluation takes it as any ClassSampler: intra-FID per class.
    let m = Model::load(&ck, Device::Cpu).unwrap();
    let ex = gantry_train::eval::Extractor::load("mnist", Device::Cpu).unwrap();
    let opts = gantry_train::eval::EvalOptions {
        n: Some(8),
        batch: 50,
        seed: 0,
        device: Device::Cpu,
        keep_features: false,
    };
    let v = gantry_train::eval::intra::intra_fid(&m, "mnist-5k", &ex, None, &opts).unwrap();
    let per: Vec<f64> = v["per_class"].as_array().unwrap().iter().map(|c| c.as_f64().unwrap()).collect();
    assert_eq!(per.len(), 10);
    assert!(per.iter().all(|f| f.is_finite() && *f >= 0.0), "{v}");
}

/// Tests named `python::…`: `cargo xtask test` skips them by that name when it has no Python with torch.
mod python {
    use super::*;

    /// Their `G_ema.pth` (the parity fixture's shared-embedding, hierarchical-z, attention G, saved
    /// as their `utils.save_weights` does) through `scripts/convert_biggan.py`: gantry rebuilds the
    /// network from the file alone and samples as their G does in evaluation mode, within 1e-5.
    #[test]
    #[ignore = "needs a Python with torch in GANTRY_PYTHON (cargo xtask test sets it and runs this)"]
    fn their_generator_converts_and_samples_as_theirs() {
        let _lock = install();
        let python = std::env::var("GANTRY_PYTHON").expect("GANTRY_PYTHON: a Python with torch");
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let fixtures = repo.join("crates/gantry-biggan/tests/fixtures");
        let tmp = tempfile::tempdir().unwrap();
        let converted = tmp.path().join("G_ema.safetensors");
        let out = std::process::Command::new(&python)
            .arg(repo.join("scripts/convert_biggan.py"))
            .arg(fixtures.join("biggan_G_ema.pth"))
            .arg(&converted)
            .args(["--sn-eps", "1e-6", "--bn-eps", "1e-4"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("32x32, ch 8, 5 classes, dim_z 20, shared 8, hierarchical z, attention at [16]"),
            "{said}"
        );
        let m = Model::load(&converted, Device::Cpu).unwrap();
        let f: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(fixtures.join("biggan.safetensors")).unwrap().into_iter().collect();
        let x = m.class_sampler().unwrap().generate_class(&f["shared.z"], &f["shared.y"]).unwrap();
        let want = &f["shared.g.out_eval"];
        let d = (&x - want).abs().max().double_value(&[]);
        assert!(d < 1e-5, "converted G vs theirs in evaluation mode: max |Δ| {d}");
    }
}
