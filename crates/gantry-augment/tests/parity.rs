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

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn diffaugment_equals_the_authors_function_for_the_same_seed() {
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
