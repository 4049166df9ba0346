//! Parity with the reference implementations, on fixtures written by `tests/fixtures/make_fixtures.py`.

use gantry_metrics::{frechet_distance, FeatureStats};
use tch::{Device, Kind, Tensor};

fn reference() -> serde_json::Value {
    serde_json::from_str(include_str!("fixtures/reference.json")).unwrap()
}

/// The fixture script's feature formula: sin(a·i + b·j + c·i·j + phase) + 0.1·cos(2.1·i − 0.7·j).
fn features(n: i64, d: i64, p: &[f64]) -> Tensor {
    let i = Tensor::arange(n, (Kind::Double, Device::Cpu)).unsqueeze(1);
    let j = Tensor::arange(d, (Kind::Double, Device::Cpu)).unsqueeze(0);
    let arg = &i * p[0] + &j * p[1] + (&i * &j) * p[2] + p[3];
    arg.sin() + (&i * 2.1 - &j * 0.7).cos() * 0.1
}

#[test]
fn frechet_distance_matches_pytorch_fid_on_2048_d_statistics() {
    let r = &reference()["frechet_2048"];
    let (n, d) = (r["n"].as_i64().unwrap(), r["d"].as_i64().unwrap());
    let params =
        |k: &str| -> Vec<f64> { r[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let mut stats = Vec::new();
    for k in ["params_a", "params_b"] {
        let mut s = FeatureStats::new();
        for chunk in features(n, d, &params(k)).split(512, 0) {
            s.update(&chunk).unwrap();
        }
        stats.push(s);
    }
    let fid = frechet_distance(
        &stats[0].mean().unwrap(),
        &stats[0].cov().unwrap(),
        &stats[1].mean().unwrap(),
        &stats[1].cov().unwrap(),
    )
    .unwrap();
    let want = r["fid"].as_f64().unwrap();
    eprintln!(
        "FID: gantry {fid} vs pytorch-fid {want} (relative difference {:.1e})",
        ((fid - want) / want).abs()
    );
    assert!(((fid - want) / want).abs() < 1e-6, "gantry {fid} vs pytorch-fid {want}");
}

fn params(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn kid_matches_clean_fid_kernel_distance() {
    let r = &reference()["kid"];
    let (n, d) = (r["n"].as_i64().unwrap(), r["d"].as_i64().unwrap());
    let real = features(n, d, &params(&r["params_real"])).to_kind(Kind::Float);
    let fake = features(n, d, &params(&r["params_fake"])).to_kind(Kind::Float);
    let k = gantry_metrics::kid(
        &real,
        &fake,
        &gantry_metrics::KidConfig { subsets: 1, subset_size: 10_000, seed: 0 },
    )
    .unwrap();
    let want = r["kid"].as_f64().unwrap();
    eprintln!(
        "KID: gantry {} vs clean-fid {want} (relative difference {:.1e})",
        k.mean,
        ((k.mean - want) / want).abs()
    );
    assert!(((k.mean - want) / want).abs() < 1e-4, "gantry {} vs clean-fid {want}", k.mean);
}

#[test]
fn inception_score_matches_torch_fidelity() {
    let r = &reference()["inception_score"];
    let logits = features(r["n"].as_i64().unwrap(), r["classes"].as_i64().unwrap(), &params(&r["params"]))
        * r["scale"].as_f64().unwrap();
    let s = gantry_metrics::inception_score(&logits, 10).unwrap();
    assert!((s.mean - r["mean"].as_f64().unwrap()).abs() < 1e-9, "{s:?} vs {r}");
    assert!((s.std - r["std"].as_f64().unwrap()).abs() < 1e-9, "{s:?} vs {r}");
}

#[test]
fn prdc_matches_the_authors_package() {
    let r = &reference()["prdc"];
    let d = r["d"].as_i64().unwrap();
    let real = features(r["n_real"].as_i64().unwrap(), d, &params(&r["params_real"]));
    let fake = features(r["n_fake"].as_i64().unwrap(), d, &params(&r["params_fake"]))
        * r["fake_scale"].as_f64().unwrap();
    let got = gantry_metrics::prdc(&real, &fake, &gantry_metrics::PrdcConfig::default()).unwrap();
    // Exact up to ties decided differently by f32 (gantry) and f64 (sklearn) distances.
    for (name, g, n) in [
        ("precision", got.precision, 700.0),
        ("recall", got.recall, 800.0),
        ("density", got.density, 700.0),
        ("coverage", got.coverage, 800.0),
    ] {
        let want = r[name].as_f64().unwrap();
        assert!((g - want).abs() <= 1.0 / n + 1e-12, "{name}: gantry {g} vs prdc {want}");
    }
}
