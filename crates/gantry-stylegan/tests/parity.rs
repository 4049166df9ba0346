//! Parity with NVIDIA's StyleGAN2-ADA (`training/networks.py`): outputs of the reference's
//! modules, with their weights, on fixed inputs (fixtures by `tests/fixtures/make_fixtures.py`).
//! Tolerance: 1e-5 absolute on outputs of order 1 (f32), as the issue asks.

use std::collections::HashMap;

use gantry_stylegan::layers::{
    modulated_conv2d, MappingNetwork, NoiseMode, StyleOp, SynthesisLayer, ToRgb, Truncation,
};
use gantry_stylegan::networks::{
    Discriminator, Generator, StyleGan2Config, SynthesisBlock, SynthesisOptions,
};
use gantry_stylegan::ops::{downsample2d, setup_filter, upfirdn2d, upsample2d};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const TOL: f64 = 1e-5;

fn fixtures() -> HashMap<String, Tensor> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference.safetensors");
    Tensor::read_safetensors(path).unwrap().into_iter().collect()
}

fn get<'a>(f: &'a HashMap<String, Tensor>, key: &str) -> &'a Tensor {
    f.get(key).unwrap_or_else(|| panic!("fixture {key} missing"))
}

/// Copies the reference's state dict under `prefix` into `vs`; every variable must be there and
/// every reference tensor must find a variable.
fn load(vs: &VarStore, f: &HashMap<String, Tensor>, prefix: &str) {
    let vars = vs.variables();
    let theirs: Vec<&String> =
        f.keys().filter(|k| k.starts_with(&format!("{prefix}.")) && !k.contains('/')).collect();
    assert_eq!(
        vars.len(),
        theirs.len(),
        "{prefix}: {} variables here, {} in the reference",
        vars.len(),
        theirs.len()
    );
    tch::no_grad(|| {
        for (name, mut t) in vars {
            let src = get(f, &name);
            assert_eq!(t.size(), src.size(), "{name}");
            t.copy_(src);
        }
    });
}

fn close(name: &str, ours: &Tensor, theirs: &Tensor) {
    assert_eq!(ours.size(), theirs.size(), "{name}: shape");
    let d = (ours - theirs).abs().max().double_value(&[]);
    let scale = theirs.abs().max().double_value(&[]);
    assert!(d <= TOL * scale.max(1.0), "{name}: max |Δ| = {d:.3e} (reference max |x| = {scale:.3})");
}

#[test]
fn upfirdn2d_resampling() {
    let f = fixtures();
    let filt = setup_filter(&[1.0, 3.0, 3.0, 1.0], Device::Cpu);
    let x = get(&f, "resample/in/x");
    close("up", &upsample2d(x, &filt, 2), get(&f, "resample/out/up"));
    close("down", &downsample2d(x, &filt, 2), get(&f, "resample/out/down"));
    close("custom", &upfirdn2d(x, &filt, 2, 1, [1, -1, 2, 0], 3.0), get(&f, "resample/out/custom"));
}

#[test]
fn modulated_conv2d_every_variant() {
    let f = fixtures();
    let filt = setup_filter(&[1.0, 3.0, 3.0, 1.0], Device::Cpu);
    let (x, w, s) = (get(&f, "modconv/in/x"), get(&f, "modconv/in/weight"), get(&f, "modconv/in/styles"));
    for up in [1, 2] {
        let noise = get(&f, if up == 1 { "modconv/in/noise" } else { "modconv/in/noise_up" });
        for fused in [true, false] {
            for demod in [true, false] {
                let name = format!("up{up}_fused{}_demod{}", i32::from(fused), i32::from(demod));
                let y = modulated_conv2d(x, w, s, Some(noise), up, 1, &filt, demod, up == 1, fused);
                close(&name, &y, get(&f, &format!("modconv/out/{name}")));
            }
        }
    }
}

#[test]
fn synthesis_layers_and_torgb() {
    let f = fixtures();
    for up in [1, 2] {
        let vs = VarStore::new(Device::Cpu);
        let case = format!("layer_up{up}");
        let layer =
            SynthesisLayer::new(vs.root() / case.as_str(), 8, 6, 16, 8 * up, up, None, StyleOp::Modulated);
        load(&vs, &f, &case);
        let (x, w) = (get(&f, &format!("{case}/in/x")), get(&f, &format!("{case}/in/w")));
        for fused in [true, false] {
            let y = layer.forward(x, w, NoiseMode::Const, fused, 1.0);
            close(&case, &y, get(&f, &format!("{case}/out/fused{}", i32::from(fused))));
        }
        close(
            &case,
            &layer.forward(x, w, NoiseMode::None, true, 1.0),
            get(&f, &format!("{case}/out/nonoise")),
        );
    }
    let vs = VarStore::new(Device::Cpu);
    let torgb = ToRgb::new(vs.root() / "torgb", 8, 3, 16, None);
    load(&vs, &f, "torgb");
    close(
        "torgb",
        &torgb.forward(get(&f, "torgb/in/x"), get(&f, "torgb/in/w"), true),
        get(&f, "torgb/out/y"),
    );
}

#[test]
fn mapping_network_truncation_and_w_avg() {
    let f = fixtures();
    let vs = VarStore::new(Device::Cpu);
    let m = MappingNetwork::new(vs.root() / "mapping", 16, 0, 16, Some(5), 3, 0.01, Some(0.995));
    load(&vs, &f, "mapping");
    let z = get(&f, "mapping/in/z");
    close("ws", &m.forward(Some(z), None, Truncation::default(), false), get(&f, "mapping/out/ws"));
    let t = Truncation { psi: 0.7, cutoff: Some(2) };
    close("ψ 0.7 cut 2", &m.forward(Some(z), None, t, false), get(&f, "mapping/out/ws_psi07_cut2"));
    let t = Truncation { psi: 0.5, cutoff: None };
    close("ψ 0.5", &m.forward(Some(z), None, t, false), get(&f, "mapping/out/ws_psi05"));
    let _ = m.forward(Some(z), None, Truncation::default(), true);
    close("w_avg", m.w_avg.as_ref().unwrap(), get(&f, "mapping/out/w_avg_after_update"));

    let vs = VarStore::new(Device::Cpu);
    let cm = MappingNetwork::new(vs.root() / "cmapping", 16, 4, 16, None, 2, 0.01, Some(0.995));
    load(&vs, &f, "cmapping");
    let c = get(&f, "cmapping/in/c");
    close(
        "conditional",
        &cm.forward(Some(z), Some(c), Truncation::default(), false),
        get(&f, "cmapping/out/w"),
    );
}

#[test]
fn synthesis_blocks() {
    let f = fixtures();
    let vs = VarStore::new(Device::Cpu);
    let b4 = SynthesisBlock::new(vs.root() / "b4", 0, 8, 16, 4, 3, None, StyleOp::Modulated);
    let b8 = SynthesisBlock::new(vs.root() / "b8", 8, 6, 16, 8, 3, None, StyleOp::Modulated);
    let n = vs.variables().len();
    let theirs =
        f.keys().filter(|k| (k.starts_with("b4.") || k.starts_with("b8.")) && !k.contains('/')).count();
    assert_eq!(n, theirs);
    tch::no_grad(|| {
        for (name, mut t) in vs.variables() {
            t.copy_(get(&f, &name));
        }
    });
    let ws = get(&f, "blocks/in/ws");
    for fused in [true, false] {
        let o = SynthesisOptions { noise: NoiseMode::Const, fused };
        let (x4, img4) = b4.forward(None, None, &ws.narrow(1, 0, 2), o);
        let (x8, img8) = b8.forward(Some(&x4), Some(&img4), ws, o);
        let k = i32::from(fused);
        close("x4", &x4, get(&f, &format!("blocks/out/x4_fused{k}")));
        close("img4", &img4, get(&f, &format!("blocks/out/img4_fused{k}")));
        close("x8", &x8, get(&f, &format!("blocks/out/x8_fused{k}")));
        close("img8", &img8, get(&f, &format!("blocks/out/img8_fused{k}")));
    }
}

fn tiny(resolution: i64, channels: i64, c_dim: i64, base: i64) -> StyleGan2Config {
    StyleGan2Config {
        resolution,
        channels,
        z_dim: 16,
        w_dim: 16,
        c_dim,
        mapping_layers: 2,
        channel_base: base,
        channel_max: 16,
        conv_clamp: None,
        ..StyleGan2Config::paper256()
    }
}

#[test]
fn generator_with_truncation_fused_and_not() {
    let f = fixtures();
    let vs = VarStore::new(Device::Cpu);
    let g = Generator::new(vs.root() / "G", &tiny(16, 3, 0, 128));
    load(&vs, &f, "G");
    let z = get(&f, "G/in/z");
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    close("G", &g.forward(z, None, Truncation::default(), o), get(&f, "G/out/img"));
    let t = Truncation { psi: 0.6, cutoff: Some(4) };
    close("G ψ", &g.forward(z, None, t, o), get(&f, "G/out/img_psi06_cut4"));
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: false };
    close("G train", &g.forward(z, None, Truncation::default(), o), get(&f, "G/out/img_train"));
}

#[test]
fn discriminator_logits_and_input_gradient() {
    let f = fixtures();
    let vs = VarStore::new(Device::Cpu);
    let d = Discriminator::new(vs.root() / "D", &StyleGan2Config { mbstd_group: 2, ..tiny(16, 3, 0, 128) });
    load(&vs, &f, "D");
    let img = get(&f, "D/in/img").set_requires_grad(true);
    let logits = d.forward(&img, None);
    close("D", &logits, get(&f, "D/out/logits"));
    let g = Tensor::run_backward(&[logits.sum(Kind::Float)], &[&img], false, false);
    close("∂D/∂x", &g[0], get(&f, "D/out/grad_img"));

    let vs = VarStore::new(Device::Cpu);
    let cd = Discriminator::new(vs.root() / "cD", &tiny(8, 1, 4, 64));
    load(&vs, &f, "cD");
    close(
        "conditional D",
        &cd.forward(get(&f, "cD/in/img"), Some(get(&f, "cD/in/c"))),
        get(&f, "cD/out/logits"),
    );
}
