//! `cargo xtask repro translation`: why pix2pix has two losses (Isola et al. 2017, §4.2 and
//! Table 1; the lectures' "a content loss to stay faithful to the input, plus an adversarial loss
//! to look real").
//!
//! Trains `pix2pix-edges2fashion` three ways for the same number of steps — **L1 only** (λ = 100,
//! no adversarial term, D untrained), **cGAN only** (the PatchGAN term alone), **L1 + cGAN** (the
//! paper's objective) — and measures each on held-out edges → garments pairs:
//!
//! - PSNR and SSIM of the translations against their targets (faithfulness, pixel by pixel);
//! - the domain FID of the translations against the held-out garments (realism: gantry's
//!   Fashion-MNIST classifier's features, 128-d);
//! - class kept: the share of pairs where the classifier reads the translation as the same kind
//!   of garment as its target (faithfulness in content).
//!
//! And CycleGAN with and without its cycle loss on `digits2mnist` (UCI 8×8 digits ↔ MNIST, no
//! pairs): the MNIST classifier's agreement between a held-out UCI digit's label and its
//! translation (is the digit kept?), the cycle's reconstruction error F(G(a)) vs a, and the domain
//! FID of the translations against MNIST's test digits; plus `cyclegan-horse2deer` grids.
//!
//! Writes `grid.png` (rows: input edges, L1, cGAN, L1 + cGAN, target), `cycle_grid.png` (rows:
//! UCI digit, CycleGAN's translation, its cycle, the no-cycle translation), `horse2deer.png` and
//! `deer2horse.png` (input | translation | cycle), `summary.json`, `summary.md`. `--check` uses
//! small sets derived from the embedded MNIST digits (edges → digits; inverted ↔ plain digits),
//! trains each model for a few steps and checks the numbers' ranges (the test suite runs it).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use gantry_train::recipes::cyclegan::CycleRun;
use gantry_train::recipes::pix2pix::Pix2pixRun;
use serde_json::{json, Value};
use tch::{Device, Tensor};

pub use crate::Options;

/// A variant: its name and (gan_weight, l1_weight).
const VARIANTS: &[(&str, f64, f64)] =
    &[("L1 only", 0.0, 100.0), ("cGAN only", 1.0, 0.0), ("L1 + cGAN", 1.0, 100.0)];

/// Held-out pairs the variants are measured on (`[N, 1, 32, 32]` u8 each) and their share of the
/// grid.
struct HeldOut {
    inputs: Tensor,
    targets: Tensor,
}

/// The sections, in order: (name, what it runs).
pub const SECTIONS: &[(&str, crate::Section)] =
    &[("pix2pix", pix2pix), ("cyclegan", cyclegan), ("superres", superres)];

/// Runs the figures (`o.only`: one section, the others kept from an earlier `summary.json`);
/// returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    crate::run_sections(o, "translation", SECTIONS, markdown)
}

/// pix2pix's three objectives.
fn pix2pix(o: &Options) -> Result<Value> {
    let (steps, n_eval, features) =
        if o.check { (3u64, 32usize, "mnist") } else { (3000, 2000, "fashion-mnist") };
    let data = if o.check {
        let root = o.out.join("data");
        crate::clear(&root)?;
        gantry_data::derive::edges_of_digits(&root, 64, 32)?;
        root.display().to_string()
    } else {
        "edges2fashion".to_string()
    };
    let classifier = gantry_metrics::classifier::Classifier::builtin(features, o.device)?;
    let mut rows = Vec::new();
    let mut translations = Vec::new();
    let mut held: Option<HeldOut> = None;
    for &(name, gan, l1) in VARIANTS {
        let mut cfg = crate::short_run("pix2pix-edges2fashion", &data, steps)?;
        let s = cfg.family.get_mut::<Pix2pixRun>().context("pix2pix-edges2fashion is a pix2pix run")?;
        (s.train.gan_weight, s.train.l1_weight) = (gan, l1);
        if o.check {
            (s.model.ngf, s.model.ndf) = (4, 4);
            cfg.batch_size = 8;
        }
        let dir = o.out.join("runs").join(name.replace([' ', '+'], "").to_lowercase());
        let model = crate::trained(cfg, &dir, o)
            .with_context(|| format!("{name}: the full figures train on edges2fashion (`cargo xtask datasets derive edges2fashion --from ../shared/datasets`)"))?;
        let h = match &held {
            Some(h) => h,
            None => {
                let (inputs, targets) = gantry_train::eval::held_out_pairs(&model, Some(n_eval))?;
                held.insert(HeldOut { inputs, targets })
            }
        };
        let t = model.translator()?;
        tch::manual_seed(0);
        let y = translate_all(&h.inputs, |x| t.translate(x))?;
        let psnr = mean(&gantry_metrics::similarity::psnr(&y, &h.targets, 255.0)?);
        let ssim = mean(&gantry_metrics::similarity::ssim(&y, &h.targets, 255.0)?);
        let (fy, ly) = classifier.features_and_logits(&y)?;
        let (ft, lt) = classifier.features_and_logits(&h.targets)?;
        let fid = frechet(&fy, &ft)?;
        let kept = ly
            .argmax(1, false)
            .eq_tensor(&lt.argmax(1, false))
            .to_kind(tch::Kind::Double)
            .mean(tch::Kind::Double)
            .double_value(&[]);
        ensure!(
            psnr.is_finite()
                && (-1.0..=1.0).contains(&ssim)
                && fid.is_finite()
                && (0.0..=1.0).contains(&kept),
            "{name}: PSNR {psnr}, SSIM {ssim}, FID {fid}, class kept {kept}"
        );
        let last = last_losses(&dir)?;
        rows.push(json!({ "variant": name, "gan_weight": gan, "l1_weight": l1, "psnr": psnr, "ssim": ssim,
                          "domain_fid": fid, "class_kept": kept, "final_losses": last }));
        translations.push(y);
    }
    let h = held.context("no variant was trained")?;
    // Grid: 8 held-out examples per column, rows input, L1, cGAN, L1 + cGAN, target.
    let k = 8.min(h.inputs.size()[0]);
    let mut tiles = vec![h.inputs.narrow(0, 0, k)];
    tiles.extend(translations.iter().map(|y| y.narrow(0, 0, k)));
    tiles.push(h.targets.narrow(0, 0, k));
    let grid = gantry_core::image::from_u8(&Tensor::cat(&tiles, 0));
    gantry_core::image::save_grid(&grid, k as usize, &o.out.join("grid.png"))?;
    Ok(
        json!({ "steps": steps, "data": data, "held_out": h.inputs.size()[0], "features": features, "variants": rows }),
    )
}

/// Translations of u8 images `x` by `f` (in batches), back to u8 on the CPU.
fn translate_all(x: &Tensor, f: impl Fn(&Tensor) -> gantry_train::Result<Tensor>) -> Result<Tensor> {
    let parts: Result<Vec<Tensor>> = x
        .split(256, 0)
        .iter()
        .map(|b| Ok(gantry_core::image::to_u8(&f(&gantry_core::image::from_u8(b))?).to_device(Device::Cpu)))
        .collect();
    Ok(Tensor::cat(&parts?, 0))
}

/// CycleGAN with and without the cycle loss on digits, and horse ↔ deer grids.
fn cyclegan(o: &Options) -> Result<Value> {
    let steps = if o.check { 3u64 } else { 3000 };
    let data = if o.check {
        let root = o.out.join("data-unpaired");
        crate::clear(&root)?;
        gantry_data::derive::inverted_digits(&root, 32, 16)?;
        root.display().to_string()
    } else {
        "digits2mnist".to_string()
    };
    let classifier = gantry_metrics::classifier::Classifier::builtin("mnist", o.device)?;
    let mut rows = Vec::new();
    let mut tiles: Vec<Tensor> = Vec::new();
    let mut baseline = None;
    for (name, cycle) in [("CycleGAN (λ = 10)", 10.0), ("no cycle loss", 0.0)] {
        let mut cfg = crate::short_run("cyclegan-digits2mnist", &data, steps)?;
        let s = cfg.family.get_mut::<CycleRun>().context("cyclegan-digits2mnist is a cyclegan run")?;
        s.train.cycle_weight = cycle;
        if o.check {
            (s.model.ngf, s.model.ndf, s.model.n_blocks) = (4, 4, 1);
        }
        let dir = o.out.join("runs").join(if cycle > 0.0 { "cycle" } else { "nocycle" });
        let model = crate::trained(cfg, &dir, o)
            .with_context(|| format!("{name}: the full figures train on digits2mnist (`cargo xtask datasets derive digits2mnist --from ../shared/datasets`)"))?;
        let (a, b) = gantry_train::eval::held_out_domains(&model)?;
        let labels = a
            .labels
            .as_ref()
            .map(|l| l.shallow_clone())
            .context("the held-out A digits have no class folders")?;
        let t = model.translator()?;
        let y = translate_all(&a.images, |x| t.translate(x))?;
        let back = translate_all(&y, |x| t.translate_back(x))?;
        let (fy, ly) = classifier.features_and_logits(&y)?;
        let kept = ly
            .argmax(1, false)
            .eq_tensor(&labels)
            .to_kind(tch::Kind::Double)
            .mean(tch::Kind::Double)
            .double_value(&[]);
        let fb = classifier.features_and_logits(&b.images)?.0;
        let fid = frechet(&fy, &fb)?;
        let cycle_error = (back.to_kind(tch::Kind::Double) - a.images.to_kind(tch::Kind::Double))
            .abs()
            .mean(tch::Kind::Double)
            .double_value(&[]);
        if baseline.is_none() {
            let (fa, la) = classifier.features_and_logits(&a.images)?;
            let read = la
                .argmax(1, false)
                .eq_tensor(&labels)
                .to_kind(tch::Kind::Double)
                .mean(tch::Kind::Double)
                .double_value(&[]);
            baseline = Some(json!({ "classifier_on_inputs": read, "inputs_domain_fid": frechet(&fa, &fb)? }));
            tiles.push(a.images.narrow(0, 0, 10.min(a.len() as i64)));
        }
        ensure!(
            (0.0..=1.0).contains(&kept) && fid.is_finite() && cycle_error.is_finite(),
            "{name}: digit kept {kept}, FID {fid}, cycle error {cycle_error}"
        );
        let k = 10.min(y.size()[0]);
        tiles.push(y.narrow(0, 0, k));
        if cycle > 0.0 {
            tiles.push(back.narrow(0, 0, k));
        }
        rows.push(json!({ "variant": name, "cycle_weight": cycle, "digit_kept": kept, "domain_fid": fid,
                          "cycle_l1_pixels": cycle_error, "final_losses": last_losses(&dir)? }));
    }
    let per_row = tiles[0].size()[0];
    gantry_core::image::save_grid(
        &gantry_core::image::from_u8(&Tensor::cat(&tiles, 0)),
        per_row as usize,
        &o.out.join("cycle_grid.png"),
    )?;
    // Horses ↔ deer (full figures only: the check has no colour unpaired set).
    let horses = if o.check {
        Value::Null
    } else {
        let mut cfg = gantry_train::presets::find("cyclegan-horse2deer")?.config();
        cfg.log.keep_checkpoints = 1;
        let steps = cfg.steps;
        cfg.log.checkpoint_every = steps;
        let dir = o.out.join("runs").join("horse2deer");
        let model = crate::trained(cfg, &dir, o)
            .context("horse2deer: `cargo xtask datasets derive horse2deer --from ../shared/datasets`")?;
        let (a, b) = gantry_train::eval::held_out_domains(&model)?;
        let t = model.translator()?;
        for (x, name, fwd) in [(&a, "horse2deer.png", true), (&b, "deer2horse.png", false)] {
            let x = x.images.narrow(0, 0, 12);
            let (y, back) = if fwd {
                let y = translate_all(&x, |v| t.translate(v))?;
                let back = translate_all(&y, |v| t.translate_back(v))?;
                (y, back)
            } else {
                let y = translate_all(&x, |v| t.translate_back(v))?;
                let back = translate_all(&y, |v| t.translate(v))?;
                (y, back)
            };
            let grid = Tensor::cat(&[x, y, back], 0);
            gantry_core::image::save_grid(&gantry_core::image::from_u8(&grid), 12, &o.out.join(name))?;
        }
        json!({ "steps": steps, "grids": ["horse2deer.png", "deer2horse.png"] })
    };
    Ok(
        json!({ "steps": steps, "data": data, "held_out": tiles[0].size()[0], "baseline": baseline, "variants": rows, "horse2deer": horses }),
    )
}

/// Super-resolution ×4, the lectures' "exam trap": bicubic vs SRResNet (MSE) vs SRGAN (content
/// in the FID Inception's features + 10⁻³ adversarial, initialised from that SRResNet) on held-out
/// CIFAR-10 images: PSNR and SSIM (pixel fidelity), the FID of the 32×32 outputs against the
/// held-out originals (realism; Inception pool3), and the detail ratio mean |∇²ŷ| / mean |∇²y|
/// (high-frequency energy kept: 1 for the originals, below 1 for blur).
fn superres(o: &Options) -> Result<Value> {
    use gantry_train::recipes::srgan::{bicubic_upscale, Content, SrganRun};
    let (steps_mse, steps_gan, n_eval) = if o.check { (3u64, 3u64, 48usize) } else { (2500, 750, 500) };
    let inception =
        gantry_metrics::weights::locate(gantry_metrics::weights::INCEPTION_FILE, "inception").ok();
    let data = if o.check {
        // A folder with train/ and test/ splits of embedded MNIST digits.
        let root = o.out.join("data-sr");
        crate::clear(&root)?;
        let digits =
            gantry_data::load(gantry_data::source::EMBEDDED, &gantry_data::LoadOptions::default())?.images;
        for (split, from, n) in [("train", 0, 64), ("test", 64, 48)] {
            std::fs::create_dir_all(root.join(split).join("0"))?;
            for i in 0..n {
                let path = root.join(split).join("0").join(format!("{i:03}.png"));
                gantry_core::image::save_png(&digits.get(from + i), &path)?;
            }
        }
        root.display().to_string()
    } else {
        "cifar10-jpg".to_string()
    };
    let mut models = Vec::new();
    let mut outputs: Vec<(String, Tensor)> = Vec::new();
    let mut held: Option<HeldOut> = None;
    for (name, preset, steps) in
        [("SRResNet (MSE)", "srresnet-cifar", steps_mse), ("SRGAN", "srgan-cifar", steps_gan)]
    {
        let mut cfg = crate::short_run(preset, &data, steps)?;
        let s = cfg.family.get_mut::<SrganRun>().context("the SR presets are srgan runs")?;
        s.train.lr_drop_at = 0;
        let dir = o.out.join("runs").join(preset);
        if let Some(first) = models.first() {
            let first: &(std::path::PathBuf, String) = first;
            s.train.init_from = first.0.display().to_string();
        }
        if o.check {
            (s.model.n_blocks, s.model.ngf, s.model.ndf, s.model.channels) = (1, 8, 4, 0);
            if inception.is_none() && s.train.content != Content::Mse {
                s.train.content = Content::Mse; // the check runs without the Inception file too
            }
            cfg.batch_size = 8;
        }
        let content = format!("{:?}", s.train.content);
        let model = crate::trained(cfg, &dir, o).with_context(|| {
            format!("{name}: the full figures train on cifar10-jpg (`cargo xtask datasets fetch cifar10-jpg --from ../shared/datasets`)")
        })?;
        models.push((dir, content));
        let h = match &held {
            Some(h) => h,
            None => {
                let (inputs, targets) = gantry_train::eval::held_out_pairs(&model, Some(n_eval))?;
                let bicubic = translate_all(&inputs, |x| Ok(bicubic_upscale(x, 4)))?;
                outputs.push(("bicubic".into(), bicubic));
                held.insert(HeldOut { inputs, targets })
            }
        };
        let t = model.translator()?;
        outputs.push((name.into(), translate_all(&h.inputs, |x| t.translate(x))?));
    }
    let h = held.context("no model was trained")?;
    let real_feats = match (&inception, o.check) {
        (Some(path), false) => Some(gantry_metrics::inception::Inception::load(path, o.device)?),
        _ => None,
    };
    let classifier = gantry_metrics::classifier::Classifier::builtin("mnist", o.device)?;
    let features = |x: &Tensor| -> Result<Tensor> {
        match &real_feats {
            // In chunks: 1,000 images at 299×299 in one call hold 8 GB.
            Some(net) => {
                let parts: Result<Vec<Tensor>> =
                    x.split(100, 0).iter().map(|c| Ok(net.features(c)?)).collect();
                Ok(Tensor::cat(&parts?, 0))
            }
            None => Ok(classifier.features_and_logits(x)?.0),
        }
    };
    let target_feats = features(&h.targets)?;
    let fid_of = |x: &Tensor| -> Result<f64> { frechet(&features(x)?, &target_feats) };
    let detail_of_targets = laplacian_energy(&h.targets);
    let mut rows = Vec::new();
    for (i, (name, y)) in outputs.iter().enumerate() {
        let psnr = mean(&gantry_metrics::similarity::psnr(y, &h.targets, 255.0)?);
        let ssim = mean(&gantry_metrics::similarity::ssim(y, &h.targets, 255.0)?);
        let fid = fid_of(y)?;
        let detail = laplacian_energy(y) / detail_of_targets;
        ensure!(
            psnr.is_finite()
                && (-1.0..=1.0).contains(&ssim)
                && fid.is_finite()
                && detail.is_finite()
                && detail > 0.0,
            "{name}: PSNR {psnr}, SSIM {ssim}, FID {fid}, detail {detail}"
        );
        let content = if i == 0 { Value::Null } else { json!(models[i - 1].1) };
        rows.push(json!({ "method": name, "psnr": psnr, "ssim": ssim, "fid": fid, "detail": detail, "content": content }));
    }
    // Grid, tiles enlarged ×3 (nearest) to show the pixels: rows LR, bicubic, SRResNet, SRGAN, HR.
    let k = 8.min(h.inputs.size()[0]);
    let zoom =
        |x: &Tensor, f: i64| x.repeat_interleave_self_int(f, 2, None).repeat_interleave_self_int(f, 3, None);
    let mut tiles = vec![zoom(&h.inputs.narrow(0, 0, k), 4)];
    tiles.extend(outputs.iter().map(|(_, y)| y.narrow(0, 0, k)));
    tiles.push(h.targets.narrow(0, 0, k));
    let grid = gantry_core::image::from_u8(&zoom(&Tensor::cat(&tiles, 0), 3));
    gantry_core::image::save_grid(&grid, k as usize, &o.out.join("superres.png"))?;
    Ok(json!({
        "data": data, "scale": 4, "steps_srresnet": steps_mse, "steps_srgan": steps_gan,
        "held_out": h.inputs.size()[0], "fid_features": if real_feats.is_some() { "inception" } else { "mnist" },
        "methods": rows,
    }))
}

/// mean |∇²x| of u8 images (the 4-neighbour Laplacian on each channel, valid region).
fn laplacian_energy(x: &Tensor) -> f64 {
    let x = x.to_kind(tch::Kind::Float);
    let c = x.size()[1];
    let k = Tensor::from_slice(&[0.0f32, 1.0, 0.0, 1.0, -4.0, 1.0, 0.0, 1.0, 0.0])
        .view([1, 1, 3, 3])
        .repeat([c, 1, 1, 1]);
    let lap = x.conv2d(&k.to_device(x.device()), None::<Tensor>, [1, 1], [0, 0], [1, 1], c);
    lap.abs().mean(tch::Kind::Double).double_value(&[])
}

fn mean(t: &Tensor) -> f64 {
    let v: Vec<f64> = Vec::try_from(t.to_device(Device::Cpu)).unwrap_or_default();
    let finite: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    finite.iter().sum::<f64>() / finite.len().max(1) as f64
}

fn frechet(a: &Tensor, b: &Tensor) -> Result<f64> {
    let (ma, sa) = crate::feature_stats(a)?;
    let (mb, sb) = crate::feature_stats(b)?;
    Ok(gantry_metrics::frechet_distance(&ma, &sa, &mb, &sb)?)
}

/// The last logged line of a run's losses.
fn last_losses(dir: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl"))?;
    let last: Value = serde_json::from_str(text.lines().last().context("no metrics")?)?;
    let keep = ["g_l1", "g_gan", "d_loss"];
    Ok(Value::Object(
        last.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

fn markdown(summary: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let s = &summary["pix2pix"];
    let mut md = format!(
        "# repro translation\n\npix2pix on {} ({} steps each, batch 16 at 32×32), measured on {} held-out pairs; FID and class agreement by gantry's {} classifier.\n\n| objective | PSNR (dB) ↑ | SSIM ↑ | domain FID ↓ | class kept ↑ |\n|---|---|---|---|---|\n",
        s["data"].as_str().unwrap_or("?"),
        s["steps"],
        s["held_out"],
        s["features"].as_str().unwrap_or("?")
    );
    for r in s["variants"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {:.2} | {:.3} | {:.2} | {:.1}% |\n",
            r["variant"].as_str().unwrap_or("?"),
            f(&r["psnr"]),
            f(&r["ssim"]),
            f(&r["domain_fid"]),
            100.0 * f(&r["class_kept"])
        );
    }
    let c = &summary["cyclegan"];
    if c.is_null() {
        return md + &superres_markdown(&summary["superres"]);
    }
    md += &format!(
        "\nCycleGAN on {} ({} steps each); the MNIST classifier reads the untranslated held-out A digits right {:.1}% of the time (their domain FID to MNIST: {:.2}).\n\n| objective | digit kept ↑ | cycle error ↓ (mean |F(G(a)) − a|, of 255) | domain FID to MNIST ↓ |\n|---|---|---|---|\n",
        c["data"].as_str().unwrap_or("?"),
        c["steps"],
        100.0 * f(&c["baseline"]["classifier_on_inputs"]),
        f(&c["baseline"]["inputs_domain_fid"])
    );
    for r in c["variants"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {:.1}% | {:.1} | {:.2} |\n",
            r["variant"].as_str().unwrap_or("?"),
            100.0 * f(&r["digit_kept"]),
            f(&r["cycle_l1_pixels"]),
            f(&r["domain_fid"])
        );
    }
    md + &superres_markdown(&summary["superres"])
}

fn superres_markdown(s: &Value) -> String {
    if s.is_null() {
        return String::new();
    }
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = format!(
        "\nSuper-resolution ×{} on {} (SRResNet {} steps with MSE, then SRGAN {} steps from it), {} held-out images; FID of the outputs against the originals by {} features; detail = mean |∇²ŷ| / mean |∇²y|.\n\n| method | content loss | PSNR (dB) ↑ | SSIM ↑ | FID ↓ | detail (1 = the originals') |\n|---|---|---|---|---|---|\n",
        s["scale"], s["data"].as_str().unwrap_or("?"), s["steps_srresnet"], s["steps_srgan"], s["held_out"],
        s["fid_features"].as_str().unwrap_or("?")
    );
    for r in s["methods"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {} | {:.2} | {:.3} | {:.2} | {:.2} |\n",
            r["method"].as_str().unwrap_or("?"),
            r["content"].as_str().unwrap_or("—"),
            f(&r["psnr"]),
            f(&r["ssim"]),
            f(&r["fid"]),
            f(&r["detail"])
        );
    }
    md
}
