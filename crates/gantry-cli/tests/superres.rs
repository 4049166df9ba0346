//! SRResNet → SRGAN through the binary: the MSE stage, SRGAN initialised from it
//! (`train.init_from`), the learning-rate drop, bit-identical resume, `gantry upscale` (any size,
//! and `--degrade` grids), and `gantry eval psnr` on held-out images made low-resolution.

use std::path::Path;
use std::process::Output;

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{fails, gantry, ok};

/// train/0 and test/0 folders of embedded MNIST digits (28×28 grey PNGs).
fn digits(root: &Path) {
    let images = gantry_data::load(gantry_data::source::EMBEDDED, &gantry_data::LoadOptions::default())
        .unwrap()
        .images;
    for (split, from, n) in [("train", 0, 16), ("test", 16, 6)] {
        std::fs::create_dir_all(root.join(split).join("0")).unwrap();
        for i in 0..n {
            let p = root.join(split).join("0").join(format!("{i:02}.png"));
            gantry_core::image::save_png(&images.get(from + i), &p).unwrap();
        }
    }
}

/// The content loss the test can afford: the FID Inception's stem when the file is there.
fn content() -> &'static str {
    match gantry_metrics::weights::locate(gantry_metrics::weights::INCEPTION_FILE, "inception") {
        Ok(_) => "inception-2b",
        Err(_) => "mse",
    }
}

fn train_sr(preset: &str, data: &Path, out: &Path, steps: u64, extra: &[String]) -> Output {
    ok(gantry()
        .args(["train", "--preset", preset, "--steps", &steps.to_string(), "--out"])
        .arg(out)
        .arg("--set")
        .arg(format!("data={}", data.display()))
        .args(["--set", "model.channels=1", "--set", "model.n_blocks=1", "--set", "model.ngf=8"])
        .args(["--set", "model.ndf=4", "--set", "batch_size=4", "--set", "log.grid=4"])
        .args(["--set", "threads=2", "--set", "log.every=1", "--set", "log.checkpoint_every=2"])
        .args(["--device", "cpu"])
        .args(extra))
}

fn last_metrics(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

#[test]
fn srresnet_then_srgan_resume_exactly_and_upscale() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("digits");
    digits(&data);
    let mse = tmp.path().join("srresnet");
    let eval: Vec<String> = ["eval.every=2", "eval.features=mnist", "eval.n=6"]
        .iter()
        .flat_map(|kv| ["--set".to_string(), kv.to_string()])
        .collect();
    train_sr("srresnet-cifar", &data, &mse, 2, &eval);
    let m = last_metrics(&mse);
    assert!(m["g_content"].as_f64().is_some() && m["d_loss"].is_null(), "SRResNet trains no D: {m}");
    // FID during training, of upscales of low-resolution inputs made from the first images.
    let text = std::fs::read_to_string(mse.join("metrics.jsonl")).unwrap();
    assert!(text.lines().any(|l| l.contains("\"fid_mnist\"")), "{text}");
    // A grid of (LR enlarged | SR | HR) of 32×32 (28 padded), 2 a row.
    let img = image::open(mse.join("samples/step-0000002.png")).unwrap();
    assert_eq!((img.width(), img.height()), (6 * 34 + 2, 2 * 34 + 2));

    // SRGAN from it: with G's learning rate 1e-30 (below an f32 ulp of its weights), its convolutions stay the SRResNet's.
    let init = format!("train.init_from={}", mse.display());
    let frozen = tmp.path().join("frozen");
    train_sr(
        "srgan-cifar",
        &data,
        &frozen,
        2,
        &[
            "--set".into(),
            init.clone(),
            "--set".into(),
            "train.g_opt.lr=1e-30".into(),
            "--set".into(),
            format!("train.content={}", content()),
        ],
    );
    let c0 = Checkpoint::load(&mse.join("checkpoints/step-0000002.safetensors")).unwrap();
    let c1 = Checkpoint::load(&frozen.join("checkpoints/step-0000002.safetensors")).unwrap();
    for k in ["g.head.conv.weight", "g.blocks.0.conv1.weight", "g.up.1.conv.weight", "g.tail.weight"] {
        assert!(c0.get(k).unwrap().equal(c1.get(k).unwrap()), "{k} not loaded from the SRResNet run");
    }

    // Resume: 3 + 3 steps equal 6, the lr drop at step 5 included.
    let set = |kv: &str| ["--set".to_string(), kv.to_string()];
    let mut extra: Vec<String> = set(&init).into();
    extra.extend(set(&format!("train.content={}", content())));
    extra.extend(set("train.lr_drop_at=5"));
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_sr("srgan-cifar", &data, &a, 6, &extra);
    train_sr("srgan-cifar", &data, &b, 4, &extra);
    ok(gantry().args(["train", "--resume"]).arg(&b).args(["--steps", "6", "--device", "cpu"]));
    let ca = Checkpoint::load(&a.join("checkpoints/step-0000006.safetensors")).unwrap();
    let cb = Checkpoint::load(&b.join("checkpoints/step-0000006.safetensors")).unwrap();
    assert_eq!(ca.tensors.keys().collect::<Vec<_>>(), cb.tensors.keys().collect::<Vec<_>>());
    for (name, t) in &ca.tensors {
        assert!(t.equal(&cb.tensors[name]), "{name} differs after resume");
    }
    let m = last_metrics(&a);
    assert_eq!(m["lr_factor"].as_f64(), Some(0.1), "{m}");
    for k in ["d_loss", "g_adv", "g_content", "psnr"] {
        assert!(m[k].as_f64().is_some_and(f64::is_finite), "{k} in {m}");
    }
    // g_loss = content + 10⁻³·adversarial.
    let (g, c, adv) =
        (m["g_loss"].as_f64().unwrap(), m["g_content"].as_f64().unwrap(), m["g_adv"].as_f64().unwrap());
    assert!((g - (c + 1e-3 * adv)).abs() < 1e-6, "{m}");

    // Upscale the held-out digits at their own size (28 → 112), and a --degrade grid.
    let up = tmp.path().join("up");
    let out = ok(gantry()
        .args(["upscale", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--input")
        .arg(data.join("test/0"))
        .arg("--out")
        .arg(&up));
    assert!(String::from_utf8_lossy(&out.stdout).contains("6 images"));
    let img = image::open(up.join("03.png")).unwrap();
    assert_eq!((img.width(), img.height()), (112, 112));
    let grid = tmp.path().join("grid.png");
    ok(gantry()
        .args(["upscale", "--degrade", "--n", "3", "--device", "cpu", "--ckpt"])
        .arg(&a)
        .arg("--input")
        .arg(data.join("test/0"))
        .arg("--out")
        .arg(&grid));
    let img = image::open(&grid).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 30 + 2, 3 * 30 + 2), "rows LR | bicubic | SR | HR of 28×28");
    let e = fails(
        gantry()
            .args(["upscale", "--device", "cpu", "--ckpt"])
            .arg(&a)
            .arg("--input")
            .arg(data.join("test/0"))
            .arg("--out")
            .arg(tmp.path().join("one.png")),
    );
    assert!(e.contains("give a folder"), "{e}");

    // A 90×70 image upscaled whole (--tile 0), in 16-pixel tiles with the default overlap (the
    // receptive field radius: equal), and with too little overlap (seams): 360×280.
    let big = tmp.path().join("big.png");
    let px = (tch::Tensor::arange(90 * 70, (tch::Kind::Float, tch::Device::Cpu)) * 0.37)
        .sin()
        .reshape([1, 70, 90]);
    gantry_core::image::save_png(&gantry_core::image::to_u8(&px), &big).unwrap();
    let upscale = |tile: &str, extra: &[&str], out: &Path| {
        ok(gantry()
            .args(["upscale", "--device", "cpu", "--tile", tile])
            .args(extra)
            .arg("--ckpt")
            .arg(&a)
            .arg("--input")
            .arg(&big)
            .arg("--out")
            .arg(out))
    };
    let pixels = |p: &Path| image::open(p).unwrap().to_luma8();
    let whole = tmp.path().join("whole.png");
    let stdout = String::from_utf8_lossy(&upscale("0", &[], &whole).stdout).to_string();
    assert!(stdout.contains("peak memory"), "{stdout}");
    let tiled = tmp.path().join("tiled.png");
    upscale("16", &[], &tiled);
    let (w, t) = (pixels(&whole), pixels(&tiled));
    assert_eq!((w.width(), w.height()), (360, 280));
    let off = w.pixels().zip(t.pixels()).filter(|(a, b)| a.0[0].abs_diff(b.0[0]) > 1).count();
    assert_eq!(off, 0, "tiles with the receptive field as overlap equal the whole image (±1 level)");
    let seams = tmp.path().join("seams.png");
    upscale("16", &["--tile-overlap", "0"], &seams);
    assert_ne!(pixels(&seams).into_raw(), w.into_raw(), "no overlap shows at the seams");

    // PSNR of the held-out digits made low-resolution, against the originals.
    let out = ok(gantry().args(["eval", "psnr", "--json", "--device", "cpu", "--fake"]).arg(&a));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["psnr"].as_f64().is_some_and(|p| p > 3.0 && p < 60.0), "{v}");

    // init_from a run that is not there: one line, nothing written.
    let bad = tmp.path().join("bad");
    let e = fails(
        gantry()
            .args(["train", "--preset", "srgan-cifar", "--out"])
            .arg(&bad)
            .arg("--set")
            .arg(format!("data={}", data.display()))
            .args([
                "--set",
                "model.channels=1",
                "--set",
                "train.init_from=/nonexistent/run",
                "--device",
                "cpu",
            ])
            .arg("--set")
            .arg(format!("train.content={}", content())),
    );
    assert!(e.contains("train.init_from") && e.contains("/nonexistent/run"), "{e}");
    assert!(!bad.exists(), "no run folder on bad input");
}
