//! `cargo xtask repro conditioning`: do the conditioning methods steer the generator?
//!
//! Trains the `cgan-mnist`, `projection-mnist`, `acgan-mnist` and `infogan-mnist` presets (on the
//! embedded 5k digits) and measures them with gantry's independent MNIST classifier:
//!
//! - **class-conditional accuracy** of cGAN, projection and ACGAN: 100 samples per class from fixed
//!   latents, the share the classifier assigns to the requested class (per class and overall),
//!   and the domain FID (classifier features) of those 1,000 samples against the 5,000 training
//!   digits;
//! - **InfoGAN's categorical-code purity**: 1,000 samples with code i mod 10 (continuous codes 0),
//!   the classifier's labels, and the best one-to-one matching of the 10 code values to the 10
//!   digits (exact, by dynamic programming over subsets); plus traversal grids of every code.
//!
//! Writes `<model>_grid.png` (a 10×10 grid, one class per row), `infogan_code{0,1,2}.png`,
//! `summary.json`, `summary.md`. `--check` trains each model for a few steps and checks ranges.

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

pub use crate::Options;
use gantry_train::capability::Model;
use gantry_train::recipes::cond::CondRun;
use gantry_train::recipes::infogan::InfoganRun;

/// u8 pixels of G's samples for latents `z` and classes `y`.
fn pixels(model: &Model, z: &Tensor, y: &Tensor) -> Result<Tensor> {
    Ok(gantry_core::image::to_u8(&model.class_sampler()?.generate_class(z, y)?))
}

/// Runs the figures; returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let steps = if o.check { 3 } else { 3000 };
    let reference = crate::DomainReference::mnist(o.device)?;
    let z = gantry_train::generate::latents(1000, 100, 7, "repro-conditioning");
    let y = Tensor::arange(1000, (Kind::Int64, Device::Cpu)).remainder(10); // 100 per class
    let mut models = Vec::new();
    let mut info = Value::Null;
    for preset in ["cgan-mnist", "projection-mnist", "acgan-mnist", "infogan-mnist"] {
        let mut cfg = gantry_train::presets::find(preset)?.config();
        cfg.steps = steps;
        cfg.log.sample_every = steps;
        cfg.log.checkpoint_every = steps;
        cfg.log.keep_checkpoints = 1;
        if o.check {
            cfg.batch_size = 16;
            if let Some(s) = cfg.family.get_mut::<CondRun>() {
                (s.model.g_width, s.model.d_width) = (4, 4);
            }
            if let Some(s) = cfg.family.get_mut::<InfoganRun>() {
                (s.model.g_width, s.model.d_width, s.model.fc_width) = (4, 4, 32);
            }
        }
        let dir = o.out.join("runs").join(preset);
        let model = crate::trained(cfg.clone(), &dir, o)?;
        let zm = z.narrow(1, 0, model.sampler()?.z_dim());
        let x = pixels(&model, &zm, &y)?;
        let grid =
            x.narrow(0, 0, 100).reshape([10, 10, -1]).transpose(0, 1).reshape(x.narrow(0, 0, 100).size()); // row k: ten samples of class k
        let name = preset.trim_end_matches("-mnist");
        gantry_core::image::save_grid(
            &gantry_core::image::from_u8(&grid),
            10,
            &o.out.join(format!("{name}_grid.png")),
        )?;
        let (feats, logits) = reference.classifier.features_and_logits(&x)?;
        let pred = logits.argmax(1, false);
        let fid = reference.fid(&feats)?;
        if preset == "infogan-mnist" {
            let counts = gantry_train::eval::confusion(&pred, &y, 10)?;
            let (matched, assign) = gantry_train::eval::best_matching(&counts);
            let purity = matched as f64 / 1000.0;
            ensure!((0.1..=1.0).contains(&purity), "purity out of range: {purity}");
            for code in 0..=2 {
                gantry_train::generate::traverse(
                    &model,
                    code,
                    10,
                    2.0,
                    10,
                    0,
                    &o.out.join(format!("infogan_code{code}.png")),
                )?;
            }
            info =
                json!({ "purity": purity, "code_to_digit": assign, "confusion": counts, "domain_fid": fid });
        } else {
            let (acc, per_class) = gantry_train::eval::accuracy_per_class(&pred, &y, 10);
            ensure!((0.0..=1.0).contains(&acc) && fid.is_finite(), "{preset}: accuracy {acc}, FID {fid}");
            models
                .push(json!({ "model": preset, "accuracy": acc, "per_class": per_class, "domain_fid": fid }));
        }
    }
    let summary = json!({ "check": o.check, "steps": steps, "models": models, "infogan": info });
    crate::write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

fn markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = format!(
        "# repro conditioning\n\n{} steps each on the embedded 5k MNIST digits; gantry's MNIST classifier judges 100 samples per class.\n\n| model | class-conditional accuracy | worst class | domain FID (vs train 5k) |\n|---|---|---|---|\n",
        s["steps"]
    );
    for m in s["models"].as_array().into_iter().flatten() {
        let per: Vec<f64> = m["per_class"].as_array().into_iter().flatten().map(f).collect();
        let (worst, k) =
            per.iter().enumerate().fold((f64::INFINITY, 0), |a, (k, &v)| if v < a.0 { (v, k) } else { a });
        md += &format!(
            "| {} | {:.1}% | {:.0}% (digit {k}) | {:.2} |\n",
            m["model"].as_str().unwrap_or("?"),
            100.0 * f(&m["accuracy"]),
            100.0 * worst,
            f(&m["domain_fid"])
        );
    }
    md += &format!(
        "\nInfoGAN: categorical-code purity {:.1}% (best one-to-one matching of code values to digits: {}), domain FID {:.2}.\n",
        100.0 * f(&s["infogan"]["purity"]),
        s["infogan"]["code_to_digit"],
        f(&s["infogan"]["domain_fid"])
    );
    md
}
