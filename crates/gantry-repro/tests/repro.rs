//! Every figure set's `--check` mode (tiny budgets, assertions on the numbers) through the
//! `gantry-repro` binary, so the code behind the figures cannot silently rot.

use std::process::Command;

#[test]
fn divergences_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["divergences", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "separation.png",
        "gradients.png",
        "toy_gan.png",
        "ring.png",
        "ring_samples.png",
        "summary.json",
        "summary.md",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert!(s["separation"]["max_abs_jsd_minus_log2_for_d_ge_1"].as_f64().unwrap() < 1e-6);
    assert_eq!(s["ring"]["table"].as_array().unwrap().len(), 3);
}

#[test]
fn collapse_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["collapse", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["ring.png", "ring_samples.png", "mnist.png", "unrolled.png", "summary.json", "summary.md"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    for part in ["ring", "mnist"] {
        let t = s[part]["table"].as_array().unwrap();
        assert_eq!(t.len(), 4, "{part}: four variants");
    }
    // k ∈ {0, 1, 5, 10}, first and second order; a second-order step costs more than a first-order one.
    let u = s["unrolled"]["table"].as_array().unwrap();
    assert_eq!(u.len(), 7);
    let cost = |k: u64, order: u64| {
        u.iter().find(|r| r["unroll"] == k && r["order"] == order).unwrap()["sec_per_step"].as_f64().unwrap()
    };
    assert!(cost(10, 2) > cost(10, 1) && cost(10, 1) > cost(0, 1), "{u:?}");
    // Each MNIST histogram counts the 1,000 samples.
    for r in s["mnist"]["table"].as_array().unwrap() {
        for h in r["histograms"].as_array().unwrap() {
            assert_eq!(h.as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum::<u64>(), 1000);
        }
    }
}

#[test]
fn conditioning_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["conditioning", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "cgan_grid.png",
        "projection_grid.png",
        "acgan_grid.png",
        "infogan_grid.png",
        "infogan_code0.png",
        "infogan_code1.png",
        "infogan_code2.png",
        "summary.json",
        "summary.md",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["models"].as_array().unwrap().len(), 3);
    let confusion = s["infogan"]["confusion"].as_array().unwrap();
    let total: u64 = confusion.iter().flat_map(|r| r.as_array().unwrap()).map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(total, 1000);
}

#[test]
fn truncation_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["truncation", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["truncation.png", "truncation_samples.png", "summary.json", "summary.md"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["tau"].as_array().unwrap().len(), 7);
    assert_eq!(s["psi"].as_array().unwrap().len(), 7);
}

#[test]
fn unknown_figure_sets_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro")).arg("nonsense").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("divergences"));
}

#[test]
fn stylegan_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["stylegan", "--check", "--device", "cpu", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "final_samples.png",
        "style_mix_coarse.png",
        "style_mix_fine.png",
        "noise.png",
        "truncation.png",
        "invert_optim.png",
        "invert_optim_wplus.png",
        "invert_encoder.png",
        "invert_pti.png",
        "curves.png",
        "summary.md",
    ] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["truncation"].as_array().unwrap().len(), 5);
    let inv = s["inversion"].as_array().unwrap();
    assert_eq!(inv.len(), 4);
    assert!(inv.iter().all(|r| r["mean_psnr"].as_f64().unwrap() > 0.0));
}

#[test]
fn translation_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["translation", "--check", "--device", "cpu", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["grid.png", "summary.json", "summary.md"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    let v = s["pix2pix"]["variants"].as_array().unwrap();
    assert_eq!(
        v.iter().map(|r| r["variant"].as_str().unwrap()).collect::<Vec<_>>(),
        ["L1 only", "cGAN only", "L1 + cGAN"]
    );
    assert_eq!(s["pix2pix"]["held_out"], 32);
    // L1 only trains no discriminator: its runs log no D loss.
    assert!(v[0]["final_losses"]["d_loss"].is_null() && v[2]["final_losses"]["d_loss"].is_number());
    // The grid: 5 rows (input, three objectives, target) of 8 held-out pairs at 32×32.
    let img = image::open(tmp.path().join("grid.png")).unwrap();
    assert_eq!((img.width(), img.height()), (8 * 34 + 2, 5 * 34 + 2));
    // CycleGAN with and without the cycle: both measured on the 16 held-out A digits.
    let c = &s["cyclegan"];
    let v = c["variants"].as_array().unwrap();
    assert_eq!(v.iter().map(|r| r["cycle_weight"].as_f64().unwrap()).collect::<Vec<_>>(), [10.0, 0.0]);
    for r in v {
        let kept = r["digit_kept"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&kept) && r["cycle_l1_pixels"].as_f64().unwrap() >= 0.0, "{r}");
    }
    assert!(c["baseline"]["classifier_on_inputs"].as_f64().is_some());
    // Rows: inputs, CycleGAN, its cycle, no-cycle; 10 digits each.
    let img = image::open(tmp.path().join("cycle_grid.png")).unwrap();
    assert_eq!((img.width(), img.height()), (10 * 34 + 2, 4 * 34 + 2));
    // Super-resolution: bicubic, SRResNet, SRGAN on 48 held-out digits at ×4.
    let sr = &s["superres"];
    let m = sr["methods"].as_array().unwrap();
    assert_eq!(
        m.iter().map(|r| r["method"].as_str().unwrap()).collect::<Vec<_>>(),
        ["bicubic", "SRResNet (MSE)", "SRGAN"]
    );
    assert_eq!((sr["held_out"].as_i64(), sr["scale"].as_i64()), (Some(48), Some(4)));
    assert_eq!(m[1]["content"], "Mse");
    for r in m {
        let (psnr, detail) = (r["psnr"].as_f64().unwrap(), r["detail"].as_f64().unwrap());
        assert!(psnr > 5.0 && psnr < 60.0 && detail > 0.0, "{r}");
    }
    // Bicubic interpolation smooths: less Laplacian energy than the originals.
    assert!(m[0]["detail"].as_f64().unwrap() < 1.0, "{}", m[0]);
    // Rows LR, bicubic, SRResNet, SRGAN, HR of 8 digits, each tile 32×32 shown ×3.
    let img = image::open(tmp.path().join("superres.png")).unwrap();
    assert_eq!((img.width(), img.height()), (8 * 98 + 2, 5 * 98 + 2));
    // --only reruns one section and keeps the others' numbers.
    let before = s["pix2pix"].clone();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["translation", "--check", "--only", "superres", "--device", "cpu", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(s2["pix2pix"], before);
    assert_eq!(s2["superres"]["methods"][0], s["superres"]["methods"][0], "bicubic is deterministic");
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .args(["translation", "--check", "--only", "nope", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown section 'nope'"));
}

#[test]
fn autoencoders_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["autoencoders", "--check", "--device", "cpu", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    // The AAE with the mixture prior, both variants: every digit class has its shares.
    let v = s["mixture"]["variants"].as_array().unwrap();
    assert_eq!(
        v.iter().map(|r| r["variant"].as_str().unwrap()).collect::<Vec<_>>(),
        ["unsupervised", "supervised"]
    );
    for r in v {
        assert!(r["mmd2_final"].as_f64().unwrap() >= -1e-9, "{r}");
        assert_eq!(r["share_in_own_component"].as_array().unwrap().len(), 10);
        let occ: f64 = r["component_occupancy"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum();
        assert!((occ - 1.0).abs() < 1e-9, "every code falls in one component: {occ}");
        assert!(!r["mmd2_batch_over_training"].as_array().unwrap().is_empty());
    }
    for f in ["scatter-unsupervised.png", "scatter-supervised.png", "mmd.png"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    // Decoded prior samples: 10 × 10 digits of 28×28.
    let img = image::open(tmp.path().join("samples-supervised.png")).unwrap();
    assert_eq!((img.width(), img.height()), (10 * 30 + 2, 10 * 30 + 2));
    // Parzen: σ from the grid logspace(−1, 0, 10); real digits score above an untrained
    // model's noise.
    let p = &s["parzen"];
    let sigma = p["aae"]["sigma"].as_f64().unwrap();
    assert!((0.1 - 1e-9..=1.0 + 1e-9).contains(&sigma), "{p}");
    assert_eq!(p["aae"]["grid"].as_array().unwrap().len(), 10);
    assert!(
        p["training_digits"]["log_likelihood"].as_f64().unwrap()
            > p["aae"]["log_likelihood"].as_f64().unwrap()
    );
    // VAE and VAE-GAN: reconstructions (rows originals, VAE, VAE-GAN of 12 digits at 32×32).
    let m = s["vaegan"]["models"].as_array().unwrap();
    assert_eq!(m.iter().map(|r| r["model"].as_str().unwrap()).collect::<Vec<_>>(), ["VAE", "VAE-GAN"]);
    let img = image::open(tmp.path().join("recon.png")).unwrap();
    assert_eq!((img.width(), img.height()), (12 * 34 + 2, 3 * 34 + 2));
}

#[test]
fn few_shot_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["few-shot", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["few-shot.png", "few-shot_samples.png", "summary.json", "summary.md"] {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!((s["train_images"].as_i64(), s["heldout_images"].as_i64()), (Some(500), Some(4500)));
    let runs = s["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for r in runs {
        let points = r["points"].as_array().unwrap();
        assert_eq!(points.len(), 2, "measured at steps 2 and 4");
        // p is logged for the ADA runs only, and the fixed ones keep theirs.
        let p: Vec<Option<f64>> = points.iter().map(|pt| pt["p"].as_f64()).collect();
        match r["name"].as_str().unwrap() {
            "none" | "diffaug" => assert!(p.iter().all(Option::is_none), "{r}"),
            "blit-0.5" => assert!(p.iter().all(|p| *p == Some(0.5)), "{r}"),
            "blit-0.9" => assert!(p.iter().all(|p| (p.unwrap() - 0.9).abs() < 1e-6), "{r}"),
            _ => assert!(p.iter().all(|p| p.is_some_and(|p| p >= 0.0)), "{r}"),
        }
    }
    // 50 digits per class were written as a PNG folder, what the runs trained on.
    let zeros = std::fs::read_dir(tmp.path().join("data/0")).unwrap().count();
    assert_eq!(zeros, 50);
}

#[test]
fn biggan_check() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry-repro"))
        .env_remove("LD_LIBRARY_PATH")
        .args(["biggan", "--check", "--out"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in
        ["truncation.png", "truncation_samples.png", "class_interpolation.png", "summary.json", "summary.md"]
    {
        assert!(tmp.path().join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("summary.json")).unwrap()).unwrap();
    // Three BatchNorm modes × five τ, each scored; two conditionings.
    assert_eq!(s["truncation"]["rows"].as_array().unwrap().len(), 15);
    assert_eq!(s["conditioning"]["table"].as_array().unwrap().len(), 2);
    let params: Vec<u64> = s["conditioning"]["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["g_parameters"].as_u64().unwrap())
        .collect();
    assert_ne!(params[0], params[1], "the two conditionings are different generators");
}
