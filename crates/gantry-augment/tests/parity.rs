//! DiffAugment against the authors' `DiffAugment_pytorch.py`: same inputs, same seed (so the
//! same draws from libtorch's generator), same outputs and gradients. Fixtures:
//! `tests/fixtures/make_diffaug.py`.

use gantry_augment::DiffAugment;
use tch::{Device, Kind, Tensor};

/// (case, seed, policy), as `make_diffaug.py`'s CASES.
const CASES: [(&str, i64, &str); 7] = [
    ("color", 1, "color"),
    ("translation", 2, "translation"),
    ("cutout", 3, "cutout"),
    ("all", 4, "color,translation,cutout"),
    ("mnist", 5, "color,translation,cutout"),
    ("odd", 6, "translation,cutout"),
    ("reordered", 7, "cutout,color"),
];

/// Held by each test while it seeds and draws: libtorch's generator is one per process.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn diffaugment_equals_the_authors_function_for_the_same_seed() {
    let _one = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/diffaug.safetensors");
    let fixture: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(path).unwrap().into_iter().collect();
    for (name, seed, policy) in CASES {
        let x = fixture[&format!("{name}.x")].copy().set_requires_grad(true);
        let aug: DiffAugment = policy.parse().unwrap();
        tch::manual_seed(seed);
        let y = aug.apply(&x);
        let n = y.numel() as i64;
        let w = (Tensor::arange(n, (Kind::Double, Device::Cpu)) * 0.11)
            .cos()
            .to_kind(Kind::Float)
            .view(y.size().as_slice());
        (&y * w).sum(Kind::Float).backward();
        let dy = max_abs_diff(&y, &fixture[&format!("{name}.y")]);
        let dg = max_abs_diff(&x.grad(), &fixture[&format!("{name}.grad")]);
        assert!(dy <= 1e-6, "{name} ({policy}): output differs by {dy}");
        assert!(dg <= 1e-6, "{name} ({policy}): gradient differs by {dg}");
    }
}

/// (case, seed, pipe, p), as `make_ada.py`'s CASES.
const ADA_CASES: [(&str, i64, &str, f64); 8] = [
    ("bgc_p0", 1, "bgc", 0.0),
    ("bgc_p05", 2, "bgc", 0.5),
    ("bgc_p1", 3, "bgc", 1.0),
    ("blit_grey", 4, "blit", 0.8),
    ("geom_wide", 5, "geom", 0.7),
    ("color_grey", 6, "color", 0.9),
    ("filter", 7, "filter", 1.0),
    ("bgcfnc", 8, "bgcfnc", 0.6),
];

#[test]
fn augment_pipe_equals_stylegan2_adas_for_the_same_seed_and_p() {
    let _one = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ada.safetensors");
    let fixture: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(path).unwrap().into_iter().collect();
    for (name, seed, spec, p) in ADA_CASES {
        let x = fixture[&format!("{name}.x")].copy().set_requires_grad(true);
        let pipe = gantry_augment::AugmentPipe::from_spec(spec.parse().unwrap());
        tch::manual_seed(seed);
        let y = pipe.apply(&x, p);
        let n = y.numel() as i64;
        let w = (Tensor::arange(n, (Kind::Double, Device::Cpu)) * 0.11)
            .cos()
            .to_kind(Kind::Float)
            .view(y.size().as_slice());
        (&y * w).sum(Kind::Float).backward();
        let want = &fixture[&format!("{name}.y")];
        let dy = max_abs_diff(&y, want);
        let dg = max_abs_diff(&x.grad(), &fixture[&format!("{name}.grad")]);
        // What changed: the augmentation is not the identity (but at p = 0 it nearly is).
        let moved = max_abs_diff(&y, &x);
        eprintln!("{name}: output {dy:.2e}, gradient {dg:.2e}, moved {moved:.3}");
        assert!(dy <= 1e-5, "{name} ({spec}, p {p}): output differs by {dy}");
        assert!(dg <= 1e-5, "{name} ({spec}, p {p}): gradient differs by {dg}");
    }
}
