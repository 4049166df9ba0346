//! `cargo xtask repro collapse`: mode collapse and what the stabilisers do about it.
//!
//! Four trainings of the same networks, several seeds each:
//! non-saturating (NS); NS with minibatch discrimination in D (Salimans et al. 2016); NS against a
//! D unrolled k steps (Metz et al. 2017, first-order); WGAN-GP (Gulrajani et al. 2017).
//!
//! 1. `ring.png`, `ring_samples.png` — the ring of 8 Gaussians (σ = 0.02, MLPs of the `toy-ring`
//!    preset): modes covered (≥ 1% of samples within 3σ) over training, and at the end the share of
//!    high-quality samples, modes reached within r = 0.25, and KL(nearest-mode histogram ‖ uniform).
//! 2. `mnist.png` — DCGAN on MNIST (the embedded 5k digits): 1,000 samples classified by gantry's
//!    MNIST classifier; classes found (≥ 1% of the samples) and KL(class histogram ‖ uniform).
//!
//! 3. `unrolled.png` — the unrolled GAN as Metz et al. 2017's Figure 2: k ∈ {0, 1, 5, 10} unrolled
//!    D steps, first order against the paper's second order (`train.unroll_order = 2`): modes
//!    covered over training, KL at the end, seconds per step.
//!
//! `--check` runs every variant for a few steps and asserts that the numbers are in range.

use anyhow::{ensure, Context, Result};
use gantry_data::toy::Toy;
use serde_json::{json, Value};
use tch::Device;

use crate::chart::{save, Panel, Series, COLORS};
use gantry_train::config::RunConfig;
use gantry_train::recipes::adversarial::LossChoice;
use gantry_train::recipes::gan::{gan_parts_mut, DcganRun, MlpRun};

pub use crate::Options;

/// A training variant: its name and how it changes a preset.
struct Variant {
    name: &'static str,
    apply: fn(&mut RunConfig, ring: bool),
}

const VARIANTS: &[Variant] = &[
    Variant { name: "non-saturating", apply: |_, _| {} },
    Variant {
        name: "+ minibatch discrimination",
        apply: |c, _| {
            if let Some(s) = c.family.get_mut::<MlpRun>() {
                s.model.minibatch_kernels = 8; // [256, 256, B, 5] per D call: keep B small
            }
            if let Some(s) = c.family.get_mut::<DcganRun>() {
                s.model.minibatch_kernels = 32;
            }
        },
    },
    Variant {
        name: "+ unrolled D",
        apply: |c, ring| {
            if let Some((_, _, train)) = gan_parts_mut(c) {
                train.unroll = if ring { 5 } else { 3 };
            }
        },
    },
    Variant {
        name: "wgan-gp",
        apply: |c, ring| {
            let Some((loss, reg, train)) = gan_parts_mut(c) else { return };
            *loss = LossChoice::WganGp;
            train.d_steps = 5;
            train.g_opt.beta2 = 0.9;
            train.d_opt.beta2 = 0.9;
            if ring {
                reg.gp = 0.1; // the WGAN-GP authors' toy setting
            } else {
                train.g_opt = gantry_core::optim::AdamConfig::wgan_gp();
                train.d_opt = gantry_core::optim::AdamConfig::wgan_gp();
                if let Some(s) = c.family.get_mut::<DcganRun>() {
                    s.model.d_norm = gantry_dcgan::DNorm::None; // no BatchNorm under a gradient penalty
                }
            }
        },
    },
];

/// KL(p ‖ uniform) in nats of a histogram.
fn kl_from_uniform(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    let k = counts.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            p * (p * k).ln()
        })
        .sum()
}

/// Histogram of each sample's nearest ring mode.
fn nearest_mode_histogram(toy: &Toy, x: &tch::Tensor) -> Vec<usize> {
    let modes = toy.modes();
    let pts: Vec<f32> = Vec::try_from(x.to_device(Device::Cpu).reshape([-1])).unwrap_or_default();
    let mut counts = vec![0usize; modes.len()];
    for p in pts.chunks_exact(2) {
        let d = |m: &Vec<f64>| (m[0] - p[0] as f64).powi(2) + (m[1] - p[1] as f64).powi(2);
        if let Some((k, _)) = modes.iter().enumerate().min_by(|a, b| d(a.1).total_cmp(&d(b.1))) {
            counts[k] += 1;
        }
    }
    counts
}

/// Counts kept as f64 for means, written as integers.
fn ints(v: &[f64]) -> Vec<u64> {
    v.iter().map(|&x| x as u64).collect()
}

/// The seeds' curves averaged point by point (over their common length).
fn mean_curve(curves: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let n = curves.iter().map(Vec::len).min().unwrap_or(0);
    (0..n).map(|i| (curves[0][i].0, mean(&curves.iter().map(|c| c[i].1).collect::<Vec<_>>()))).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// `toy-ring` with `seed`, `steps`, metrics and grids every `every` steps, one checkpoint, one
/// thread.
fn ring_config(seed: u64, steps: u64, every: u64) -> Result<RunConfig> {
    let mut cfg = gantry_train::presets::find("toy-ring")?.config();
    crate::cadence(&mut cfg, seed, steps, every);
    cfg.threads = 1;
    Ok(cfg)
}

/// Figure 1.
fn ring(o: &Options) -> Result<Value> {
    let (steps, every, seeds) = if o.check { (10u64, 5u64, vec![0u64]) } else { (3000, 250, vec![0, 1, 2]) };
    let runs = o.out.join("runs");
    crate::clear(&runs)?;
    let toy = Toy::ring();
    let mut table = Vec::new();
    let mut curves = Vec::new();
    let mut panels = Vec::new();
    for (vi, v) in VARIANTS.iter().enumerate() {
        let mut rows = Vec::new();
        let mut covered_curves: Vec<Vec<(f64, f64)>> = Vec::new();
        for &seed in &seeds {
            let mut cfg = ring_config(seed, steps, every)?;
            (v.apply)(&mut cfg, true);
            let dir = runs.join(format!("ring-{vi}-seed{seed}"));
            let model = crate::trained(cfg.clone(), &dir, o)?;
            let metrics = std::fs::read_to_string(dir.join("metrics.jsonl"))?;
            covered_curves.push(
                metrics
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter_map(|j| Some((j["step"].as_f64()?, j["modes_covered"].as_f64()?)))
                    .collect(),
            );
            let g = model.sampler()?;
            let z = gantry_train::generate::latents(2000, g.z_dim(), 1, "repro-collapse");
            let x = g.generate(&z).to_device(Device::Cpu);
            let c = gantry_data::toy::coverage(&toy, &x, 0.01);
            let reached = gantry_data::toy::coverage_within(&toy, &x, 0.01, 0.25).modes_covered;
            let kl = kl_from_uniform(&nearest_mode_histogram(&toy, &x));
            ensure!(
                c.modes_covered <= 8
                    && (0.0..=1.0).contains(&c.high_quality)
                    && kl.is_finite()
                    && kl >= -1e-12,
                "ring numbers out of range for {} seed {seed}",
                v.name
            );
            rows.push((c.modes_covered as f64, c.high_quality, reached as f64, kl));
            if seed == seeds[0] {
                panels.push(crate::chart::toy_panel(
                    format!("{} (seed {seed})", v.name),
                    &x,
                    &toy.modes(),
                    COLORS[vi],
                    COLORS[5],
                )?);
            }
        }
        let col = |f: fn(&(f64, f64, f64, f64)) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
        table.push(json!({
            "variant": v.name,
            "modes_covered_per_seed": ints(&col(|r| r.0)),
            "high_quality_per_seed": col(|r| r.1),
            "modes_reached_r025_per_seed": ints(&col(|r| r.2)),
            "kl_per_seed": col(|r| r.3),
            "mean_modes_covered": mean(&col(|r| r.0)),
            "mean_high_quality": mean(&col(|r| r.1)),
            "mean_kl": mean(&col(|r| r.3)),
        }));
        curves.push((v.name, mean_curve(&covered_curves)));
    }
    save(
        &o.out.join("ring.png"),
        &[Panel {
            title: format!("ring of 8 Gaussians: modes covered, mean of {} seeds", seeds.len()),
            x_label: "generator step".into(),
            y_label: "modes with ≥ 1% of samples within 3σ".into(),
            y_range: Some((0.0, 8.5)),
            series: curves
                .iter()
                .enumerate()
                .map(|(i, c)| Series::line(c.0, c.1.clone(), COLORS[i]))
                .collect(),
            ..Default::default()
        }],
        1,
        (720, 440),
    )?;
    save(&o.out.join("ring_samples.png"), &panels, 4, (400, 400))?;
    Ok(json!({ "steps": steps, "seeds": seeds, "samples": 2000, "table": table }))
}

/// Figure 2.
fn mnist(o: &Options) -> Result<Value> {
    let (steps, seeds) = if o.check { (3u64, vec![0u64]) } else { (1000, vec![0, 1]) };
    let runs = o.out.join("runs-mnist");
    crate::clear(&runs)?;
    let classifier = gantry_metrics::classifier::Classifier::builtin("mnist", o.device)?;
    let mut table = Vec::new();
    let mut bars = Vec::new();
    for (vi, v) in VARIANTS.iter().enumerate() {
        let mut rows = Vec::new();
        let mut hist_sum = [0f64; 10];
        for &seed in &seeds {
            let mut cfg = gantry_train::presets::find("dcgan-mnist")?.config();
            (v.apply)(&mut cfg, false);
            cfg.seed = seed;
            cfg.steps = steps;
            cfg.log.every = 100.min(steps);
            cfg.log.sample_every = steps;
            cfg.log.checkpoint_every = steps;
            cfg.log.keep_checkpoints = 1;
            if o.check {
                if let Some(s) = cfg.family.get_mut::<DcganRun>() {
                    s.model.g_width = 4;
                    s.model.d_width = 4;
                }
                cfg.batch_size = 16;
            }
            let dir = runs.join(format!("mnist-{vi}-seed{seed}"));
            let model = crate::trained(cfg.clone(), &dir, o)?;
            let g = model.sampler()?;
            let z = gantry_train::generate::latents(1000, g.z_dim(), 1, "repro-collapse");
            let x = gantry_core::image::to_u8(&g.generate(&z)); // the classifier reads pixels
            let pred: Vec<i64> = Vec::try_from(classifier.predict(&x)?.to_device(Device::Cpu))?;
            let mut counts = vec![0usize; 10];
            for p in pred {
                counts[p.clamp(0, 9) as usize] += 1;
            }
            for (h, &c) in hist_sum.iter_mut().zip(&counts) {
                *h += c as f64 / seeds.len() as f64;
            }
            let found = counts.iter().filter(|&&c| c >= 10).count();
            let kl = kl_from_uniform(&counts);
            ensure!(
                found <= 10 && kl.is_finite() && kl >= -1e-12,
                "MNIST numbers out of range for {}",
                v.name
            );
            rows.push((found as f64, kl, counts));
        }
        table.push(json!({
            "variant": v.name,
            "classes_found_per_seed": ints(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            "kl_per_seed": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "histograms": rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
            "mean_classes_found": mean(&rows.iter().map(|r| r.0).collect::<Vec<_>>()),
            "mean_kl": mean(&rows.iter().map(|r| r.1).collect::<Vec<_>>()),
        }));
        bars.push(Series::line(
            v.name,
            hist_sum.iter().enumerate().map(|(k, &h)| (k as f64, h)).collect(),
            COLORS[vi],
        ));
    }
    bars.push(Series::line("uniform", vec![(0.0, 100.0), (9.0, 100.0)], COLORS[5]));
    save(
        &o.out.join("mnist.png"),
        &[Panel {
            title: format!("MNIST DCGAN, {steps} steps: classifier's class histogram of 1,000 samples (mean of {} seeds)", seeds.len()),
            x_label: "digit".into(),
            y_label: "samples".into(),
            series: bars,
            ..Default::default()
        }],
        1,
        (820, 460),
    )?;
    Ok(json!({ "steps": steps, "seeds": seeds, "samples": 1000, "table": table }))
}

/// Figure 3: the unrolled GAN as Metz et al. 2017's Figure 2 — the ring of 8 Gaussians with D
/// unrolled k ∈ {0, 1, 5, 10} Adam steps, the first-order form against the paper's second-order
/// surrogate (G's gradient through the unrolled updates): modes covered over training, KL of the
/// nearest-mode histogram at the end, and the cost of a step.
fn unrolled(o: &Options) -> Result<Value> {
    let (steps, every, seeds) = if o.check { (4u64, 2u64, vec![0u64]) } else { (2000, 250, vec![0, 1]) };
    let runs = o.out.join("runs-unrolled");
    crate::clear(&runs)?;
    let toy = Toy::ring();
    let variants: &[(u32, u32)] = &[(0, 1), (1, 1), (5, 1), (10, 1), (1, 2), (5, 2), (10, 2)];
    let (mut table, mut curves) = (Vec::new(), Vec::new());
    for (vi, &(k, order)) in variants.iter().enumerate() {
        let name = match (k, order) {
            (0, _) => "k = 0 (no unrolling)".to_string(),
            (k, 1) => format!("k = {k}, first order"),
            (k, _) => format!("k = {k}, second order"),
        };
        let (mut rows, mut covered_curves) = (Vec::new(), Vec::<Vec<(f64, f64)>>::new());
        for &seed in &seeds {
            let mut cfg = ring_config(seed, steps, every)?;
            let s = cfg.family.get_mut::<MlpRun>().context("toy-ring is an MLP run")?;
            s.train.unroll = k;
            s.train.unroll_order = order;
            let dir = runs.join(format!("ring-k{k}-order{order}-seed{seed}"));
            let model = crate::trained(cfg, &dir, o)?;
            let metrics: Vec<Value> = std::fs::read_to_string(dir.join("metrics.jsonl"))?
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            covered_curves.push(
                metrics
                    .iter()
                    .filter_map(|j| Some((j["step"].as_f64()?, j["modes_covered"].as_f64()?)))
                    .collect(),
            );
            let sec_per_step =
                metrics.last().and_then(|j| j["elapsed_sec"].as_f64()).unwrap_or(f64::NAN) / steps as f64;
            let g = model.sampler()?;
            let z = gantry_train::generate::latents(2000, g.z_dim(), 1, "repro-collapse");
            let x = g.generate(&z).to_device(Device::Cpu);
            let c = gantry_data::toy::coverage(&toy, &x, 0.01);
            let reached = gantry_data::toy::coverage_within(&toy, &x, 0.01, 0.25).modes_covered;
            let kl = kl_from_uniform(&nearest_mode_histogram(&toy, &x));
            ensure!(
                c.modes_covered <= 8 && reached <= 8 && kl.is_finite() && kl >= -1e-12 && sec_per_step > 0.0,
                "unrolled numbers out of range for {name} seed {seed}"
            );
            rows.push((c.modes_covered as f64, kl, sec_per_step, reached as f64));
        }
        let col = |f: fn(&(f64, f64, f64, f64)) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
        table.push(json!({
            "variant": name,
            "unroll": k,
            "order": order,
            "modes_covered_per_seed": ints(&col(|r| r.0)),
            "modes_reached_r025_per_seed": ints(&col(|r| r.3)),
            "kl_per_seed": col(|r| r.1),
            "mean_modes_covered": mean(&col(|r| r.0)),
            "mean_kl": mean(&col(|r| r.1)),
            "sec_per_step": mean(&col(|r| r.2)),
        }));
        curves.push((name, mean_curve(&covered_curves), vi));
    }
    let panel = |title: &str, pick: &dyn Fn(usize) -> bool| Panel {
        title: title.into(),
        x_label: "generator step".into(),
        y_label: "modes with ≥ 1% of samples within 3σ".into(),
        y_range: Some((0.0, 8.5)),
        series: curves
            .iter()
            .filter(|c| pick(c.2))
            .map(|c| Series::line(&c.0, c.1.clone(), COLORS[c.2 % COLORS.len()]))
            .collect(),
        ..Default::default()
    };
    save(
        &o.out.join("unrolled.png"),
        &[
            panel(&format!("first order (mean of {} seeds)", seeds.len()), &|i| variants[i].1 == 1),
            panel(&format!("second order, k = 0 for reference (mean of {} seeds)", seeds.len()), &|i| {
                variants[i].1 == 2 || variants[i].0 == 0
            }),
        ],
        2,
        (620, 420),
    )?;
    let base = table[0]["sec_per_step"].as_f64().unwrap_or(f64::NAN);
    for r in &mut table {
        r["cost_vs_k0"] = json!(r["sec_per_step"].as_f64().unwrap_or(f64::NAN) / base);
    }
    Ok(json!({ "steps": steps, "seeds": seeds, "samples": 2000, "threads": 1, "table": table }))
}

/// Runs the figures (`--only ring|mnist|unrolled` one of them); returns the summary written to
/// `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    crate::run_sections(o, "collapse", &[("ring", ring), ("mnist", mnist), ("unrolled", unrolled)], markdown)
}

fn markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = String::from("# repro collapse\n");
    if s["ring"].is_object() {
        md += &ring_markdown(s);
    }
    if s["mnist"].is_object() {
        md += &mnist_markdown(s);
    }
    if let Some(u) = s["unrolled"].as_object() {
        md += &format!(
            "\n## Unrolled GAN, first vs second order (ring, {} steps, seeds {}, {} samples, {} thread)\n\n| variant | modes covered per seed | modes reached (r = 0.25) per seed | KL(modes ‖ uniform) per seed | mean KL | s/step | cost vs k = 0 |\n|---|---|---|---|---|---|---|\n",
            u["steps"], u["seeds"], u["samples"], u["threads"]
        );
        for r in u["table"].as_array().into_iter().flatten() {
            let kls: Vec<String> =
                r["kl_per_seed"].as_array().into_iter().flatten().map(|k| format!("{:.3}", f(k))).collect();
            md += &format!(
                "| {} | {} | {} | {} | {:.3} | {:.4} | {:.1}× |\n",
                r["variant"].as_str().unwrap_or("?"),
                r["modes_covered_per_seed"],
                r["modes_reached_r025_per_seed"],
                kls.join(", "),
                f(&r["mean_kl"]),
                f(&r["sec_per_step"]),
                f(&r["cost_vs_k0"])
            );
        }
    }
    md
}

fn ring_markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = format!(
        "\n## Ring of 8 Gaussians ({} steps, seeds {}, {} samples)\n\n| variant | modes covered (3σ, ≥ 1%) per seed | mean | high-quality share (mean) | modes reached (r = 0.25) per seed | KL(modes ‖ uniform), mean |\n|---|---|---|---|---|---|\n",
        s["ring"]["steps"], s["ring"]["seeds"], s["ring"]["samples"]
    );
    for r in s["ring"]["table"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {} | {:.2} | {:.3} | {} | {:.3} |\n",
            r["variant"].as_str().unwrap_or("?"),
            r["modes_covered_per_seed"],
            f(&r["mean_modes_covered"]),
            f(&r["mean_high_quality"]),
            r["modes_reached_r025_per_seed"],
            f(&r["mean_kl"])
        );
    }
    md
}

fn mnist_markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = format!(
        "\n## MNIST DCGAN ({} steps, seeds {}, {} samples, gantry's MNIST classifier)\n\n| variant | classes found (≥ 1%) per seed | KL(classes ‖ uniform) per seed | mean KL |\n|---|---|---|---|\n",
        s["mnist"]["steps"], s["mnist"]["seeds"], s["mnist"]["samples"]
    );
    for r in s["mnist"]["table"].as_array().into_iter().flatten() {
        let kls: Vec<String> =
            r["kl_per_seed"].as_array().into_iter().flatten().map(|k| format!("{:.3}", f(k))).collect();
        md += &format!(
            "| {} | {} | {} | {:.3} |\n",
            r["variant"].as_str().unwrap_or("?"),
            r["classes_found_per_seed"],
            kls.join(", "),
            f(&r["mean_kl"])
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_from_uniform_closed_forms() {
        assert!(kl_from_uniform(&[5, 5, 5, 5]).abs() < 1e-15);
        assert!((kl_from_uniform(&[7, 0, 0, 0]) - 4f64.ln()).abs() < 1e-12); // all mass on one of 4
        assert!((kl_from_uniform(&[1, 1, 0, 0]) - 2f64.ln()).abs() < 1e-12);
    }
}
