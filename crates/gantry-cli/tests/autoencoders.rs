//! The adversarial autoencoder and the VAE-GAN through the binary: bit-identical resume (every
//! optimiser, the shared reconstruction Adam included), `gantry encode` (codes, labels, the 2-D
//! scatter), `gantry interpolate --input`, `gantry sample` (decoded prior draws, by class for the
//! supervised AAE), and bad input refused with one line.

use std::path::Path;

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{fails, gantry, ok};

fn train(preset: &str, out: &Path, steps: u64, extra: &[&str]) {
    let mut cmd = gantry();
    cmd.args(["train", "--preset", preset, "--steps", &steps.to_string(), "--out"]).arg(out);
    for kv in ["batch_size=8", "threads=2", "log.every=1", "log.checkpoint_every=2", "log.grid=4"]
        .iter()
        .chain(extra)
    {
        cmd.args(["--set", kv]);
    }
    ok(cmd.args(["--device", "cpu"]));
}

fn assert_same_checkpoints(a: &Path, b: &Path, step: u64) {
    let name = format!("checkpoints/step-{step:07}.safetensors");
    let (ca, cb) = (Checkpoint::load(&a.join(&name)).unwrap(), Checkpoint::load(&b.join(&name)).unwrap());
    assert_eq!(ca.tensors.keys().collect::<Vec<_>>(), cb.tensors.keys().collect::<Vec<_>>());
    for (k, t) in &ca.tensors {
        assert!(t.equal(&cb.tensors[k]), "{k} differs after resume");
    }
}

fn npy_shape(path: &Path) -> Vec<usize> {
    let header = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&header[..header.len().min(128)]).to_string();
    let shape = text.split("'shape': (").nth(1).unwrap().split(')').next().unwrap();
    shape.split(',').filter_map(|s| s.trim().parse().ok()).collect()
}

#[test]
fn supervised_aae_resumes_exactly_encodes_and_samples_by_class() {
    let tmp = tempfile::tempdir().unwrap();
    let small = ["model.hidden=32", "model.d_hidden=16", "train.labelled=0.5"];
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train("aae-mnist-supervised", &a, 4, &small);
    train("aae-mnist-supervised", &b, 2, &small);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "4", "--device", "cpu"]));
    assert_same_checkpoints(&a, &b, 4);
    let ck = Checkpoint::load(&a.join("checkpoints/step-0000004.safetensors")).unwrap();
    // Three optimisers: the reconstruction's over encoder and decoder, D's, the encoder's.
    assert_eq!(ck.get_i64("opt_ae.step").unwrap(), 4);
    assert_eq!(ck.get_i64("opt_d.step").unwrap(), 4);
    assert_eq!(ck.get_i64("opt_enc.step").unwrap(), 4);
    assert!(ck.get("opt_ae.m.dec.out.weight").is_ok() && ck.get("opt_ae.m.enc.out.weight").is_ok());
    // D sees the 2-D code and 10 + 1 label slots.
    assert_eq!(ck.get("d.fc1.weight").unwrap().size(), [16, 13]);
    let text = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    for k in ["recon_mse", "d_loss", "g_loss", "mmd"] {
        assert!(last[k].as_f64().is_some_and(f64::is_finite), "{k} in {last}");
    }

    // Codes of 30 embedded digits, their labels, and the scatter.
    let codes = tmp.path().join("codes.npy");
    let scatter = tmp.path().join("scatter.png");
    let out = ok(gantry()
        .args(["encode", "--input", "mnist-5k", "--split", "train", "--n", "30", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&codes)
        .arg("--scatter")
        .arg(&scatter));
    assert!(String::from_utf8_lossy(&out.stdout).contains("30 codes of 2 dimensions"));
    assert_eq!(npy_shape(&codes), [30, 2]);
    assert_eq!(npy_shape(&tmp.path().join("codes.labels.npy")), [30]);
    let img = image::open(&scatter).unwrap();
    assert_eq!((img.width(), img.height()), (600, 600));

    // The codes file is what the model's encoder gives, read back through NumPy's format.
    let read = gantry_metrics::npy::read_features(&codes).unwrap();
    let m = common::model(&a.join("checkpoints/step-0000004.safetensors"));
    let ds = gantry_data::load("mnist-5k", &gantry_data::LoadOptions::default()).unwrap();
    let x = gantry_core::image::from_u8(&ds.images.narrow(0, 0, 30));
    assert!(read.allclose(&m.autoencoder().unwrap().encode(&x).unwrap(), 1e-6, 1e-6, false));

    // Samples by class: one row per digit; interpolation between encoded digits.
    let s = tmp.path().join("s.png");
    ok(gantry()
        .args(["sample", "--n", "4", "--class", "7", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&s));
    let i = tmp.path().join("i.png");
    ok(gantry()
        .args(["interpolate", "--input", "mnist-5k", "--split", "train", "--rows", "2", "--frames", "5"])
        .args(["--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--out")
        .arg(&i));
    let img = image::open(&i).unwrap();
    assert_eq!((img.width(), img.height()), (7 * 30 + 2, 2 * 30 + 2), "rows x1 | 5 decodings | x2 of 28×28");

    // Bad input: one line each, nothing written.
    let none = tmp.path().join("none.npy");
    let e = fails(
        gantry().args(["encode", "--input", "/nonexistent/dir", "--ckpt"]).arg(&a).arg("--out").arg(&none),
    );
    assert!(e.contains("/nonexistent/dir"), "{e}");
    assert!(!none.exists());
    let e = fails(
        gantry()
            .args(["train", "--preset", "aae-mnist", "--set", "model.supervised=true", "--out"])
            .arg(tmp.path().join("x")),
    );
    assert!(e.contains("model.supervised") && e.contains("gaussian"), "{e}");
    let e = fails(
        gantry()
            .args(["train", "--preset", "aae-mnist", "--set", "prior.kind=mixture", "--out"])
            .arg(tmp.path().join("y")),
    );
    assert!(e.contains("model.code_dim") && e.contains("2-D"), "{e}");
    assert!(!tmp.path().join("x").exists() && !tmp.path().join("y").exists());
}

#[test]
fn aae_with_an_empirical_prior_and_a_gaussian_posterior() {
    let tmp = tempfile::tempdir().unwrap();
    // The empirical prior: codes a first model wrote.
    let first = tmp.path().join("first");
    let small = ["model.hidden=16", "model.d_hidden=8"];
    train("aae-mnist-mixture", &first, 2, &small);
    let codes = tmp.path().join("prior.npy");
    ok(gantry()
        .args(["encode", "--input", "mnist-5k", "--split", "train", "--n", "50", "--device", "cpu", "--ckpt"])
        .arg(&first)
        .arg("--out")
        .arg(&codes));
    let prior = format!("prior.file={}", codes.display());
    let mut extra = small.to_vec();
    extra.extend(["prior.kind=empirical", prior.as_str(), "model.posterior=gaussian", "loss=wgan-gp"]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train("aae-mnist-mixture", &a, 4, &extra);
    train("aae-mnist-mixture", &b, 2, &extra);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "4", "--device", "cpu"]));
    assert_same_checkpoints(&a, &b, 4);
    let ck = Checkpoint::load(&a.join("checkpoints/step-0000004.safetensors")).unwrap();
    // A Gaussian posterior: the encoder outputs μ and log σ².
    assert_eq!(ck.get("enc.out.weight").unwrap().size(), [4, 16]);
    let text = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    assert!(text.lines().last().unwrap().contains("\"d_reg\""), "the gradient penalty is logged");
    // A prior file of the wrong width: one line naming it.
    let bad = format!("prior.file={}", tmp.path().join("codes-missing.npy").display());
    let e = fails(
        gantry()
            .args(["train", "--preset", "aae-mnist", "--set", "prior.kind=empirical", "--set", &bad, "--out"])
            .arg(tmp.path().join("z")),
    );
    assert!(e.contains("prior.file") && e.contains("codes-missing.npy"), "{e}");
    let e = fails(
        gantry()
            .args([
                "train",
                "--preset",
                "aae-mnist",
                "--set",
                "prior.kind=empirical",
                "--set",
                &prior,
                "--out",
            ])
            .arg(tmp.path().join("z")),
    );
    assert!(e.contains("[N, 8]"), "{e}");
}

#[test]
fn vaegan_and_vae_resume_exactly_and_encode() {
    let tmp = tempfile::tempdir().unwrap();
    let small = ["model.width=4", "model.hidden=16", "model.code_dim=4"];
    for preset in ["vaegan-mnist", "vae-mnist"] {
        let (a, b) = (tmp.path().join(format!("{preset}-a")), tmp.path().join(format!("{preset}-b")));
        train(preset, &a, 4, &small);
        train(preset, &b, 2, &small);
        ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "4", "--device", "cpu"]));
        assert_same_checkpoints(&a, &b, 4);
        let ck = Checkpoint::load(&a.join("checkpoints/step-0000004.safetensors")).unwrap();
        assert_eq!(ck.get("d.out.weight").is_ok(), preset == "vaegan-mnist", "only the VAE-GAN has a D");
        let text = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        for k in ["kl", "llike", "recon_mse"] {
            assert!(last[k].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0), "{k} in {last}");
        }
        assert_eq!(last["d_loss"].is_null(), preset == "vae-mnist", "{last}");
        let codes = tmp.path().join(format!("{preset}.npy"));
        ok(gantry()
            .args([
                "encode", "--input", "mnist-5k", "--split", "train", "--n", "10", "--device", "cpu", "--ckpt",
            ])
            .arg(&a)
            .arg("--out")
            .arg(&codes));
        assert_eq!(npy_shape(&codes), [10, 4]);
        // A 4-D code has no scatter: refused before anything is written.
        let other = tmp.path().join(format!("{preset}-2.npy"));
        let e = fails(
            gantry()
                .args(["encode", "--input", "mnist-5k", "--split", "train", "--device", "cpu", "--ckpt"])
                .arg(&a)
                .arg("--out")
                .arg(&other)
                .arg("--scatter")
                .arg(tmp.path().join("s.png")),
        );
        assert!(e.contains("2-D codes") && e.contains("4 dimensions"), "{e}");
        assert!(!other.exists());
    }
    // A DCGAN cannot encode: the error says what the model can do.
    let dc = tmp.path().join("dc");
    train("dcgan-mnist", &dc, 1, &["model.g_width=4", "model.d_width=4"]);
    let e = fails(
        gantry()
            .args(["encode", "--input", "mnist-5k", "--device", "cpu", "--ckpt"])
            .arg(&dc)
            .arg("--out")
            .arg(tmp.path().join("c.npy")),
    );
    assert!(e.contains("encodes images") && e.contains("draw from latents"), "{e}");
}
