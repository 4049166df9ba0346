//! `cargo xtask repro biggan`: BigGAN's truncation trade-off and its conditioning, measured.
//!
//! 1. `truncation` — trains `biggan-cifar10-cpu` (shared embedding, hierarchical z, attention in
//!    G; ch 16) for the budget below, then draws n samples (classes in turn) from latents
//!    truncated to |z| ≤ τ with resampling (Brock et al. 2019, §3.1), τ ∈ {0.5, 1, 1.5, 2, ∞}, with
//!    G's BatchNorms in three modes: evaluation (stored statistics), batch statistics (their CIFAR
//!    script's habit) and standing statistics (their Appendix C.1). Each point: FID, precision,
//!    recall, density and coverage (k = 3, 5) in the FID Inception's pool3 features against n
//!    CIFAR-10 test images, and IS where the network has logits (the FID TorchScript has none;
//!    pytorch-fid's full weights, which have, are not reachable offline). Writes `truncation.png` (precision vs recall, and FID vs IS, as τ varies),
//!    `truncation_samples.png` (a row per τ) and `class_interpolation.png` (per row one z, the
//!    class mixed from r into r + 1 in embedding space).
//! 2. `conditioning` — the same budget without the shared embedding and hierarchical z (plain
//!    per-class conditional BatchNorm, as the CIFAR script): the same scores at τ = ∞ beside the
//!    first run's.
//!
//! FIDs from n = 500 samples a side are biased upwards (compare them with each other only). The
//! set keeps a finished run of the same configuration (`--reuse` is implied), so `conditioning`
//! measures the run `truncation` trained rather than training it again.
//! `--check`: the embedded digits as RGB, ch 8, 2 steps, 40 samples scored by gantry's MNIST
//! classifier (features and logits), ranges asserted — it runs without the Inception file.

use anyhow::{ensure, Context, Result};
use gantry_biggan::family::{BigGanFamily, BigGanRun};
use gantry_biggan::Classes;
use gantry_metrics::{prdc, PrdcConfig};
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use crate::chart::{save, Panel, Series, COLORS};
pub use crate::Options;
use gantry_train::capability::Sampler;
use gantry_train::config::RunConfig;
use gantry_train::family::Family;
use gantry_train::generate::{latents_truncated, Truncation};

/// Training steps, samples per point, and the run's data.
fn budget(o: &Options) -> (u64, usize, &'static str) {
    if o.check {
        (2, 40, "mnist-5k")
    } else {
        (1200, 500, "cifar10-jpg")
    }
}

fn config(o: &Options, shared: bool) -> Result<RunConfig> {
    let (steps, _, data) = budget(o);
    let mut cfg = gantry_train::presets::find("biggan-cifar10-cpu")?.config();
    cfg.data = data.into();
    cfg.steps = steps;
    cfg.threads = 2;
    cfg.log.every = (steps / 30).max(1);
    cfg.log.sample_every = steps;
    cfg.log.checkpoint_every = steps;
    cfg.log.keep_checkpoints = 1;
    let s = cfg.family.get_mut::<BigGanRun>().context("biggan-cifar10-cpu is a BigGAN run")?;
    if !shared {
        s.model.shared = false;
        s.model.hier = false;
        s.model.shared_dim = 0;
    }
    if o.check {
        s.model.g_ch = 8;
        s.model.d_ch = 8;
        cfg.batch_size = 8;
    }
    Ok(cfg)
}

/// Features and logits of u8 images: the FID Inception's (pool3, and its logits), or in
/// `--check` gantry's MNIST classifier's.
enum Scorer {
    Inception(gantry_metrics::inception::Inception),
    Classifier(Box<gantry_metrics::classifier::Classifier>),
}

impl Scorer {
    fn new(o: &Options) -> Result<Self> {
        Ok(if o.check {
            Scorer::Classifier(Box::new(gantry_metrics::classifier::Classifier::builtin("mnist", o.device)?))
        } else {
            Scorer::Inception(gantry_metrics::inception::Inception::load_default(o.device).context(
                "the biggan figures score with the FID Inception (`cargo xtask weights fetch`, or --check without it)",
            )?)
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Scorer::Inception(_) => "FID Inception",
            Scorer::Classifier(_) => "MNIST classifier",
        }
    }

    /// Features, and logits when the network has a classifier head (the FID TorchScript has
    /// none: IS then needs pytorch-fid's full weights, `--inception`-style, not reachable here).
    fn score(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let (mut feats, mut logits) = (Vec::new(), Vec::new());
        // In chunks: 1,000 images at 299×299 in one call hold 8 GB.
        for c in x.split(100, 0) {
            let (f, l) = match self {
                Scorer::Inception(net) => net.features_and_logits(&c)?,
                Scorer::Classifier(net) => {
                    let (f, l) = net.features_and_logits(&c)?;
                    (f, Some(l))
                }
            };
            feats.push(f);
            logits.extend(l);
        }
        let logits = (logits.len() == feats.len()).then(|| Tensor::cat(&logits, 0));
        Ok((Tensor::cat(&feats, 0), logits))
    }
}

/// The reals: n CIFAR-10 test images (the first n of the training digits under `--check`).
struct Reference {
    feats: Tensor,
    mu: Tensor,
    sigma: Tensor,
}

impl Reference {
    fn new(o: &Options, scorer: &Scorer) -> Result<Self> {
        let (_, n, data) = budget(o);
        let split = if o.check { gantry_data::Split::Train } else { gantry_data::Split::Test };
        let opts =
            gantry_data::LoadOptions { split, size: Some(32), channels: Some(3), ..Default::default() };
        let images = gantry_data::load(data, &opts)?.images;
        let images = images.narrow(0, 0, (n as i64).min(images.size()[0]));
        let feats = scorer.score(&images)?.0;
        let (mu, sigma) = crate::feature_stats(&feats)?;
        Ok(Self { feats, mu, sigma })
    }

    fn scores(&self, scorer: &Scorer, x: &Tensor) -> Result<Value> {
        let (f, logits) = scorer.score(x)?;
        let (mu, sigma) = crate::feature_stats(&f)?;
        let fid = gantry_metrics::frechet_distance(&mu, &sigma, &self.mu, &self.sigma)?;
        let splits = if x.size()[0] >= 100 { 10 } else { 2 };
        let is = logits.map(|l| gantry_metrics::inception_score::inception_score(&l, splits)).transpose()?;
        let p = prdc(&self.feats, &f, &PrdcConfig::default())?;
        ensure!(
            fid.is_finite()
                && is.as_ref().is_none_or(|s| s.mean >= 1.0 - 1e-9)
                && (0.0..=1.0).contains(&p.precision)
                && (0.0..=1.0).contains(&p.recall),
            "scores out of range: FID {fid}, IS {:?}, {p:?}",
            is.as_ref().map(|s| s.mean)
        );
        Ok(json!({
            "fid": fid, "is": is.as_ref().map(|s| s.mean), "is_std": is.as_ref().map(|s| s.std),
            "precision": p.precision, "recall": p.recall, "density": p.density, "coverage": p.coverage,
        }))
    }
}

/// The trained run's family with `model.sample_bn = mode`, its networks loaded from `ck`.
fn family(ck: &std::path::Path, mode: &str, device: Device) -> Result<BigGanFamily> {
    let c = gantry_core::checkpoint::Checkpoint::load(ck)?;
    let m = gantry_train::capability::Model::load(ck, device)?;
    let cfg = m.cfg.clone().with_overrides(&[format!("model.sample_bn=\"{mode}\"")])?;
    let s = cfg.family.get::<BigGanRun>().context("a BigGAN checkpoint")?;
    let mut f = BigGanFamily::new(s, device)?;
    f.networks_mut().load(&c)?;
    Ok(f)
}

/// n samples of classes i mod 10 from τ-truncated latents (the same latents for every mode).
fn samples(f: &BigGanFamily, n: usize, tau: Option<f64>, device: Device) -> Result<Tensor> {
    let z = latents_truncated(n, f.z_dim(), 7, "repro-biggan", &Truncation { tau, psi: 1.0, cutoff: None });
    let mut out = Vec::new();
    for (k, zc) in z.split(100, 0).iter().enumerate() {
        let y = (Tensor::arange(zc.size()[0], (Kind::Int64, device)) + 100 * k as i64).remainder(10);
        out.push(gantry_core::image::to_u8(&f.generate_mixed(&zc.to_device(device), &Classes::Index(y))));
    }
    Ok(Tensor::cat(&out, 0))
}

const MODES: &[&str] = &["eval", "batch", "standing"];
const TAUS: &[Option<f64>] = &[Some(0.5), Some(1.0), Some(1.5), Some(2.0), None];

fn truncation(o: &Options) -> Result<Value> {
    let (steps, n, data) = budget(o);
    let dir = o.out.join("run-shared");
    // The scorer and the reference first: a missing Inception file is one line before training.
    let scorer = Scorer::new(o)?;
    let reference = Reference::new(o, &scorer)?;
    let started = std::time::Instant::now();
    crate::trained(config(o, true)?, &dir, o)?;
    let train_sec = started.elapsed().as_secs_f64();
    let ck = gantry_train::run_dir::RunDir::new(&dir).checkpoint(steps);
    let mut rows = Vec::new();
    for mode in MODES {
        let f = family(&ck, mode, o.device)?;
        for &tau in TAUS {
            let x = samples(&f, n, tau, o.device)?;
            rows.push(json!({ "mode": mode, "tau": tau, "scores": reference.scores(&scorer, &x)? }));
        }
    }
    // Samples: a row per τ, evaluation mode, ten classes.
    let f = family(&ck, "eval", o.device)?;
    let grid: Result<Vec<Tensor>> = TAUS.iter().map(|&t| samples(&f, 10, t, o.device)).collect();
    gantry_core::image::save_grid(
        &gantry_core::image::from_u8(&Tensor::cat(&grid?, 0)),
        10,
        &o.out.join("truncation_samples.png"),
    )?;
    // Class interpolation in embedding space: per row one z, columns mixing class r into r + 1
    // (Classes::Soft: the embeddings are linear in the class weights).
    let frames = 8i64;
    let z = latents_truncated(10, f.z_dim(), 5, "repro-biggan-interp", &Truncation::default())
        .to_device(o.device);
    let alpha = Tensor::linspace(0.0, 1.0, frames, (Kind::Float, o.device));
    let mut strips = Vec::new();
    for r in 0..10i64 {
        let (a, b) = (Tensor::from(r).one_hot(10), Tensor::from((r + 1) % 10).one_hot(10));
        let (a, b) = (a.to_kind(Kind::Float).to_device(o.device), b.to_kind(Kind::Float).to_device(o.device));
        let w = a.unsqueeze(0) * (1.0 - alpha.unsqueeze(1)) + b.unsqueeze(0) * alpha.unsqueeze(1); // [F, 10]
        let zr = z.get(r).unsqueeze(0).expand([frames, -1], false);
        strips.push(f.generate_mixed(&zr, &Classes::Soft(w)));
    }
    gantry_core::image::save_grid(
        &Tensor::cat(&strips, 0),
        frames as usize,
        &o.out.join("class_interpolation.png"),
    )?;
    let curve = |mode: &str, x: &str, y: &str| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r["mode"] == mode)
            .map(|r| {
                (r["scores"][x].as_f64().unwrap_or(f64::NAN), r["scores"][y].as_f64().unwrap_or(f64::NAN))
            })
            .collect()
    };
    let panel = |x: &str, y: &str, title: &str| Panel {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        series: MODES
            .iter()
            .enumerate()
            .map(|(i, m)| Series::line(format!("BN: {m}"), curve(m, x, y), COLORS[i]))
            .collect(),
        ..Default::default()
    };
    // FID against IS where the features come with logits; against τ (∞ drawn at 3) otherwise.
    let fid_panel = if rows.iter().all(|r| r["scores"]["is"].is_number()) {
        panel("is", "fid", "FID vs IS as τ goes 0.5 → ∞")
    } else {
        Panel {
            title: "FID as τ varies (∞ drawn at τ = 3; the FID Inception has no logits for IS)".into(),
            x_label: "τ".into(),
            y_label: "fid".into(),
            series: MODES
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let pts = rows
                        .iter()
                        .filter(|r| r["mode"] == *m)
                        .map(|r| {
                            (
                                r["tau"].as_f64().unwrap_or(3.0),
                                r["scores"]["fid"].as_f64().unwrap_or(f64::NAN),
                            )
                        })
                        .collect();
                    Series::line(format!("BN: {m}"), pts, COLORS[i])
                })
                .collect(),
            ..Default::default()
        }
    };
    save(
        &o.out.join("truncation.png"),
        &[panel("recall", "precision", "precision vs recall as τ goes 0.5 → ∞"), fid_panel],
        2,
        (560, 420),
    )?;
    Ok(json!({
        "steps": steps, "data": data, "samples": n, "features": scorer.name(), "train_seconds": train_sec,
        "taus": TAUS, "rows": rows,
    }))
}

fn conditioning(o: &Options) -> Result<Value> {
    let (steps, n, data) = budget(o);
    let scorer = Scorer::new(o)?;
    let reference = Reference::new(o, &scorer)?;
    let mut table = Vec::new();
    for (shared, name) in [(true, "shared embedding + hierarchical z"), (false, "per-class CBN")] {
        let dir = o.out.join(if shared { "run-shared" } else { "run-plain" });
        crate::trained(config(o, shared)?, &dir, o)?;
        let ck = gantry_train::run_dir::RunDir::new(&dir).checkpoint(steps);
        let f = family(&ck, "eval", o.device)?;
        let params: i64 =
            f.networks().parameter_counts().iter().filter(|(n, _)| *n == "g").map(|p| p.1).sum();
        let x = samples(&f, n, None, o.device)?;
        table.push(
            json!({ "variant": name, "g_parameters": params, "scores": reference.scores(&scorer, &x)? }),
        );
    }
    Ok(json!({ "steps": steps, "data": data, "samples": n, "features": scorer.name(), "table": table }))
}

/// Runs the figures (`--only truncation|conditioning`); returns the summary.
pub fn run(o: &Options) -> Result<Value> {
    let o = Options { reuse: o.reuse || o.only.is_none(), ..o.clone() };
    crate::run_sections(&o, "biggan", &[("truncation", truncation), ("conditioning", conditioning)], markdown)
}

fn markdown(s: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let is = |v: &Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.3}"));
    let mut md = String::from("# repro biggan\n");
    if let Some(t) = s["truncation"].as_object() {
        md += &format!(
            "\n## Truncation (biggan-cifar10-cpu, {} steps on {}, {} samples vs {} real, {} features)\n\n| BN mode | τ | FID | IS | precision | recall | coverage |\n|---|---|---|---|---|---|---|\n",
            t["steps"], t["data"].as_str().unwrap_or("?"), t["samples"], t["samples"], t["features"].as_str().unwrap_or("?")
        );
        for r in t["rows"].as_array().into_iter().flatten() {
            let tau = r["tau"].as_f64().map_or("∞".to_string(), |t| format!("{t}"));
            let sc = &r["scores"];
            md += &format!(
                "| {} | {tau} | {:.2} | {} | {:.3} | {:.3} | {:.3} |\n",
                r["mode"].as_str().unwrap_or("?"),
                f(&sc["fid"]),
                is(&sc["is"]),
                f(&sc["precision"]),
                f(&sc["recall"]),
                f(&sc["coverage"])
            );
        }
    }
    if let Some(c) = s["conditioning"].as_object() {
        md += &format!(
            "\n## Conditioning ({} steps, τ = ∞, evaluation-mode BatchNorm, {} samples)\n\n| G | parameters | FID | IS | precision | recall | coverage |\n|---|---|---|---|---|---|---|\n",
            c["steps"], c["samples"]
        );
        for r in c["table"].as_array().into_iter().flatten() {
            let sc = &r["scores"];
            md += &format!(
                "| {} | {} | {:.2} | {} | {:.3} | {:.3} | {:.3} |\n",
                r["variant"].as_str().unwrap_or("?"),
                r["g_parameters"],
                f(&sc["fid"]),
                is(&sc["is"]),
                f(&sc["precision"]),
                f(&sc["recall"]),
                f(&sc["coverage"])
            );
        }
    }
    md
}
