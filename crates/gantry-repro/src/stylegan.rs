//! `cargo xtask repro stylegan`: StyleGAN2 on Fashion-MNIST end to end.
//!
//! Trains `stylegan2-fashion` (3,000 steps on the 60k training images; `cargo xtask datasets
//! fetch fashion-mnist`) and writes:
//! - `final_samples.png` (16 latents) and, in `run/samples/`, the run's grids at each quarter of
//!   training (listed as `sample_steps`);
//! - `style_mix_coarse.png`, `style_mix_fine.png` (5×5 `gantry style-mix` grids), `noise.png`;
//! - `truncation.png` — precision, recall and coverage (Fashion-MNIST-classifier features, 1,000
//!   samples against the first 5,000 training images) as ψ (truncation in W) varies, with the
//!   domain FID;
//! - an inversion table: PSNR of `optim` in W and W⁺, `encoder` and `pti` on Fashion-MNIST test
//!   images (held out);
//! - `curves.png` — D and G losses, R1 and path length terms over training;
//! - `summary.json`, `summary.md`. `--check`: a tiny network, 4 steps, tiny budgets, and the
//!   embedded MNIST digits with the MNIST classifier (the test machine need not hold
//!   Fashion-MNIST).

use anyhow::{ensure, Context, Result};
use gantry_metrics::{prdc, PrdcConfig};
use serde_json::{json, Value};
use tch::Tensor;

use crate::chart::{save, Panel, Series, COLORS};
pub use crate::Options;
use gantry_stylegan::explore::Styles;
use gantry_stylegan::invert::{InvertConfig, Method, Space};
use gantry_train::recipes::stylegan2::StyleRun;

/// Runs the figures; returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let (steps, n, digits) = if o.check { (4u64, 100usize, 1i64) } else { (3000, 1000, 3) };
    let (data, features) = if o.check { ("mnist-5k", "mnist") } else { ("fashion-mnist", "fashion-mnist") };
    let mut cfg = gantry_train::presets::find("stylegan2-fashion")?.config();
    (cfg.data, cfg.eval.features) = (data.into(), features.into());
    cfg.steps = steps;
    cfg.log.sample_every = (steps / 4).max(1);
    cfg.log.checkpoint_every = steps;
    cfg.log.keep_checkpoints = 1;
    cfg.log.every = (steps / 40).max(1);
    cfg.log.grid = 16;
    if o.check {
        if let Some(s) = cfg.family.get_mut::<StyleRun>() {
            (s.model.channel_base, s.model.channel_max, s.model.z_dim, s.model.w_dim) = (64, 8, 8, 8);
            (s.reg.base.every, s.reg.pl_every) = (2, 2);
        }
        cfg.batch_size = 8;
    }
    let run_dir = o.out.join("run");
    let model = crate::trained(cfg.clone(), &run_dir, o)?;
    let (g, in_w) = (model.sampler()?, model.w_truncation()?);
    let ckpt = run_dir.join(format!("checkpoints/step-{steps:07}.safetensors"));

    // Progress: the run's own sample grids at each quarter.
    let mut rows = Vec::new();
    for q in 1..=4 {
        let step = (steps / 4).max(1) * q;
        let path = run_dir.join(format!("samples/step-{step:07}.png"));
        if path.is_file() {
            rows.push(step);
        }
    }
    let z = gantry_train::generate::latents(16, g.z_dim(), 1, "repro-stylegan");
    gantry_core::image::save_grid(&g.generate(&z), 16, &o.out.join("final_samples.png"))?;

    // Style mixing and noise.
    for (styles, name) in [(Styles::Coarse, "coarse"), (Styles::Fine, "fine")] {
        gantry_train::explore::style_mix(
            &ckpt,
            5,
            5,
            &styles,
            1.0,
            2,
            &o.out.join(format!("style_mix_{name}.png")),
            o.device,
        )?;
    }
    gantry_train::explore::noise(&ckpt, 4, 4, 3, &o.out.join("noise.png"), o.device)?;

    // Truncation in W.
    let reference = crate::DomainReference::load(data, features, 5000, o.device)
        .with_context(|| format!("the truncation sweep reads {data}: `cargo xtask datasets fetch {data}`"))?;
    let zs = gantry_train::generate::latents(n, g.z_dim(), 11, "repro-stylegan-trunc");
    let mut by_psi = Vec::new();
    for psi in [0.2, 0.4, 0.6, 0.8, 1.0] {
        let x = gantry_core::image::to_u8(&in_w.generate_psi(&zs, psi, None)?);
        let f = reference.classifier.features_and_logits(&x)?.0;
        let p = prdc(&reference.feats, &f, &PrdcConfig::default())?;
        let fid = reference.fid(&f)?;
        ensure!([p.precision, p.recall, p.coverage].iter().all(|v| (0.0..=1.0).contains(v)), "{p:?}");
        by_psi.push(json!({ "psi": psi, "precision": p.precision, "recall": p.recall, "coverage": p.coverage, "fid": fid }));
    }
    let curve = |m: &str| -> Vec<(f64, f64)> {
        by_psi
            .iter()
            .map(|r| (r["psi"].as_f64().unwrap_or(f64::NAN), r[m].as_f64().unwrap_or(f64::NAN)))
            .collect()
    };
    save(
        &o.out.join("truncation.png"),
        &[Panel {
            title: "truncation in W: w ↦ w̄ + ψ·(w − w̄)".into(),
            x_label: "psi".into(),
            y_label: format!("score ({features}-classifier features)"),
            y_range: Some((0.0, 1.05)),
            series: ["precision", "recall", "coverage"]
                .iter()
                .enumerate()
                .map(|(i, m)| Series::line(*m, curve(m), COLORS[i]))
                .collect(),
            ..Default::default()
        }],
        1,
        (560, 420),
    )?;

    // Inversion on held-out images.
    let targets = if o.check {
        reference.images.narrow(0, 0, digits)
    } else {
        let opts = gantry_data::LoadOptions { split: gantry_data::Split::Test, ..Default::default() };
        gantry_data::load(data, &opts)
            .with_context(|| format!("the inversion table inverts {data} test images"))?
            .images
            .narrow(0, 0, digits)
    };
    let targets = gantry_core::image::from_u8(&targets.constant_pad_nd([2, 2, 2, 2])); // 28 → 32
    let budget = |method, space| InvertConfig {
        method,
        space,
        steps: if o.check { 3 } else { 300 },
        encoder_steps: if o.check { 3 } else { 1000 },
        pti_steps: if o.check { 3 } else { 150 },
        ..Default::default()
    };
    let mut inversions = Vec::new();
    for (name, method, space) in [
        ("optim, W", Method::Optim, Space::W),
        ("optim, W+", Method::Optim, Space::WPlus),
        ("encoder + optim, W", Method::Encoder, Space::W),
        ("PTI (pivot in W)", Method::Pti, Space::W),
    ] {
        let (mut psnrs, mut starts, mut images) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..digits {
            let mut loaded = gantry_train::explore::load(&ckpt, o.device)?;
            let inv = gantry_train::inversion::invert(
                &mut loaded,
                &ckpt,
                &targets.narrow(0, i, 1),
                &budget(method, space),
                i as u64,
            )?;
            ensure!(inv.psnr.is_finite(), "{name}: PSNR {}", inv.psnr);
            psnrs.push(inv.psnr);
            starts.push(inv.start_psnr);
            images.push(inv.image.to_device(tch::Device::Cpu));
        }
        let mean = psnrs.iter().sum::<f64>() / psnrs.len() as f64;
        inversions.push(json!({ "method": name, "psnr": psnrs, "start_psnr": starts, "mean_psnr": mean }));
        let grid = Tensor::cat(&[targets.shallow_clone(), Tensor::cat(&images, 0)], 0);
        let file = name.split([',', ' ', '(']).next().unwrap_or("x").to_lowercase();
        let suffix = if space == Space::WPlus { "_wplus" } else { "" };
        gantry_core::image::save_grid(
            &grid,
            digits as usize,
            &o.out.join(format!("invert_{file}{suffix}.png")),
        )?;
    }

    // Training curves.
    let log = std::fs::read_to_string(run_dir.join("metrics.jsonl"))?;
    let records: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let series = |key: &str, i: usize| {
        let pts: Vec<(f64, f64)> =
            records.iter().filter_map(|r| Some((r["step"].as_f64()?, r[key].as_f64()?))).collect();
        Series::line(key, pts, COLORS[i])
    };
    save(
        &o.out.join("curves.png"),
        &[
            Panel {
                title: "adversarial losses".into(),
                x_label: "G step".into(),
                y_label: "loss".into(),
                series: vec![series("d_loss", 0), series("g_loss", 1)],
                ..Default::default()
            },
            Panel {
                title: "regularisers".into(),
                x_label: "G step".into(),
                y_label: "value".into(),
                series: vec![series("d_reg", 2), series("g_pl", 3), series("pl_mean", 4)],
                ..Default::default()
            },
        ],
        2,
        (560, 420),
    )?;
    let summary = json!({
        "check": o.check, "steps": steps, "samples": n, "sample_steps": rows, "data": data, "features": features,
        "truncation": by_psi, "inversion": inversions, "digits": digits,
    });
    crate::write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

fn markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = format!(
        "# repro stylegan\n\nstylegan2-fashion after {} steps on {}.\n\n## Truncation in W ({} samples per ψ, {}-classifier features vs 5,000 training images)\n\n| ψ | precision | recall | coverage | domain FID |\n|---|---|---|---|---|\n",
        s["steps"], s["data"].as_str().unwrap_or("?"), s["samples"], s["features"].as_str().unwrap_or("?")
    );
    for r in s["truncation"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.2} |\n",
            r["psi"],
            f(&r["precision"]),
            f(&r["recall"]),
            f(&r["coverage"]),
            f(&r["fid"])
        );
    }
    md += &format!(
        "\n## Inversion ({} {} test images; PSNR in dB, pixels in [0, 1])\n\n| method | mean PSNR | per image | at the start |\n|---|---|---|---|\n",
        s["digits"], s["data"].as_str().unwrap_or("?")
    );
    for r in s["inversion"].as_array().into_iter().flatten() {
        let list = |k: &str| {
            r[k].as_array()
                .into_iter()
                .flatten()
                .map(|v| format!("{:.2}", f(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        md += &format!(
            "| {} | {:.2} | {} | {} |\n",
            r["method"].as_str().unwrap_or("?"),
            f(&r["mean_psnr"]),
            list("psnr"),
            list("start_psnr")
        );
    }
    md
}
