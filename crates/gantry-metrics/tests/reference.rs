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
    assert!(((fid - want) / want).abs() < 1e-6, "gantry {fid} vs pytorch-fid {want}");
}
