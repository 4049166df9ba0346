//! Parity with BigGAN-PyTorch's own `Generator` and `Discriminator` on fixtures their code made
//! (`fixtures/make_biggan.py`): the same state dict loaded by name, then a training-mode forward
//! (outputs, every spectral norm's u0/sv0 and BatchNorm statistics after it), its backward (every
//! parameter's gradient) and an evaluation-mode forward, within 1e-5 relative to each tensor's
//! largest value (5e-5 for gradients; float32 sums in a different order).

use std::collections::HashMap;
use std::path::Path;

use gantry_biggan::{Classes, Discriminator, DiscriminatorConfig, Generator, GeneratorConfig, InitStyle};
use tch::nn::VarStore;
use tch::{Device, Tensor};

fn fixture() -> HashMap<String, Tensor> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biggan.safetensors");
    Tensor::read_safetensors(&path).expect("fixture").into_iter().collect()
}

fn configs(name: &str) -> (GeneratorConfig, DiscriminatorConfig) {
    match name {
        "shared" => (
            GeneratorConfig {
                ch: 8,
                dim_z: 20,
                resolution: 32,
                attention: "16".into(),
                n_classes: 5,
                shared: true,
                shared_dim: 8,
                hier: true,
                bn_eps: 1e-4,
                sn_eps: 1e-6,
                init: InitStyle::Ortho,
            },
            DiscriminatorConfig {
                ch: 8,
                resolution: 32,
                attention: "16".into(),
                n_classes: 5,
                sn_eps: 1e-6,
                init: InitStyle::Ortho,
            },
        ),
        _ => (
            GeneratorConfig {
                ch: 8,
                dim_z: 16,
                resolution: 32,
                attention: "0".into(),
                n_classes: 5,
                shared: false,
                shared_dim: 0,
                hier: false,
                bn_eps: 1e-5,
                sn_eps: 1e-8,
                init: InitStyle::N02,
            },
            DiscriminatorConfig {
                ch: 8,
                resolution: 32,
                attention: "0".into(),
                n_classes: 5,
                sn_eps: 1e-8,
                init: InitStyle::N02,
            },
        ),
    }
}

fn close(what: &str, a: &Tensor, b: &Tensor) -> f64 {
    close_within(what, a, b, 1e-5)
}

fn close_within(what: &str, a: &Tensor, b: &Tensor, tol: f64) -> f64 {
    assert_eq!(a.size(), b.size(), "{what}: shape");
    let scale = b.abs().max().double_value(&[]).max(1e-12);
    let d = (a - b).abs().max().double_value(&[]) / scale;
    assert!(d <= tol, "{what}: differs by {d:.3e} of its largest value");
    d
}

/// Loads `prefix.init.*` into `vs`, requiring the same names and shapes both ways.
fn load(vs: &VarStore, f: &HashMap<String, Tensor>, prefix: &str) {
    let vars = vs.variables();
    let theirs: Vec<(&str, &Tensor)> =
        f.iter().filter_map(|(k, v)| k.strip_prefix(&format!("{prefix}.init.")).map(|n| (n, v))).collect();
    assert_eq!(
        theirs.len(),
        vars.len(),
        "{prefix}: their state dict and gantry's network hold as many tensors"
    );
    tch::no_grad(|| {
        for (name, t) in theirs {
            let mut v =
                vars.get(name).unwrap_or_else(|| panic!("{prefix}: gantry lacks {name}")).shallow_clone();
            assert_eq!(v.size(), t.size(), "{prefix}.{name}");
            v.copy_(t);
        }
    });
}

/// After the training forward: buffers as theirs; after backward: gradients as theirs, within
/// 5e-5 (a bias's gradient sums batch × pixels terms). Some G biases are cancelled by
/// training-mode BatchNorm: every block's conv1 (before bn2), and conv2 and conv_sc of the blocks
/// after the last attention — a per-channel constant in the residual stream reaches only
/// BatchNorms and 1×1 shortcut convolutions, which keep it a per-channel constant, until the
/// output BatchNorm. Their gradient is zero but for rounding on both sides, so it is held to
/// that (≤ 1e-5 of the largest weight gradient).
fn compare_state(vs: &VarStore, f: &HashMap<String, Tensor>, prefix: &str, free_from: Option<usize>) -> f64 {
    let mut worst = 0f64;
    let vars = vs.variables();
    let scale = vars
        .iter()
        .filter(|(n, v)| n.ends_with("weight") && v.requires_grad())
        .map(|(_, v)| v.grad().abs().max().double_value(&[]))
        .fold(0.0, f64::max);
    let cancelled = |name: &str| {
        let Some(first) = free_from else { return false };
        let block = name.split('.').nth(1).and_then(|b| b.parse::<usize>().ok());
        name.ends_with("conv1.bias")
            || (block.is_some_and(|b| b >= first)
                && (name.ends_with("0.conv2.bias") || name.ends_with("0.conv_sc.bias")))
    };
    for (name, v) in &vars {
        if cancelled(name) {
            for (side, g) in
                [("gantry", v.grad()), ("theirs", f[&format!("{prefix}.grad.{name}")].shallow_clone())]
            {
                let m = g.abs().max().double_value(&[]);
                assert!(m <= 1e-5 * scale, "{prefix} grad {name} ({side}): {m:.3e}, expected rounding of 0");
            }
        } else if v.requires_grad() {
            worst = worst.max(close_within(
                &format!("{prefix} grad {name}"),
                &v.grad(),
                &f[&format!("{prefix}.grad.{name}")],
                5e-5,
            ));
        } else {
            worst = worst.max(close(
                &format!("{prefix} buffer {name}"),
                v,
                &f[&format!("{prefix}.train.{name}")],
            ));
        }
    }
    worst
}

#[test]
fn generator_and_discriminator_match_theirs_in_training_and_evaluation() {
    let f = fixture();
    for c in ["shared", "cifar"] {
        let (gc, dc) = configs(c);
        let vs = VarStore::new(Device::Cpu);
        let g = Generator::new(&vs.root(), &gc).unwrap();
        load(&vs, &f, &format!("{c}.g"));
        let (z, y) = (&f[&format!("{c}.z")], Classes::Index(f[&format!("{c}.y")].shallow_clone()));
        let out = g.forward(z, &y, true);
        close(&format!("{c} G train"), &out, &f[&format!("{c}.g.out_train")]);
        (out * &f[&format!("{c}.g.w")]).sum(tch::Kind::Float).backward();
        // Attention after block 1 in `shared`, none in `cifar`.
        let free_from = if c == "shared" { 2 } else { 0 };
        let worst_g = compare_state(&vs, &f, &format!("{c}.g"), Some(free_from));
        let eval = tch::no_grad(|| g.forward(z, &y, false));
        close(&format!("{c} G eval"), &eval, &f[&format!("{c}.g.out_eval")]);

        let vs = VarStore::new(Device::Cpu);
        let d = Discriminator::new(&vs.root(), &dc).unwrap();
        load(&vs, &f, &format!("{c}.d"));
        let (x, dy) = (&f[&format!("{c}.x")], Classes::Index(f[&format!("{c}.dy")].shallow_clone()));
        let out = d.forward(x, &dy, true);
        close(&format!("{c} D train"), &out, &f[&format!("{c}.d.out_train")]);
        (out * &f[&format!("{c}.d.w")]).sum(tch::Kind::Float).backward();
        let worst_d = compare_state(&vs, &f, &format!("{c}.d"), None);
        let eval = tch::no_grad(|| d.forward(x, &dy, false));
        close(&format!("{c} D eval"), &eval, &f[&format!("{c}.d.out_eval")]);
        eprintln!("{c}: G state within {worst_g:.2e}, D state within {worst_d:.2e}");
    }
}

#[test]
fn soft_classes_equal_indices_and_interpolate_linearly_in_embedding_space() {
    let f = fixture();
    for c in ["shared", "cifar"] {
        let (gc, _) = configs(c);
        let vs = VarStore::new(Device::Cpu);
        let g = Generator::new(&vs.root(), &gc).unwrap();
        load(&vs, &f, &format!("{c}.g"));
        let z = &f[&format!("{c}.z")];
        let y = f[&format!("{c}.y")].shallow_clone();
        let one_hot = y.one_hot(5).to_kind(tch::Kind::Float);
        let a = tch::no_grad(|| g.forward(z, &Classes::Index(y), false));
        let b = tch::no_grad(|| g.forward(z, &Classes::Soft(one_hot), false));
        close(&format!("{c} one-hot"), &b, &a);
    }
}
