//! `repro divergences`: the lectures' argument for Wasserstein, as four figures with numbers.
//!
//! 1. `separation.png` — JSD and W1 between two narrow Gaussians (σ = 0.1) as their distance d
//!    grows: JSD saturates at log 2 once they stop overlapping, W1 = d grows linearly.
//! 2. `gradients.png` — the generator's gradient under an *optimal* discriminator, data N(0, 1)
//!    against G(z) = z + θ: the saturating loss's gradient vanishes as D* grows confident, the
//!    non-saturating one does not, the Wasserstein critic's is constant.
//! 3. `toy_gan.png` — the lectures' toy GAN: G(z) = z + θ from θ = 3 against data N(7, 1), a
//!    logistic D, the non-saturating loss; snapshots at θ ≈ 3.0, 4.9, 6.7 and θ's trajectory.
//! 4. `ring.png`, `ring_samples.png` — mode collapse on the ring of 8 Gaussians: modes covered and
//!    share of high-quality samples over training for non-saturating, WGAN-GP and hinge, several
//!    seeds, trained by the ordinary `gantry train` machinery.
//!
//! `--check` runs every figure on a tiny budget and asserts its defining numbers.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use gantry_core::optim::{Adam, AdamConfig};
use gantry_data::toy::Toy;
use gantry_losses::divergence::{js, w1_1d};
use gantry_losses::{transport, AdversarialLoss};
use serde_json::{json, Value};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::chart::{save, Panel, Series, COLORS};
use gantry_train::recipes::adversarial::LossChoice;
use gantry_train::recipes::gan::gan_parts_mut;

pub use crate::Options;

fn normal_pdf(x: f64, mu: f64, sigma: f64) -> f64 {
    (-(x - mu).powi(2) / (2.0 * sigma * sigma)).exp() / (sigma * (2.0 * std::f64::consts::PI).sqrt())
}

/// Figure 1.
fn separation(o: &Options) -> Result<Value> {
    let (sigma, dx) = (0.1, 0.01);
    let grid: Vec<f64> = (0..=1400).map(|i| -2.0 + i as f64 * dx).collect();
    let discretise = |mu: f64| -> Vec<f64> {
        let w: Vec<f64> = grid.iter().map(|&x| normal_pdf(x, mu, sigma)).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|v| v / s).collect()
    };
    let p = discretise(0.0);
    let ds: Vec<f64> =
        if o.check { vec![0.0, 0.1, 0.5, 1.0, 5.0] } else { (0..=200).map(|i| i as f64 * 0.05).collect() };
    let mut rows = Vec::new();
    for &d in &ds {
        let q = discretise(d);
        rows.push((d, js(&p, &q), w1_1d(&grid, &p, &grid, &q)));
    }
    // The LP on a coarser support agrees with the CDF formula.
    let coarse: Vec<usize> = (0..grid.len()).step_by(20).collect();
    let pts: Vec<Vec<f64>> = coarse.iter().map(|&i| vec![grid[i]]).collect();
    let xs: Vec<f64> = coarse.iter().map(|&i| grid[i]).collect();
    let (pc, qc): (Vec<f64>, Vec<f64>) = (
        coarse.iter().map(|&i| p[i] + 1e-12).collect(),
        discretise(3.0).iter().step_by(20).map(|v| v + 1e-12).collect(),
    );
    let lp = transport::w1(&pts, &pc, &pts, &qc)?;
    let cdf = w1_1d(&xs, &pc, &xs, &qc);
    let ln2 = std::f64::consts::LN_2;
    let far = rows.iter().filter(|r| r.0 >= 1.0).map(|r| (r.1 - ln2).abs()).fold(0.0, f64::max);
    let w1_err = rows.iter().map(|r| (r.2 - r.0).abs()).fold(0.0, f64::max);
    if o.check {
        ensure!(rows[0].1.abs() < 1e-12 && rows[0].2.abs() < 1e-12, "JSD and W1 at d = 0 should be 0");
        ensure!(far < 1e-6, "JSD should be log 2 for d ≥ 10σ, off by {far}");
        ensure!(w1_err < 1e-6, "W1 should equal d, off by {w1_err}");
        ensure!(
            (lp.primal - cdf).abs() < 1e-9 && (lp.primal - lp.dual).abs() < 1e-9,
            "LP {} vs CDF {cdf}",
            lp.primal
        );
    }
    save(
        &o.out.join("separation.png"),
        &[
            Panel {
                title: "Jensen–Shannon between N(0, 0.1²) and N(d, 0.1²)".into(),
                x_label: "separation d".into(),
                y_label: "JSD (nats)".into(),
                y_range: Some((-0.02, 0.8)),
                series: vec![
                    Series::line("JSD", rows.iter().map(|r| (r.0, r.1)).collect(), COLORS[0]),
                    Series::line("log 2", vec![(0.0, ln2), (*ds.last().unwrap_or(&1.0), ln2)], COLORS[5]),
                ],
                ..Default::default()
            },
            Panel {
                title: "Wasserstein-1 between the same".into(),
                x_label: "separation d".into(),
                y_label: "W1".into(),
                series: vec![Series::line(
                    "W1 (CDF formula)",
                    rows.iter().map(|r| (r.0, r.2)).collect(),
                    COLORS[1],
                )],
                ..Default::default()
            },
        ],
        2,
        (560, 400),
    )?;
    Ok(json!({
        "jsd_at_0": rows[0].1,
        "max_abs_jsd_minus_log2_for_d_ge_1": far,
        "max_abs_w1_minus_d": w1_err,
        "w1_lp_vs_cdf_at_d3": { "lp_primal": lp.primal, "lp_dual": lp.dual, "cdf": cdf, "pivots": lp.pivots },
        "table": rows.iter().filter(|r| (r.0 * 4.0).fract() == 0.0 && r.0 <= 3.0).map(|r| json!({"d": r.0, "jsd": r.1, "w1": r.2})).collect::<Vec<_>>(),
    }))
}

/// (θ, E D*(G(z)), |∇| minimax, |∇| non-saturating, |∇| Wasserstein).
type GradRow = (f64, f64, f64, f64, f64);

/// Figure 2.
fn gradients(o: &Options) -> Result<Value> {
    let n = if o.check { 2000 } else { 20000 };
    let z = gantry_train::generate::latents(n, 1, 0, "repro-gradients").to_device(o.device).flatten(0, -1);
    let thetas: Vec<f64> =
        if o.check { vec![0.5, 2.0, 10.0] } else { (1..=100).map(|i| i as f64 * 0.1).collect() };
    let mut rows: Vec<GradRow> = Vec::new();
    for &theta in &thetas {
        let mut grads = Vec::new();
        let mut confidence = 0.0;
        for loss in [AdversarialLoss::Minimax, AdversarialLoss::NonSaturating, AdversarialLoss::Wasserstein] {
            let th = Tensor::from(theta as f32).to_device(o.device).set_requires_grad(true);
            let x = &z + &th; // G(z) = z + θ
                              // The optimal discriminator for N(0, 1) data against N(θ, 1) fakes (θ held fixed in D*):
                              // logit log p_data − log p_G = ((x − θ)² − x²)/2; the optimal W1 critic is −sign(θ)·x.
            let out = match loss {
                AdversarialLoss::Wasserstein => &x * -theta.signum(),
                _ => ((&x - theta).square() - x.square()) * 0.5,
            };
            if loss == AdversarialLoss::Minimax {
                confidence = out.sigmoid().mean(Kind::Double).double_value(&[]);
            }
            let l = loss.g_loss(&out, None);
            let g = Tensor::run_backward(&[l], &[&th], false, false).pop().context("gradient")?;
            grads.push(g.abs().double_value(&[]));
        }
        rows.push((theta, confidence, grads[0], grads[1], grads[2]));
    }
    let last = rows.last().context("no θ")?;
    if o.check {
        ensure!(
            last.2 < 1e-6 * last.3,
            "saturating gradient should vanish at θ = 10: {} vs {}",
            last.2,
            last.3
        );
        ensure!(rows.iter().all(|r| (r.4 - 1.0).abs() < 1e-6), "the W1 critic's gradient is 1");
        ensure!(
            rows.windows(2).all(|w| w[1].3 > w[0].3) && last.3 > 1.0,
            "non-saturating gradients grow as D* grows confident"
        );
    }
    let log = |v: f64| v.max(1e-300).log10();
    let lines = |f: &dyn Fn(&GradRow) -> f64| -> Vec<Series> {
        vec![
            Series::line("minimax (saturating)", rows.iter().map(|r| (f(r), log(r.2))).collect(), COLORS[1]),
            Series::line("non-saturating", rows.iter().map(|r| (f(r), log(r.3))).collect(), COLORS[0]),
            Series::line("Wasserstein", rows.iter().map(|r| (f(r), log(r.4))).collect(), COLORS[2]),
        ]
    };
    save(
        &o.out.join("gradients.png"),
        &[
            Panel {
                title: "G's gradient under the optimal D".into(),
                x_label: "separation θ between N(0,1) data and G = N(θ,1)".into(),
                y_label: "log10 |dL_G/dθ|".into(),
                series: lines(&|r| r.0),
                ..Default::default()
            },
            Panel {
                title: "… against D*'s confidence".into(),
                x_label: "log10 E[D*(G(z))]  (→ −∞: D* sure fakes are fake)".into(),
                y_label: "log10 |dL_G/dθ|".into(),
                series: lines(&|r| log(r.1)),
                ..Default::default()
            },
        ],
        2,
        (560, 420),
    )?;
    Ok(json!({
        "rows": rows.iter().filter(|r| (r.0 * 2.0).fract().abs() < 1e-9).map(|r| json!({"theta": r.0, "mean_dstar_on_fakes": r.1, "minimax": r.2, "non_saturating": r.3, "wasserstein": r.4})).collect::<Vec<_>>(),
    }))
}

/// Figure 3.
fn toy_gan(o: &Options) -> Result<Value> {
    let (mu, theta0) = (7.0, 3.0);
    let data = Toy::Gaussian1d { mean: mu, std: 1.0 };
    let steps = if o.check { 150 } else { 2000 };
    let vs_g = nn::VarStore::new(o.device);
    let theta = vs_g.root().var("theta", &[1], nn::Init::Const(theta0));
    let vs_d = nn::VarStore::new(o.device);
    let d = nn::linear(
        vs_d.root() / "d",
        1,
        1,
        nn::LinearConfig { ws_init: nn::Init::Const(0.0), bs_init: Some(nn::Init::Const(0.0)), bias: true },
    );
    let adam = AdamConfig { lr: 0.01, beta1: 0.5, beta2: 0.999, ..Default::default() };
    let (mut opt_g, mut opt_d) = (Adam::new(&vs_g, adam), Adam::new(&vs_d, adam));
    let loss = AdversarialLoss::NonSaturating;
    let batch = 256;
    let mut trajectory = vec![(0.0, theta0)];
    // (θ the snapshot stands for, step, θ, w, b)
    let mut snaps: Vec<(f64, u64, f64, f64, f64)> = Vec::new();
    let dparams =
        |d: &nn::Linear| (d.ws.double_value(&[0, 0]), d.bs.as_ref().map_or(0.0, |b| b.double_value(&[0])));
    let (w0, b0) = dparams(&d);
    snaps.push((3.0, 0, theta0, w0, b0));
    let targets = [4.9, 6.7];
    for step in 1..=steps {
        gantry_core::device::seed_torch(0, "repro-toy-gan", step);
        let real = data
            .sample(batch, gantry_core::device::derive_seed(0, "repro-toy-data", step))
            .to_device(o.device);
        let fake = Tensor::randn([batch as i64, 1], (Kind::Float, o.device)) + &theta; // G(z) = z + θ
        let dl = loss.d_loss(&d.forward(&real), &d.forward(&fake.detach()));
        opt_d.backward_step(&dl);
        let fake = Tensor::randn([batch as i64, 1], (Kind::Float, o.device)) + &theta;
        let gl = loss.g_loss(&d.forward(&fake), None);
        opt_g.backward_step(&gl);
        let th = theta.double_value(&[0]);
        trajectory.push((step as f64, th));
        if let Some(&t) = targets.iter().find(|&&t| th >= t && !snaps.iter().any(|s| s.0 == t)) {
            let (w, b) = dparams(&d);
            snaps.push((t, step, th, w, b));
        }
    }
    let final_theta = trajectory.last().map_or(theta0, |t| t.1);
    if o.check {
        ensure!(final_theta > theta0 + 0.3, "θ should move towards the data (from 3.0 to {final_theta})");
    }
    let xs: Vec<f64> = (0..=300).map(|i| i as f64 * 0.04).collect();
    let mut panels: Vec<Panel> = snaps
        .iter()
        .map(|&(_, step, th, w, b)| Panel {
            title: format!("θ = {th:.1} (step {step})"),
            x_label: "x".into(),
            y_label: "density / Pr(real)".into(),
            x_range: Some((0.0, 12.0)),
            y_range: Some((0.0, 1.02)),
            series: vec![
                Series::line(
                    "synthesized N(θ,1)",
                    xs.iter().map(|&x| (x, normal_pdf(x, th, 1.0))).collect(),
                    COLORS[3],
                ),
                Series::line(
                    "real N(7,1)",
                    xs.iter().map(|&x| (x, normal_pdf(x, mu, 1.0))).collect(),
                    RGB_TEAL,
                ),
                Series::line(
                    "D(x) = Pr(real)",
                    xs.iter().map(|&x| (x, 1.0 / (1.0 + (-(w * x + b)).exp()))).collect(),
                    COLORS[5],
                ),
            ],
        })
        .collect();
    panels.push(Panel {
        title: "θ during training".into(),
        x_label: "step".into(),
        y_label: "θ".into(),
        series: vec![
            Series::line("θ", trajectory.clone(), COLORS[0]),
            Series::line("data mean", vec![(0.0, mu), (steps as f64, mu)], COLORS[5]),
        ],
        ..Default::default()
    });
    save(&o.out.join("toy_gan.png"), &panels, 2, (560, 400))?;
    Ok(json!({
        "data": "N(7, 1)", "theta0": theta0, "steps": steps, "final_theta": final_theta,
        "snapshots": snaps.iter().map(|s| json!({"target": s.0, "step": s.1, "theta": s.2, "d_weight": s.3, "d_bias": s.4})).collect::<Vec<_>>(),
    }))
}

const RGB_TEAL: plotters::style::RGBColor = plotters::style::RGBColor(0, 150, 136);

/// One ring run's coverage over training: (step, modes covered, high-quality share).
fn read_coverage(run: &Path) -> Result<Vec<(u64, u64, f64)>> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl"))
        .with_context(|| format!("no metrics in {}", run.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            Some((v["step"].as_u64()?, v["modes_covered"].as_u64()?, v["high_quality"].as_f64()?))
        })
        .collect())
}

/// A looser radius than 3σ = 0.06 around each ring mode: a sixth of the distance between
/// neighbouring modes (2·2·sin(π/8) ≈ 1.53).
const REACH: f64 = 0.25;

/// Figure 4.
fn ring(o: &Options) -> Result<Value> {
    let (steps, every, seeds) = if o.check { (20u64, 10u64, vec![0u64]) } else { (5000, 250, vec![0, 1, 2]) };
    let losses = [LossChoice::NonSaturating, LossChoice::WganGp, LossChoice::Hinge];
    let runs_dir = o.out.join("runs");
    crate::clear(&runs_dir)?;
    let mut table = Vec::new();
    let mut curves = Vec::new();
    let mut sample_panels = Vec::new();
    for (li, &loss) in losses.iter().enumerate() {
        let mut per_seed = Vec::new();
        let mut reached = Vec::new();
        for &seed in &seeds {
            let mut cfg = gantry_train::presets::find("toy-ring")?.config();
            let (l, reg, train) = gan_parts_mut(&mut cfg).context("toy-ring is an mlp run")?;
            *l = loss;
            if loss == LossChoice::WganGp {
                // The WGAN-GP authors' toy setting: 5 critic steps, λ = 0.1, Adam(1e-4, 0.5, 0.9).
                train.d_steps = 5;
                reg.gp = 0.1;
                train.g_opt.beta2 = 0.9;
                train.d_opt.beta2 = 0.9;
            }
            crate::cadence(&mut cfg, seed, steps, every);
            let dir = runs_dir.join(format!("{}-seed{seed}", loss.name()));
            let model = crate::trained(cfg.clone(), &dir, o)?;
            let cov = read_coverage(&dir)?;
            ensure!(!cov.is_empty(), "{} logged no coverage", dir.display());
            if o.check {
                ensure!(
                    cov.iter().all(|c| c.1 <= 8 && (0.0..=1.0).contains(&c.2)),
                    "coverage out of range in {}",
                    dir.display()
                );
            }
            let g = model.sampler()?;
            let z = gantry_train::generate::latents(1000, g.z_dim(), 1, "repro-ring");
            let x = g.generate(&z).to_device(Device::Cpu);
            reached.push(gantry_data::toy::coverage_within(&Toy::ring(), &x, 0.01, REACH).modes_covered);
            if seed == seeds[0] {
                sample_panels.push(crate::chart::toy_panel(
                    format!("{} (seed {seed}, step {steps})", loss.name()),
                    &x,
                    &Toy::ring().modes(),
                    COLORS[li],
                    RGB_BLACK,
                )?);
            }
            per_seed.push(cov);
        }
        let name = loss.name();
        let finals: Vec<(u64, f64)> = per_seed.iter().filter_map(|c| c.last().map(|l| (l.1, l.2))).collect();
        table.push(json!({
            "loss": name,
            "modes_covered_per_seed": finals.iter().map(|f| f.0).collect::<Vec<_>>(),
            "high_quality_per_seed": finals.iter().map(|f| f.1).collect::<Vec<_>>(),
            "mean_modes_covered": finals.iter().map(|f| f.0 as f64).sum::<f64>() / finals.len() as f64,
            "mean_high_quality": finals.iter().map(|f| f.1).sum::<f64>() / finals.len() as f64,
            "modes_reached_within_0.25_per_seed": reached,
        }));
        // Mean over seeds at each logged step.
        let steps_logged: Vec<u64> = per_seed[0].iter().map(|c| c.0).collect();
        let mean_at = |k: usize, f: &dyn Fn(&(u64, u64, f64)) -> f64| {
            per_seed.iter().map(|c| f(&c[k])).sum::<f64>() / per_seed.len() as f64
        };
        curves.push((
            name,
            steps_logged
                .iter()
                .enumerate()
                .map(|(k, &s)| (s as f64, mean_at(k, &|c| c.1 as f64)))
                .collect::<Vec<_>>(),
            steps_logged
                .iter()
                .enumerate()
                .map(|(k, &s)| (s as f64, mean_at(k, &|c| c.2)))
                .collect::<Vec<_>>(),
        ));
    }
    save(
        &o.out.join("ring.png"),
        &[
            Panel {
                title: format!("modes covered (of 8), mean of {} seeds", seeds.len()),
                x_label: "generator step".into(),
                y_label: "modes with ≥ 1% of samples within 3σ".into(),
                y_range: Some((0.0, 8.5)),
                series: curves
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Series::line(c.0, c.1.clone(), COLORS[i]))
                    .collect(),
                ..Default::default()
            },
            Panel {
                title: "high-quality samples".into(),
                x_label: "generator step".into(),
                y_label: "share within 3σ of a mode".into(),
                y_range: Some((0.0, 1.02)),
                series: curves
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Series::line(c.0, c.2.clone(), COLORS[i]))
                    .collect(),
                ..Default::default()
            },
        ],
        2,
        (560, 420),
    )?;
    save(&o.out.join("ring_samples.png"), &sample_panels, 3, (420, 420))?;
    Ok(json!({ "steps": steps, "seeds": seeds, "table": table }))
}

const RGB_BLACK: plotters::style::RGBColor = plotters::style::RGBColor(0, 0, 0);

/// Runs all four figures; returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let summary = json!({
        "check": o.check,
        "separation": separation(o)?,
        "gradients": gradients(o)?,
        "toy_gan": toy_gan(o)?,
        "ring": ring(o)?,
    });
    crate::write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

fn markdown(s: &Value) -> String {
    let mut md = String::from("# repro divergences\n\n## 1. JSD and W1 against separation (σ = 0.1)\n\n| d | JSD | W1 |\n|---|---|---|\n");
    for r in s["separation"]["table"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {:.6} | {:.6} |\n",
            r["d"],
            r["jsd"].as_f64().unwrap_or(f64::NAN),
            r["w1"].as_f64().unwrap_or(f64::NAN)
        );
    }
    md += &format!(
        "\nmax |JSD − log 2| for d ≥ 1: {:.2e}; max |W1 − d|: {:.2e}\n\n## 2. |dL_G/dθ| under the optimal D\n\n| θ | E D*(G(z)) | minimax | non-saturating | Wasserstein |\n|---|---|---|---|---|\n",
        s["separation"]["max_abs_jsd_minus_log2_for_d_ge_1"].as_f64().unwrap_or(f64::NAN),
        s["separation"]["max_abs_w1_minus_d"].as_f64().unwrap_or(f64::NAN)
    );
    for r in s["gradients"]["rows"].as_array().into_iter().flatten() {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        md += &format!(
            "| {} | {:.3e} | {:.3e} | {:.3e} | {:.3e} |\n",
            r["theta"],
            f("mean_dstar_on_fakes"),
            f("minimax"),
            f("non_saturating"),
            f("wasserstein")
        );
    }
    md += "\n## 3. The toy GAN (data N(7,1), G(z) = z + θ)\n\n| snapshot | step | θ | D weight | D bias |\n|---|---|---|---|---|\n";
    for r in s["toy_gan"]["snapshots"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} |\n",
            r["target"],
            r["step"],
            r["theta"].as_f64().unwrap_or(f64::NAN),
            r["d_weight"].as_f64().unwrap_or(f64::NAN),
            r["d_bias"].as_f64().unwrap_or(f64::NAN)
        );
    }
    md += &format!(
        "\nfinal θ after {} steps: {:.3}\n\n## 4. Ring of 8 Gaussians (σ = 0.02)\n\nA mode is covered when ≥ 1% of the samples lie within 3σ of it; \"reached\" uses a radius of 0.25 instead.\n\n| loss | modes covered per seed | mean | high-quality share (mean) | modes reached (r = 0.25) per seed |\n|---|---|---|---|---|\n",
        s["toy_gan"]["steps"],
        s["toy_gan"]["final_theta"].as_f64().unwrap_or(f64::NAN)
    );
    for r in s["ring"]["table"].as_array().into_iter().flatten() {
        md += &format!(
            "| {} | {} | {:.2} | {:.3} | {} |\n",
            r["loss"].as_str().unwrap_or("?"),
            r["modes_covered_per_seed"],
            r["mean_modes_covered"].as_f64().unwrap_or(f64::NAN),
            r["mean_high_quality"].as_f64().unwrap_or(f64::NAN),
            r["modes_reached_within_0.25_per_seed"]
        );
    }
    md
}
