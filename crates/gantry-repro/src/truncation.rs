//! `cargo xtask repro truncation`: the truncation trick's trade-off — "more variety, more
//! failures" — measured.
//!
//! Trains `dcgan-mnist` (2,000 steps on the embedded digits), then for each truncation setting
//! draws 2,000 samples from the same seeded latents and scores them against the 5,000 training
//! digits with precision, recall, density and coverage (Kynkäänniemi et al. 2019; Naeem et al.
//! 2020) in the feature space of gantry's MNIST classifier, plus the domain FID. Two forms: the
//! τ-truncated normal (Brock et al. 2019) and ψ-shrinking towards the mean (Karras et al. 2019).
//! Expect precision (fidelity) to rise and recall (variety) to fall as τ or ψ shrinks.
//!
//! Writes `truncation.png`, `truncation_samples.png` (rows: ψ = 1, 0.7, 0.4, 0.1), `summary.json`,
//! `summary.md`. `--check`: 3 training steps, 200 samples, ranges checked.

use anyhow::{ensure, Context, Result};
use gantry_metrics::{prdc, PrdcConfig};
use serde_json::{json, Value};
use tch::Tensor;

use crate::chart::{save, Panel, Series, COLORS};
pub use crate::Options;
use gantry_train::generate::{latents_truncated, Truncation};

/// Runs the figure; returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let (steps, n) = if o.check { (3u64, 200usize) } else { (2000, 2000) };
    let mut cfg = gantry_train::presets::find("dcgan-mnist")?.config();
    cfg.steps = steps;
    cfg.log.sample_every = steps;
    cfg.log.checkpoint_every = steps;
    cfg.log.keep_checkpoints = 1;
    let model = crate::trained(cfg, &o.out.join("run"), o)?;
    let g = model.sampler()?;
    let reference = crate::DomainReference::mnist(o.device)?;
    let score = |t: &Truncation| -> Result<Value> {
        let z = latents_truncated(n, g.z_dim(), 11, "repro-truncation", t);
        let x = gantry_core::image::to_u8(&g.generate(&z));
        let f = reference.classifier.features_and_logits(&x)?.0;
        let p = prdc(&reference.feats, &f, &PrdcConfig::default())?;
        let fid = reference.fid(&f)?;
        ensure!(
            [p.precision, p.recall, p.coverage].iter().all(|v| (0.0..=1.0).contains(v)) && fid.is_finite(),
            "metrics out of range: {p:?}, FID {fid}"
        );
        Ok(
            json!({ "precision": p.precision, "recall": p.recall, "density": p.density, "coverage": p.coverage, "fid": fid }),
        )
    };
    let taus = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];
    let psis = [0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0];
    let mut by_tau = Vec::new();
    for &tau in &taus {
        by_tau.push(
            json!({ "tau": tau, "scores": score(&Truncation { tau: Some(tau), psi: 1.0, cutoff: None })? }),
        );
    }
    let mut by_psi = Vec::new();
    for &psi in &psis {
        by_psi.push(json!({ "psi": psi, "scores": score(&Truncation { tau: None, psi, cutoff: None })? }));
    }
    let curve = |rows: &[Value], key: &str, metric: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .map(|r| (r[key].as_f64().unwrap_or(f64::NAN), r["scores"][metric].as_f64().unwrap_or(f64::NAN)))
            .collect()
    };
    let panel = |rows: &[Value], key: &str, title: &str| Panel {
        title: title.into(),
        x_label: key.into(),
        y_label: "score (MNIST-classifier features)".into(),
        y_range: Some((0.0, 1.05)),
        series: ["precision", "recall", "coverage"]
            .iter()
            .enumerate()
            .map(|(i, m)| Series::line(*m, curve(rows, key, m), COLORS[i]))
            .collect(),
        ..Default::default()
    };
    save(
        &o.out.join("truncation.png"),
        &[panel(&by_tau, "tau", "truncated normal |z| ≤ τ"), panel(&by_psi, "psi", "shrink z ↦ ψ·z")],
        2,
        (560, 420),
    )?;
    let rows: Vec<Tensor> = [1.0, 0.7, 0.4, 0.1]
        .iter()
        .map(|&psi| {
            g.generate(&latents_truncated(
                10,
                g.z_dim(),
                3,
                "repro-truncation-grid",
                &Truncation { tau: None, psi, cutoff: None },
            ))
        })
        .collect();
    gantry_core::image::save_grid(&Tensor::cat(&rows, 0), 10, &o.out.join("truncation_samples.png"))?;
    let summary = json!({ "check": o.check, "steps": steps, "samples": n, "tau": by_tau, "psi": by_psi });
    crate::write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

fn markdown(s: &Value) -> String {
    let mut md = format!(
        "# repro truncation\n\ndcgan-mnist after {} steps; {} samples per setting against the 5k training digits, MNIST-classifier features.\n\n| setting | precision | recall | density | coverage | domain FID |\n|---|---|---|---|---|---|\n",
        s["steps"], s["samples"]
    );
    for (key, name) in [("tau", "τ"), ("psi", "ψ")] {
        for r in s[key].as_array().into_iter().flatten() {
            let v = |m: &str| r["scores"][m].as_f64().unwrap_or(f64::NAN);
            md += &format!(
                "| {name} = {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} |\n",
                r[key],
                v("precision"),
                v("recall"),
                v("density"),
                v("coverage"),
                v("fid")
            );
        }
    }
    md
}
